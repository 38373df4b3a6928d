"""Kernel benchmarks, each case in a fresh Python process so that its peak memory (ru_maxrss)
is its own and no run warms another's caches:

- `simpy N`: the tightest idiomatic bare SimPy model of M/M/1 (a producer process with
  `env.timeout`, a `Store`, a consumer process, numpy draws made before the clock starts);
- `simpy_many SPEC`: bare SimPy with several queues or competing consumers, the reference
  for the flatness figures (SimPy's own cost per message grows with its processes);
- `ciw N`: the same M/M/1 in ciw, the Python queueing-network library;
- `mqsim SPEC`: one mqsim scenario (benchmarks/workloads.py builds them), timed around
  `sim.run`, so the scenario's validation and the Results' tables are counted too;
- `drain SPEC`: one mqsim drain: the CPU time of the first and of the last tenth of the
  messages processed after the backlog was made (a probe process reads the clock);
- `simpy_store_drain N`: SimPy's own `Store` drained, for contrast (its `get` pops the head
  of a Python list, O(backlog) per get).

`simpy_many` and `mqsim` also take `"calls": true`: the simulation then runs under cProfile
and the case reports `calls`, the Python and C function calls the simulation made (a count
that the machine's caches and load do not change, unlike its time).

Run one with `python benchmarks/bench_kernel.py CASE ARG`; `benchmarks/run.py` runs them all.

Every time is CPU time of this process (`time.process_time`), not wall time: the benchmark
machine's two cores are shared, and another process's work makes a run's wall time longer
while leaving its CPU time almost as it is. A per-message cost is the CPU time of the
simulation itself (`env.run`: for mqsim, sim.kernel's `_advance`) over the messages
processed; mqsim's set-up (validating the scenario, building the model) and collection (the
Results' tables) are reported beside it as `setup` and `collect`, once per run whatever its
length.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# This checkout's mqsim (not an installed one) and the workloads beside this file.
sys.path[:0] = [str(HERE.parent), str(HERE)]

RHO = 0.9


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _calls(run: Callable[[], Any]) -> tuple[Any, int]:
    """`run()` under cProfile: what it returned and the function calls it made."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    result = profile.runcall(run)
    return result, pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


def case_simpy(messages: int) -> dict[str, Any]:
    """M/M/1 at rho 0.9 in the tightest idiomatic SimPy: producer, Store, consumer."""
    import numpy as np
    import simpy

    rng = np.random.default_rng(1)
    gaps = rng.exponential(1 / RHO, messages).tolist()
    services = rng.exponential(1.0, messages).tolist()
    env = simpy.Environment()
    store = simpy.Store(env)
    done = [0, 0.0]

    def producer():  # type: ignore[no-untyped-def]
        for gap in gaps:
            yield env.timeout(gap)
            store.put(env.now)

    def consumer():  # type: ignore[no-untyped-def]
        for service in services:
            produced_at = yield store.get()
            yield env.timeout(service)
            done[0] += 1
            done[1] += env.now - produced_at

    env.process(producer())
    env.process(consumer())
    started = time.process_time()
    env.run()
    cpu = time.process_time() - started
    return {"cpu": cpu, "messages": done[0], "peak_mb": _peak_mb()}


def case_simpy_many(spec: str) -> dict[str, Any]:
    """Bare SimPy with `sources` independent M/M/1-style queues (each its own producer,
    Store and consumers) and `consumers` competing consumer processes on each Store, rho 0.9
    per consumer: what SimPy itself pays per message as processes are added (its event heap
    grows with them), the reference for mqsim's flatness figures."""
    import numpy as np
    import simpy

    request = json.loads(spec)
    messages, sources, consumers = request["messages"], request["sources"], request["consumers"]
    rng = np.random.default_rng(1)
    env = simpy.Environment()
    done = [0]
    per = messages // sources

    def producer(store, gaps):  # type: ignore[no-untyped-def]
        for gap in gaps:
            yield env.timeout(gap)
            store.put(env.now)

    def consumer(store, services):  # type: ignore[no-untyped-def]
        for service in services:
            yield store.get()
            yield env.timeout(service)
            done[0] += 1

    for _ in range(sources):
        store = simpy.Store(env)
        env.process(producer(store, rng.exponential(1 / (RHO * consumers), per).tolist()))
        for _ in range(consumers):
            env.process(consumer(store, rng.exponential(1.0, per).tolist()))
    until = per / (RHO * consumers)
    if request.get("calls"):
        _, calls = _calls(lambda: env.run(until=until))
        return {"calls": calls, "messages": done[0]}
    started = time.process_time()
    env.run(until=until)
    cpu = time.process_time() - started
    return {"cpu": cpu, "messages": done[0], "peak_mb": _peak_mb()}


def case_ciw(messages: int) -> dict[str, Any]:
    """The same M/M/1 in ciw (one node, one server), run for the time `messages` arrivals
    take on average."""
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RHO)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[1],
    )
    ciw.seed(1)
    simulation = ciw.Simulation(network)
    started = time.process_time()
    simulation.simulate_until_max_time(messages / RHO)
    cpu = time.process_time() - started
    served = len(simulation.get_all_records())
    return {"cpu": cpu, "messages": served, "peak_mb": _peak_mb()}


