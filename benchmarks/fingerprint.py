"""A fingerprint of many runs' outputs, to show that a speed or memory change left every
result bit-identical.

    python benchmarks/fingerprint.py OUT.json [--only SUBSTR ...] [-j 2]
    python benchmarks/fingerprint.py --diff BEFORE.json AFTER.json

Run from the repository root. The runs (`cases`): every scenario in scenarios/ with seeds 1
and 2 (seed 1 traced), the M/M/1 workloads of benchmarks/workloads.py on every registered
broker with 1 to 3 sources and 1 to 5 consumers and seeds 1 and 3 (seed 1 traced), Kafka with
12 and 50 partitions, and a backlog drain on every broker: about 120 runs, 20 s on 2 cores.
Each run is kept as `tests/helpers.run_outputs` gives it (the summary, and a hash of every
table and of the trace). `--diff` prints each run whose outputs differ, and which outputs, and
exits 1 if any does: a change meant to be only faster must print "0 differ".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

# (name, scenario file or scenario dict, seed, traced)
Case = tuple[str, str | dict[str, Any], int, bool]

SEEDS = (1, 3)
SHAPES = ((1, 1), (3, 1), (1, 5), (2, 3))  # (sources, consumers)
KAFKA_PARTITIONS = ((12, 1), (12, 5), (50, 50))  # (partitions, consumers)
MESSAGES = 3000


def cases() -> list[Case]:
    """Every run of the fingerprint, named."""
    import workloads

    from sim.brokers.registry import broker_types

    out: list[Case] = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        for seed in (1, 2):
            out.append((f"scenario:{path.stem}:s{seed}", str(path), seed, seed == 1))
    for broker in broker_types():
        for seed in SEEDS:
            for sources, consumers in SHAPES:
                data = workloads.mm1(
                    broker, MESSAGES, sources=sources, consumers=consumers, seed=seed
                )
                name = f"mm1:{broker}:src{sources}:c{consumers}:s{seed}"
                out.append((name, data, seed, seed == SEEDS[0]))
        if broker == "kafka":
            for partitions, consumers in KAFKA_PARTITIONS:
                data = workloads.mm1(broker, MESSAGES, partitions=partitions, consumers=consumers)
                out.append((f"mm1:kafka:p{partitions}:c{consumers}", data, 1, True))
        out.append((f"drain:{broker}", workloads.drain(broker, MESSAGES), 1, True))
    return out


def run_case(case: Case) -> tuple[str, dict[str, Any]]:
    """One run's outputs, as `tests/helpers.run_outputs` gives them."""
    import sim
    from sim.scenario import Scenario
    from tests.helpers import run_outputs

    name, data, seed, trace = case
    scenario = data if isinstance(data, str) else Scenario.from_dict(data)
    return name, run_outputs(sim.run(scenario, seed=seed, trace=trace))


def fingerprint(todo: Iterable[Case], workers: int = 1) -> dict[str, dict[str, Any]]:
    """The outputs of every case in `todo`, by name (on `workers` processes)."""
    todo = list(todo)
    if workers <= 1:
        return dict(map(run_case, todo))
    with ProcessPoolExecutor(workers) as pool:
        return dict(pool.map(run_case, todo))


def differences(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> dict[str, list[str]]:
    """The runs whose outputs differ (or that only one side has), each with the outputs that
    differ."""
    out: dict[str, list[str]] = {}
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, {}), after.get(name, {})
        if a != b:
            out[name] = sorted(key for key in set(a) | set(b) if a.get(key) != b.get(key))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="where to write the fingerprint (JSON)")
    parser.add_argument("--only", action="append", help="runs whose name contains this")
    parser.add_argument("--diff", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("-j", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    if args.diff:
        before, after = (json.loads(Path(p).read_text()) for p in args.diff)
        differ = differences(before, after)
        for name, outputs in differ.items():
            print("DIFFER", name, outputs)
        print(f"{len(differ)} differ of {len(set(before) | set(after))}")
        return 1 if differ else 0
    if not args.out:
        parser.error("give OUT.json, or --diff BEFORE AFTER")
    todo = [c for c in cases() if not args.only or any(s in c[0] for s in args.only)]
    result = fingerprint(todo, args.j)
    out = Path(args.out)
    # Written whole, then renamed: an interrupted run leaves no half-written fingerprint.
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(result, indent=1, sort_keys=True))
    partial.replace(out)
    print(f"{len(result)} runs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
