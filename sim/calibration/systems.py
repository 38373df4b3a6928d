"""A system's preset part as broker sections, and the accounts of loads on them.

A *part* is one system's share of a preset as plain data: `cost` (the broker's cost fields),
`broker` (the setup's broker fields), `network` (`one_way`: the one-way delay between clients
and brokers) and `client` (`sender_cpu`: core-seconds a sender machine spends per message).
Every registered broker says through its spec how a part and a study's setup make its section
and what its cost model charges (BrokerSpec.costs, each broker's cost.py); the section is
validated as a scenario's would be. Pulsar's costs exist before its broker model does
(sim/brokers/pulsar/cost.py), so it is the one system named here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.brokers.costs import Account, Load
from sim.brokers.pulsar import cost as pulsar_cost
from sim.brokers.registry import SPECS
from sim.presets import cost_preset

__all__ = ["PULSAR", "SYSTEMS", "account", "broker_type", "part_of", "published_name", "section"]

Part = Mapping[str, Mapping[str, Any]]

#: Pulsar: its name in published.csv and in the presets (no registered broker yet).
PULSAR = "pulsar"

#: published.csv's system names -> mqsim's broker types (presets are keyed by broker type).
SYSTEMS: dict[str, str] = {
    **{spec.costs.published: spec.type for spec in SPECS.values() if spec.costs is not None},
    PULSAR: PULSAR,
}


def broker_type(published: str) -> str:
    """The broker type of a system as published.csv names it (itself when it has none)."""
    return SYSTEMS.get(published, published)


def published_name(system: str) -> str:
    """published.csv's name for broker type `system`."""
    return next(name for name, kind in SYSTEMS.items() if kind == system)


def section(system: str, part: Part, setup: Mapping[str, Any]) -> dict[str, Any]:
    """The `broker:` section of `system` (a broker type) for a part and a setup."""
    spec = SPECS[system]
    assert spec.costs is not None, system
    return spec.costs.section(part, setup)


def account(system: str, part: Part, setup: Mapping[str, Any], load: Load) -> Account:
    """The broker's own account of `load` on the section (Pulsar: on its topology)."""
    if system == PULSAR:
        cost = pulsar_cost.PulsarCost.model_validate(dict(part["cost"]))
        topology = pulsar_cost.Topology.model_validate(dict(part.get("broker", {})))
        return pulsar_cost.account(cost, topology, load)
    spec = SPECS[system]
    assert spec.costs is not None, system
    config = spec.section.model_validate(spec.costs.section(part, setup), by_alias=True)
    return spec.costs.account(config, load, setup)


def part_of(preset: str, system: str) -> dict[str, dict[str, Any]]:
    """A shipped preset's part for `system` (a broker type), as the accounts take it."""
    found = cost_preset(preset, system)
    return {
        "cost": dict(found.cost),
        "broker": dict(found.broker),
        "network": {"one_way": float(found.network.get("producer_to_broker", 0.0))},
        "client": dict(found.client),
    }
