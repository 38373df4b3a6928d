"""Pulsar's client verbs, shaped like the Python client (``pulsar-client``: ``pulsar.Client``),
over the model in simulated time, for scripts, notebooks and tests.

    env = simpy.Environment()
    service = pulsar_service(env, topics=[{"name": "t", "partitions": 0}])
    client = PulsarClient(service)
    consumer = client.subscribe("t", "sub", consumer_type="Shared")
    producer = client.create_producer("t")
    producer.send(b"hello", partition_key="k")
    msg = consumer.receive(timeout_millis=1000)
    consumer.acknowledge(msg)

Verbs that wait in the real client (`send`, `receive`, `read_next`) advance the simulation until
their answer comes (`env.run`), so call them from a script, not from inside a SimPy process;
`send_async` does not wait. Errors are Pulsar's (sim/brokers/pulsar/errors.py): a second
consumer on an exclusive subscription raises ``ConsumerBusyException``, a cumulative ack on a
shared one ``InvalidConfigurationException``, a receive that times out ``TimeoutException``.

Settings take the Python client's keyword names (``receiver_queue_size``,
``negative_ack_redelivery_delay_ms``, ``batching_max_publish_delay_ms``...), with the Java
client's defaults the model runs (sim/brokers/pulsar/settings.py). Messages made here are
produced messages like a scenario producer's: the run's recorder counts them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import simpy

from sim.brokers.pulsar import settings as defaults
from sim.brokers.pulsar.client import ClientConsumer, ClientCore, ClientProducer
from sim.brokers.pulsar.config import PulsarConfig
from sim.brokers.pulsar.errors import (
    AlreadyClosedException,
    PulsarClientException,
    TimeoutException,
    check_cumulative_ack_allowed,
)
from sim.brokers.pulsar.service import PulsarService, ScenarioTopic
from sim.brokers.pulsar.storage import Entry
from sim.message import Message
from sim.metrics import Recorder

__all__ = [
    "ConsumerType",
    "InitialPosition",
    "MessageId",
    "PulsarClient",
    "PulsarConsumer",
    "PulsarMessage",
    "PulsarProducer",
    "PulsarReader",
    "pulsar_service",
]

# pulsar.ConsumerType's names -> the model's subscription types.
ConsumerType = {
    "Exclusive": "exclusive",
    "Failover": "failover",
    "Shared": "shared",
    "KeyShared": "key_shared",
}
InitialPosition = ("Latest", "Earliest")  # pulsar.InitialPosition


def pulsar_service(
    env: simpy.Environment, recorder: Recorder | None = None, **section: Any
) -> PulsarService:
    """A Pulsar instance from a `broker:` section's fields (sim/brokers/pulsar/config.py),
    its periodic tasks started."""
    config = PulsarConfig.model_validate({"type": "pulsar", **section})
    service = PulsarService(env, config, recorder or Recorder(env))
    if any(len(t.clusters) > 1 for t in service.topics.values()):
        from sim.brokers.pulsar.replication import GeoReplication

        service.replication = GeoReplication(service)
    service.start()
    return service


@dataclass(frozen=True, order=True)
class MessageId:
    """``MessageId``: partition (-1: not partitioned), ledger id, entry id, batch index (-1:
    not in a batch). `index` is the model's entry index in its topic instance."""

    partition: int
    ledger_id: int
    entry_id: int
    batch_index: int = -1
    index: int = -1

    # MessageId.earliest and MessageId.latest, as the Python client names them.
    earliest: ClassVar[str] = "earliest"
    latest: ClassVar[str] = "latest"


