"""Running an OMB workload on a driver the way OMB's WorkloadGenerator runs it.

The phases of `WorkloadGenerator.run()` (openmessaging/benchmark, benchmark-framework/.../
WorkloadGenerator.java; ../shared/omb/README.md, "How the workload generator behaves"):

1. Readiness: one probe message per topic, and the load starts at the first of OMB's 2 s polls
   at which every subscription has received it (`ensureTopicsAreReady`); none within 60 s is
   OMB's error "Timed out waiting for consumers to be ready". A first short run finds that
   time, so a Kafka group's join (group.initial.rebalance.delay.ms) is waited for, not measured.
2. Warm-up: `warmupDurationMinutes` of load sampled every 10 s and thrown away (a phase of whole
   samples, as OMB's loop ends at the first sample at or after its end).
3. The measured phase: samples every 10 s until the first at or after `testDurationMinutes`.
4. `producerRate: 0`: OMB's RateController starts at 10,000 msg/s and, every 3 s, doubles the
   rate while both backlogs stay under 1,000 messages and backs off otherwise, for the whole
   run. mqsim searches first, then measures: a loop of short runs (`ProbeSettings`) doubles the
   rate from 10,000 msg/s until a run's backlog grows (the knee: consumers take less than
   `1 - tolerance` of what is sent, or the broker refuses more than `tolerance` of it), bisects
   between the last rate that held and the first that did not down to `resolution`, and then
   runs the workload at the highest rate that held. The result is the sustained rate without
   OMB's oscillation around it.
5. Backlog mode (`consumerBacklogSizeGB > 0`): after the warm-up, consumers are paused (OMB's
   consumer callbacks block; here the consumers are `down`) until a 1 s poll sees subscriptions
   x sent - received reach the backlog, then resumed until a 100 ms poll sees it drained to
   max(1000, (1 - backlogDrainRatio) x the backlog) messages; the run goes on for another
   `testDurationMinutes` and ends at the next sample (`buildAndDrainBacklog`).

`period` (default OMB's 10 s) shortens every OMB clock in proportion for short runs: samples
every `period`, readiness polls every period/5, backlog polls every period/10 and period/100;
the readiness timeout stays 60 s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.kernel import run as simulate
from sim.omb.mapping import Driver, Phases, Shape, driver_of, scenario_data, shape
from sim.omb.presets import Preset, preset_of
from sim.omb.result import Events, test_result
from sim.omb.workload import Workload
from sim.results import Results
from sim.scenario import Scenario

__all__ = ["OmbRun", "ProbeSettings", "ProbeStep", "RunOptions", "Timeline", "run_workload"]

OMB_PERIOD = 10.0  # s between samples (printAndCollectStats: Thread.sleep(10000))
READY_POLL = 2.0  # ensureTopicsAreReady: Thread.sleep(2_000)
READY_TIMEOUT = 60.0  # ensureTopicsAreReady: 60 * 1000 ms
BUILD_POLL = 1.0  # buildAndDrainBacklog: Thread.sleep(1000) while building
DRAIN_POLL = 0.1  # buildAndDrainBacklog: Thread.sleep(100) while draining
MIN_DRAINED = 1000  # buildAndDrainBacklog: Math.max(1000L, backlogEmptyLevel)
STEP_LATENCIES = 100  # a rate-search step lasts at least this many p99 latencies (mqsim's)

#: `progress(label, simulated seconds)` is a context manager giving a callback for sim.run.
ProgressFactory = Callable[[str, float], AbstractContextManager[Callable[[float], None]]]


@dataclass(frozen=True)
class ProbeSettings:
    """The search for the maximum sustainable rate (`producerRate: 0`).

    Defaults: the start rate is OMB's (WorkloadGenerator line 85, 10,000 msg/s) and so is each
    step's length (RateController's control period, 3 s), cut so that a step simulates at most
    `step_messages`; the ceiling is the rate OMB's workload tool prints as "max-rate"
    (WorkloadNameFormat.MAX_PRODUCER_RATE, 10,000,000 msg/s); the floor is the 1 msg/s below
    which `LocalWorker.adjustPublishRate` never goes. `tolerance` and `resolution` are mqsim's.
    """

    start_rate: float = 10_000.0
    max_rate: float = 10_000_000.0
    min_rate: float = 1.0
    step: float = 3.0
    step_messages: int = 200_000
    tolerance: float = 0.02
    resolution: float = 0.01


@dataclass(frozen=True)
class RunOptions:
    """How to run a workload: the driver and preset, the phase lengths (None: the workload's
    own minutes), OMB's sample period, the most independent units to simulate (topics, or a
    queue system's partition queues), the backlog in bytes (None: consumerBacklogSizeGB), the
    seed, and the rate search."""

    driver: str
    preset: str | None = None
    duration: float | None = None
    warmup: float | None = None
    period: float = OMB_PERIOD
    sample: int = 100
    backlog: int | None = None
    seed: int = 1
    probe: ProbeSettings = field(default_factory=ProbeSettings)


@dataclass(frozen=True)
class Timeline:
    """When the phases of the final run happened, in simulated seconds: the load started at
    `ready`, the measured phase ran from `start` for `samples` samples of `period`; in backlog
    mode consumers were paused until `built` and the backlog was drained at `drained`."""

    ready: float
    start: float
    period: float
    samples: int
    built: float | None = None
    drained: float | None = None

    @property
    def end(self) -> float:
        return self.start + self.period * self.samples


@dataclass(frozen=True)
class ProbeStep:
    """One run of the rate search: the rate tried (msg/s, whole workload) and whether it held."""

    rate: float
    sustained: bool


@dataclass
class OmbRun:
    """A workload run on a driver: the final run's Results (with its trace) and what it took."""

    workload: Workload
    driver: Driver
    preset: Preset
    shape: Shape
    rate: float
    timeline: Timeline
    results: Results
    probe_steps: list[ProbeStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def copies(self) -> int:
        """Messages the producers send per OMB message (one per subscription when they do the
        fan-out themselves)."""
        if self.driver.producers_fan_out:
            return max(1, self.workload.subscriptions_per_topic)
        return 1

    @property
    def driver_label(self) -> str:
        """The result's `driver`: OMB's driver name, with the preset unless it is the default."""
        if self.preset.name == self.driver.default_preset:
            return self.driver.omb_name
        return f"{self.driver.omb_name}-{self.preset.name}"

    def test_result(self) -> dict[str, Any]:
        """The OMB TestResult of this run (sim/omb/result.py)."""
        return test_result(self)


#: Readiness runs already made: their scenario (JSON) -> when every probe was received.
_READINESS: dict[str, float | None] = {}


class _Runner:
    """The runs of one workload on one driver: they differ in rate and phases only."""

    def __init__(
        self, workload: Workload, options: RunOptions, progress: ProgressFactory | None
    ) -> None:
        self.workload = workload
        self.options = options
        self.driver = driver_of(options.driver)
        self.preset = preset_of(options.preset or self.driver.default_preset, self.driver.broker)
        if options.period <= 0:
            raise ScenarioError("must be positive", "--period")
        if options.sample < 1:
            raise ScenarioError("must be at least 1", "--sample")
        self.shape = shape(workload, self.driver, options.sample)
        self.clock = options.period / OMB_PERIOD
        self.progress = progress

    def scenario(self, rate: float, phases: Phases) -> dict[str, Any]:
        return scenario_data(
            self.workload,
            self.driver,
            self.preset,
            rate,
            self.shape,
            phases,
            self.options.seed,
            name=f"omb-{self.driver.name}",
        )

    def simulate(
        self, label: str, rate: float, phases: Phases, trace: bool = True
    ) -> tuple[Results, Scenario]:
        scenario = Scenario.from_dict(self.scenario(rate, phases), self.workload.source)
        if self.progress is None:
            return simulate(scenario, trace=trace), scenario
        with self.progress(label, phases.duration) as update:
            return simulate(scenario, trace=trace, progress=update), scenario

    @property
    def subscriptions(self) -> int:
        return self.workload.subscriptions_per_topic

    @property
    def copies(self) -> int:
        return max(1, self.subscriptions) if self.driver.producers_fan_out else 1

    # ----- 1. readiness -----
    def ready(self) -> float:
        """The first readiness poll at which every subscription has its probe message."""
        expected = self.shape.topics * self.subscriptions
        if expected == 0:
            return 0.0  # OMB's first check passes at once: nothing to wait for
        poll = READY_POLL * self.clock
        for until in (min(10.0, READY_TIMEOUT), READY_TIMEOUT):
            done = self.probes_received(until, expected)
            if done is not None:
                return poll * max(1, math.ceil(done / poll - 1e-9))
        raise ScenarioError(
            f"timed out waiting for consumers to be ready (the {expected} probe messages "
            f"were not all received in {READY_TIMEOUT:g} s)",
            source=self.workload.source,
        )

    def probes_received(self, until: float, expected: int) -> float | None:
        """When the `expected` probe messages had all been received in a run without load
        (None: not by `until`). The same readiness run gives the same answer, so it is kept
        (a workload tried at several rates, or in several files, waits once)."""
        phases = Phases(until, sample_interval=until)
        key = json.dumps(self.scenario(0.0, phases), sort_keys=True)
        if key not in _READINESS:
            if len(_READINESS) >= 256:
                _READINESS.clear()
            results, _ = self.simulate("readiness", 0.0, phases)
            received = Events(results).received_at
            _READINESS[key] = float(received[expected - 1]) if received.size >= expected else None
        return _READINESS[key]

    def load_start(self, ready: float, rate: float) -> float:
        """When the load at `rate` starts: at the readiness poll `ready`, or a later poll if a
        producer's first send (the first slot of OMB's comb) is less than one of its send gaps
        after the start of the run (mqsim's producers send one gap after they start)."""
        data = self.scenario(rate, Phases(1.0, load_start=0.0))
        gap = max((1.0 / p["rate"] for p in data["producers"] if "start" in p), default=0.0)
        if gap <= ready:
            return ready
        poll = READY_POLL * self.clock
        return poll * math.ceil(gap / poll - 1e-9)

    # ----- 4. the rate search -----
    def sustains(self, rate: float, ready: float, settle: float) -> tuple[bool, float, float]:
        """One short run at `rate`: do both of OMB's backlogs stay flat (messages sent but not
        yet received by every subscription; messages due but not yet taken by the broker),
        and does the broker take (nearly) everything? Returns (held, the step's length, its
        p99 end-to-end latency).

        A step lasts `step_messages` messages, at least `settle` seconds and at most `step`.
        """
        probe = self.options.probe
        simulated_rate = rate / self.shape.scale
        step = min(probe.step, max(probe.step_messages / simulated_rate, settle))
        ready = self.load_start(ready, rate)
        until = ready + step
        phases = Phases(until, load_start=ready, warmup=ready, sample_interval=until)
        results, _ = self.simulate(f"probe {rate:,.0f} msg/s", rate, phases)
        p99 = float(results.summary["latency_p99"])
        events = Events(results, self.copies)
        # The mean backlog over the second and over the last quarter of the step: a backlog
        # that grows by more than `tolerance` of the rate is one the broker cannot keep up with.
        at = ready + step * np.linspace(0.25, 1.0, 61)
        second, last = slice(0, 20), slice(40, 61)
        receive = events.backlog(at, self.subscriptions)
        publish = events.unsent(at)
        limit = probe.tolerance * simulated_rate
        for backlog, fanned in ((receive, max(1, self.subscriptions)), (publish, 1)):
            growth = (float(np.mean(backlog[last])) - float(np.mean(backlog[second]))) / (step / 2)
            if growth > limit * fanned:
                return False, step, p99
        summary = results.summary
        refused = summary["rejected"] + summary["dropped"] + summary["lost"]
        return refused <= probe.tolerance * max(1, summary["produced"]), step, p99

    def search(self, ready: float) -> tuple[float, list[ProbeStep]]:
        """Double from the start rate to the first rate that does not hold (halve to the first
        that does), then bisect.

        A step must last long enough for its backlog to be averaged over many consumer cycles
        (a Kafka consumer's fetches, a batch's linger), which last about one end-to-end
        latency: at least STEP_LATENCIES times the p99 latency of the runs that held (those of
        runs that did not hold grow with their backlog). A step found too short once that
        latency is known is run again, longer; so is a bound of the bisection.
        """
        probe = self.options.probe
        steps: list[ProbeStep] = []
        settle = 0.0
        lengths: dict[float, float] = {}

        def test(rate: float) -> bool:
            nonlocal settle
            for _ in range(4):  # a step is lengthened at most three times
                held, step, p99 = self.sustains(rate, ready, settle)
                lengths[rate] = step
                needed = min(probe.step, STEP_LATENCIES * p99) if held and p99 > 0 else 0.0
                settle = max(settle, needed)
                if step >= min(probe.step, settle) - 1e-12:
                    break
            steps.append(ProbeStep(rate, held))
            return held

        rate, low, high = probe.start_rate, None, None
        while low is None or high is None:
            if test(rate):
                low = rate
                if rate >= probe.max_rate:
                    return rate, steps
                rate = min(2 * rate, probe.max_rate)  # RateController: factor up to 1, x2
            else:
                high = rate
                if rate <= probe.min_rate:
                    raise ScenarioError(
                        f"producerRate: 0: not even {probe.min_rate:g} msg/s is sustained",
                        source=self.workload.source,
                    )
                rate = max(rate / 2, probe.min_rate)
            short = high is not None and lengths[high] < min(probe.step, settle) - 1e-12
            if short and test(high):  # judged on too short a step: judged again, and held
                low, high = high, None
                rate = min(2 * low, probe.max_rate)
        while high / low - 1 > probe.resolution:
            middle = (low + high) / 2
            if test(middle):
                low = middle
            else:
                high = middle
        return low, steps

    # ----- 5. backlog mode -----
    def backlog_target(self) -> float:
        """The backlog to build, in simulated messages."""
        size = self.options.backlog
        size = self.workload.backlog_bytes if size is None else size
        return size / self.workload.message_size / self.shape.scale

    def build(self, rate: float, ready: float, start: float) -> float:
        """When OMB's 1 s poll first sees the backlog built (consumers paused from `start`)."""
        target = self.backlog_target()
        poll = BUILD_POLL * self.clock
        fanned = rate / self.shape.scale * max(1, self.subscriptions)
        guess = start + poll * (2 + math.ceil(1.5 * target / fanned / poll))
        for _ in range(5):
            phases = Phases(
                guess, load_start=ready, pause=(start, None), warmup=start, sample_interval=guess
            )
            results, _ = self.simulate("building the backlog", rate, phases)
            polls = start + poll * np.arange(math.floor((guess - start) / poll) + 1)
            backlog = Events(results, self.copies).backlog(polls, self.subscriptions)
            reached = np.flatnonzero(backlog >= target - 1e-9)
            if reached.size:
                return float(polls[reached[0]])
            guess = start + 2 * (guess - start)
        raise ScenarioError(
            f"the backlog of {target * self.shape.scale:,.0f} messages was not built by "
            f"t={guess:g} s: the broker does not take the producers' messages fast enough",
            "consumerBacklogSizeGB",
            self.workload.source,
        )

    def drain(
        self, rate: float, ready: float, start: float, built: float, duration: float
    ) -> tuple[Results, Timeline, list[str]]:
        """The final run of backlog mode: paused until `built`, drained, then `duration` more.

        How long the drain takes is known only once it is simulated: the run is given a
        budget (as long as the build took), made longer (twice, up to four times) while the
        backlog shrinks but is not yet drained, and stopped with a note when it does not
        shrink (consumers slower than producers: OMB would wait for ever).
        """
        workload, period = self.workload, self.options.period
        capacity = self.workload_backlog_messages()
        empty = max(MIN_DRAINED, (1.0 - workload.backlog_drain_ratio) * capacity) / self.shape.scale
        poll = DRAIN_POLL * self.clock
        budget = max(built - start, period)
        for attempt in range(5):
            until = built + budget + duration + period
            phases = Phases(
                until,
                load_start=ready,
                pause=(start, built) if built > start else None,
                warmup=start,
                sample_interval=_interval(until, period),
            )
            results, _ = self.simulate("draining the backlog", rate, phases)
            polls = built + poll * np.arange(math.floor((until - built) / poll) + 1)
            backlog = Events(results, self.copies).backlog(polls, self.subscriptions)
            drained = np.flatnonzero(backlog <= empty)
            if drained.size:
                at = float(polls[drained[0]])
                samples = max(1, math.ceil((at + duration - start) / period - 1e-9))
                timeline = Timeline(ready, start, period, samples, built, at)
                if timeline.end <= until:
                    return results, timeline, []
                budget = timeline.end - built - duration  # long enough for the last sample
                continue
            if attempt == 4 or backlog[-1] >= backlog[0]:
                break  # not drained, and not draining
            budget *= 2
        samples = max(1, math.floor((until - start) / period))
        note = (
            f"the backlog was not drained by t={until:g} s; the result stops there "
            "(OMB would still be waiting)"
        )
        return results, Timeline(ready, start, period, samples, built, None), [note]

    def workload_backlog_messages(self) -> float:
        size = self.options.backlog
        size = self.workload.backlog_bytes if size is None else size
        return size / self.workload.message_size

    def sampling_note(self) -> str:
        workload, simulated = self.workload, self.shape
        text = f"simulating {simulated.topics} of {workload.topics} topics"
        if (
            simulated.partitions < workload.partitions_per_topic
            and self.driver.partitions == "queues"
        ):
            each = f"{simulated.partitions} of {workload.partitions_per_topic}"
            text += f" ({each} partition queues each)"
        unit = "partition queues" if self.driver.partitions == "queues" else "topics"
        text = (
            f"{text}, each at its own rate; rates and backlog scaled by {simulated.scale:g} "
            f"(at most {self.options.sample} {unit}: --sample)"
        )
        if self.preset.broker:  # a cost preset: its brokers serve the sample only
            text += (
                f"; preset {self.preset.name!r} serves only the sample, so limits shared by "
                "the whole cluster are not reached"
            )
        return text

    # ----- the whole run -----
    def run(self) -> OmbRun:
        workload, options = self.workload, self.options
        duration = options.duration
        if duration is None:
            duration = 60.0 * workload.test_duration_minutes
        if duration <= 0:
            raise ScenarioError(
                "0 minutes (OMB would run until stopped); give a duration (--duration 30s)",
                "testDurationMinutes",
                workload.source,
            )
        warmup = (
            60.0 * workload.warmup_duration_minutes if options.warmup is None else options.warmup
        )
        period = options.period
        notes: list[str] = []
        if self.shape.scale > 1:
            notes.append(self.sampling_note())
        ready = self.ready()
        steps: list[ProbeStep] = []
        rate = float(workload.producer_rate)
        if workload.probes_rate:
            rate, steps = self.search(ready)
            top = options.probe.max_rate
            if rate >= top:
                notes.append(
                    f"producerRate: 0: every rate up to the ceiling of {top:,.0f} msg/s was "
                    f"sustained (preset {self.preset.name!r} may have no capacity limit)"
                )
            else:
                notes.append(f"producerRate: 0: the highest sustained rate is {rate:,.0f} msg/s")
        ready = self.load_start(ready, rate)
        start = ready + period * math.ceil(warmup / period - 1e-9)
        backlog = options.backlog if options.backlog is not None else workload.backlog_bytes
        if backlog > 0 and self.subscriptions == 0:
            raise ScenarioError(
                "a backlog builds up in subscriptions, and the workload has none "
                "(OMB would wait for ever)",
                "consumerBacklogSizeGB",
                workload.source,
            )
        if backlog > 0:
            built = self.build(rate, ready, start)
            results, timeline, more = self.drain(rate, ready, start, built, duration)
            notes += more
        else:
            samples = max(1, math.ceil(duration / period - 1e-9))
            timeline = Timeline(ready, start, period, samples)
            until = timeline.end + period * 1e-6  # the last sample is taken at the end
            phases = Phases(
                until, load_start=ready, warmup=start, sample_interval=_interval(until, period)
            )
            results, _ = self.simulate(workload.title, rate, phases)
        return OmbRun(
            workload, self.driver, self.preset, self.shape, rate, timeline, results, steps, notes
        )


def _interval(until: float, period: float) -> float:
    """The final run's time series, coarse: the result is computed from the trace, and every
    sample reads every gauge (a Kafka topic of 10,000 partitions has 10,000 lag gauges a
    group), so at most 10 samples, or one a period if that is fewer."""
    return max(period, until / 10)


def run_workload(
    workload: Workload, options: RunOptions, progress: ProgressFactory | None = None
) -> OmbRun:
    """Run `workload` as OMB would on `options.driver`; `progress(label, until)` (a context
    manager giving a `sim.run` progress callback) shows each run's progress."""
    return _Runner(workload, options, progress).run()
