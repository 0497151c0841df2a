"""Refresh contract/wix.json: the Wix calls the bridge makes, as Wix's own packages define them.

    python scripts/wix_contract.py [--spec PATH]    # needs npm and the npm registry

Reads the official JavaScript SDK packages, pinned below, with `npm pack` into a temporary
folder: each package's public REST types (`build/cjs/meta.d.ts`: fields, `@readonly`,
`@maxSize`, `@maxLength`, enums), its calls (`build/cjs/meta.js`: method and path on
www.wixapis.com) and the fields its SDK requires (the other `build/cjs/*.d.ts`, `NonNullablePaths` of a
call's arguments: a nested one is required where its parent is given). `--spec` adds the POS Integration
spec (wix-incubator/wix-rest-docs `all/all-apis/point-of-sale-integration.service.json`, in
that repository's history): the SPI calls Wix makes, with the types their answers must have, and
the POS Connectivity API calls the bridge makes. Tests and the bridge read only the JSON
this writes; they never need npm or the network.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "contract" / "wix.json"

# package -> (version, {contract name: the SDK function of each call the bridge makes})
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "@wix/auto_sdk_restaurants_menus": ("1.0.82", {
        "menus.query": "queryMenus", "menus.bulkCreate": "bulkCreateMenus",
        "menus.bulkUpdate": "bulkUpdateMenu"}),
    "@wix/auto_sdk_restaurants_sections": ("1.0.74", {
        "sections.query": "querySections", "sections.bulkCreate": "bulkCreateSections",
        "sections.bulkUpdate": "bulkUpdateSection"}),
    "@wix/auto_sdk_restaurants_items": ("1.0.89", {
        "items.query": "queryItems", "items.bulkCreate": "bulkCreateItems",
        "items.bulkUpdate": "bulkUpdateItem"}),
    "@wix/auto_sdk_restaurants_item-modifier-groups": ("1.0.75", {
        "modifierGroups.query": "queryModifierGroups",
        "modifierGroups.bulkCreate": "bulkCreateModifierGroups",
        "modifierGroups.bulkUpdate": "bulkUpdateModifierGroups"}),
    "@wix/auto_sdk_restaurants_item-modifiers": ("1.0.71", {
        "modifiers.query": "queryModifiers", "modifiers.bulkCreate": "bulkCreateModifiers",
        "modifiers.bulkUpdate": "bulkUpdateModifiers"}),
    "@wix/auto_sdk_restaurants_item-variants": ("1.0.67", {
        "variants.query": "queryVariants", "variants.bulkCreate": "bulkCreateVariants",
        "variants.bulkUpdate": "bulkUpdateVariants"}),
    "@wix/auto_sdk_ecom_orders": ("1.0.300", {
        "orders.create": "createOrder", "orders.search": "searchOrders"}),
    "@wix/auto_sdk_restaurants_operations": ("1.0.101", {
        "operations.list": "listOperations"}),
    "@wix/auto_sdk_ecom_order-fulfillments": ("1.0.65", {
        "fulfillments.list": "listFulfillmentsForSingleOrder",
        "fulfillments.create": "createFulfillment", "fulfillments.update": "updateFulfillment"}),
}
RUNTIME = ("@wix/sdk-runtime", "1.0.25")   # transformations/field-mask: masks as one string

_INTERFACE = re.compile(r"^interface (\w+)(?: extends ([\w, ]+))? \{\n(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"(?:/\*\*(?P<doc>(?:(?!\*/).)*)\*/\s*)?^\s{4}(?P<name>\w+)(?P<opt>\?)?: "
                    r"(?P<type>[^;]+);", re.M | re.S)
_ENUM = re.compile(r"^declare enum (\w+) \{\n(.*?)^\}", re.M | re.S)
_META_FN = re.compile(r"^declare function (\w+)\(\): __PublicMethodMetaInfo<'(\w+)', \{.*?\}, "
                      r"(\w+)\$1, \w+, (\w+)\$1, \w+>;", re.M | re.S)


def parse_types(text: str) -> tuple[dict, dict]:
    enums = {name: re.findall(r'= "([^"]+)"', body) for name, body in _ENUM.findall(text)}
    types = {}
    for name, extends, body in _INTERFACE.findall(text):
        fields = {}
        for m in _FIELD.finditer(body):
            doc = m.group("doc") or ""
            field: dict = {"type": _type(m.group("type"), enums)}
            if "@readonly" in doc:
                field["readOnly"] = True
            if "@immutable" in doc:
                field["immutable"] = True
            for tag in ("maxSize", "maxLength", "minLength", "max", "min"):
                found = re.search(rf"@{tag} (\d+)", doc)
                if found:
                    field[tag] = int(found.group(1))
            fields[m.group("name")] = field
        types[name] = {"fields": fields,
                       **({"oneOfs": [e.strip() for e in extends.split(",")]} if extends else {})}
    return types, enums


def _type(raw: str, enums: dict) -> dict:
    """A field's type: a scalar, a list of one, a named type, or an enum's values."""
    parts = [p.strip() for p in raw.split("|") if p.strip() not in ("null", "undefined")]
    one = parts[0] if parts else "any"
    if one.endswith("[]"):
        return {"list": _type(one[:-2], enums)}
    if one.endswith("WithLiterals") and one[:-len("WithLiterals")] in enums:
        return {"enum": enums[one[:-len("WithLiterals")]]}
    if one in enums:
        return {"enum": enums[one]}
    if one in ("string", "number", "boolean"):
        return {"scalar": one}
    if one == "Date":
        return {"scalar": "string", "format": "date-time"}
    if one.startswith("Record<") or one == "any":
        return {"scalar": "object"}
    return {"ref": one}


def parse_calls(meta_js: str, meta_dts: str, typings: str, wanted: dict[str, str],
                types: dict) -> dict:
    signatures = {fn: (method, request, response)
                  for fn, method, request, response in _META_FN.findall(meta_dts)}
    calls = {}
    for contract_name, fn in wanted.items():
        method, request, response = signatures[fn]
        body = re.search(rf"^function {fn}\(payload\) \{{(.*?)^}}", meta_js, re.M | re.S).group(1)
        proto = re.search(r'protoPath: "([^"]+)"', body).group(1)
        resolver = re.search(r"url: (\w+)\(\s*\{", body).group(1)
        masks = re.search(r"transformSDKFieldMaskToRESTFieldMask,\s*paths: \[(.*?)\]", body,
                          re.S)
        calls[contract_name] = {
            "fieldMasks": re.findall(r'path: "([^"]+)"', masks.group(1)) if masks else [],
            "sdkFunction": fn, "method": method, "paths": _paths(meta_js, resolver, proto),
            "request": request, "response": response,
            "required": _required(typings, fn, types[request]["fields"])}
    return calls


def _paths(meta_js: str, resolver: str, proto: str) -> list[str]:
    """Every path on www.wixapis.com the package's URL resolver maps to the call."""
    block = re.search(rf"function {resolver}\(opts\) \{{(.*?)^}}", meta_js, re.M | re.S).group(1)
    wixapis = re.search(r'"www\.wixapis\.com": \[(.*?)\]', block, re.S).group(1)
    mappings = re.findall(r'srcPath: "([^"]*)",\s*destPath: "([^"]*)"', wixapis)
    return sorted({src + proto[len(dest):] for src, dest in mappings if proto.startswith(dest)})


