"""Square's published OpenAPI spec (contract/square.json, kept by scripts/square_contract.py from
square/connect-api-specification's api.json), as the tests check the Square client's requests
and the stand-ins' answers against it, in process, with openapi-core.

Stricter than the spec in one way: an object may not carry a field its schema does not name
(the spec leaves `additionalProperties` open; a field Square does not know is a bug here).
"""
from __future__ import annotations

import copy
import json
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlsplit

SPEC = json.loads((Path(__file__).resolve().parents[1] / "contract" / "square.json").read_text())
SERVER = "https://connect.squareup.com"
HOST = "square.test"   # where the tests' Square answers (mocked, or tests.loopback.SquareServer)


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _closed(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node \
                and "additionalProperties" not in node:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        node = [_closed(v) for v in node]
    return node


@lru_cache(maxsize=1)
def _openapi():
    from openapi_core import OpenAPI
    return OpenAPI.from_dict(_closed(copy.deepcopy(SPEC)))


def problems(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             status: int | None = None, answer: bytes | None = None) -> list[str]:
    """What in a request to Square (and in the answer it got, when given) breaks Square's spec;
    [] when nothing does. A path the spec does not have is a problem too."""
    from openapi_core.testing import MockRequest, MockResponse
    parts = urlsplit(url)
    request = MockRequest(SERVER, method.lower(), parts.path,
                          args=dict(parse_qsl(parts.query)), headers=dict(headers),
                          data=body or None,
                          content_type=headers.get("Content-Type", "application/json"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # openapi-core has no check of the oauth2 scheme
        found = [f"{method} {parts.path}: {_said(e)}"
                 for e in _openapi().iter_request_errors(request)]
        # Square's spec describes its 200 answers only: an error's body is checked by the
        # client's own handling of it (bridge.pos.square.classify).
        if status is not None and 200 <= status < 300 and not found:
            response = MockResponse(answer or b"", status_code=status)
            found += [f"answer to {method} {parts.path}: {_said(e)}"
                      for e in _openapi().iter_response_errors(request, response)]
    return found


def _said(error: Exception) -> str:
    inner = getattr(error, "schema_errors", None) or []
    cause = error.__cause__
    inner = inner or getattr(cause, "schema_errors", None) or []
    details = "; ".join(f"{'/'.join(str(p) for p in e.path) or '(top)'}: {e.message}"
                        for e in inner)
    return f"{error}{' (' + details + ')' if details else ''}"


def event_problems(schema: str, event: Mapping[str, Any]) -> list[str]:
    """What in a webhook event body breaks its schema (e.g. OauthAuthorizationRevokedEvent)."""
    from openapi_schema_validator import OAS30Validator
    root = {"components": _closed(copy.deepcopy(SPEC["components"])),
            "$ref": f"#/components/schemas/{schema}"}
    return [f"{'/'.join(str(p) for p in e.path) or '(top)'}: {e.message}"
            for e in OAS30Validator(root).iter_errors(dict(event))]
