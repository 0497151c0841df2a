"""Wix's published definitions (contract/wix.json, made by scripts/wix_contract.py from the
official packages), as the strict Wix stand-in checks a request against them.

A request is refused, as Wix refuses it, for: a field its type does not have, a read-only field
(but an update names its entity by `id` and `revision`: "the current revision must be passed
when updating", as the packages document `revision`; an `@immutable` one is set at creation only,
as a menu's `businessLocationId`: Wix's "About Business Locations"), a value outside an enum, a list over its
`maxSize` or a text over its `maxLength`, a scalar of the wrong kind, a required field missing,
and a field mask not in the wire format (one comma-separated string).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CONTRACT = json.loads((Path(__file__).resolve().parents[1] / "contract" / "wix.json")
                      .read_text())


def call_for(method: str, path: str) -> tuple[str, str, dict] | None:
    """(package, call name, call) of the contract's call at this method and path."""
    for package, described in CONTRACT["packages"].items():
        for name, call in described["calls"].items():
            if call["method"] != method:
                continue
            for template in call["paths"]:
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                if re.fullmatch(pattern, path):
                    return package, name, call
    return None


SPI = "point-of-sale-integration"


def spi_call(name: str) -> dict:
    """An SPI call of the POS Integration spec by its name (`CreateOrder`, ...)."""
    return CONTRACT["packages"][SPI]["calls"][name]


def answer_refusals(package: str, call: dict, body: Any) -> list[str]:
    """What in an answer its response type does not allow (unknown fields, values outside an
    enum, scalars of the wrong kind); read-only fields are an answer's own."""
    types = CONTRACT["packages"][package]["types"]
    found: list[str] = []
    _object(types, call["response"], body, "", found, set(), set(), "answer")
    return found


def refusals(package: str, call: dict, body: Any) -> list[str]:
    """What Wix would refuse in the request body, each naming its field; [] when none."""
    types = CONTRACT["packages"][package]["types"]
    found: list[str] = []
    masks = set(call.get("fieldMasks") or [])
    allowed = {p.replace("[]", "") for p in call.get("required") or []}
    mode = "create" if "create" in call["sdkFunction"].lower() else "update"
    _object(types, call["request"], body, "", found, masks, allowed, mode)
    for path in call.get("required") or []:
        if _missing(body, path.split(".")):
            found.append(f"{path}: required")
    return found


def problems_of(request, answer=None) -> list[str]:
    """What Wix would refuse in a request `requests` prepared (a `responses` mock's), and what
    in the mock's 2xx answer Wix's response type does not have."""
    from urllib.parse import urlsplit
    described = call_for(request.method, urlsplit(request.url).path)
    if described is None:
        return []
    body = json.loads(request.body) if request.body else {}
    found = refusals(described[0], described[2], body)
    if getattr(answer, "status_code", 0) // 100 == 2 and answer.content:  # not a raised error
        found += [f"answer: {p}" for p in answer_refusals(described[0], described[2],
                                                             answer.json())]
    return found


def refused(problems: list[str]) -> dict:
    """Wix's 400 answer for a request that breaks its definitions."""
    return {"message": "; ".join(problems), "details": {"validationError": {
        "fieldViolations": [{"field": p.split(":")[0], "description": p} for p in problems]}}}


def _fields(types: dict, name: str) -> dict:
    described = types.get(name) or {"fields": {}}
    fields = dict(described["fields"])
    for one_of in described.get("oneOfs", []):
        fields.update(_fields(types, one_of))
    return fields


def _object(types, name, value, where, found, masks, allowed, mode) -> None:
    """`mode`: create or update (a request), or answer (read-only fields are its own)."""
    if not isinstance(value, dict):
        found.append(f"{where or 'body'}: not an object")
        return
    if name not in types:   # a type the packages leave open (Record<string, any>)
        return
    fields = _fields(types, name)
    for key, item in value.items():
        path = f"{where}.{key}" if where else key
        if path in masks:  # the package's field-mask transformation names it on the wire
            if not isinstance(item, str):
                found.append(f"{path}: a field mask is one comma-separated string")
            continue
        field = fields.get(key)
        if field is None:
            found.append(f"{path}: no such field")
            continue
        if mode == "answer":
            _value(types, field, field["type"], item, path, found, masks, allowed, mode)
            continue
        if field.get("immutable") and mode != "create":
            found.append(f"{path}: set at creation only")
            continue
        naming = mode == "update" and key in ("id", "revision")
        if field.get("readOnly") and not field.get("immutable") and not naming \
                and path not in allowed:
            found.append(f"{path}: read-only")
            continue
        _value(types, field, field["type"], item, path, found, masks, allowed, mode)


def _value(types, field, kind, item, path, found, masks, allowed, mode) -> None:
    if item is None:
        return
    if "list" in kind:
        if not isinstance(item, list):
            found.append(f"{path}: not a list")
            return
        if "maxSize" in field and len(item) > field["maxSize"]:
            found.append(f"{path}: more than {field['maxSize']}")
        for element in item:
            _value(types, {}, kind["list"], element, path, found, masks, allowed, mode)
    elif "enum" in kind:
        if item not in kind["enum"]:
            found.append(f"{path}: {item!r} is not one of {', '.join(kind['enum'])}")
    elif "ref" in kind:
        _object(types, kind["ref"], item, path, found, masks, allowed, mode)
    elif kind.get("scalar") == "string":
        if not isinstance(item, str):
            found.append(f"{path}: not a string")
        elif "maxLength" in field and len(item) > field["maxLength"]:
            found.append(f"{path}: longer than {field['maxLength']}")
    elif kind.get("scalar") == "number":
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            found.append(f"{path}: not a number")
    elif kind.get("scalar") == "boolean" and not isinstance(item, bool):
        found.append(f"{path}: not a boolean")


def _missing(value: Any, parts: list[str]) -> bool:
    """Whether a required path is missing: its last field, where everything before it is given
    (a nested field is required only within a parent the request gives)."""
    head, rest = parts[0], parts[1:]
    key, many = head.removesuffix("[]"), head.endswith("[]")
    if not isinstance(value, dict):
        return False
    if key not in value or value[key] is None:
        return not rest
    inner = value[key]
    if not rest:
        return False
    if many:
        return isinstance(inner, list) and any(_missing(e, rest) for e in inner)
    return _missing(inner, rest)
