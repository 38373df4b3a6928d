"""`make bench`: every benchmark in one table, each goal of issue 17 beside its measured figure.

Every registered broker (`sim.broker_types()`) runs at its ideal settings (its spec's
`IdealQueue`) beside a bare SimPy model and ciw on the same M/M/1 workload; then the
flatness checks (partitions, group size, queues, consumers), the backlog drains, memory, bytes
per queued message, and the sweeps. Each measurement runs in a fresh process
(benchmarks/bench_kernel.py); per-message figures are the best of `--repeat` runs, since
other work on a shared machine only ever makes a run slower.

    python benchmarks/run.py                 # everything (about half an hour on 2 cores)
    python benchmarks/run.py --quick         # a tenth of the messages: a smoke test
    python benchmarks/run.py --only drain    # one section: speed, flat, drain, memory,
                                             # backlog, sweep
    python benchmarks/run.py --full-backlog  # hold 10,000,000 messages (else 1M and 3M,
                                             # and 10M projected from them)

Every figure is CPU time of the simulation (see benchmarks/bench_kernel.py): the machine's
cores are shared, and CPU time is what another process's work changes least. Ratios compare
runs made in this one invocation.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import bench_kernel  # noqa: E402
import bench_sweep  # noqa: E402
import workloads  # noqa: E402

import sim  # noqa: E402

SECTIONS = ("speed", "flat", "drain", "memory", "backlog", "sweep")


class Table:
    """Rows of (what, measured, goal, verdict), printed as they come."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def row(self, what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("met" if met else "NOT MET")
        if met is False:
            self.failed.append(what)
        print(f"  {what:<44} {measured:<56} {goal:<20} {verdict}", flush=True)


