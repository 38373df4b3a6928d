"""The broker presets `mqsim omb --preset NAME` accepts: one table, by name.

A preset is what a driver's broker costs and how its cluster is set up, on top of the mapping
of the workload (sim/omb/mapping.py): fields merged into the scenario's `broker:` section and
its `network:` section, per broker type. The table holds

- `ideal`, mqsim's ideal broker, whose every step takes no time, so its capacity is unbounded
  (queueing-theory runs; never a driver's default);
- every calibrated preset of sim/presets/ (`mqperf-2021`, `confluent-2020`;
  docs/calibration.md): for each system it covers, `cost: {preset: NAME}`, the study's broker
  fields (Kafka's 3 brokers and follower fetch delay; Pulsar's brokers, bookies and ledger
  quorums) and its network's one-way delays.

Each driver names its default preset in its broker's spec (`OMBDriver.default_preset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.errors import ScenarioError
from sim.presets import presets

__all__ = ["PRESETS", "Preset", "preset_of"]


@dataclass(frozen=True)
class Preset:
    """A named setup: `broker` maps a broker type to the fields merged into its section, and
    `network` to the one-way delays of the scenario's `network:` section."""

    name: str
    description: str
    broker: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    network: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def broker_fields(self, broker_type: str) -> dict[str, Any]:
        """The fields this preset sets in a `broker:` section of `broker_type` ({} if none)."""
        return dict(self.broker.get(broker_type, {}))

    def network_fields(self, broker_type: str) -> dict[str, Any]:
        """The scenario's `network:` section under this preset ({}: the ideal network)."""
        return dict(self.network.get(broker_type, {}))


def _calibrated() -> list[Preset]:
    from sim.brokers.registry import SPECS

    found = []
    for name, preset in sorted(presets().items()):
        broker, network = {}, {}
        for system, part in preset.systems.items():
            spec = SPECS.get(system)
            if spec is None or spec.omb is None:  # costs, but no OMB driver
                continue
            # The setup's fields the broker section has, under the names scenarios use
            # (Pulsar's batching_delay is the producers' batchingMaxPublishDelay, which its
            # driver sets as OMB's does).
            known = spec.section.model_fields
            fields = {known[k].alias or k: v for k, v in part.broker.items() if k in known}
            broker[system] = {**fields, "cost": {"preset": name}}
            network[system] = dict(part.network)
        found.append(Preset(name, f"{preset.title}: {preset.hardware}", broker, network))
    return found


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "ideal",
            "mqsim's ideal broker: no costs, so no capacity limit (queueing-theory runs)",
        ),
        *_calibrated(),
    )
}


def preset_of(name: str, broker_type: str | None = None) -> Preset:
    """The preset called `name` (for `broker_type`: one that covers it), else a one-line
    ScenarioError saying which exist."""
    found = PRESETS.get(name)
    if found is None:
        known = ", ".join(PRESETS)
        raise ScenarioError(f"unknown preset {name!r} (known: {known})", "--preset")
    if broker_type is not None and found.broker and broker_type not in found.broker:
        covered = ", ".join(sorted(found.broker))
        raise ScenarioError(
            f"preset {name!r} has no {broker_type} costs (it covers: {covered})", "--preset"
        )
    return found
