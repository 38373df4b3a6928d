"""The cost model as the simulated Pulsar broker charges it: the stages of sim/brokers/pulsar/
cost.py (whose `account` states the same charges in closed form), as servers in simulated time.

With a `cost:` section (a preset, docs/calibration.md) a cluster charges

- **the managed ledger** (``ManagedLedgerImpl``: a topic's appends run in order on one thread of
  the ordered executor): `ledger_entry` seconds per entry, one server per topic partition;
- **BookKeeper** (``PendingAddOp``): the entry goes to the Qw bookies of its write set (ensemble
  positions e .. e+Qw-1 modulo E, sim/brokers/pulsar/bookkeeper.py) and is confirmed when the
  Qa-th of them answers. Each bookie's journal (``Journal``: one thread writing sequentially)
  takes `per_byte` a byte of the entry; it then waits for its group's fsync: a group starts
  with the first entry enqueued after the previous group was flushed and is flushed
  `journal_group_wait` after it (``journalMaxGroupWaitMSec``, the wait of the group's oldest
  entry), the flush taking `journal_fsync` (``journalSyncData=true``) before the bookie answers;
- **the broker's IO threads** (``numIOThreads``, Netty's event loops, shared by every topic the
  broker owns): `dispatch` seconds per entry sent to a consumer of a subscription, and `ack`
  per entry acknowledged (an individual ack of an entry, or a cumulative ack command).

Simplifications, each shared with the closed form: a group's fsync is a fixed wait, not queued
behind the previous group's (BookKeeper's ``ForceWriteThread`` flushes groups one at a time,
covering in one fsync those that arrived meanwhile), so the fitted `journal_fsync` is a group's
time to durability; the add is placed in the bookies' journals when the broker takes the
publish, so journals take entries in the order the broker received them; IO threads are one
pool per broker, where Netty pins each connection to one event loop.

Jobs arrive in the simulation's time order and every stage serves first come first served with
service times known on arrival, so each job's finish is computed when it arrives: no process,
no queue object, constant work per entry.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.brokers.pulsar.cost import PulsarCost

__all__ = ["ClusterCharges", "FifoServers", "Journal"]


class FifoServers:
    """`servers` servers taking jobs first come first served: `finish(now, work)` is when a job
    of `work` seconds arriving at `now` is done."""

    __slots__ = ("_free",)

    def __init__(self, servers: int) -> None:
        self._free = [0.0] * servers  # a heap of the times each server is next free

    def finish(self, now: float, work: float) -> float:
        free = self._free
        start = free[0] if free[0] > now else now
        end = start + work
        if len(free) == 1:
            free[0] = end
        else:
            heapq.heapreplace(free, end)
        return end


class Journal:
    """One bookie's journal: its write thread and its group commit."""

    __slots__ = ("_flush_at", "fsync", "group_wait", "per_byte", "writer")

    def __init__(self, per_byte: float, group_wait: float, fsync: float) -> None:
        self.writer = FifoServers(1)
        self.per_byte = per_byte
        self.group_wait = group_wait
        self.fsync = fsync
        self._flush_at = -1.0  # when the open group is flushed

    def add(self, now: float, size: int) -> float:
        """When the bookie answers for an entry of `size` bytes that reaches it at `now`.

        ``Journal.run`` waits ``maxGroupWaitInNanos - elapsedNanos(toFlush.get(0).enqueueTime)``
        for more entries: a group is flushed `group_wait` after its first entry was enqueued,
        and no entry before the thread has written it."""
        written = self.writer.finish(now, self.per_byte * size)
        if now > self._flush_at:  # the previous group is flushed: this entry opens one
            self._flush_at = now + self.group_wait
        flushed = written if written > self._flush_at else self._flush_at
        return flushed + self.fsync


class ClusterCharges:
    """One cluster's cost stages: its brokers' IO threads and its bookies' journals (each topic
    partition holds its own managed-ledger server, `ledger_thread`)."""

    __slots__ = ("ack", "dispatch", "io", "io_threads", "journals", "ledger_entry")

    def __init__(self, cost: PulsarCost, brokers: int, bookies: int) -> None:
        self.ledger_entry = cost.ledger_entry
        self.dispatch = cost.dispatch
        self.ack = cost.ack
        self.io_threads = cost.io_threads
        self.io = [FifoServers(cost.io_threads) for _ in range(brokers)]
        self.journals = [
            Journal(cost.per_byte, cost.journal_group_wait, cost.journal_fsync)
            for _ in range(bookies)
        ]

    def broker_crashed(self, broker: int) -> None:
        """A broker process died: the work queued on its IO threads is gone with it."""
        self.io[broker] = FifoServers(self.io_threads)

    def ledger_thread(self) -> FifoServers:
        """A topic partition's managed-ledger thread."""
        return FifoServers(1)
