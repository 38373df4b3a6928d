"""The broker presets `mqsim omb --preset NAME` accepts: one table, by name.

A preset is what a driver's broker costs and how its cluster is set up, on top of the mapping
of the workload (sim/omb/mapping.py): fields merged into the scenario's `broker:` section, per
broker type. For now the table holds only `ideal`, mqsim's default broker, whose every step
takes no time, so its capacity is unbounded. The calibrated cost presets of issue 14 section 1
(`mqperf-2021`, `confluent-2020`, and each driver's calibrated default) are entries to add here;
each driver names its default preset in sim/omb/mapping.py (`Driver.default_preset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.errors import ScenarioError

__all__ = ["PRESETS", "Preset", "preset_of"]


@dataclass(frozen=True)
class Preset:
    """A named setup: `broker` maps a broker type to the fields merged into its section."""

    name: str
    description: str
    broker: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def broker_fields(self, broker_type: str) -> dict[str, Any]:
        """The fields this preset sets in a `broker:` section of `broker_type` ({} if none)."""
        return dict(self.broker.get(broker_type, {}))


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "ideal",
            "mqsim's ideal broker: no costs, so no capacity limit (queueing-theory runs)",
        ),
    )
}


def preset_of(name: str) -> Preset:
    """The preset called `name`, else a one-line ScenarioError listing the known ones."""
    found = PRESETS.get(name)
    if found is None:
        known = ", ".join(PRESETS)
        raise ScenarioError(f"unknown preset {name!r} (known: {known})", "--preset")
    return found
