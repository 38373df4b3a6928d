"""Kernel benchmarks: mqsim against a bare SimPy model, memory at 1M and 5M messages, and the
per-message cost of draining a 1,000,000-message backlog.

Each measurement runs in a fresh Python process so its peak memory (ru_maxrss) is its own.
Run all of them with `make bench` (benchmarks/run.py) or one with
`python benchmarks/bench_kernel.py CASE MESSAGES`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

RHO = 0.9


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def case_mqsim(messages: int) -> dict[str, Any]:
    """M/M/1 at rho 0.9 through the RabbitMQ model's queue, tracing off."""
    import sim
    from sim.scenario import Scenario

    scenario = Scenario.from_dict(
        {
            "name": "bench",
            "seed": 1,
            "duration": messages / RHO,
            "broker": {"type": "rabbitmq", "queues": [{"name": "q"}]},
            "producers": [{"name": "p", "to": "q", "rate": RHO}],
            "consumers": [{"name": "c", "from": "q", "service_time": "exp(1s)"}],
        }
    )
    started = time.perf_counter()
    results = sim.run(scenario)
    wall = time.perf_counter() - started
    return {"wall": wall, "messages": results.summary["processed"], "peak_mb": _peak_mb()}


def case_simpy(messages: int) -> dict[str, Any]:
    """The same system in the tightest idiomatic SimPy: producer, Store, consumer."""
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
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    return {"wall": wall, "messages": done[0], "peak_mb": _peak_mb()}


def case_drain(messages: int) -> dict[str, Any]:
    """Fill one queue with `messages` before any consumer, then drain it with basic.get + ack,
    timing the first and the last tenth: flat cost per message means no O(backlog) step."""
    import simpy

    from sim.brokers.rabbitmq import Channel, RabbitMQBroker
    from sim.message import Message

    env = simpy.Environment()
    broker = RabbitMQBroker(env)
    broker.queue_declare("q")
    channel = Channel(broker)
    for i in range(messages):
        broker.publish(Message(i, 0.0), "", "q")
    tenth = messages // 10
    timings = []
    for _ in range(10):
        started = time.perf_counter()
        for _ in range(tenth):
            ok, _props, _body = channel.basic_get("q")
            channel.basic_ack(ok.delivery_tag)
        timings.append((time.perf_counter() - started) / tenth)
    return {
        "first_tenth_us": timings[0] * 1e6,
        "last_tenth_us": timings[-1] * 1e6,
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
            started = time.perf_counter()
            for _ in range(tenth):
                yield store.get()
            timings.append((time.perf_counter() - started) / tenth)

    env.process(drain())
    env.run()
    return {"first_tenth_us": timings[0] * 1e6, "last_tenth_us": timings[-1] * 1e6}


CASES = {
    "mqsim": case_mqsim,
    "simpy": case_simpy,
    "drain": case_drain,
    "simpy_store_drain": case_simpy_store_drain,
}


def measure(case: str, messages: int) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return what it printed."""
    done = subprocess.run(
        [sys.executable, __file__, case, str(messages)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


if __name__ == "__main__":
    name, count = sys.argv[1], int(sys.argv[2])
    print(json.dumps(CASES[name](count)))
