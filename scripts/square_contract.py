"""Refresh contract/square.json: the Square calls the bridge makes, as Square's published OpenAPI
spec defines them.

    python scripts/square_contract.py PATH/TO/api.json COMMIT

`api.json` is the public repository square/connect-api-specification's, at COMMIT. This keeps
the operations below and every schema they refer to, word for word, in a valid OpenAPI 3.0
document; the tests validate each request the Square client makes, and each answer the test
stand-ins give, against it (tests/square_contract.py). Tests never need the network.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Iterator

OUT = Path(__file__).resolve().parents[1] / "contract" / "square.json"
SOURCE = "square/connect-api-specification"

# (method, path) of each call the bridge makes (bridge/pos/square.py, bridge/pos/square_oauth.py)
OPERATIONS = [
    ("post", "/oauth2/token"),                   # ObtainToken: a code, or a refresh
    ("post", "/oauth2/revoke"),                  # RevokeToken: on disconnect
    ("get", "/v2/merchants/{merchant_id}"),      # RetrieveMerchant (`me`): the check
    ("get", "/v2/locations"),                    # ListLocations
    ("post", "/v2/orders"),                      # CreateOrder
    ("get", "/v2/orders/{order_id}"),            # RetrieveOrder
    ("put", "/v2/orders/{order_id}"),            # UpdateOrder: cancel
    ("post", "/v2/orders/search"),               # SearchOrders: reconciling
    ("get", "/v2/catalog/list"),                 # ListCatalog: the menu
]
# Webhook events the bridge takes, checked the same way (their bodies are Square's to send).
EVENTS = ["OrderFulfillmentUpdatedEvent", "OauthAuthorizationRevokedEvent"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def pinned(spec: dict[str, Any], commit: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        paths.setdefault(path, {})[method] = spec["paths"][path][method]
        parameters = spec["paths"][path].get("parameters")
        if parameters:
            paths[path]["parameters"] = parameters
    schemas: dict[str, Any] = {}
    missing: list[str] = []
    todo = [*_refs(paths), *(f"#/components/schemas/{name}" for name in EVENTS)]
    while todo:
        ref = todo.pop()
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/components/schemas/") or name in schemas:
            continue
        if name not in spec["components"]["schemas"]:
            # The published file refers to a schema it does not define: kept as "anything",
            # and named, so the gap is seen rather than guessed at.
            schemas[name] = {"description": f"not defined in {SOURCE} api.json"}
            missing.append(name)
            continue
        schemas[name] = spec["components"]["schemas"][name]
        todo.extend(_refs(schemas[name]))
    # Two places where the published file breaks OpenAPI 3.0 itself, mended so a validator
    # takes it (and said so below): `externalDocs` sits in `info`, and a security requirement
    # lists its scopes as null.
    info = dict(spec["info"])
    external = info.pop("externalDocs", None)
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("security"):
                operation["security"] = [{k: v or [] for k, v in requirement.items()}
                                         for requirement in operation["security"]]
    return {
        "openapi": spec["openapi"],
        "info": {**info, "x-source": f"{SOURCE}@{commit} api.json",
                 "x-mended": ["info.externalDocs moved to the top level",
                              "null scopes of a security requirement written as []"],
                 "x-kept": "the operations bridge/pos calls and the schemas they use",
                 "x-undefined-upstream": sorted(missing)},
        **({"externalDocs": external} if external else {}),
        "servers": spec["servers"],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items())),
                       "securitySchemes": spec["components"]["securitySchemes"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("api_json", type=Path)
    parser.add_argument("commit")
    args = parser.parse_args()
    kept = pinned(json.loads(args.api_json.read_text()), args.commit)
    OUT.write_text(json.dumps(kept, indent=1, sort_keys=False) + "\n")
    print(f"{OUT}: {len(kept['paths'])} paths, {len(kept['components']['schemas'])} schemas")


if __name__ == "__main__":
    main()