def rounds(cases: dict[str, tuple[str, Any]], repeat: int) -> dict[str, list[dict[str, Any]]]:
    """`repeat` runs of each case (a name: bench_kernel's case and its argument), made in
    rounds, each round one run of every case in turn. A ratio of two cases then compares
    runs made minutes apart at most: on a shared machine whose speed drifts (bare SimPy took
    4.29 to 4.97 us a message in one day), runs made one case after the other would put the
    drift into the ratio."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (case, arg) in cases.items():
            runs[name].append(bench_kernel.measure(case, arg))
    return runs


def best_of_rounds(cases: dict[str, tuple[str, Any]], repeat: int) -> dict[str, dict[str, Any]]:
    """The fastest run a message of each case, from `rounds`: other work on a shared machine
    only ever makes a run slower."""
    best = {}
    for name, made in rounds(cases, repeat).items():
        for run in made:
            run["us"] = run["cpu"] / max(1, run["messages"]) * 1e6
        best[name] = min(made, key=lambda r: r["us"])
    return best


def mqsim(kind: str, **args: Any) -> dict[str, Any]:
    return {"kind": kind, "args": args}


def speed(table: Table, brokers: list[str], messages: int, repeat: int) -> dict[str, float]:
    table.section(
        f"per message: M/M/1 at rho 0.9, {messages:,} messages, ideal settings, tracing off "
        f"(best of {repeat})"
    )
    cases = {"simpy": ("simpy", messages), "ciw": ("ciw", messages)}
    for broker in brokers:
        cases[broker] = ("mqsim", mqsim("mm1", broker=broker, messages=messages))
    measured = best_of_rounds(cases, repeat)
    bare, ciw = measured["simpy"], measured["ciw"]
    table.row("bare SimPy (producer, Store, consumer)", f"{bare['us']:6.2f} us/msg   1.00x")
    table.row("ciw", f"{ciw['us']:6.2f} us/msg  {ciw['us'] / bare['us']:5.2f}x")
    cost: dict[str, float] = {}
    for broker in brokers:
        run = measured[broker]
        cost[broker] = run["us"]
        ratio = run["us"] / bare["us"]
        table.row(
            f"{broker} (x bare SimPy)",
            f"{run['us']:6.2f} us/msg  {ratio:5.2f}x",
            "within 2.5x (1.5x)",
            ratio <= 2.5,
        )
    fastest = min(cost, key=cost.__getitem__)
    for broker in brokers:
        faster = ciw["us"] / cost[broker]
        table.row(
            f"{broker} faster than ciw by",
            f"{faster:5.2f}x",
            "at least 2.5x" if broker == fastest else "",
            faster >= 2.5 if broker == fastest else None,
        )
    table.row(
        f"mqsim's fastest ({fastest}) vs bare SimPy",
        f"{cost[fastest] / bare['us']:5.2f}x",
        "(moonshot: 1.0x)",
    )
    return cost


def _ratio_row(
    table: Table,
    what: str,
    one: dict[str, Any],
    many: dict[str, Any],
    simpy: float | None = None,
) -> None:
    """`simpy`: bare SimPy's own growth for the same change (more processes, a deeper event
    heap), printed beside mqsim's as `/SimPy`, the part of the growth that is mqsim's.
    `calls`: the growth of the function calls a message (`one["calls"]` and `many["calls"]`,
    a count the caches and the load do not change): what the model itself does more, apart
    from what the same work costs more with more objects in the caches."""
    ratio = many["us"] / one["us"]
    beyond = "" if simpy is None else f"  /SimPy {ratio / simpy:4.2f}x"
    calls = f"  calls {many['calls'] / one['calls']:4.2f}x"
    table.row(
        what,
        f"{one['us']:6.2f} vs {many['us']:6.2f} us  {ratio:4.2f}x{beyond}{calls}",
        "within 1.2x",
        ratio <= 1.2,
    )


def _calls(case: str, spec: dict[str, Any]) -> float:
    """The function calls each further message makes, from two runs under cProfile (a tenth
    and a fifth of the messages, hash seed 0): their difference over the difference of their
    messages, so that what a run does once whatever its length (the set-up, the about 500
    samples) is left out. A count: the same on any machine, under any load."""
    counts = []
    for share in (10, 5):
        if case == "simpy_many":
            counted = {**spec, "messages": spec["messages"] // share, "calls": True}
        else:
            args = {**spec["args"], "messages": spec["args"]["messages"] // share}
            counted = {**spec, "args": args, "calls": True}
        counts.append(bench_kernel.measure(case, counted, hash_seed=0))
    short, long = counts
    return (long["calls"] - short["calls"]) / max(1, long["messages"] - short["messages"])


def flat_cases(brokers: list[str], messages: int) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """The flatness section's runs (a name: bench_kernel's case and its argument) and its
    rows: (label, the run with one, the run with many, the bare SimPy growth it is set
    beside, or "" for none). A run two rows share (a broker's one-source run) is made once."""

    def simpy(sources: int, consumers: int) -> tuple[str, dict[str, Any]]:
        return "simpy_many", {"messages": messages, "sources": sources, "consumers": consumers}

    def mm1(broker: str, **args: Any) -> tuple[str, dict[str, Any]]:
        return "mqsim", mqsim("mm1", broker=broker, messages=messages, **args)

    cases: dict[str, Any] = {
        "simpy": simpy(1, 1),
        "simpy sources": simpy(50, 1),
        "simpy group": simpy(1, 50),
    }
    rows: list[tuple[str, ...]] = [
        ("(reference) bare SimPy: 1 vs 50 queues", "simpy", "simpy sources", ""),
        ("(reference) bare SimPy: 1 vs 50 consumers", "simpy", "simpy group", ""),
    ]
    if "kafka" in brokers:
        cases["kafka partitions"] = mm1("kafka", partitions=100)
        cases["kafka 50"] = mm1("kafka", partitions=50)
        cases["kafka 50 group"] = mm1("kafka", partitions=50, consumers=50)
        rows.append(("kafka: 1 vs 100 partitions, 1 consumer", "kafka", "kafka partitions", ""))
        rows.append(("kafka: 1 vs 50 consumers, 50 partitions", "kafka 50", "kafka 50 group", ""))
    for broker in brokers:
        cases[broker] = mm1(broker)
        cases[f"{broker} sources"] = mm1(broker, sources=50)
        cases[f"{broker} group"] = mm1(broker, consumers=50)
        sources, group = f"{broker}: 1 vs 50 sources", f"{broker}: 1 vs 50 competing consumers"
        rows.append((sources, broker, f"{broker} sources", "simpy sources"))
        rows.append((group, broker, f"{broker} group", "simpy group"))
    return cases, rows


def flat(table: Table, brokers: list[str], messages: int, repeat: int) -> None:
    table.section(
        f"flat per-message cost, {messages:,} messages each (best of {repeat}, in rounds); "
        "calls: function calls a further message, from a tenth and a fifth of the messages"
    )
    cases, rows = flat_cases(brokers, messages)
    measured = best_of_rounds(cases, repeat)
    for name, (case, spec) in cases.items():
        measured[name]["calls"] = _calls(case, spec)
    for label, one, many, reference in rows:
        simpy = None
        if reference:
            simpy = measured[reference]["us"] / measured["simpy"]["us"]
        _ratio_row(table, label, measured[one], measured[many], simpy)


# Drains beyond the ideal settings: where a per-message cost could grow with the backlog.
DRAIN_VARIANTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "rabbitmq": [("prefetch 0 (unlimited)", {"prefetch": 0})],
    "kafka": [("max.poll.records 500 (fetches)", {"max.poll.records": 500})],
    "sqs": [("10 a receive, 30 s visibility timeouts", {"max_messages": 10})],
    "redis": [("prefetch 0 (COUNT unlimited)", {"prefetch": 0})],
}


