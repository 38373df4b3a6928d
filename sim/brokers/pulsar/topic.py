"""A persistent topic (or one partition of a partitioned topic) in one cluster.

``PersistentTopic`` and its ``ManagedLedgerImpl`` (Pulsar 4.0.0): a publish is written to
BookKeeper (sim/brokers/pulsar/bookkeeper.py) and, once confirmed, stored as the topic's next
entry and handed to every subscription and replicator. The storage policies apply here:

- **Backlog.** An entry stays while any durable cursor (a subscription, a replicator) has not
  acknowledged it; whole ledgers before the slowest cursor's mark-delete position are deleted
  when retention lets them go (``internalTrimLedgers``), on rollover, when the slowest
  cursor moves to another ledger, and every ``retentionCheckIntervalInSeconds``.
- **Message TTL** (``PersistentMessageExpiryMonitor``, every
  ``messageExpiryCheckIntervalInMinutes``): each subscription's mark-delete moves past the
  entries published more than the TTL ago; their copies end `expired`.
- **Backlog quota** (``BrokerService.monitorBacklogQuota`` every
  ``backlogQuotaCheckIntervalInSeconds``, ``BacklogQuotaManager``): once the backlog (bytes from
  the slowest cursor, ``destination_storage``; or the age of the oldest unacked ledger,
  ``message_age``, ``preciseTimeBasedBacklogQuotaCheck=false``) exceeds the limit,
  ``consumer_backlog_eviction`` skips the slowest cursor forward (to 90 % of the size limit, or
  whole ledgers older than the age limit; copies end `dropped`), and the two producer
  policies disconnect the producers, whose re-creation is refused while the quota is exceeded
  (``ServerCnx.handleProducer`` -> ``checkBacklogQuotaExceeded``): ``producer_request_hold``
  answers ``ProducerBlockedQuotaExceededError`` (the client keeps its messages pending and
  retries), ``producer_exception`` ``ProducerBlockedQuotaExceededException`` (the client fails
  its pending messages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.brokers.pulsar.bookkeeper import LedgerWriter
from sim.brokers.pulsar.errors import (
    ProducerBlockedQuotaExceededError,
    ProducerBlockedQuotaExceededException,
    PulsarClientException,
)
from sim.brokers.pulsar.ledgers import LedgerConfig
from sim.brokers.pulsar.policies import BacklogQuotaPolicy, EffectivePolicies
from sim.brokers.pulsar.storage import NO_TAKER_YET, SETTLE_MASK, Entry, TopicStorage
from sim.brokers.pulsar.subscription import SourceAccount, Subscription, make_subscription
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.pulsar.cluster import Cluster
    from sim.brokers.pulsar.service import PulsarService, TopicFamily

__all__ = ["PersistentTopic"]

_new = object.__new__

# BacklogQuotaManager.dropBacklogForSizeLimit: evict down to 90 % of the limit.
EVICTION_REDUCTION_FACTOR = 0.9


class PersistentTopic:
    """One topic instance: its storage, subscriptions, replicators and policies."""

    def __init__(
        self,
        service: PulsarService,
        cluster: Cluster,
        family: TopicFamily,
        name: str,
        partition_index: int,
        policies: EffectivePolicies,
        ledger_config: LedgerConfig,
        rollover_jitter: float | Callable[[], float],
    ) -> None:
        self.service = service
        self.cluster = cluster
        self.family = family
        self.name = name  # the full topic name (of the partition)
        self.partition_index = partition_index  # -1: not a partition
        self.policies = policies
        now = service.env.now
        self.storage = TopicStorage(ledger_config, now, rollover_jitter)
        self.subscriptions: dict[str, Subscription] = {}
        self.sub_list: list[Subscription] = []
        self.replicators: list[Any] = []
        self.producers: list[Any] = []  # connected client partition producers
        self.consumers: list[Any] = []  # connected client partition consumers
        self.readers: list[Any] = []  # non-durable cursors
        self.available = True  # owned by a live broker and loaded
        self.generation = 0  # bumped when the topic is unloaded (a broker died)
        self.writer: LedgerWriter | None = None
        self._next_entry_id = 0  # entry id in the current ledger
        self.bundle = 0  # the namespace bundle holding it (set by Cluster.add_topic)
        # With a cost model, the managed ledger's thread appending its entries (charges.py).
        charges = cluster.charges
        self.ledger_thread = None if charges is None else charges.ledger_thread()
        self.ledger_entry = 0.0 if charges is None else charges.ledger_entry
        self._open_writer()
        self.quota_exceeded_policy: BacklogQuotaPolicy | None = None
        # Speed: whether an entry due at once (deliver_at 0.0) may still be held as delayed:
        # only with a negative tick (the clock is never negative); asked once, not a message.
        self._tick_may_defer = service.settings.delayed_delivery_tick < 0
        self.listeners: list[Callable[[Entry], None]] = []
        # What the storage's settling asks of the topic (memory, see TopicStorage): the
        # cluster of its own entries, and its replicator and listener lists themselves.
        self.storage.origin = cluster.index
        self.storage.gates = (self.replicators, self.listeners)

    def __repr__(self) -> str:
        return f"PersistentTopic({self.name} @ {self.cluster.name})"

    # ----- BookKeeper -----
    def _open_writer(self) -> bool:
        """Open a ledger on E writable bookies (``createLedger``); False when too few are up."""
        ensemble = self.cluster.bookkeeper.new_ensemble()
        ledger = self.storage.ledger.current
        if ensemble is None:
            self.writer = None
            return False
        self.writer = LedgerWriter(self.cluster.bookkeeper, ledger.ledger_id, ensemble)
        self._next_entry_id = ledger.entries
        self.cluster.ledger_opened(self, self.writer)
        return True

    def write(self, record: Entry, done: Callable[[Entry | None], None]) -> bool:
        """Write `record` to BookKeeper; `done(entry)` runs once it is confirmed and stored
        (`done(None)` if the topic was unloaded meanwhile). False: the add failed at once (too
        few bookies), which the broker answers with a ``PersistenceError``. A `record` not
        stored yet (a publish) becomes the entry; one stored elsewhere (geo replication) is
        stored as its `replica`."""
        writer = self.writer
        now = self.service.env._now  # Speed: SimPy's field, not its `now` property (per entry)
        if writer is None and not self._open_writer():
            return False
        assert self.writer is not None
        # With a cost model the managed ledger appends the entry first (its thread's turn),
        # then BookKeeper's add goes to the bookies.
        thread = self.ledger_thread
        at = now if thread is None else thread.finish(now, self.ledger_entry)
        confirm = self.writer.write(self._next_entry_id, now, at, record.size)
        if confirm is None:
            # The ensemble change failed: the ledger is closed; a new one needs E bookies.
            if self.storage.ledger.close_current(now):
                self.storage.ledger_counts[self.storage.ledger.current.ledger_id] = 0
            self.writer = None
            if not self._open_writer():
                return False
            confirm = self.writer.write(self._next_entry_id, now, at, record.size)
            if confirm is None:
                return False
        self._next_entry_id += 1
        if confirm <= now:
            # Speed: `_store` inlined for an add confirmed at once (the ideal bookies).
            entry = record if record.index < 0 else record.replica()
            rolled = self.storage.append(entry, now)
            self.entry_stored(entry)
            if rolled:
                self._open_writer()
                self.trim()
            done(entry)
            return True
        generation = self.generation

        def confirmed(_event: Any) -> None:
            if generation != self.generation:
                done(None)  # the broker died before the add completed
                return
            done(self._store(record))

        self.service.env.timeout(confirm - now).callbacks.append(confirmed)
        return True

    def store_at_once(
        self, msgs: tuple[Message, ...], size: int, key: str | None, now: float
    ) -> Entry | None:
        """`write` of a new publish on the ideal bookies, which confirm every add at once (no
        cost model, no latency, every bookie of the ensemble as last checked): the entry is
        stored and handed on now, and returned. None, with nothing done, when the add would
        not be confirmed at once, or needs a new ledger or an ensemble change first: then the
        caller takes `write`.

        Speed: the producer's fused path (`PartitionProducer.add_direct`) comes here in place
        of `write`, `LedgerWriter.write` and the `done` partial: what they do for such an add
        (the writer's last confirmation and the entry id move on, the entry is stored) in one
        call. tests/test_pulsar_direct_path.py compares the two paths."""
        writer = self.writer
        if writer is None or self.ledger_thread is not None:
            return None
        bk = writer.bk
        if (
            bk.charges is not None
            or not bk.zero_latency
            or writer._checked != bk.version
            or writer.last_confirm > now
        ):
            return None
        writer.last_confirm = now  # what `LedgerWriter.write` sets (confirm = now)
        self._next_entry_id += 1
        # Speed: the Entry made without its class call and `__init__` (the call of a class
        # with a Python `__init__` costs about four plain calls), every slot set once with
        # what `Entry(msgs, size, key, 0.0, origin)` and the append below leave in it; `index`,
        # `publish_time`, `cum_count`, `cum_bytes` and `taker` are set where they are known.
        # tests/test_pulsar_direct_path.py compares every slot with the general path's.
        entry = _new(Entry)
        entry.msgs = msgs
        entry.copies = None
        entry.count = count = len(msgs)
        entry.size = size
        entry.key = key
        entry.deliver_at = 0.0
        entry.origin = self.cluster.index
        entry.record = None
        entry.hash_ch = 0
        entry.hash_as = 0
        storage = self.storage
        ledger = storage.ledger
        current = ledger.ledgers[-1]
        if (
            size >= 0
            and current.entries + 1 < ledger.config.managed_ledger_max_entries_per_ledger
            and current.size_bytes + size < ledger.max_size_bytes
            and now - current.created_at < ledger._max_rollover
        ):
            # Speed: `TopicStorage.append` inlined for an entry that leaves its ledger below
            # every bound (its own first test): the same counts moved in the same order,
            # without the call, the ledger-id reads or the rollover test (a message each).
            current.entries += 1
            current.size_bytes += size
            ledger.total_size_bytes += size
            ledger.total_entries += 1
            entry.index = index = ledger.next_entry
            following = index + 1
            # Memory: equal ints kept as one object (28 to 32 bytes each a held entry). A
            # topic of one-message entries counts its messages as its entries, so this entry's
            # message count is the next entry's index; and where every message of the run
            # comes here, that is also the message's id (ids count from 1, entries from 0).
            msg_id = msgs[0].id
            if following == msg_id:
                following = msg_id
            ledger.next_entry = following
            entry.publish_time = now
            total = storage.total_count + count
            if total == following:
                total = following
            storage.total_count = entry.cum_count = total
            storage.total_bytes = entry.cum_bytes = storage.total_bytes + size
            counts = storage.ledger_counts
            ledger_id = current.ledger_id
            counts[ledger_id] = counts[ledger_id] + count  # (the current ledger's is there)
            storage._stored += count
            storage.entries.append(entry)
            storage.publish_times.append(now)
            if not index & SETTLE_MASK and storage.settling:
                # Memory: the settling scan, once every SETTLE_EVERY entries (as `append`).
                storage._settle(index)
            rolled = False
        else:
            rolled = storage.append(entry, now)  # (sets those four)
        subs = self.sub_list
        if (
            len(subs) == 1
            and not self.replicators
            and not self.listeners
            and self.service.recorder.trace is None
        ):
            # Speed: `entry_stored` inlined for one subscription, untraced (a message each):
            # the producer's messages become its copy (what `make_copy` does for the first
            # group to ask), and it gets the entry.
            sub = subs[0]
            entry.taker = sub.group
            if (
                self._tick_may_defer
                and sub.delays
                and now + self.service.settings.delayed_delivery_tick < 0.0
            ):
                sub.entry_added(entry)  # (deliver_at 0.0: never, with a tick of 0 or more)
            else:
                # Speed: `entry_added` inlined for an entry ready at once (its deliver_at is
                # 0.0), with `add_ready` and the recorder's `ready_add` (a message each).
                sub.backlog_messages += count
                sub.ready += count
                if sub.counted:
                    recorder = sub.recorder
                    recorder.ready_values[sub.account.slot] += count
                    total = recorder.ready_total + count
                    recorder.ready_total = total
                    if total > recorder.max_queue_depth:
                        recorder.max_queue_depth = total
                if not (sub.new_waits_for_available and (sub.blocked or not sub.available)):
                    sub.dispatch_new()
        else:
            entry.taker = NO_TAKER_YET
            self.entry_stored(entry)
        if rolled:
            self._open_writer()
            self.trim()
        return entry

    # ----- entries -----
    def _store(self, record: Entry) -> Entry:
        entry = record if record.index < 0 else record.replica()
        rolled = self.storage.append(entry, self.service.env.now)
        self.entry_stored(entry)
        if rolled:
            self._open_writer()
            self.trim()
        return entry

    def entry_stored(self, entry: Entry) -> None:
        """Hand a stored entry to the subscriptions, replicators and readers."""
        service = self.service
        subs = self.sub_list
        record = entry.record or entry  # where the copies are kept (see Entry)
        for sub in subs:
            group = sub.group  # Speed: `copy_in` inlined: only a missing copy is made
            if record.taker == group:
                continue
            copies = record.copies  # (read again: make_copy may have made the list)
            if copies is None or group >= len(copies) or copies[group] is None:
                if record.taker == NO_TAKER_YET and service.recorder.trace is None:
                    # Speed: `make_copy`'s first group, untraced (a message each): the
                    # producer's own messages become its copy, as make_copy does.
                    record.taker = group
                else:
                    service.make_copy(entry, group, self.name)
        if not subs and record.taker == NO_TAKER_YET and not self.replicators:
            service.no_subscription(record)
        for sub in subs:
            sub.entry_added(entry)
        for replicator in self.replicators:
            replicator.entry_added(entry)
        for listener in self.listeners:
            listener(entry)

    # ----- subscriptions -----
    def subscription(
        self,
        name: str,
        kind: str,
        account: SourceAccount,
        group: int,
        initial_position: str = "Latest",
        key_shared_mode: str = "consistent_hashing",
        allow_out_of_order: bool = False,
        counted: bool = True,
    ) -> Subscription:
        """The subscription `name`, created at `initial_position` if it does not exist;
        `counted`: it reports its ready count (False for a replicated subscription created in
        a cluster its consumers do not use)."""
        sub = self.subscriptions.get(name)
        if sub is not None:
            return sub
        storage = self.storage
        start = storage.last_index if initial_position == "Latest" else storage.first - 1
        sub = make_subscription(
            self, name, kind, group, account, start, key_shared_mode, allow_out_of_order
        )
        sub.counted = counted
        self.subscriptions[name] = sub
        self.sub_list.append(sub)
        if initial_position != "Latest":
            sub.recount_ready()
        return sub

    def slowest_mark_delete(self) -> int | None:
        """The smallest mark-delete position of the durable cursors (None without any)."""
        subs = self.sub_list
        if not self.replicators:
            # Speed: one subscription and no replicator, the usual partition, needs no list;
            # every storage gauge of every partition asks this at every sample.
            if len(subs) == 1:
                return subs[0].cursor.mark_delete
            if not subs:
                return None
        positions = [s.cursor.mark_delete for s in subs]
        positions += [r.cursor.mark_delete for r in self.replicators]
        return min(positions) if positions else None

    def mark_delete_moved(self, sub: Any) -> None:
        """A cursor's mark-delete moved: trim when the slowest one reached another ledger
        (``ManagedLedgerImpl.updateCursor`` -> ``trimConsumedLedgersInBackground``)."""
        storage = self.storage
        if len(storage.ledger.ledgers) > 1:
            ledger_id = storage.ledger_of(sub.cursor.mark_delete).ledger_id
            if ledger_id != sub.md_ledger:
                sub.md_ledger = ledger_id
                self.trim()
        if getattr(sub, "replicated", False):
            self.service.replicated_mark_delete(self, sub)

    def unacked_stored(self) -> int:
        """Stored messages the slowest durable cursor has not passed (the rest of what is
        stored is acked by every subscription, kept by retention or until its ledger goes)."""
        subs = self.sub_list
        if len(subs) == 1 and not self.replicators:
            # Speed: `slowest_mark_delete`'s usual case (one subscription, no replicator)
            # without its call: the storage gauges ask this of every topic every sample.
            slowest: int | None = subs[0].cursor.mark_delete
        else:
            slowest = self.slowest_mark_delete()
        storage = self.storage
        if slowest is None:
            return 0
        offset = slowest - storage.first
        entries = storage.entries
        if 0 <= offset < len(entries) and entries[offset].__class__ is Entry:
            # Speed: `count_through`'s usual case (a stored Entry's running count; a settled
            # entry's is asked of the storage), no call.
            through = entries[offset].cum_count
        else:
            through = storage.count_through(slowest)
        # Speed: `stored_count`'s value read without the property's call.
        return min(storage._stored, storage.total_count - through)

    def trim(self) -> int:
        """Delete the ledgers the slowest cursor and retention let go."""
        slowest = self.slowest_mark_delete()
        retention = self.policies.retention
        return self.storage.trim(slowest, retention, self.service.env.now)

    # ----- message TTL -----
    def expire_messages(self) -> int:
        """``PersistentMessageExpiryMonitor.expireMessages(ttl)`` on every subscription."""
        ttl = self.policies.message_ttl_seconds
        if ttl <= 0:
            return 0
        last = self.storage.last_published_before(self.service.env.now - ttl)
        expired = 0
        for sub in self.sub_list:
            if last > sub.cursor.mark_delete:
                expired += sub.skip_through(last, "expired")
        if expired:
            self.service.recorder.count("pulsar.expired_by_ttl", expired)
        return expired

    # ----- backlog quota -----
    def backlog_bytes(self) -> int:
        """``getEstimatedBacklogSize``: bytes from the slowest cursor to the end."""
        slowest = self.slowest_mark_delete()
        if slowest is None:
            return 0
        storage = self.storage
        return storage.total_bytes - storage.bytes_through(slowest)

    def oldest_unacked_age(self) -> float | None:
        """Non-precise ``isTimeBacklogExceeded``: how long ago the ledger holding the slowest
        cursor's first unacked entry was closed (None while it is still open, or no backlog)."""
        slowest = self.slowest_mark_delete()
        storage = self.storage
        if slowest is None or slowest >= storage.last_index:
            return None
        ledger = storage.ledger_of(slowest + 1)
        if ledger.closed_at is None:
            return None
        return self.service.env.now - ledger.closed_at

    def quota_exceeded(self) -> tuple[BacklogQuotaPolicy | None, str]:
        """The policy of the first quota exceeded (size, then age), and its type."""
        policies = self.policies
        if policies.size_quota.limit_size_bytes < 0 and policies.time_quota.limit_time_seconds < 0:
            # Speed: no quota (the default) is never exceeded, whatever the backlog; asked at
            # every producer's connection to every partition.
            return None, ""
        if policies.size_quota.size_exceeded(self.backlog_bytes()):
            return policies.size_quota.policy, "destination_storage"
        if policies.time_quota.time_exceeded(self.oldest_unacked_age()):
            return policies.time_quota.policy, "message_age"
        return None, ""

    def check_backlog_quota(self) -> None:
        """The broker's periodic check (``monitorBacklogQuota``)."""
        policy, kind = self.quota_exceeded()
        recorder = self.service.recorder
        if policy is None:
            return
        recorder.count("pulsar.backlog_quota_exceeded")
        if policy is BacklogQuotaPolicy.CONSUMER_BACKLOG_EVICTION:
            if kind == "destination_storage":
                self._evict_for_size()
            else:
                self._evict_for_time()
            return
        for producer in list(self.producers):
            producer.disconnect("backlog quota exceeded")  # Producer.disconnect

    def producer_allowed(self) -> PulsarClientException | None:
        """``checkBacklogQuotaExceeded`` at producer creation: the error a refused producer gets."""
        policy, _kind = self.quota_exceeded()
        if policy is BacklogQuotaPolicy.PRODUCER_REQUEST_HOLD:
            return ProducerBlockedQuotaExceededError(
                ProducerBlockedQuotaExceededError.BACKLOG_QUOTA_MESSAGE
            )
        if policy is BacklogQuotaPolicy.PRODUCER_EXCEPTION:
            return ProducerBlockedQuotaExceededException(
                ProducerBlockedQuotaExceededException.BACKLOG_QUOTA_MESSAGE
            )
        return None

    def _slowest(self) -> Any:
        cursors = [*self.sub_list, *self.replicators]
        if not cursors:
            return None
        return min(cursors, key=lambda c: c.cursor.mark_delete)

    def _evict_for_size(self) -> None:
        """``dropBacklogForSizeLimit``: skip entries of the slowest cursor down to 90 %."""
        target = EVICTION_REDUCTION_FACTOR * self.policies.size_quota.limit_size_bytes
        backlog = self.backlog_bytes()
        previous = None
        while backlog > target:
            slowest = self._slowest()
            if slowest is None or slowest is previous:
                break
            factor = (backlog - target) / backlog
            cursor = slowest.cursor
            in_backlog = self.storage.last_index - cursor.mark_delete
            skip = int(factor * in_backlog)  # skipEntries(n, IndividualDeletedEntries.Include)
            if skip == 0:
                break
            self._skip(slowest, cursor.mark_delete + skip)
            backlog = self.backlog_bytes()
            previous = slowest

    def _evict_for_time(self) -> None:
        """``dropBacklogForTimeLimit`` (not precise): skip whole ledgers closed longer ago than
        the age limit for the slowest cursor."""
        limit = self.policies.time_quota.limit_time_seconds
        now = self.service.env.now
        storage = self.storage
        while True:
            slowest = self._slowest()
            if slowest is None:
                return
            md = slowest.cursor.mark_delete
            if md >= storage.last_index:
                return
            ledger = storage.ledger_of(md + 1)
            if ledger.closed_at is None or now - ledger.closed_at <= limit:
                return
            self._skip(slowest, ledger.last_entry)

    def _skip(self, cursor_owner: Any, index: int) -> None:
        if isinstance(cursor_owner, Subscription):
            dropped = cursor_owner.skip_through(index, "dropped")
            self.service.recorder.count("pulsar.evicted", dropped)
        else:
            cursor_owner.skip_through(index)
        self.trim()

    # ----- ownership -----
    def unload(self) -> None:
        """The owning broker died: clients are disconnected, in-memory state is lost."""
        self.available = False
        self.generation += 1
        for producer in list(self.producers):
            producer.disconnect("broker gone")
        for consumer in list(self.consumers):
            consumer.disconnect("broker gone")
        for sub in self.sub_list:
            sub.unload()
        for replicator in self.replicators:
            replicator.stop()

    def load(self) -> None:
        """A broker took the bundle and loaded the topic: the managed ledger recovers (the last
        ledger is closed and a new one opened) and clients may connect."""
        now = self.service.env.now
        if self.storage.ledger.close_current(now):
            self.storage.ledger_counts[self.storage.ledger.current.ledger_id] = 0
        self.writer = None
        self._open_writer()
        self.available = True
        for replicator in self.replicators:
            replicator.start()
        for sub in self.sub_list:
            sub.dispatch()