def _required(typings: str, fn: str, request_fields: dict) -> list[str]:
    """The request body paths the SDK requires: NonNullablePaths of the call's arguments that
    are fields of its request (not path parameters)."""
    signature = re.search(rf"^declare function {fn}\((.*?)\): Promise", typings, re.M | re.S)
    required = []
    for param, inner, many in re.findall(r"(\w+)\??: NonNullablePaths<\w+, (.*?), \d+>(\[\])?",
                                         signature.group(1) if signature else ""):
        for path in re.findall(r"`([^`]+)`", inner):
            path = path.replace(".${number}", "[]").replace("._id", ".id")
            path = "id" if path == "_id" else path
            if param in request_fields:
                required.append(f"{param}{'[]' if many else ''}.{path}")
    return required


def reachable(types: dict, roots: list[str]) -> dict:
    seen: dict = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in types:
            continue
        seen[name] = types[name]
        for field in types[name]["fields"].values():
            kind = field["type"].get("list", field["type"])
            if "ref" in kind:
                stack.append(kind["ref"])
        stack.extend(types[name].get("oneOfs", []))
    return dict(sorted(seen.items()))


SPEC_PREFIX = "All APIs.Point of Sale Integration."
SPEC_SCALARS = {"string": "string", "boolean": "boolean", "integer": "number", "number": "number",
                "int32": "number", "int64": "number", "double": "number", "float": "number"}


