"""Load profiles: a base rate, steps of a schedule and spikes, as a piecewise-constant rate.

Producers and service clients are open-loop: they send on this schedule whatever the system does.
Arrival times follow a non-homogeneous Poisson process (or evenly spaced arrivals) by the
time-change method: unit-rate gaps are drawn from the part's stream and mapped through the
inverse of the cumulative rate Lambda(t) = integral of rate(t) dt (Cinlar, "Introduction to
Stochastic Processes", 1975, ch. 4; Lewis & Shedler, "Simulation of nonhomogeneous Poisson
processes", 1979). The unit gaps do not depend on the rates, so two variants that differ only in
their load profile still compare on common random numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from sim.fieldtypes import Duration, Rate, StrictModel

__all__ = ["LoadSchedule", "RateStep", "Schedule", "Spike", "Spikes"]

INF = math.inf


class Spike(StrictModel):
    """A burst: from `at` for `duration`, the rate is `rate` (or the base rate times `factor`)."""

    at: Duration
    duration: Duration
    rate: Rate | None = None
    factor: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Spike:
        if self.at < 0:
            raise ValueError("a spike cannot start before time 0")
        if self.duration <= 0:
            raise ValueError("a spike needs a positive duration")
        if (self.rate is None) == (self.factor is None):
            raise ValueError("a spike takes either `rate` (e.g. 500/s) or `factor` (e.g. 10)")
        return self


class RateStep(StrictModel):
    """From `at` on (until the next step), the base rate is `rate`."""

    at: Duration
    rate: Rate


def _spikes_do_not_overlap(spikes: list[Spike]) -> list[Spike]:
    ordered = sorted(spikes, key=lambda s: s.at)
    for before, after in itertools.pairwise(ordered):
        if after.at < before.at + before.duration:
            raise ValueError(f"spikes overlap: the one at {before.at:g}s lasts past {after.at:g}s")
    return spikes


def _steps_increase(steps: list[RateStep]) -> list[RateStep]:
    for before, after in itertools.pairwise(steps):
        if after.at <= before.at:
            raise ValueError("schedule steps must be in increasing order of `at`")
    return steps


Spikes = Annotated[list[Spike], AfterValidator(_spikes_do_not_overlap)]
Schedule = Annotated[list[RateStep], AfterValidator(_steps_increase)]


class LoadSchedule:
    """rate(t) as sorted segments [(begin, rate)], each lasting until the next begins."""

    def __init__(self, segments: list[tuple[float, float]]) -> None:
        self.begins = [begin for begin, _ in segments]
        self.rates = [rate for _, rate in segments]

    @classmethod
    def of(
        cls, rate: float, schedule: list[RateStep] | None = None, spikes: list[Spike] | None = None
    ) -> LoadSchedule:
        """The profile a producer or client section describes: `rate` until the first step of
        `schedule`, each step's rate after it, and spikes over the top (a spike's `rate`
        replaces the base rate during the spike; its `factor` multiplies it)."""
        base = [(0.0, rate)] + [(step.at, step.rate) for step in schedule or []]
        if len(base) > 1 and base[1][0] == 0.0:
            base = base[1:]
        cuts = {begin for begin, _ in base}
        for spike in spikes or []:
            cuts.update((spike.at, spike.at + spike.duration))
        segments = []
        for begin in sorted(cuts):
            value = _base_at(base, begin)
            for spike in spikes or []:
                if spike.at <= begin < spike.at + spike.duration:
                    value = spike.rate if spike.rate is not None else value * spike.factor
            segments.append((begin, value))
        return cls(segments)

    def rate_at(self, t: float) -> float:
        return _base_at(list(zip(self.begins, self.rates, strict=True)), t)

    def expected_count(self, start: float, end: float) -> float:
        """Lambda(end) - Lambda(start): the mean number of arrivals in [start, end)."""
        total = 0.0
        for i, (begin, rate) in enumerate(zip(self.begins, self.rates, strict=True)):
            finish = self.begins[i + 1] if i + 1 < len(self.begins) else INF
            low, high = max(begin, start), min(finish, end)
            if high > low:
                total += rate * (high - low)
        return total

    def gaps(self, unit_gap: Callable[[], float], start: float = 0.0) -> Callable[[], float]:
        """Gaps between successive arrivals from `start` on, made from unit-rate gaps.

        Each unit gap is spent across segments at their rates (time change by Lambda^-1); a
        segment with rate 0 is skipped; past the last segment at rate 0, the gap is infinite.
        """
        begins, rates = self.begins, self.rates
        ends = [*begins[1:], INF]
        state: list[Any] = [start, 0]  # current time, current segment
        while state[1] + 1 < len(begins) and ends[state[1]] <= start:
            state[1] += 1

        def next_gap() -> float:
            t, i = state
            before = t
            need = unit_gap()
            while True:
                rate, end = rates[i], ends[i]
                if rate > 0:
                    step = need / rate
                    if t + step <= end:
                        t += step
                        break
                    need -= (end - t) * rate
                if end == INF:
                    state[0], state[1] = INF, i
                    return INF
                t, i = end, i + 1
            state[0], state[1] = t, i
            return t - before

        return next_gap


def _base_at(segments: list[tuple[float, float]], t: float) -> float:
    value = segments[0][1]
    for begin, rate in segments:
        if begin <= t:
            value = rate
        else:
            break
    return value