def drain(table: Table, brokers: list[str], messages: int, repeat: int) -> None:
    table.section(
        f"draining a {messages:,}-message backlog: us/msg in the first vs the last tenth "
        f"(the best of {repeat} of each, in rounds)"
    )
    cases: dict[str, tuple[str, Any]] = {}
    for broker in brokers:
        for label, consumer in [("ideal", {}), *DRAIN_VARIANTS.get(broker, [])]:
            spec = mqsim("drain", broker=broker, messages=messages, consumer=consumer)
            cases[f"{broker}, {label}"] = ("drain", spec)
    for name, made in rounds(cases, repeat).items():
        # Each tenth's best apart: a slow moment of the machine in one run's last tenth is
        # not the model's cost growing with the backlog.
        first = min(run["first_tenth_us"] for run in made)
        last = min(run["last_tenth_us"] for run in made)
        table.row(
            name,
            f"{first:6.2f} vs {last:6.2f} us  {last / first:4.2f}x",
            "last within 1.2x",
            last / first <= 1.2,
        )
    for size in (50_000, 200_000):
        store = bench_kernel.measure("simpy_store_drain", size)
        table.row(
            f"(contrast) SimPy Store, {size:,} backlog",
            f"{store['first_tenth_us']:6.2f} vs {store['last_tenth_us']:6.2f} us",
        )


def memory(table: Table, brokers: list[str], small: int, large: int) -> None:
    table.section(
        f"peak memory (RSS), M/M/1 at ideal settings, tracing off, {small:,} vs {large:,} "
        "messages (logs bounded: workloads.LOG_BOUNDS)"
    )
    for broker in brokers:
        one = bench_kernel.measure(
            "mqsim", mqsim("mm1", broker=broker, messages=small, bounded=True)
        )
        five = bench_kernel.measure(
            "mqsim", mqsim("mm1", broker=broker, messages=large, bounded=True)
        )
        growth = five["peak_mb"] - one["peak_mb"]
        bound = " (log bounded)" if broker in workloads.LOG_BOUNDS else ""
        table.row(
            f"{broker}{bound}",
            f"{one['peak_mb']:6.1f} vs {five['peak_mb']:6.1f} MB ({growth:+.1f})",
            "under 150 MB, flat",
            five["peak_mb"] < 150 and growth < 0.05 * one["peak_mb"],
        )


def backlog(table: Table, brokers: list[str], small: int, large: int, goal: int) -> None:
    """Bytes per queued message from the peak RSS of two held backlogs; the memory of a
    `goal`-message backlog is measured when `large` is the goal, else projected from them
    (memory is linear in the backlog: one message's objects each)."""
    projected = large != goal
    table.section(
        f"bytes per queued message: backlogs of {small:,} and {large:,} messages held"
        + (f"; {goal:,} projected from them" if projected else "")
    )
    for broker in brokers:
        one = bench_kernel.measure("mqsim", mqsim("backlog", broker=broker, messages=small))
        big = bench_kernel.measure("mqsim", mqsim("backlog", broker=broker, messages=large))
        held = big["max_backlog"] - one["max_backlog"]
        per = (big["peak_mb"] - one["peak_mb"]) * 2**20 / held
        at_goal = big["peak_mb"] + per * (goal - big["max_backlog"]) / 2**20
        table.row(
            f"{broker}",
            f"{per:5.0f} B/msg, {goal:,}: {at_goal / 1024:5.2f} GB"
            + (" (projected)" if projected else ""),
            f"{goal:,} under 2 GB",
            at_goal < 2048,
        )


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cores = os.cpu_count()
    return (
        f"{platform.node()}: {cores} cores, Python {platform.python_version()}, "
        f"load average {load}, {time.strftime('%Y-%m-%d %H:%M')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run one section")
    parser.add_argument("--repeat", type=int, default=3, help="runs per per-message figure")
    parser.add_argument("--brokers", help="comma-separated broker types (default: all)")
    parser.add_argument(
        "--full-backlog", action="store_true", help="hold 10,000,000 messages, not 3,000,000"
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    brokers = args.brokers.split(",") if args.brokers else sim.broker_types()
    chosen = args.only or list(SECTIONS)
    table = Table()
    print(f"mqsim benchmarks on {machine()}")
    runs: dict[str, Callable[[], Any]] = {
        "speed": lambda: speed(table, brokers, 200_000 // scale, args.repeat),
        "flat": lambda: flat(table, brokers, 100_000 // scale, args.repeat),
        "drain": lambda: drain(table, brokers, 1_000_000 // scale, args.repeat),
        "memory": lambda: memory(table, brokers, 1_000_000 // scale, 5_000_000 // scale),
        "backlog": lambda: backlog(
            table,
            brokers,
            1_000_000 // scale,
            (10_000_000 if args.full_backlog else 3_000_000) // scale,
            10_000_000 // scale,
        ),
        "sweep": lambda: bench_sweep.main(table, quick=args.quick),
    }
    for name in chosen:
        runs[name]()
    print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if table.failed:
        print(f"goals not met: {len(table.failed)} ({'; '.join(table.failed)})")
    else:
        print("every goal met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
