"""Dotted-path overrides of scenario data: {"consumers.0.replicas": 4} and `--set` strings."""

from __future__ import annotations

from typing import Any

import yaml

from sim.scenario.errors import ScenarioError

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

    Keys that contain dots themselves (Kafka's `enable.auto.commit`) are matched whole when the
    mapping already has them: the longest existing key wins.
    """
    for path, value in changes.items():
        _set(data, path.split("."), value, path)
    return data


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
            take = next(
                (n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node),
                1,
            )
        else:
            raise ScenarioError(f"{where} is a single value, it has no field {parts[0]!r}", path)
        key = ".".join(parts[:take])
        done.extend(parts[:take])
        parts = parts[take:]
        index: Any = int(key) if isinstance(node, list) else key
        if not parts:
            node[index] = value
            return
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[index]
