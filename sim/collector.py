"""How a run keeps CPython's cyclic garbage collector from walking what the model holds.

A run holds many objects for a long time: the model built before it starts, and what the
brokers keep (a Kafka log's records, a Pulsar ledger's entries, a queue's backlog). The
cyclic collector walks every tracked object it has not been told to leave alone, over and
over: each survivor of a young collection is walked again in the middle one and then, as the
old generation grows by a quarter, in full collections. None of that frees anything, since a
run makes no reference cycles: everything it lets go is freed by reference counting at once
(tests/test_reference_cycles.py runs every scenario with the collector off and finds no cyclic
garbage). On Kafka's M/M/1 the collector's walks were 35 % (50 topics) to 80 % (one topic) of
the last-level cache misses a further message added (cachegrind, benchmarks/README.md, tenth
round).

`held_out_of_collections` freezes (`gc.freeze`) the model before the run, and, while it runs,
the survivors of every young and middle collection: each object is walked once, in the young
collection after it was made, and never again while the run lasts. A reference cycle made by
a model this does not foresee is still freed: once the frozen objects have grown by half
since the last full collection, they are unfrozen, the next full collection walks everything,
and freezing resumes after it (so a cycle lives at most until the held objects grow by half,
and the full walks cost at most three times the objects held, as a growing array's copies
do). What is frozen is counted, not guessed from the young collections: a drain makes young
collections without holding more (a fetch's batch is made, frozen alive, then let go), and a
full walk over the whole backlog then would cost as much as a tenth of the drain
(benchmarks/README.md, eleventh round).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["held_out_of_collections"]

# Switch: False keeps CPython's own collections during a run (the model is still frozen
# before it starts, as before survivors were frozen too); the outputs are the same either way
# (tests/test_reference_cycles.py compares them).
FREEZE_SURVIVORS = True

# The fewest frozen objects at which a full collection is let in: a run whose model is small
# would otherwise unfreeze after its first few thousand messages. About 25 to 50 MB of
# objects, the most an unforeseen cycle a message could hold before it is freed.
_FLOOR = 250_000


class _SurvivorFreezer:
    """A gc callback: freezes the survivors of each young and middle collection, and lets a
    full collection walk them once the frozen objects have grown by half.

    Speed: counting the frozen objects (`gc.get_freeze_count`) walks them all, so they are
    counted only when they may have doubled. A young collection freezes at most about
    `threshold` objects (what the young generation held), so `threshold` times the young
    collections since the last count bounds the growth; only a bound: the young count stops
    at zero, so batches made and let go (a drain's) bring young collections without growth.
    They are counted once that bound reaches the objects held (they may have doubled), and
    unfrozen if they did grow by half: a count comes after as many objects were made as it
    walks (a step through each, about 10 to 25 ns, where making one costs far more)."""

    def __init__(self) -> None:
        self.freezing = True
        self._counted_after_full()

    def _counted_after_full(self) -> None:
        """Counts what is frozen now that a full collection (or the run's start) left it."""
        self.held = max(gc.get_freeze_count(), _FLOOR)
        self._count_later()

    def _count_later(self) -> None:
        """Counts again after the young collections that could have frozen `held` more."""
        self.young = 0  # young and middle collections since the last count
        self.limit = self.held // gc.get_threshold()[0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        if info["generation"] == 2:
            if not self.freezing:  # the full collection the unfreezing let in has walked all
                self.freezing = True
                gc.freeze()
                self._counted_after_full()
            return
        if self.freezing:
            gc.freeze()
            self.young += 1
            if self.young > self.limit:
                if gc.get_freeze_count() - self.held >= self.held // 2:
                    gc.unfreeze()  # into the old generation: the next full collection walks them
                    self.freezing = False
                else:  # what the young collections froze was let go again
                    self._count_later()


@contextmanager
def held_out_of_collections() -> Iterator[None]:
    """Run the body (the simulation) with what exists and what survives held out of the
    cyclic collector's walks; everything is unfrozen after, and collected as usual."""
    gc.freeze()
    freezer = _SurvivorFreezer() if FREEZE_SURVIVORS else None
    if freezer is not None:
        gc.callbacks.append(freezer)
    try:
        yield
    finally:
        if freezer is not None:
            gc.callbacks.remove(freezer)
        gc.unfreeze()