def parse_spec(spec: Path) -> dict:
    """The POS Integration spec's calls (the SPI Wix calls, the Connectivity API the bridge
    calls) with their request fields and response types, in the contract's form."""
    data = json.loads(spec.read_text())
    messages = {m["name"]: m for m in data["messages"]}

    def kind(raw) -> dict:
        if isinstance(raw, dict) and raw.get("name") == "array":
            return {"list": kind(raw["typeParams"][0])}
        name = raw.removeprefix(SPEC_PREFIX)
        if name in SPEC_SCALARS:
            return {"scalar": SPEC_SCALARS[name]}
        message = messages.get(name)
        if message is None or name.endswith("MapEntry"):
            return {"scalar": "object"}
        if message.get("enum"):
            return {"enum": list(message["enum"])}
        return {"ref": name}

    types: dict = {}
    for name, message in messages.items():
        if message.get("enum"):
            continue
        fields, one_ofs = {}, []
        for member in message["members"]:
            member_kind = kind(member["type"])
            ref = messages.get(member_kind.get("ref", ""))
            if ref is not None and ref.get("oneOf"):   # a proto oneof: its fields sit here
                one_ofs.append(member_kind["ref"])
                continue
            fields[member["name"]] = {"type": member_kind,
                                      **({"readOnly": True} if member.get("readOnly") else {})}
        types[name] = {"fields": fields, **({"oneOfs": one_ofs} if one_ofs else {})}
    calls = {}
    for operation in data["operations"]:
        url = operation["docs"]["url"].removeprefix("https://www.wixapis.com")
        request = f"{operation['methodName']}Request (body)"
        types[request] = {"fields": {p["name"]: {"type": kind(p["type"])}
                                     for p in operation["params"] if p["in"] == "BODY"}}
        calls[operation["methodName"]] = {
            "tag": operation["tag"], "method": operation["docs"]["request"], "paths": [url],
            "request": request, "required": [p["name"] for p in operation["params"]
                                             if p["in"] == "BODY" and p.get("required")],
            "response": kind(operation["ret"]["type"]["typeParams"][0])["ref"],
            "fieldMasks": [], "sdkFunction": operation["methodName"]}
    roots = [c[k] for c in calls.values() for k in ("request", "response")]
    return {"calls": calls, "types": reachable(types, roots)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, help="point-of-sale-integration.service.json")
    args = parser.parse_args()
    contract: dict = {"sources": {name: version for name, (version, _) in PACKAGES.items()},
                      "fieldMask": {"wire": "comma-separated string",
                                    "source": f"{RUNTIME[0]}@{RUNTIME[1]} "
                                              "transformations/field-mask"},
                      "packages": {}}
    contract["sources"][RUNTIME[0]] = RUNTIME[1]
    with tempfile.TemporaryDirectory() as folder:
        for name, (version, wanted) in PACKAGES.items():
            subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=folder,
                           check=True, capture_output=True)
            tgz = next(Path(folder).glob(f"{name[1:].replace('/', '-')}-{version}.tgz"))
            target = Path(folder) / tgz.stem
            with tarfile.open(tgz) as archive:
                archive.extractall(target, filter="data")
            build = target / "package" / "build" / "cjs"
            meta_dts = (build / "meta.d.ts").read_text()
            types, _ = parse_types(meta_dts)
            typings = "\n".join(p.read_text() for p in sorted(build.glob("*.d.ts"))
                                 if p.name != "meta.d.ts")
            calls = parse_calls((build / "meta.js").read_text(), meta_dts, typings, wanted,
                                types)
            roots = [c[k] for c in calls.values() for k in ("request", "response")]
            contract["packages"][name] = {"version": version, "calls": calls,
                                          "types": reachable(types, roots)}
    if args.spec:
        contract["sources"]["wix-incubator/wix-rest-docs"] = (
            "all/all-apis/point-of-sale-integration.service.json")
        contract["packages"]["point-of-sale-integration"] = parse_spec(args.spec)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(contract, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
