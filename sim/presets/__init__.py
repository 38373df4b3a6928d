"""Calibrated cost presets: named sets of broker cost parameters fitted on published benchmarks.

A scenario selects one in its broker's cost section, `broker: {type: kafka, cost: {preset:
mqperf-2021}}`; fields set next to `preset` override the preset's (`cost: {preset:
confluent-2020, fsync: 2ms}`). Without a `cost:` section a broker stays mqsim's ideal broker,
whose every step is instant, so queueing-theory scenarios keep matching theory.

The presets live in `calibrated.json` beside this module, written by `tools/calibrate.py`
from `../shared/calibration/published.csv` (docs/calibration.md); a test checks that the file
equals what the tool derives. Each preset is one study's hardware and setup; per system it holds

- `cost`: the broker section's cost fields (seconds, counts) as `broker.cost` takes them;
- `broker`: the setup's broker fields (nodes), merged into a `broker:` section by
  `mqsim omb --preset` and the notebooks;
- `network`: the one-way delays of the study's network (the scenario's `network:` section);
- `client`: the study's clients where mqsim has no model of them (mqperf's synchronous
  senders: the CPU a sender node spends per message), read only by the calibration;
- `sources`: for every figure above, where it comes from (a published row it was fitted on,
  a documented default, or a measurement cited by the broker's cost module);
- `fitted_on`: the published rows (`row_id`) the free parameters were fitted on.

This room holds data only: it imports no broker, so every broker's config may import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from sim.fieldtypes import StrictModel

__all__ = [
    "PRESETS_FILE",
    "CostPreset",
    "PresetCost",
    "SystemPreset",
    "cost_preset",
    "preset_names",
    "presets",
]

PRESETS_FILE = Path(__file__).with_name("calibrated.json")


@dataclass(frozen=True)
class SystemPreset:
    """One system's part of a preset (see the module docstring for the fields)."""

    cost: Mapping[str, Any]
    broker: Mapping[str, Any] = field(default_factory=dict)
    network: Mapping[str, Any] = field(default_factory=dict)
    client: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    fitted_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostPreset:
    """A named preset: one study's setup, its source, and each system's part."""

    name: str
    title: str
    source: str
    hardware: str
    systems: Mapping[str, SystemPreset]


def _load(data: Mapping[str, Any]) -> dict[str, CostPreset]:
    found = {}
    for name, preset in data["presets"].items():
        systems = {
            system: SystemPreset(
                cost=dict(part["cost"]),
                broker=dict(part.get("broker", {})),
                network=dict(part.get("network", {})),
                client=dict(part.get("client", {})),
                sources=dict(part.get("sources", {})),
                fitted_on=tuple(part.get("fitted_on", ())),
            )
            for system, part in preset["systems"].items()
        }
        found[name] = CostPreset(
            name, preset["title"], preset["source"], preset["hardware"], systems
        )
    return found


@cache
def presets() -> dict[str, CostPreset]:
    """Every shipped preset by name, read once from calibrated.json."""
    return _load(json.loads(PRESETS_FILE.read_text(encoding="utf-8")))


def preset_names() -> list[str]:
    return sorted(presets())


def cost_preset(name: str, system: str) -> SystemPreset:
    """The part of preset `name` for broker type `system`; ValueError saying what exists."""
    found = presets().get(name)
    if found is None:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    part = found.systems.get(system)
    if part is None:
        has = ", ".join(sorted(found.systems))
        raise ValueError(f"preset {name!r} has no {system} costs (it has: {has})")
    return part


class PresetCost(StrictModel):
    """A broker's cost section that may start from a preset: a subclass names its broker type
    in `SYSTEM`; `preset` fills every field the section does not set itself."""

    SYSTEM: ClassVar[str] = ""
    preset: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("preset") is None:
            return data
        try:
            values = cost_preset(str(data["preset"]), cls.SYSTEM).cost
        except ValueError:
            return data  # the field validator below reports it, at `cost.preset`
        return {**values, **data}

    @field_validator("preset")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        if name is not None:
            cost_preset(name, cls.SYSTEM)  # raises the one-line message
        return name
