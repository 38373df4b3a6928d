"""The per-message speed paths do what the SimPy code they replace did, event for event:
the re-armed timer (sim/timer.py), the kernel's own run loop (sim/kernel.py `_run`), the
C-level Sampler (sim/distributions.py) and the histogram's folded count, sum and maximum
(sim/metrics.py)."""

from __future__ import annotations

from typing import Any

import simpy

from sim.distributions import BLOCK, Sampler
from sim.kernel import _run
from sim.metrics import _BUFFER, LatencyHistogram
from sim.timer import Timer

DELAYS = [0.5, 0.0, 1.0, 0.5, 0.0, 2.0, 1.5]


def _rival(env: simpy.Environment, log: list[Any]) -> Any:
    """A process whose timeouts fall on the same instants as the chain's."""
    for delay in [0.5, 0.5, 1.0, 1.0, 2.0, 0.5]:
        yield env.timeout(delay)
        log.append((env.now, "rival"))


def _with_process() -> list[Any]:
    env = simpy.Environment()
    log: list[Any] = []

    def chain() -> Any:
        for delay in DELAYS:
            yield env.timeout(delay)
            log.append((env.now, "chain"))

    env.process(chain())
    env.process(_rival(env, log))
    env.run()
    return log


def _with_timer() -> list[Any]:
    env = simpy.Environment()
    log: list[Any] = []
    delays = iter(DELAYS)

    def fire(_event: Any) -> None:
        log.append((env.now, "chain"))
        step()

    def step() -> None:
        delay = next(delays, None)
        if delay is not None:
            timer.set(delay)

    def begin(_event: Any) -> None:
        timer.retarget(fire)
        step()

    timer = Timer(env, begin)
    timer.urgent()  # where the process's Initialize came
    env.process(_rival(env, log))
    env.run()
    return log


def test_timer_chain_keeps_the_order_of_a_process_of_timeouts() -> None:
    expected = _with_process()
    assert [who for _, who in expected].count("chain") == len(DELAYS)
    assert _with_timer() == expected


def _model(env: simpy.Environment, log: list[Any]) -> None:
    def worker(name: str, delays: list[float]) -> Any:
        for delay in delays:
            yield env.timeout(delay)
            log.append((env.now, name))

    env.process(worker("a", [1.0, 1.0, 1.0, 3.0]))
    env.process(worker("b", [2.0, 1.0, 0.0, 4.0]))
    failing = env.event()
    failing.callbacks.append(lambda event: log.append((env.now, "failed", event.defused)))
    env.timeout(2.5).callbacks.append(lambda _e: _fail(failing))


def _fail(event: simpy.Event) -> None:
    event.defused = True  # handled: the run goes on
    event.fail(ValueError("expected"))


def _queue_state(env: simpy.Environment) -> list[Any]:
    return sorted((t, p, i) for t, p, i, _ in env._queue)


def test_kernel_run_loop_matches_simpy_run_across_slices() -> None:
    """Stopping at an instant that has events of its own, then going on: the same events run,
    the same are left for later, the queue holds the same entries as SimPy's run leaves."""
    ours, theirs = simpy.Environment(), simpy.Environment()
    log_ours: list[Any] = []
    log_theirs: list[Any] = []
    _model(ours, log_ours)
    _model(theirs, log_theirs)
    for until in (2.0, 3.0, 9.0):
        _run(ours, until)
        theirs.run(until=until)
        assert log_ours == log_theirs
        assert ours.now == theirs.now == until
        assert _queue_state(ours) == _queue_state(theirs)
    assert (3.0, "a") in log_ours and (3.0, "b") in log_ours  # run once 3.0 was passed
    assert any(entry[1] == "failed" for entry in log_ours)


def test_sampler_draws_each_block_when_the_last_is_used_up() -> None:
    drawn: list[int] = []

    def draw(n: int) -> list[int]:
        start = len(drawn) * n
        drawn.append(n)
        return list(range(start, start + n))

    sampler = Sampler(draw)
    assert drawn == []  # nothing drawn before the first value is asked
    values = [sampler() for _ in range(BLOCK)]
    assert values == list(range(BLOCK)) and drawn == [BLOCK]
    assert sampler() == BLOCK and drawn == [BLOCK, BLOCK]  # the next block, at its first use


def test_histogram_count_sum_and_max_are_those_of_one_value_at_a_time() -> None:
    values = [0.1 * (i % 7) + 1e-9 * i for i in range(_BUFFER + 1234)]
    histogram = LatencyHistogram()
    count, total, top = 0, 0.0, 0.0
    for i, value in enumerate(values):
        histogram.record(value)
        count, total = count + 1, total + value
        top = max(top, value)
        if i in (10, 5000, _BUFFER + 3):  # read midway, the buffer partly folded, then on
            assert (histogram.count, histogram.total, histogram.max) == (count, total, top)
    assert (histogram.count, histogram.total, histogram.max) == (count, total, top)
    histogram.flush()
    assert histogram.histogram.total_count == len(values)
    assert (histogram.count, histogram.total, histogram.max) == (count, total, top)
