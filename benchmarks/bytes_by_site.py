"""Where a held backlog's bytes go: the allocation sites of one broker's queued messages.

Runs the `backlog` workload (benchmarks/workloads.py) twice, holding SMALL and then LARGE
messages, under `tracemalloc`, and takes a snapshot at the end of each simulation (after
sim.kernel's `_advance`, before the Results are built, while the broker still holds every
message). The difference of the two snapshots, by source line, over the difference of the
backlogs, is what one more held message costs at each line that allocated it:

    python benchmarks/bytes_by_site.py rabbitmq 100000 300000

`tracemalloc` counts the bytes an object asked for (a float 24, a small int 28); the
allocator rounds each up to 16 bytes, so the peak RSS (`run.py --only backlog`) is a little
more. A line's figure is attributed to the line that made the object, e.g. a message's
`produced_at` float to SimPy's `schedule` (it is the clock's value).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import workloads  # noqa: E402

import sim  # noqa: E402
import sim.kernel as kernel  # noqa: E402
from sim.scenario import Scenario  # noqa: E402

T = TypeVar("T")


def measured_when_held(
    broker: str, messages: int, measure: Callable[[], T], frames: int = 1
) -> tuple[T, int]:
    """`measure()` taken under tracemalloc at the end of a `messages`-message backlog's
    simulation (after a collection, while the broker still holds every message), and the
    backlog held."""
    taken: list[T] = []
    advance = kernel._advance

    def advance_then_measure(env: Any, until: float, progress: Any) -> None:
        advance(env, until, progress)
        gc.collect()
        taken.append(measure())

    kernel._advance = advance_then_measure
    tracemalloc.start(frames)
    try:
        results = sim.run(Scenario.from_dict(workloads.backlog(broker, messages)))
    finally:
        tracemalloc.stop()
        kernel._advance = advance
    return taken[0], int(results.summary["max_backlog"])


def held_snapshot(broker: str, messages: int) -> tuple[tracemalloc.Snapshot, int]:
    """The traced memory at the end of a `messages`-message backlog, and the backlog held."""
    return measured_when_held(broker, messages, tracemalloc.take_snapshot)


def main(argv: list[str]) -> None:
    broker, small, large = argv[0], int(argv[1]), int(argv[2])
    before, held_before = held_snapshot(broker, small)
    after, held_after = held_snapshot(broker, large)
    held = held_after - held_before
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"{broker}: {held_before:,} -> {held_after:,} held, {total / held:.1f} B/msg traced")
    root = str(HERE.parent) + "/"
    for stat in stats:
        if abs(stat.size_diff) < 0.5 * held:
            continue
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / held:7.1f} B/msg {stat.count_diff / held:5.2f} objects/msg  "
            f"{frame.filename.replace(root, '')}:{frame.lineno}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
