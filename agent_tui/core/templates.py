"""``{{ steps.ID.output }}`` and ``{{ steps.ID.result.FIELD }}`` in recipe arguments."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPR = re.compile(
    r"^\s*steps\.([A-Za-z][A-Za-z0-9_-]*)\.(output|result((?:\.[A-Za-z0-9_]+)*))\s*$"
)


class TemplateError(Exception):
    """A template that cannot be parsed or rendered; the message says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``steps.ID.…`` reference."""

    step: str
    path: tuple[str, ...]  # ("output",) or ("result", "field", ...)

    def __str__(self) -> str:
        return "steps." + ".".join((self.step, *self.path))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _parse_tag(body: str) -> Reference:
    match = _EXPR.match(body)
    if not match:
        raise TemplateError(
            f"bad template '{{{{{body}}}}}': use {{{{ steps.ID.output }}}} or "
            "{{ steps.ID.result.FIELD }}"
        )
    step, kind, rest = match.group(1), match.group(2), match.group(3)
    if kind == "output":
        return Reference(step, ("output",))
    fields = tuple(p for p in (rest or "").split(".") if p)
    return Reference(step, ("result", *fields))


def references(value: Any) -> list[Reference]:
    """Every reference in the strings of ``value``; raises :class:`TemplateError` on a bad one."""
    refs: list[Reference] = []
    for text in _strings(value):
        stripped = _TAG.sub("", text)
        if "{{" in stripped or "}}" in stripped:
            raise TemplateError(f"unbalanced '{{{{' or '}}}}' in {text[:60]!r}")
        refs.extend(_parse_tag(m.group(1)) for m in _TAG.finditer(text))
    return refs


def _lookup(ref: Reference, results: dict[str, dict[str, Any]]) -> str:
    if ref.step not in results:
        raise TemplateError(f"{ref}: step '{ref.step}' has no result yet")
    value: Any = results[ref.step]
    if ref.path == ("output",):
        return str(value.get("output", ""))
    value = value.get("result", {})
    for i, name in enumerate(ref.path[1:]):
        if not isinstance(value, dict) or name not in value:
            where = ".".join(ref.path[1 : i + 1]) or "result"
            have = ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__
            raise TemplateError(f"{ref}: no field '{name}' in {where} (has: {have})")
        value = value[name]
    if isinstance(value, str):
        return value
    return json.dumps(value)


def render(value: Any, results: dict[str, dict[str, Any]]) -> Any:
    """``value`` with every template replaced; ``results`` maps step id to output and result."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return _TAG.sub(lambda m: _lookup(_parse_tag(m.group(1)), results), value)
    if isinstance(value, dict):
        return {k: render(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, results) for v in value]
    return value
