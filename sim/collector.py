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
a model this does not foresee is still freed: once the frozen objects have doubled since the
last full collection, they are unfrozen, the next full collection walks everything, and
freezing resumes after it (so a cycle lives at most until the held objects double, and the
full walks cost at most twice the objects held, as a doubling array's copies do).
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
    full collection walk them once the frozen objects may have doubled.

    Speed: the frozen objects are not counted at each collection (`gc.get_freeze_count` walks
    them all); a young collection comes after `threshold` tracked objects more were made than
    freed, so `threshold` times the young collections since the last full one bounds how many
    more are frozen."""

    def __init__(self) -> None:
        self.freezing = True
        self.young = 0  # young and middle collections since the limit was set
        self.limit = self._limit()

    @staticmethod
    def _limit() -> int:
        """How many young collections may freeze their survivors before a full one: the
        objects frozen now (counted once, after a full collection), at least `_FLOOR`."""
        return max(gc.get_freeze_count(), _FLOOR) // gc.get_threshold()[0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        if info["generation"] == 2:
            if not self.freezing:  # the full collection the unfreezing let in has walked all
                self.freezing = True
                gc.freeze()
                self.young = 0
                self.limit = self._limit()
            return
        if self.freezing:
            gc.freeze()
            self.young += 1
            if self.young > self.limit:
                gc.unfreeze()  # into the old generation: the next full collection walks them
                self.freezing = False


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
