"""Per-key order as an application of one group sees it: how often a record is processed for the
first time after a later record of the same key was.

Kafka keeps per-key order for a consumer group because a key always goes to one partition
(`partitioner.default_partition`) and a partition has one reader in the group, which reads it in
offset order. A share group (KIP-932) hands the records of one partition to several members at
once and redelivers released ones later, so "Share groups do not guarantee ordering" (KIP-932,
"Delivery and ordering"): this counter shows it.

Only first processings count: a consumer group reading a partition again after a rebalance
repeats records it processed before, which is a duplicate (counted in `duplicates`), not a
reordering. Offsets of one key are comparable because a key never changes partition while the
partition count stays the same. The cost per record is one dictionary lookup; the memory, one
entry per key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.message import Message
    from sim.metrics import Recorder

__all__ = ["KeyOrder"]

COUNTER = "kafka.out_of_key_order"


class KeyOrder:
    """The highest offset processed so far per key, for one group reading one topic."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._highest: dict[bytes, int] = {}
        recorder.count(COUNTER, 0)  # the summary always has it, 0 when order was kept

    def processing(self, key: bytes | None, offset: int, msg: Message) -> None:
        """Call just before the Recorder counts `msg` processed."""
        if key is None or msg.processed:
            return
        highest = self._highest.get(key)
        if highest is None or offset > highest:
            self._highest[key] = offset
        else:
            self.recorder.count(COUNTER)
