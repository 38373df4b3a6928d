"""Fault injection: the `faults:` section and the schedules that apply it to named parts.

A fault names a target (a service, a consumer, or one replica `consumer.2`) and a kind:

- `down`  between `start` and `end`: the part stops taking work (a hung service: calls wait
  unanswered until their callers time out; a consumer stops consuming) and resumes at `end`.
- `slow`  between `start` and `end`: service times are multiplied by `factor`.
- `error` between `start` and `end` (default: the whole run): each piece of work fails with
  `probability` (a service answers with an error; a consumer nacks and the broker requeues).
- `crash` at `start`, restart at `end` (or never); or again and again with times between
  failures drawn from `mtbf` and repair times from `mttr` (distributions). A crashed service
  drops its connections (callers get an error at once and new calls are refused); a crashed
  consumer's channel closes, so the broker requeues what it had not acked, and what it held
  with auto-ack is lost.

Any model part can take faults: it registers itself in `RunContext.parts` under its names and
exposes the hooks of `Faultable`. Overlapping faults on one part combine: slow factors multiply,
error probabilities combine as independent failures, and a part is down (or crashed) while any
of its down (crash) faults is active.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field, model_validator

from sim.errors import ScenarioError
from sim.fieldtypes import Dist, Duration, StrictModel

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from sim.context import RunContext

__all__ = [
    "CrashOnly",
    "FaultConfig",
    "Faultable",
    "apply",
    "reference_errors",
    "valid_targets",
    "windows",
]

Loc = tuple[str | int, ...]


class FaultConfig(StrictModel):
    target: str = Field(min_length=1)
    kind: Literal["down", "slow", "error", "crash"]
    start: Duration | None = None
    end: Duration | None = None
    factor: float | None = Field(default=None, gt=0)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    mtbf: Dist | None = None  # time between failures (crash only)
    mttr: Dist | None = None  # time to repair (crash only)

    @model_validator(mode="after")
    def _check(self) -> FaultConfig:
        kind = self.kind
        if (self.factor is not None) != (kind == "slow"):
            raise ValueError(
                "a slow fault needs `factor`"
                if kind == "slow"
                else f"`factor` is only for slow faults, not {kind}"
            )
        if (self.probability is not None) != (kind == "error"):
            raise ValueError(
                "an error fault needs `probability`"
                if kind == "error"
                else f"`probability` is only for error faults, not {kind}"
            )
        random_crash = self.mtbf is not None or self.mttr is not None
        if random_crash and (kind != "crash" or self.mtbf is None or self.mttr is None):
            raise ValueError("`mtbf` and `mttr` go together, on a crash fault")
        if kind in ("down", "slow") and self.start is None:
            raise ValueError(f"a {kind} fault needs `start`")
        if kind == "crash" and not random_crash and self.start is None:
            raise ValueError("a crash fault needs `start` (and `end` to restart) or mtbf and mttr")
        if self.start is not None and self.start < 0:
            raise ValueError("`start` cannot be negative")
        if self.end is not None and self.end <= (self.start or 0.0):
            raise ValueError("`end` must come after `start`")
        return self

    @property
    def first(self) -> float:
        return self.start or 0.0

    @property
    def last(self) -> float:
        return math.inf if self.end is None else self.end


def valid_targets(scenario: Any, nodes: Iterable[str] = ()) -> set[str]:
    """Names a fault may target: services, consumers, single replicas (`worker.3`), and the
    broker's `nodes` (crash faults only). `scenario` is the validated Scenario."""
    names = {s.name for s in scenario.services} | set(nodes)
    for consumer in scenario.consumers:
        names.add(consumer.name)
        names.update(f"{consumer.name}.{i}" for i in range(consumer.replicas))
    return names


def reference_errors(scenario: Any, nodes: Iterable[str] = ()) -> Iterator[tuple[Loc, str]]:
    nodes = set(nodes)
    targets = valid_targets(scenario, nodes)
    for i, fault in enumerate(scenario.faults):
        if fault.target not in targets:
            known = ", ".join(sorted(targets)) or "none"
            yield ("faults", i, "target"), f"unknown target {fault.target!r} (known: {known})"
        elif fault.target in nodes and fault.kind != "crash":
            yield (
                ("faults", i, "kind"),
                f"a broker node takes crash faults only, not {fault.kind}",
            )


class Faultable(Protocol):
    """The hooks a part exposes so that faults can reach it."""

    name: str

    def go_down(self) -> None: ...
    def come_up(self) -> None: ...
    def crash(self) -> None: ...
    def restart(self) -> None: ...
    def set_slowdown(self, factor: float) -> None: ...
    def set_error_probability(self, probability: float) -> None: ...