class PulsarMessage:
    """A received message (``pulsar.Message``)."""

    def __init__(
        self,
        consumer: PulsarConsumer | None,
        handle: Any,
        item: Any,
        entry: Entry,
        reader_topic: Any = None,
        batch_index: int = 0,
    ):
        self._consumer = consumer
        self._handle = handle  # (partition consumer, delivery or batch item), for acks
        self._item = item
        self._entry = entry
        self._reader_topic = reader_topic  # the topic instance a reader read this from
        self._batch_index = batch_index  # a reader's message: its place in the entry
        self.msg: Message = item.msg if item is not None else entry.msgs[batch_index]

    def data(self) -> Any:
        return self.msg.body

    def partition_key(self) -> str | None:
        key = self.msg.key
        return None if key is None else str(key)

    def properties(self) -> dict[str, Any]:
        return dict(self.msg.headers or {})

    def redelivery_count(self) -> int:
        return 0 if self._item is None else self._item.delivery.redelivery_count

    def publish_timestamp(self) -> int:
        return round(self._entry.publish_time * 1000)

    def topic_name(self) -> str:
        if self._item is not None:
            return self._item.delivery.sub.topic.name
        return "" if self._reader_topic is None else self._reader_topic.name

    def message_id(self) -> MessageId:
        entry = self._entry
        item = self._item
        batch = -1
        if item is not None and len(item.delivery.msgs) > 1:
            batch = item.i
        elif item is None and len(entry.msgs) > 1:
            batch = self._batch_index
        topic = item.delivery.sub.topic if item is not None else self._reader_topic
        partition = -1 if topic is None else topic.partition_index
        storage = None if topic is None else topic.storage
        ledger, entry_id = (0, entry.index)
        if storage is not None and storage.get(entry.index) is not None:
            ledger, entry_id = storage.ledger.position(entry.index)
        return MessageId(partition, ledger, entry_id, batch, entry.index)

    def __repr__(self) -> str:
        return f"PulsarMessage({self.msg.body!r}, key={self.msg.key!r})"


