"""The share consumer client (KIP-932) in simulated time: ``KafkaShareConsumer``'s verbs.

A `KafkaShareConsumer` with a ``group.id`` joins that *share group* when it subscribes and
heartbeats every ``group.share.heartbeat.interval.ms``; each heartbeat answers the partitions it
may fetch from (several members may share one). `poll` acquires up to ``max.poll.records``
records from them, taking partitions in turn; each record comes with its delivery count and
stays locked to this consumer until it is acknowledged or its lock expires.

Acknowledgement (``share.acknowledgement.mode``):

- implicit (the default): the application never calls `acknowledge`; the next `poll`, or
  `commit_sync` / `commit_async`, accepts every record the previous poll returned.
- explicit: the application acknowledges each record with ``ACCEPT``, ``RELEASE`` or ``REJECT``;
  a `poll` before every record of the previous one is acknowledged raises IllegalStateException
  ("All records must be acknowledged in explicit acknowledgement mode.").

Acknowledgements are local until they are sent: with the next `poll` (piggybacked on the
ShareFetch), by `commit_sync` (whose event gives each partition's result) or `commit_async`, or by
`close`. They reach the share-partition leader after the consumer->broker hop; a fetch is
answered at once, as `KafkaConsumer`'s is. `close` sends what is acknowledged and releases the
rest (implicit mode included: "close() releases any acquired records without
acknowledgement", KafkaShareConsumer javadoc), then leaves the group. `crash` sends nothing: the
locks of what it held expire and the records are delivered again.

`processed(record)` tells the Recorder the application finished a record (not a Kafka call).
A record the consumer accepted and never finished, when it closes or crashes, ends lost: the
share group will not deliver it again.

Sources: ``org.apache.kafka.clients.consumer.KafkaShareConsumer`` javadoc ("Record Delivery and
Acknowledgement") and ``internals.ShareConsumerImpl`` (``poll``, ``acknowledge``, ``commitSync``,
``close``, ``acknowledgeBatchIfImplicitAcknowledgement``) at apache/kafka 1eb7644; the explicit
mode's check from ShareConsumerImpl in Kafka 4.1+ (``share.acknowledgement.mode``,
``CommonConsumerConfigs``); KIP-932.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, NamedTuple

import simpy

from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.settings import ShareConsumerSettings
from sim.brokers.kafka.share import (
    AcknowledgeType,
    InFlightRecord,
    ShareGroup,
    ShareMember,
    SharePartition,
)
from sim.message import Message, State
from sim.network import Link

__all__ = ["AcknowledgeType", "KafkaShareConsumer", "ShareConsumerRecord"]

TopicPartition = tuple[str, int]


class ShareConsumerRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: float  # simulated seconds (CreateTime)
    key: bytes | None
    value: Any
    delivery_count: int  # ConsumerRecord.deliveryCount(): 1 on the first delivery
    message: Message  # the share group's copy: what the Recorder counts


class _Delivery:
    """One record this consumer holds: where it came from, what the application said, and
    whether the broker took an ACCEPT for it and the application gave up on it (both: lost)."""

    __slots__ = ("abandoned", "accepted", "ack", "entry", "partition", "record", "sent")

    def __init__(
        self, record: ShareConsumerRecord, partition: SharePartition, entry: InFlightRecord
    ) -> None:
        self.record = record
        self.partition = partition
        self.entry = entry
        self.ack: AcknowledgeType | None = None
        self.sent = False
        self.accepted = False
        self.abandoned = False

    def maybe_lost(self, recorder: Any) -> None:
        """Accepted at the broker and never finished: the group will not deliver it again."""
        copy = self.entry.copy
        if self.accepted and self.abandoned and copy.state is State.LIVE:
            recorder.lost(copy, self.partition.name)


class KafkaShareConsumer:
    """A share consumer with Kafka's settings (``{"group.id": "workers", ...}``).

    `link_in` delays the wake-up when records arrive for an idle consumer (broker->consumer);
    `link_out` delays acknowledgements (consumer->broker). Both default to an ideal network.
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        config: dict[str, Any] | ShareConsumerSettings | None = None,
        *,
        link_in: Link | None = None,
        link_out: Link | None = None,
    ) -> None:
        from sim.distributions import Distribution, Sampler

        self.cluster = cluster
        self.env = cluster.env
        self.recorder = cluster.recorder
        self.settings = (
            config
            if isinstance(config, ShareConsumerSettings)
            else ShareConsumerSettings.from_config(config or {})
        )
        self.client_id = self.settings.client_id
        self.group_id = self.settings.group_id
        self.explicit = self.settings.share_acknowledgement_mode == "explicit"
        instant = Distribution.constant(0.0)
        self.link_in = link_in or Link(self.env, instant, Sampler.of(instant, None))
        self.link_out = link_out or Link(self.env, instant, Sampler.of(instant, None))
        self._group: ShareGroup | None = None
        self._member: ShareMember | None = None
        self._subscription: list[str] | None = None
        self._assignment: frozenset[TopicPartition] = frozenset()
        # The last poll's records, and those polled and not processed, by id(record): a record
        # is the object poll returned (its value need not be hashable).
        self._batch: dict[int, _Delivery] = {}
        self._in_hand: dict[int, _Delivery] = {}
        self._turn = 0
        self._heartbeats = 0
        self._waiting: simpy.Event | None = None
        # Partitions whose new data, and share-partitions whose freed records, will wake us
        # (one callback each until it fires, however often the application waits).
        self._watching: set[TopicPartition] = set()
        self._watching_shares: set[TopicPartition] = set()
        self._closed = False
        self.crashed = False

    # ----- subscribing -----
    def subscribe(self, topics: Iterable[str]) -> None:
        """Join the share group ``group.id`` for these topics (its first heartbeat)."""
        self._check_open()
        if self.group_id is None:
            raise KafkaError("INVALID_GROUP_ID", "a share consumer needs a group.id")
        topics = list(topics)
        for topic in topics:
            self.cluster.partitions_for(topic)
        group = self.cluster.share_coordinator.group(self.group_id)
        self._group = group
        self._subscription = topics
        if self._member is not None:
            group.resubscribe(self._member, topics)
            self._heartbeat()
            return
        self._member = group.join(self, topics)
        self._heartbeats += 1
        self._heartbeat()
        self._schedule_heartbeat(self._heartbeats)

    def unsubscribe(self) -> None:
        self._check_open()
        self._leave("left")
        self._subscription = None

    def subscription(self) -> list[str] | None:
        return None if self._subscription is None else list(self._subscription)

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member may fetch from now (not a KafkaShareConsumer call)."""
        return set(self._assignment)

    # ----- heartbeats -----
    def _schedule_heartbeat(self, loop: int) -> None:
        timer = self.env.timeout(self.cluster.group_settings.share_heartbeat_interval)
        timer.callbacks.append(lambda _e: self._heartbeat_tick(loop))

    def _heartbeat_tick(self, loop: int) -> None:
        if loop != self._heartbeats or self._closed:
            return
        self._heartbeat()
        if loop == self._heartbeats:
            self._schedule_heartbeat(loop)

    def _heartbeat(self) -> None:
        group, member = self._group, self._member
        if group is None or member is None:
            return
        assignment = group.heartbeat(member)
        if assignment is None:  # no longer a member (session timed out): join again
            self._member = group.join(self, list(self._subscription or []))
            assignment = group.heartbeat(self._member)
            assert assignment is not None
        if assignment != self._assignment:
            self._assignment = assignment
            self.wakeup()

    # ----- polling -----
    def poll(self, max_records: int | None = None) -> list[ShareConsumerRecord]:
        """Acknowledge the previous poll's records (implicit mode: all ACCEPT; explicit mode:
        all must be acknowledged), send the acknowledgements, then acquire records."""
        self._check_open()
        if self._subscription is None:
            raise KafkaError("ILLEGAL_STATE", "Consumer is not subscribed to any topics.")
        if self.explicit:
            if any(d.ack is None for d in self._batch.values()):
                raise KafkaError(
                    "ILLEGAL_STATE",
                    "All records must be acknowledged in explicit acknowledgement mode.",
                )
        else:
            self._accept_batch()
        self._send_acknowledgements()
        self._batch = {}
        budget = self.settings.max_poll_records if max_records is None else max_records
        if not self._assignment or budget <= 0 or self._member is None or self._group is None:
            return []
        order = sorted(self._assignment)
        start = self._turn % len(order)
        self._turn += 1
        found: list[ShareConsumerRecord] = []
        member_id, group = self._member.member_id, self._group
        for tp in order[start:] + order[:start]:
            if len(found) >= budget:
                break
            share_partition = group.share_partition(tp)
            for entry in share_partition.acquire(member_id, budget - len(found)):
                record = entry.record
                consumer_record = ShareConsumerRecord(
                    tp[0],
                    tp[1],
                    entry.offset,
                    record.msg.produced_at,  # the record's timestamp, without its property
                    record.key,
                    None if record.tombstone else record.msg.body,
                    entry.delivery_count,
                    entry.copy,
                )
                delivery = _Delivery(consumer_record, share_partition, entry)
                self._batch[id(consumer_record)] = delivery
                self._in_hand[id(consumer_record)] = delivery
                found.append(consumer_record)
        return found

    def wait(self, timeout: float | None = None) -> simpy.Event:
        """An event that fires when `poll` may find records, or after `timeout` seconds
        (a blocking ``poll(timeout)``). Only one wait at a time."""
        event = self.env.event()
        if self._closed:
            return event  # a dead consumer waits forever
        if self._has_work():
            event.succeed()
            return event
        self._waiting = event
        group = self._group
        if group is not None:
            for tp in self._assignment - self._watching:
                self._watching.add(tp)
                self.cluster.partition(*tp).waiters.append(partial(self._data_arrived, tp))
            for tp in self._assignment - self._watching_shares:
                self._watching_shares.add(tp)
                group.share_partition(tp).waiters.append(partial(self._records_freed, tp))
        if timeout is not None:
            timer = self.env.timeout(timeout)
            timer.callbacks.append(lambda _e, ev=event: self._wake(ev))
        return event

    def _has_work(self) -> bool:
        group = self._group
        if group is None:
            return False
        return any(group.share_partition(tp).can_acquire() for tp in self._assignment)

    def _data_arrived(self, tp: TopicPartition) -> None:
        self._watching.discard(tp)
        self._records_may_be_there()

    def _records_freed(self, tp: TopicPartition) -> None:
        self._watching_shares.discard(tp)
        self._records_may_be_there()

    def _records_may_be_there(self) -> None:
        event = self._waiting
        if event is not None and not event.triggered:
            self.link_in.send(self._wake, event)

    def _wake(self, event: simpy.Event) -> None:
        if self._waiting is event:
            self._waiting = None
        if not event.triggered:
            event.succeed()

    def wakeup(self) -> None:
        """End a `wait()` now."""
        event = self._waiting
        if event is not None:
            self._wake(event)

    # ----- acknowledging -----
    def acknowledge(
        self, record: ShareConsumerRecord, type: AcknowledgeType = AcknowledgeType.ACCEPT
    ) -> None:
        """Acknowledge one record of the last poll (explicit mode): locally, until sent."""
        self._check_open()
        if not self.explicit:
            raise KafkaError("ILLEGAL_STATE", "Implicit acknowledgement of delivery is being used.")
        delivery = self._batch.get(id(record))
        if delivery is None or delivery.record is not record or delivery.ack is not None:
            raise KafkaError("ILLEGAL_STATE", "The record cannot be acknowledged.")
        delivery.ack = AcknowledgeType(type)
        if delivery.ack != AcknowledgeType.ACCEPT:
            self._in_hand.pop(id(record), None)  # given back or rejected: not to be processed

    def commit_sync(self) -> simpy.Event:
        """Send the acknowledgements (implicit mode: accept the last poll's records first).
        The event succeeds, once they reach the broker, with {partition: error or None}; yield
        it to wait as ``commitSync`` does."""
        self._check_open()
        if not self.explicit:
            self._accept_batch()
        return self._send_acknowledgements()

    def commit_async(self) -> None:
        """Like `commit_sync`, without waiting for the results."""
        self.commit_sync()

    def _accept_batch(self) -> None:
        for delivery in self._batch.values():
            if delivery.ack is None:
                delivery.ack = AcknowledgeType.ACCEPT

    def _send_acknowledgements(self) -> simpy.Event:
        done = self.env.event()
        batch: list[_Delivery] = []
        for delivery in self._batch.values():
            if delivery.ack is not None and not delivery.sent:
                delivery.sent = True
                batch.append(delivery)
        if not batch or self._member is None:
            done.succeed({})
            return done
        self.recorder.count("kafka.share.acknowledgement_requests")
        self.link_out.send(self._acknowledged, self._member.member_id, batch, done)
        return done

    def _acknowledged(self, member_id: str, batch: list[_Delivery], done: simpy.Event) -> None:
        """The ShareAcknowledge reaches the share-partition leaders."""
        results: dict[TopicPartition, str | None] = {}
        recorder = self.recorder
        for delivery in batch:
            share_partition, kind = delivery.partition, delivery.ack
            assert kind is not None
            tp = (share_partition.partition.topic.name, share_partition.partition.index)
            error = share_partition.acknowledge(member_id, delivery.entry, kind)
            if error is None and kind == AcknowledgeType.ACCEPT:
                delivery.accepted = True
                delivery.maybe_lost(recorder)
            if error is not None or tp not in results:
                results[tp] = error
        done.succeed(results)

    # ----- the application's side -----
    def processed(self, record: ShareConsumerRecord) -> None:
        """The application finished `record` (not a Kafka call: the simulator counts it)."""
        self.recorder.processed(record.message, self.client_id)
        delivery = self._in_hand.get(id(record))
        if delivery is not None and delivery.record is record:
            del self._in_hand[id(record)]

    def abandon(self, record: ShareConsumerRecord) -> None:
        """The application gives up on a record it accepted before processing it (not a Kafka
        call): once the broker has the ACCEPT, nobody will process it (lost)."""
        delivery = self._in_hand.pop(id(record), None)
        if delivery is not None and delivery.record is record:
            delivery.abandoned = True
            delivery.maybe_lost(self.recorder)

    def in_hand(self, topic: str) -> int:
        """Records of `topic` polled and not yet processed (not a Kafka call)."""
        return sum(1 for d in self._in_hand.values() if d.record.topic == topic)

    def crash(self) -> None:
        """Die at once: nothing more is sent. The locks of what it held expire; what it had
        accepted and not finished is lost."""
        if self._closed:
            return
        self.crashed = True
        self._abandon_in_hand()
        self._closed = True
        self._waiting = None
        self._heartbeats += 1
        if self._member is not None and self._group is not None:
            self._group.member_crashed(self._member)
            self.recorder.count("kafka.consumer_crashes")

    def close(self) -> None:
        """Send what is acknowledged, release the other records held, leave the group."""
        if self._closed:
            return
        self._leave("left")
        self._abandon_in_hand()
        self._closed = True
        self._waiting = None

    def _leave(self, how: str) -> None:
        member, group = self._member, self._group
        self._send_acknowledgements()
        if member is not None and group is not None:
            held: dict[SharePartition, dict[InFlightRecord, None]] = {}
            for delivery in (*self._in_hand.values(), *self._batch.values()):
                if delivery.ack is None:
                    held.setdefault(delivery.partition, {})[delivery.entry] = None
            for share_partition, entries in held.items():
                self.link_out.send(share_partition.release_all, member.member_id, list(entries))
            group.leave(member, how)
        self._member = None
        self._heartbeats += 1
        self._assignment = frozenset()
        self._batch = {}

    def _abandon_in_hand(self) -> None:
        """Records polled and never finished: those the broker took an ACCEPT for (now, or
        when an acknowledgement still on its way arrives) are lost; the others come back when
        released or when their lock expires."""
        for delivery in self._in_hand.values():
            delivery.abandoned = True
            delivery.maybe_lost(self.recorder)
        self._in_hand.clear()

    # ----- checks -----
    def _check_open(self) -> None:
        if self._closed:
            raise KafkaError("ILLEGAL_STATE", "This consumer has already been closed.")

    def __repr__(self) -> str:
        return f"KafkaShareConsumer({self.client_id!r}, group={self.group_id!r})"
