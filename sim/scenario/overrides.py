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
    return path.strip(), yaml.safe_load(value) if value.strip() else ""


def apply_overrides(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted path in `data` (edited in place and returned). Lists take indices."""
    for path, value in changes.items():
        parts = path.split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth]) or "the scenario"
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(
                        f"no item {part!r} in {where} (it has {len(node)} items)", path
                    )
                index = int(part)
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError(f"{where} is a single value, it has no field {part!r}", path)
    return data
