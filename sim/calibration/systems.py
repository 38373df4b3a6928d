"""A system's preset part as broker sections, and the accounts of loads on them.

A *part* is one system's share of a preset as plain data: `cost` (the broker's cost fields),
`broker` (the setup's broker fields), `network` (`one_way`: the one-way delay between clients
and brokers) and `client` (`sender_cpu`: core-seconds a sender machine spends per message).
Every broker with a cost model says through its spec how a part and a study's setup make its
section and what its cost model charges (BrokerSpec.costs, each broker's cost.py); the section
is validated as a scenario's would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.brokers.costs import Account, CostModelSpec, Load
from sim.brokers.registry import SPECS
from sim.presets import cost_preset

__all__ = ["SYSTEMS", "account", "broker_type", "part_of", "published_name", "section"]

Part = Mapping[str, Mapping[str, Any]]

#: published.csv's system names -> mqsim's broker types (presets are keyed by broker type).
SYSTEMS: dict[str, str] = {
    spec.costs.published: spec.type for spec in SPECS.values() if spec.costs is not None
}


def broker_type(published: str) -> str:
    """The broker type of a system as published.csv names it (itself when it has none)."""
    return SYSTEMS.get(published, published)


def published_name(system: str) -> str:
    """published.csv's name for broker type `system`."""
    return next(name for name, kind in SYSTEMS.items() if kind == system)


def _costs(system: str) -> CostModelSpec:
    costs = SPECS[system].costs
    if costs is None:
        raise ValueError(f"broker type {system!r} has no cost model")
    return costs


def section(system: str, part: Part, setup: Mapping[str, Any]) -> dict[str, Any]:
    """The `broker:` section of `system` (a broker type) for a part and a setup."""
    return _costs(system).section(part, setup)


def account(system: str, part: Part, setup: Mapping[str, Any], load: Load) -> Account:
    """The broker's own account of `load` on the section of a part and a setup."""
    costs = _costs(system)
    config = SPECS[system].section.model_validate(costs.section(part, setup), by_alias=True)
    return costs.account(config, part, load, setup)


def part_of(preset: str, system: str) -> dict[str, dict[str, Any]]:
    """A shipped preset's part for `system` (a broker type), as the accounts take it."""
    found = cost_preset(preset, system)
    return {
        "cost": dict(found.cost),
        "broker": dict(found.broker),
        "network": {"one_way": float(found.network.get("producer_to_broker", 0.0))},
        "client": dict(found.client),
    }
