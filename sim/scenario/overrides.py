"""Dotted-path overrides of scenario data: {"consumers.0.replicas": 4} and `--set` strings."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel

from sim.errors import ScenarioError

__all__ = ["apply_overrides", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, Any]:
    """`consumers.0.replicas=4` -> ("consumers.0.replicas", 4); the value is read as YAML."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ScenarioError(f"expected PATH=VALUE, got {text!r}", "--set")
    try:
        return path.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        raise ScenarioError(f"cannot read the value {value!r} (YAML)", path.strip()) from None


def apply_overrides(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted path in `data` (edited in place and returned). Lists take indices.

    Keys that contain dots themselves (Kafka's `enable.auto.commit`) are matched whole: the
    longest key the mapping already has wins, else the longest the schema knows.
    """
    for path, value in changes.items():
        _set(data, path.split("."), value, path)
    return data


@cache
def dotted_keys() -> frozenset[str]:
    """Every field name of the scenario schema that has a dot in it (Kafka's setting names)."""
    from sim.scenario.schema import Scenario  # the schema imports this module

    found: set[str] = set()
    seen: set[type] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            if "." in key:
                found.add(key)
            for inner in _models_in(field.annotation):
                visit(inner)

    visit(Scenario)
    return frozenset(found)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _set(node: Any, parts: list[str], value: Any, path: str) -> None:
    done: list[str] = []
    while parts:
        where = ".".join(done) or "the scenario"
        if isinstance(node, list):
            part = parts[0]
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"no item {part!r} in {where} (it has {len(node)} items)", path)
            take = 1
        elif isinstance(node, dict):
            known = dotted_keys()
            take = next(
                (n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node),
                next((n for n in range(len(parts), 1, -1) if ".".join(parts[:n]) in known), 1),
            )
        else:
            raise ScenarioError(f"{where} is a single value, it has no field {parts[0]!r}", path)
        key = ".".join(parts[:take])
        done.extend(parts[:take])
        parts = parts[take:]
        index: Any = int(key) if isinstance(node, list) else key
        if not parts:
            if value is None and isinstance(node, dict):
                node.pop(index, None)  # null unsets a field: it takes its default again
            else:
                node[index] = value
            return
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[index]