class PulsarClient:
    """``pulsar.Client`` on one cluster of the service (its first by default)."""

    def __init__(
        self, service: PulsarService, name: str = "client", cluster: str | None = None
    ) -> None:
        self.service = service
        self.env = service.env
        self.name = name
        self.cluster = cluster
        self._ids: Iterator[int] = service.message_ids
        self._names = itertools.count()

    def _core(self, name: str) -> ClientCore:
        return ClientCore(self.service, name, cluster=self.cluster)

    def create_producer(
        self,
        topic: str,
        producer_name: str | None = None,
        *,
        batching_enabled: bool = False,
        batching_max_messages: int = defaults.BATCHING_MAX_MESSAGES,
        batching_max_allowed_size_in_bytes: int = defaults.BATCHING_MAX_BYTES,
        batching_max_publish_delay_ms: float = defaults.BATCHING_MAX_PUBLISH_DELAY * 1000,
        send_timeout_millis: float = defaults.SEND_TIMEOUT * 1000,
        message_routing_mode: str = "RoundRobinPartition",
        hashing_scheme: str = "JavaStringHash",
        max_pending_messages: int = 0,
        block_if_queue_full: bool = False,
    ) -> PulsarProducer:
        """``Client.create_producer``. Batching is off unless asked for, as in the Python
        client (the Java client batches by default; a scenario producer does)."""
        name = producer_name or f"{self.name}-producer-{next(self._names)}"
        scenario_topic = self.service.topic(topic)
        client = ClientProducer(
            self._core(name),
            scenario_topic,
            name,
            batching=batching_enabled,
            batch_delay=batching_max_publish_delay_ms / 1000.0,
            batch_max_messages=batching_max_messages,
            batch_max_bytes=batching_max_allowed_size_in_bytes,
            send_timeout=send_timeout_millis / 1000.0,
            routing_mode=message_routing_mode,
            hashing_scheme=hashing_scheme,
            max_pending=max_pending_messages,
            block_if_queue_full=block_if_queue_full,
        )
        return PulsarProducer(self, client, scenario_topic)

    def subscribe(
        self,
        topic: str,
        subscription_name: str,
        consumer_type: str = "Exclusive",
        consumer_name: str | None = None,
        *,
        receiver_queue_size: int = defaults.RECEIVER_QUEUE_SIZE,
        max_total_receiver_queue_size_across_partitions: int = (
            defaults.MAX_TOTAL_RECEIVER_QUEUE_SIZE_ACROSS_PARTITIONS
        ),
        unacked_messages_timeout_ms: float = 0,
        tick_duration_ms: float = defaults.TICK_DURATION * 1000,
        negative_ack_redelivery_delay_ms: float = 60_000,
        acknowledgment_group_time_ms: float = 0,
        priority_level: int = 0,
        initial_position: str = "Latest",
        key_shared_mode: str = "consistent_hashing",
        allow_out_of_order_delivery: bool = False,
        dead_letter_policy: dict[str, Any] | None = None,
        retry_enable: bool = False,
        replicate_subscription_state_enabled: bool = False,
    ) -> PulsarConsumer:
        """``Client.subscribe``: raises ``ConsumerBusyException`` when the broker refuses the
        consumer (a second one on an exclusive subscription, another type). Acks are sent at
        once unless `acknowledgment_group_time_ms` is given (the Java client groups for
        100 ms)."""
        if consumer_type not in ConsumerType:
            raise ValueError(f"consumer_type must be one of {', '.join(ConsumerType)}")
        if initial_position not in InitialPosition:
            raise ValueError("initial_position must be Latest or Earliest")
        name = consumer_name or f"{self.name}-consumer-{next(self._names)}"
        client = ClientConsumer(
            self._core(name),
            self.service.topic(topic),
            subscription_name,
            name,
            kind=ConsumerType[consumer_type],
            receiver_queue_size=receiver_queue_size,
            max_total_receiver_queue_size=max_total_receiver_queue_size_across_partitions,
            ack_timeout=unacked_messages_timeout_ms / 1000.0,
            tick_duration=tick_duration_ms / 1000.0,
            negative_ack_redelivery_delay=negative_ack_redelivery_delay_ms / 1000.0,
            ack_group_time=acknowledgment_group_time_ms / 1000.0,
            priority=priority_level,
            initial_position=initial_position,
            key_shared_mode=key_shared_mode,
            allow_out_of_order=allow_out_of_order_delivery,
            dead_letter=dead_letter_policy,
            retry_enable=retry_enable,
            replicated=replicate_subscription_state_enabled,
        )
        client.subscribe()
        error = client.error
        if error is not None:
            client.close()
            raise error
        return PulsarConsumer(self, client)

    def create_reader(
        self, topic: str, start_message_id: Any, start_message_id_inclusive: bool = False
    ) -> PulsarReader:
        """``Client.create_reader``: a non-durable cursor from `start_message_id`
        (``MessageId.earliest``, ``MessageId.latest`` or a message's id)."""
        scenario_topic = self.service.topic(topic)
        family = scenario_topic.families[0]
        cluster = self.service.cluster_index(self.cluster, scenario_topic)
        instance = family.instances[cluster]
        storage = instance.storage
        if start_message_id == MessageId.earliest:
            return PulsarReader(self, instance, storage.first)
        if start_message_id == MessageId.latest:
            return PulsarReader(self, instance, storage.last_index + 1)
        index, batch = start_message_id.index, start_message_id.batch_index
        if start_message_id_inclusive:
            return PulsarReader(self, instance, index, max(batch, 0))
        if batch >= 0:  # exclusive of a batched message: the rest of its batch comes next
            return PulsarReader(self, instance, index, batch + 1)
        return PulsarReader(self, instance, index + 1)

    def run_until(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Advance the simulation until `done()` or `timeout` seconds pass (True if done)."""
        env = self.env
        deadline = None if timeout is None else env.now + timeout
        while not done():
            if env.peek() == float("inf"):
                return False
            if deadline is not None and env.peek() > deadline:
                if deadline > env.now:
                    env.run(until=deadline)
                return done()
            env.step()
        return True


class PulsarProducer:
    """``pulsar.Producer``."""

    def __init__(self, client: PulsarClient, impl: ClientProducer, topic: ScenarioTopic) -> None:
        self._client = client
        self._impl = impl
        self._topic = topic
        self.closed = False

    def topic(self) -> str:
        return str(self._topic.name)

    def producer_name(self) -> str:
        return self._impl.name

    def _message(
        self, content: Any, partition_key: str | None, properties: dict[str, Any] | None
    ) -> Message:
        service = self._client.service
        size = len(content) if isinstance(content, bytes | str) else 0
        msg = Message(
            next(service.message_ids),
            service.env.now,
            size,
            partition_key,
            headers=None if properties is None else dict(properties),
            body=content,
        )
        service.recorder.produced_message(msg, self._impl.name)
        return msg

    def send_async(
        self,
        content: Any,
        callback: Callable[[PulsarClientException | None, Any], None] | None = None,
        partition_key: str | None = None,
        properties: dict[str, Any] | None = None,
        deliver_after: float | None = None,
        deliver_at: float | None = None,
    ) -> Message:
        """``Producer.send_async``: `callback(error, entry)` when the broker confirms (error
        None) or the send fails. `deliver_after` is in seconds, `deliver_at` a simulated time
        (``TypedMessageBuilder.deliverAfter`` / ``deliverAt``)."""
        if self.closed:
            raise AlreadyClosedException("Producer already closed")
        msg = self._message(content, partition_key, properties)
        at = 0.0
        if deliver_after is not None:
            at = self._client.env.now + deliver_after
        elif deliver_at is not None:
            at = deliver_at
        self._impl.send(msg, at, callback)
        return msg

    def send(
        self,
        content: Any,
        partition_key: str | None = None,
        properties: dict[str, Any] | None = None,
        deliver_after: float | None = None,
        deliver_at: float | None = None,
    ) -> Any:
        """``Producer.send``: waits for the broker's receipt; raises the send's error."""
        outcome: list[Any] = []
        self.send_async(
            content,
            lambda error, entry: outcome.append((error, entry)),
            partition_key,
            properties,
            deliver_after,
            deliver_at,
        )
        self._impl.flush()
        self._client.run_until(lambda: bool(outcome), None)
        if not outcome:
            raise TimeoutException("the send never completed")
        error, entry = outcome[0]
        if error is not None:
            raise error
        return entry

    def flush(self) -> None:
        self._impl.flush()

    def close(self) -> None:
        self.closed = True
        self._impl.close()


class PulsarConsumer:
    """``pulsar.Consumer``."""

    def __init__(self, client: PulsarClient, impl: ClientConsumer) -> None:
        self._client = client
        self._impl = impl

    @property
    def impl(self) -> ClientConsumer:
        return self._impl

    def subscription_name(self) -> str:
        return self._impl.subscription

    def consumer_name(self) -> str:
        return self._impl.name

    def receive(self, timeout_millis: float | None = None) -> PulsarMessage:
        """``Consumer.receive``: the next message of the receiver queue, waiting for one
        (``TimeoutException`` after `timeout_millis`)."""
        impl = self._impl
        if impl.closed:
            raise AlreadyClosedException("Consumer already closed")
        got = impl.receive_now()
        if got is None:
            impl.wait()
            timeout = None if timeout_millis is None else timeout_millis / 1000.0
            self._client.run_until(lambda: bool(impl.incoming), timeout)
            got = impl.receive_now()
        if got is None:
            raise TimeoutException("Pulsar error: TimeOut")
        item = got[1]
        return PulsarMessage(self, got, item, item.delivery.entry)

    def acknowledge(self, message: PulsarMessage) -> None:
        partition, item = message._handle
        self._impl.acknowledge(partition, item)

    def acknowledge_cumulative(self, message: PulsarMessage) -> None:
        """``Consumer.acknowledge_cumulative``: refused on Shared and Key_Shared subscriptions
        (``ConsumerBase.acknowledgeCumulativeAsync``)."""
        check_cumulative_ack_allowed(self._impl.kind)
        partition, item = message._handle
        self._impl.acknowledge_cumulative(partition, item)

    def negative_acknowledge(self, message: PulsarMessage) -> None:
        partition, item = message._handle
        self._impl.negative_acknowledge(partition, item)

    def reconsume_later(self, message: PulsarMessage, delay_seconds: float) -> None:
        """``Consumer.reconsumeLater`` (Java client; needs ``retry_enable``)."""
        if not self._impl.retry_enable:
            raise PulsarClientException("reconsumeLater method not support!")
        partition, item = message._handle
        self._impl.reconsume_later(partition, item, delay_seconds)

    def redeliver_unacknowledged_messages(self) -> None:
        impl = self._impl
        for partition in impl.partitions:
            impl.incoming.clear()
            partition.send_redeliver(None)

    def seek(self, position: Any) -> None:
        """``Consumer.seek``: to a message id (that message is the next one read:
        ``ManagedCursorImpl.internalResetCursor`` sets the read position to it) or to a
        publish time in simulated seconds (the first message published at or after it). The
        subscription's consumers are disconnected and reconnect."""
        impl = self._impl
        for partition in impl.partitions:
            sub = partition.sub
            if sub is None:
                continue
            if isinstance(position, MessageId):
                if position.partition not in (-1, sub.topic.partition_index):
                    continue
                index = position.index
            else:
                index = sub.topic.storage.first_published_from(float(position))
            impl.incoming.clear()
            sub.reset_cursor(index)

    def unsubscribe(self) -> None:
        self.close()

    def close(self) -> None:
        self._impl.flush_acks()
        self._impl.close()


class PulsarReader:
    """``pulsar.Reader``: reads a topic instance from a position, holding nothing back (a
    non-durable cursor: retention, not the reader, decides what is still there).

    A Java ``ReaderImpl`` reads through a ``ConsumerImpl``, which unpacks a batch entry into its
    messages (``ConsumerImpl.receiveIndividualMessagesFromBatch``): so does this reader, one
    message per ``read_next``, each with its batch index in its message id. A start or seek
    position inside a batch skips the messages before it (``isPriorBatchIndex``).
    """

    def __init__(self, client: PulsarClient, instance: Any, start: int, batch: int = 0) -> None:
        self._client = client
        self._topic = instance
        self._next = start  # the entry index read next
        self._batch = batch  # the message of that entry read next

    def _position(self) -> tuple[int, int] | None:
        """The (entry index, batch index) `read_next` returns now, or None if none is stored."""
        storage = self._topic.storage
        index, batch = self._next, self._batch
        if index < storage.first:
            index, batch = storage.first, 0  # deleted entries are gone for readers too
        while index <= storage.last_index:
            entry = storage.get(index)
            if entry is not None and batch < len(entry.msgs):
                return index, batch
            index, batch = index + 1, 0
        return None

    def has_message_available(self) -> bool:
        return self._position() is not None

    def read_next(self, timeout_millis: float | None = None) -> PulsarMessage:
        timeout = None if timeout_millis is None else timeout_millis / 1000.0
        if not self.has_message_available():
            self._client.run_until(self.has_message_available, timeout)
        position = self._position()
        if position is None:
            raise TimeoutException("Pulsar error: TimeOut")
        index, batch = position
        entry = self._topic.storage.get(index)
        assert entry is not None
        self._next, self._batch = index, batch + 1
        return PulsarMessage(None, None, None, entry, reader_topic=self._topic, batch_index=batch)

    def seek(self, position: Any) -> None:
        """``Reader.seek``: to a message id (that message is read next) or a publish time."""
        storage = self._topic.storage
        if isinstance(position, MessageId):
            self._next, self._batch = position.index, max(position.batch_index, 0)
        else:
            self._next, self._batch = storage.first_published_from(float(position)), 0

    def close(self) -> None:
        pass