class CrashOnly:
    """Base of a part that can only crash and restart (a broker node): validation refuses the
    other fault kinds on it, so their hooks are never called."""

    def go_down(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} takes crash faults only")

    come_up = set_slowdown = go_down

    def set_error_probability(self, probability: float) -> None:
        self.go_down()


class _PartState:
    """The faults active on one part, combined into calls of its hooks."""

    def __init__(self, ctx: RunContext, part: Faultable) -> None:
        self.part = part
        self.recorder = ctx.recorder
        self.down = 0
        self.crashed = 0
        self.factors: list[float] = []
        self.probabilities: list[float] = []

    def begin(self, fault: FaultConfig) -> None:
        part, name = self.part, self.part.name
        if fault.kind == "down":
            self.down += 1
            if self.down == 1:
                part.go_down()
        elif fault.kind == "crash":
            self.crashed += 1
            if self.crashed == 1:
                part.crash()
        elif fault.kind == "slow":
            self.factors.append(fault.factor or 1.0)
            part.set_slowdown(math.prod(self.factors))
        else:
            self.probabilities.append(fault.probability or 0.0)
            part.set_error_probability(self._error_probability())
        self.recorder.event(name, f"{fault.kind} start")

    def end(self, fault: FaultConfig) -> None:
        part, name = self.part, self.part.name
        if fault.kind == "down":
            self.down -= 1
            if self.down == 0:
                part.come_up()
        elif fault.kind == "crash":
            self.crashed -= 1
            if self.crashed == 0:
                part.restart()
        elif fault.kind == "slow":
            self.factors.remove(fault.factor or 1.0)
            part.set_slowdown(math.prod(self.factors))
        else:
            self.probabilities.remove(fault.probability or 0.0)
            part.set_error_probability(self._error_probability())
        self.recorder.event(name, f"{fault.kind} end")

    def _error_probability(self) -> float:
        return 1.0 - math.prod(1.0 - p for p in self.probabilities)


def apply(ctx: RunContext) -> None:
    """Schedule every fault of the scenario on the parts it targets (after they are built)."""
    states: dict[int, _PartState] = {}
    for i, fault in enumerate(ctx.scenario.faults):
        parts: list[Faultable] = ctx.parts.get(fault.target, [])
        if not parts:
            raise ScenarioError(
                f"{fault.target!r} cannot take faults (its model exposes no fault hooks)",
                f"faults[{i}].target",
            )
        for part in parts:
            state = states.setdefault(id(part), _PartState(ctx, part))
            if fault.mtbf is not None and fault.mttr is not None:
                up = ctx.sampler(f"fault:{i}:{part.name}/mtbf", fault.mtbf)
                repair = ctx.sampler(f"fault:{i}:{part.name}/mttr", fault.mttr)
                ctx.env.process(_random_crashes(ctx, state, fault, up, repair))
            else:
                ctx.env.process(_window(ctx, state, fault))


def _window(ctx: RunContext, state: _PartState, fault: FaultConfig) -> Generator[Any, Any, None]:
    env = ctx.env
    if fault.first > env.now:
        yield env.timeout(fault.first - env.now)
    state.begin(fault)
    if fault.end is not None:
        yield env.timeout(fault.end - env.now)
        state.end(fault)


def _random_crashes(
    ctx: RunContext, state: _PartState, fault: FaultConfig, up: Any, repair: Any
) -> Generator[Any, Any, None]:
    """Alternate up times drawn from mtbf and repairs drawn from mttr, within [start, end)."""
    env = ctx.env
    if fault.first > env.now:
        yield env.timeout(fault.first - env.now)
    while True:
        yield env.timeout(up())
        if env.now >= fault.last:
            return
        state.begin(fault)
        yield env.timeout(repair())
        state.end(fault)


def windows(events: pd.DataFrame, until: float) -> list[tuple[str, str, float, float]]:
    """(component, kind, start, end) of every fault in a run's events, in order of start; a
    fault still active when the run stopped ends at `until`."""
    open_at: dict[tuple[str, str], float] = {}
    found = []
    for time, component, event in events[["time", "component", "event"]].itertuples(index=False):
        kind, _, phase = str(event).partition(" ")
        key = (str(component), kind)
        if phase == "start":
            open_at[key] = float(time)
        elif phase == "end" and key in open_at:
            found.append((*key, open_at.pop(key), float(time)))
    found.extend((*key, start, until) for key, start in open_at.items())
    return sorted(found, key=lambda window: window[2])