def case_mqsim(spec: str) -> dict[str, Any]:
    """One scenario from benchmarks/workloads.py, tracing off: `{"kind": ..., "args": ...}`."""
    import workloads

    import sim
    from sim.scenario import Scenario

    request = json.loads(spec)
    started = time.process_time()
    scenario = Scenario.from_dict(getattr(workloads, request["kind"])(**request["args"]))
    if request.get("calls"):
        calls = _counting_advance()
        summary = sim.run(scenario).summary
        return {"calls": calls[0], "messages": summary["processed"]}
    simulated = _timing_advance()
    results = sim.run(scenario)
    total = time.process_time() - started
    summary = results.summary
    return {
        "cpu": simulated[0],
        "setup": simulated[1] - started,
        "collect": started + total - simulated[2],
        "messages": summary["processed"],
        "produced": summary["produced"],
        "max_backlog": summary["max_backlog"],
        "peak_mb": _peak_mb(),
    }


def _timing_advance() -> list[float]:
    """Wrap sim.kernel's `_advance` (the env.run of a run) to time it: the list gets its CPU
    time, the clock when it began and when it ended."""
    import sim.kernel

    timing = [0.0, 0.0, 0.0]
    advance = sim.kernel._advance

    def timed(*args: Any, **kwargs: Any) -> None:
        timing[1] = time.process_time()
        try:
            advance(*args, **kwargs)
        finally:
            timing[2] = time.process_time()
            timing[0] = timing[2] - timing[1]

    sim.kernel._advance = timed  # type: ignore[assignment]
    return timing


def _counting_advance() -> list[int]:
    """Wrap sim.kernel's `_advance` to run it under cProfile: the list gets its calls."""
    import sim.kernel

    calls = [0]
    advance = sim.kernel._advance

    def counted(*args: Any, **kwargs: Any) -> None:
        calls[0] = _calls(lambda: advance(*args, **kwargs))[1]

    sim.kernel._advance = counted  # type: ignore[assignment]
    return calls


def case_drain(spec: str) -> dict[str, Any]:
    """A drain from benchmarks/workloads.py: the CPU time per message of the first and the
    last tenth of what is processed after the backlog was made.

    A probe process reads the CPU clock and the processed count every 1/400 of the drain's
    simulated time; the benchmark installs it by handing sim.kernel a Recorder whose
    `start_sampling` also starts the probe (the probe's events change nothing the run does:
    it only reads)."""
    import workloads

    import sim
    import sim.kernel
    from sim.brokers.registry import spec_of
    from sim.metrics import Recorder
    from sim.scenario import Scenario

    request = json.loads(spec)
    data = workloads.drain(**request["args"])
    messages = request["args"]["messages"]
    ideal = spec_of(data["broker"]["type"]).ideal
    assert ideal is not None
    start = max((messages + 0.5) / workloads.BURST_RATE, ideal.warmup)
    end = data["duration"]
    step = (end - start) / 400
    samples: list[tuple[float, int]] = []

    class ProbedRecorder(Recorder):
        def start_sampling(self) -> None:
            super().start_sampling()
            self.env.process(self._probe())

        def _probe(self):  # type: ignore[no-untyped-def]
            yield self.env.timeout(start)
            while True:
                samples.append((time.process_time(), self.processed_total))
                yield self.env.timeout(step)

    sim.kernel.Recorder = ProbedRecorder  # type: ignore[misc]
    scenario = Scenario.from_dict(data)
    results = sim.run(scenario)
    assert results.summary["processed"] == messages, results.summary
    base = samples[0][1]
    drained = messages - base

    def clock_at(count: float) -> float:
        """The CPU clock when `count` messages (after the drain began) were processed."""
        for (t0, n0), (t1, n1) in itertools.pairwise(samples):
            if n1 - base >= count:
                fraction = 0.0 if n1 == n0 else (count - (n0 - base)) / (n1 - n0)
                return t0 + fraction * (t1 - t0)
        return samples[-1][0]

    tenth = drained / 10
    first = (clock_at(tenth) - clock_at(0)) / tenth
    last = (clock_at(drained) - clock_at(drained - tenth)) / tenth
    return {
        "first_tenth_us": first * 1e6,
        "last_tenth_us": last * 1e6,
        "backlog": drained,
        "peak_mb": _peak_mb(),
    }


def case_simpy_store_drain(messages: int) -> dict[str, Any]:
    """SimPy's own Store, for contrast: its get pops the head of a list, O(backlog) each."""
    import simpy

    env = simpy.Environment()
    store = simpy.Store(env)
    for i in range(messages):
        store.put(i)
    env.run()
    tenth = messages // 10
    timings = []

    def drain():  # type: ignore[no-untyped-def]
        for _ in range(10):
            started = time.process_time()
            for _ in range(tenth):
                yield store.get()
            timings.append((time.process_time() - started) / tenth)

    env.process(drain())
    env.run()
    return {"first_tenth_us": timings[0] * 1e6, "last_tenth_us": timings[-1] * 1e6}


CASES = {
    "simpy": case_simpy,
    "simpy_many": case_simpy_many,
    "ciw": case_ciw,
    "mqsim": case_mqsim,
    "drain": case_drain,
    "simpy_store_drain": case_simpy_store_drain,
}


def measure(case: str, arg: int | dict[str, Any], hash_seed: int | None = None) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return what it printed. `hash_seed`: the
    interpreter's PYTHONHASHSEED (a call count is then the same from run to run)."""
    text = json.dumps(arg) if isinstance(arg, dict) else str(arg)
    env = None if hash_seed is None else {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    done = subprocess.run(
        [sys.executable, __file__, case, text], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"{case} {text} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


if __name__ == "__main__":
    name, argument = sys.argv[1], sys.argv[2]
    parsed: Any = argument if argument.startswith("{") else int(argument)
    print(json.dumps(CASES[name](parsed)))
