"""Builds a scenario's RabbitMQ broker, producers and consumers on a run's environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import pandas as pd
import simpy
from simpy.events import PENDING

from sim.brokers.base import Sender, Source
from sim.brokers.rabbitmq.broker import Confirm, RabbitMQBroker
from sim.brokers.rabbitmq.channel import Channel, Deliver
from sim.brokers.rabbitmq.queue import NO_PRIORITY
from sim.brokers.rabbitmq.retries import retry_queue, retry_topology
from sim.brokers.rabbitmq.stream import StreamQueue
from sim.consumers import ConsumerReplica
from sim.distributions import Sampler
from sim.faults import CrashOnly
from sim.message import Message, amqp_message_class
from sim.timer import succeed_now

if TYPE_CHECKING:
    from sim.brokers.rabbitmq.config import (
        RabbitMQConfig,
        RabbitMQConsumerConfig,
        RabbitMQProducerConfig,
    )
    from sim.context import RunContext

__all__ = ["QueueConsumer", "RabbitMQRuntime", "build"]

#: What a scenario consumer holds for one delivery: its tag, the message, and the channel it
#: came on (where its ack goes).
Delivery = tuple[int, Message, "Channel"]


def build(ctx: RunContext) -> RabbitMQRuntime:
    config: RabbitMQConfig = ctx.scenario.broker
    cost = config.cost.model() if config.cost is not None else None
    broker = RabbitMQBroker(
        ctx.env,
        ctx.recorder,
        cost=cost,
        message_ids=ctx.message_ids,
        version=config.version,
        streams=ctx.streams,
        consumer_timeout=config.consumer_timeout,
        permit_transient_queues=config.permit_transient_queues,
    )
    for exchange in config.exchanges:
        broker.exchange_declare(exchange.name, exchange.type)
    retries = retry_topology(config.queues, ctx.scenario.consumers)
    for queue in config.queues:
        arguments = {**queue.arguments(), **retries.work_arguments.get(queue.name, {})}
        broker.queue_declare(queue.name, arguments, durable=queue.is_durable, mirrors=queue.mirrors)
    durable = {q.name: q.is_durable for q in config.queues}
    for name, (serves, arguments) in retries.queues.items():  # durable as what they serve
        if name not in broker.queues:  # a dead-letter queue the scenario declares is used
            broker.queue_declare(name, arguments, durable=durable[serves])
    for binding in config.bindings:
        broker.queue_bind(binding.queue, binding.exchange, binding.routing_key, binding.arguments)
    for consumer in ctx.scenario.consumers:
        for replica in range(consumer.replicas):
            part = QueueConsumer(ctx, broker, consumer, replica)
            ctx.register_part(part, consumer.name, f"{consumer.name}.{replica}")  # fault target
            broker.connections.append(part)
    ctx.register_part(BrokerNode(broker), "broker")
    _stream_measures(ctx, broker)
    return RabbitMQRuntime(ctx, broker)


def _stream_measures(ctx: RunContext, broker: RabbitMQBroker) -> None:
    """Per stream, its bytes on disk (`rabbitmq.stream_bytes.<stream>`) and segment files
    (`rabbitmq.stream_segments.<stream>`), sampled; and two tables: every retention
    evaluation (`rabbitmq.stream_retention`, one row per segment roll) and each stream's
    limits with the entries and chunks it wrote (`rabbitmq.streams`)."""
    streams = {n: q for n, q in broker.queues.items() if isinstance(q, StreamQueue)}
    if not streams:
        return
    recorder = ctx.recorder
    for name, stream in streams.items():
        recorder.gauge(
            f"rabbitmq.stream_bytes.{name}", lambda s=stream: s.bytes, "rabbitmq.stream_bytes"
        )
        recorder.gauge(
            f"rabbitmq.stream_segments.{name}",
            lambda s=stream: s.segment_count,
            "rabbitmq.stream_segments",
        )

    def retention() -> pd.DataFrame:
        rows = [(name, *row) for name, s in streams.items() for row in s.retention_log]
        columns = [
            "stream",
            "time",
            "bytes_before",
            "segments_before",
            "bytes_after",
            "segments_after",
            "first_offset",
        ]
        return pd.DataFrame(rows, columns=columns)

    def limits() -> pd.DataFrame:
        rows = [
            (name, s.max_length_bytes, s.max_age, s.max_segment_size_bytes, s.end, s.chunks)
            for name, s in streams.items()
        ]
        # With the limits, what was written: entries (offsets) and the chunks holding them.
        columns = [
            "stream",
            "max_length_bytes",
            "max_age",
            "max_segment_size_bytes",
            "entries",
            "chunks",
        ]
        return pd.DataFrame(rows, columns=columns)

    ctx.tables["rabbitmq.stream_retention"] = retention
    ctx.tables["rabbitmq.streams"] = limits


class RabbitMQRuntime:
    """The built RabbitMQ model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, broker: RabbitMQBroker) -> None:
        self.ctx = ctx
        self.broker = broker

    def sender(self, producer: RabbitMQProducerConfig) -> Sender:
        return _sender(self.ctx, self.broker, producer)

    def publisher(self, to: str, routing_key: str | None) -> Callable[[Message], bool]:
        """Publish, and say whether the broker took it (its confirm is not a nack or a return).
        To an exchange with `routing_key` None, each message goes with its kind as its key.

        With the broker's cost model the confirm comes later: the service does not wait for
        it (a queue that refuses the message then still records it as rejected).
        """
        publish = self.broker.publish
        refused = (Confirm.NACK, Confirm.RETURNED)
        if to in self.broker.exchanges and routing_key is None:
            return lambda msg: publish(msg, to, msg.kind) not in refused
        exchange, key = (to, routing_key or "") if to in self.broker.exchanges else ("", to)
        return lambda msg: publish(msg, exchange, key) not in refused

    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.rabbitmq.spec import SPEC

        config = SPEC.service_consumer(service)
        replicas = []
        for replica in range(config.replicas):
            part = QueueConsumer(self.ctx, self.broker, config, replica, name=service.name)
            part.work = work
            self.broker.connections.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return str(consumer.from_)  # the queue

    def sources(self) -> list[Source]:
        """Every queue: ready messages, and in flight its unacked deliveries plus what auto-ack
        consumers hold (the broker forgot those when it sent them)."""
        found = []
        for name, queue in self.broker.queues.items():
            auto = [
                c
                for c in self.broker.connections
                if isinstance(c, QueueConsumer) and c.auto_ack and c.config.from_ == name
            ]
            in_flight: Callable[[], int]
            if auto:
                in_flight = partial(_in_flight, queue, auto)
            else:
                # Speed: read at every sample (about 500 a run, one per queue each); without
                # an auto-ack consumer it is the queue's count, read at C level (no frame).
                in_flight = partial(getattr, queue, "unacked")
            found.append(Source(name, lambda q=queue: q.ready_count, in_flight))
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        """Entries each stream keeps (until retention deletes them); queues delete on ack, so
        they retain nothing once consumed."""
        return {
            name: (lambda q=queue: q.length)
            for name, queue in self.broker.queues.items()
            if isinstance(queue, StreamQueue)
        }


class BrokerNode(CrashOnly):
    """The broker as a fault target: only a crash (and restart) means anything for a node."""

    name = "broker"

    def __init__(self, broker: RabbitMQBroker) -> None:
        self.broker = broker

    def crash(self) -> None:
        self.broker.crash()

    def restart(self) -> None:
        self.broker.restart()


def _sender(ctx: RunContext, broker: RabbitMQBroker, config: RabbitMQProducerConfig) -> Sender:
    """What a producer's messages go through: their AMQP properties (stamped as a message is
    made), then basic.publish to an exchange, or to a queue through the default exchange
    (which routes by queue name)."""
    to_exchange = config.to in broker.exchanges
    exchange = config.to if to_exchange else ""
    headers, ttl, mandatory = config.headers, config.ttl, config.mandatory
    persistent = config.persistent
    priority: Callable[[], int] | None = None
    fixed_priority: int | None = None  # a priority that never changes: stamped as it is
    if isinstance(config.priority, int):
        fixed = fixed_priority = config.priority
        priority = lambda: fixed  # noqa: E731
    elif config.priority:
        stream = ctx.streams.generator(f"producer:{config.name}/priority")
        priority = Sampler.choice(list(config.priority), stream)
    elif broker.version.quorum_priorities == "strict":
        # Only a 4.3 quorum queue tells "no priority" (level 4) from priority 0; elsewhere the
        # plain Message's 0 means the same, and the fast path below stays.
        priority = lambda: NO_PRIORITY  # noqa: E731
        fixed_priority = NO_PRIORITY
    routing_key: Callable[[], str] | None = None
    if isinstance(config.routing_key, list):
        routing_key = Sampler.choice(
            list(config.routing_key), ctx.streams.generator(f"producer:{config.name}/keys")
        )
    elif config.routing_key:
        fixed_key = config.routing_key
        routing_key = lambda: fixed_key  # noqa: E731
    publish = broker.publish
    key = None if to_exchange else config.to
    if to_exchange:
        send = lambda msg: publish(msg, exchange, msg.routing_key, mandatory)  # noqa: E731
    else:
        assert key is not None
        send = broker.default_exchange_publisher(key, mandatory)  # speed: one call a message

    def stamp_amqp(msg: Message) -> None:
        # Headers are shared, never mutated: the broker always replaces a message's headers.
        if routing_key is not None:
            msg.routing_key = routing_key()
        if headers is not None:
            msg.headers = headers
        if ttl is not None:
            msg.ttl = ttl

    if priority is None or fixed_priority is not None:
        # Memory: a priority and persistence that never change are the producer's message
        # class's values (no slot and no stamp a message); only the broker writes the others.
        # Memory: no key nor TTL for any of its messages (a retrying consumer or a service may
        # set a TTL, through a delayed queue): a message has neither slot.
        lean = (
            config.keys is None
            and ttl is None
            and not ctx.scenario.services
            and all(getattr(c, "retry", None) is None for c in ctx.scenario.consumers)
        )
        message = amqp_message_class(
            0 if fixed_priority is None else fixed_priority, persistent, lean
        )
        if routing_key is None and headers is None and ttl is None:
            return Sender(send, message=message)
        return Sender(send, stamp=stamp_amqp, message=message)

    def stamp(msg: Message) -> None:
        stamp_amqp(msg)
        if priority is not None:
            msg.priority = priority()
        msg.persistent = persistent

    return Sender(send, stamp=stamp, message=Message)


class QueueConsumer(ConsumerReplica):
    """One consumer replica: a channel with basic.qos(prefetch) and basic.consume; deliveries
    wait in its buffer and go through the shared cycle (sim/consumers/cycle.py) one at a time,
    acked after processing (manual) or not at all (auto-ack: the broker forgot them when it
    sent them).

    A delivery fails with the consumer's `nack_probability`, and always when the message
    carries its `poison_header`; a failure is a basic.nack (or basic.reject: `fail_with`)
    with the consumer's `requeue`.
    A crash closes the channel, so the broker requeues every unacked message, the one in
    progress too (at-least-once); with auto-ack those are lost (at-most-once).
    """

    def __init__(
        self,
        ctx: RunContext,
        broker: RabbitMQBroker,
        config: RabbitMQConsumerConfig,
        replica: int,
        name: str | None = None,
    ) -> None:
        self.init_replica(
            ctx, config, replica, config.from_, name, error_probability=config.nack_probability
        )
        inbound = ctx.link(self.owner, "broker_to_consumer", config.network)
        self._ack_link = ctx.link(self.owner, "consumer_to_broker", config.network)
        self.channel = self._open_channel(broker, None if inbound.instant else inbound)
        self.auto_ack = self.forgets_on_delivery = config.ack == "auto"
        self.buffer: deque[Delivery] = deque()
        self._wakeup: simpy.Event | None = None
        self._rearmed = simpy.Event(self.env)  # fetch_event's: processed, so free to use
        self._rearmed.callbacks = None
        self._poison = config.poison_header
        self._fails_with_reject = config.fail_with == "basic.reject"
        retry = config.retry
        retries = 0 if retry is None or retry.blocking else retry.attempts - 1
        self._retry_queues = {retry_queue(config.from_, k) for k in range(1, retries + 1)}
        queue = broker.queues[config.from_]
        self.stream = queue if isinstance(queue, StreamQueue) else None
        # A stream reader: where it first starts, and after a crash, after what it settled.
        self._stream_offset = _offset_argument(config.stream_offset)
        self._settled_offset = -1
        self._consuming = False
        if config.start > 0:
            self.env.timeout(config.start).callbacks.append(self._start_consuming)
        else:
            self._start_consuming(None)
        self.start()

    def _open_channel(self, broker: RabbitMQBroker, link: Any) -> Channel:
        """A channel with basic.qos(prefetch), told of what the broker does to it."""
        channel = Channel(broker, self.name, link=link)
        channel.basic_qos(prefetch_count=self.config.prefetch)
        channel.stream_offset_headers = False  # it reads a stream offset from Message.seq
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_cancel_callback(self._on_cancelled)
        return channel

    def _on_channel_closed(self, channel: Channel, reason: Exception | None) -> None:
        """The broker closed the channel (a 3.10-4.2 consumer timeout): what it had delivered
        went back to the queue, so the prefetched deliveries are void; like a client that
        recovers, the replica opens a new channel and consumes again at once. The delivery in
        progress goes on, and its ack, on the closed channel, never arrives."""
        if reason is None or channel is not self.channel or self.crashed:
            return
        self.recorder.event(self.name, "channel closed by the broker")
        self.buffer.clear()
        self.reconnect()

    def _on_cancelled(self, consumer_tag: str) -> None:
        """The broker cancelled the consumer (a 4.3 quorum queue's consumer timeout): like a
        client with a cancel callback, the replica consumes again at once. What it holds stays
        in its buffer; acking a delivery the queue took back settles nothing."""
        self.recorder.event(self.name, "consumer cancelled by the broker")
        if self.channel.is_open and not self._paused and not self.crashed:
            self._consume()

    def _start_consuming(self, _event: Any) -> None:
        self._consuming = True
        if self.channel.is_open and not self._paused:
            self._consume()

    def _consume(self) -> None:
        """basic.consume; on a stream with the reader's offset and a tag that names the
        replica, so that it is the same reader after a reconnect."""
        if not self._consuming:
            return
        if self.stream is None:
            self.channel.basic_consume(self.config.from_, self.on_message, auto_ack=self.auto_ack)
            return
        offset = self._stream_offset if self._settled_offset < 0 else self._settled_offset + 1
        self.channel.basic_consume(
            self.config.from_,
            self.on_message,
            consumer_tag=self.name,
            arguments={"x-stream-offset": offset},
        )

    def on_message(self, channel: Channel, method: Deliver, msg: Message, body: Any) -> None:
        self.buffer.append((method.delivery_tag, msg, channel))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            succeed_now(wakeup)  # speed: one call, not `succeed`'s two (sim/timer.py)

    def held(self) -> int:
        """Deliveries in this replica's hands: its prefetch buffer and the one in progress."""
        return len(self.buffer) + (self.current is not None)

    # ----- the cycle's native verbs -----
    def take(self) -> tuple[Delivery] | None:
        return (self.buffer.popleft(),) if self.buffer else None

    def fetch(self) -> Generator[Any, Any, None]:
        """Sleep until a delivery is in the buffer and the consumer is not down."""
        while not self.buffer or self._paused:
            self._wakeup = self.env.event()
            yield self._wakeup

    def fetch_event(self) -> simpy.Event | None:
        """`fetch`'s waits one at a time (what the cycle runs instead of `fetch`).

        Speed: the wait is on one re-armed event (see sim/timer.py), not a new `env.event()`
        each time (an `Event.__init__` call and an object): reset to pending, as a new event
        is. One still pending elsewhere (a crash interrupted the wait on it and left it
        untriggered, or it is in the queue) is left alone: a new event then."""
        if self.buffer and not self._paused:
            return None
        wakeup = self._rearmed
        if wakeup.callbacks is None:  # processed: free to use again
            wakeup.callbacks = []
            wakeup._value = PENDING
        else:
            wakeup = self.env.event()
        self._wakeup = wakeup
        return wakeup

    # Speed: a delivery's message read at C level (`delivery[1]`), not by a method call.
    message = itemgetter(1)  # type: ignore[assignment]

    # The poison header is set when the replica is made: the cycle asks once (speed).
    fixed_failure_checks = True

    def checks_failures(self) -> bool:
        return self._poison is not None

    def fails(self, delivery: Delivery) -> bool:
        poison, msg = self._poison, delivery[1]
        if poison is not None and msg.headers is not None and poison in msg.headers:
            return True
        return self.failed()

    def _send_settle(self, delivery: Delivery, ok: bool) -> None:
        # An ack travels on the channel the delivery came on (after a broker-closed channel
        # the replica has a new one, where the tag means nothing).
        self._ack_link.send(self._settle_on, delivery[2], delivery[0], ok)

    def _settle_on(self, channel: Channel, tag: int, ok: bool) -> None:
        """An ack or nack reaches the broker, if the channel it was sent on still exists (one
        sent before a crash never arrives: the broker requeued the message when the channel
        closed)."""
        if not channel.is_open:
            return
        if ok:
            channel.basic_ack(tag)
        elif self._fails_with_reject:
            channel.basic_reject(tag, requeue=self.config.requeue)
        else:
            channel.basic_nack(tag, requeue=self.config.requeue)

    def settle(self, delivery: Delivery) -> None:
        if not self.auto_ack:
            # Speed: `_track` inlined, and on an instant ack link `_send_settle` ->
            # `Link.send` -> `_settle_on(channel, tag, True)` too (four calls fewer a
            # message): the same test of the channel, the same basic.ack.
            if self.stream is not None and delivery[1].seq > self._settled_offset:
                self._settled_offset = delivery[1].seq
            if self._ack_link.instant:
                channel = delivery[2]
                if channel.is_open:
                    channel.basic_ack(delivery[0])
            else:
                self._ack_link.send(self._settle_on, delivery[2], delivery[0], True)

    def settle_early(self, delivery: Delivery) -> bool:
        """At most once: the ack sent on receipt. Until it reaches the broker a crash still
        returns the message to the queue; from then on a crash loses it."""
        channel = delivery[2]
        self._track(delivery)
        self._ack_link.send(self._ack_on_receipt, channel, delivery)
        return False  # forgotten when the ack lands (_ack_on_receipt)

    def _track(self, delivery: Delivery) -> None:
        """The application's own offset tracking on a stream (AMQP 0-9-1 has none on the
        server): the highest offset it settled, where it resumes after a reconnect."""
        if self.stream is not None and delivery[1].seq > self._settled_offset:
            self._settled_offset = delivery[1].seq

    def _ack_on_receipt(self, channel: Channel, delivery: Delivery) -> None:
        if channel.is_open:
            channel.basic_ack(delivery[0])
            if self.current is delivery:
                self.current_forgotten = True

    def reject(self, delivery: Delivery) -> bool:
        self._track(delivery)
        self._send_settle(delivery, False)  # basic.nack, requeue as configured
        return False

    # ----- retry policies (sim/brokers/rabbitmq/retries.py) -----
    def attempt(self, delivery: Delivery) -> int:
        """1 + the times the message expired in this queue's retry queues (its x-death)."""
        headers = delivery[1].headers
        deaths = headers.get("x-death") if headers else None
        if not deaths:
            return 1
        mine = self._retry_queues
        return 1 + sum(
            d["count"] for d in deaths if d["queue"] in mine and d["reason"] == "expired"
        )

    def retry_later(self, delivery: Delivery, delay: float) -> None:
        """basic.publish to the retry queue of this try with `expiration` = delay, then
        basic.ack; both travel to the broker on the connection, in that order."""
        queue = retry_queue(self.config.from_, self.attempt(delivery))
        self._ack_link.send(self._retry_on, delivery[2], delivery, queue, delay)

    def _retry_on(self, channel: Channel, delivery: Delivery, queue: str, delay: float) -> None:
        if not channel.is_open:  # neither frame arrives: the close requeued the message
            return
        msg = delivery[1]
        msg.ttl = delay  # the AMQP expiration property
        channel.broker.publish(msg, "", queue)
        channel.basic_ack(delivery[0])

    def dead_letter(self, delivery: Delivery) -> None:
        """basic.nack without requeue: the queue dead-letters it (reason rejected)."""
        self._ack_link.send(self._reject_on, delivery[2], delivery[0])

    def _reject_on(self, channel: Channel, tag: int) -> None:
        if channel.is_open:
            channel.basic_nack(tag, requeue=False)

    def drop(self) -> None:
        """The channel closes: the broker requeues what it had not acked; with auto-ack what
        the replica held is lost."""
        if self.auto_ack:
            for _tag, msg, _channel in self.buffer:
                self.recorder.lost(msg, self.name)
        self.buffer.clear()
        self._wakeup = None
        if self.channel.is_open:
            self.channel.close()

    def reconnect(self) -> None:
        """A new channel, basic.qos and basic.consume (unless down)."""
        old = self.channel
        self.channel = self._open_channel(old.broker, old.link)
        if not self._paused:
            self._consume()

    # ----- the other fault hooks (sim/faults.py) -----
    def go_down(self) -> None:
        """Stop consuming (basic.cancel) after the message in hand; the rest stays unacked."""
        self._paused = True
        for tag in list(self.channel.consumers):
            self.channel.basic_cancel(tag)

    def come_up(self) -> None:
        super().come_up()
        if self.channel.is_open:
            self._consume()
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.succeed()


def _offset_argument(offset: Any) -> Any:
    """A scenario's `stream_offset` as the x-stream-offset the stream reads: first, last, next
    or an int as they are, {timestamp: s} and {interval: s} as tagged pairs."""
    if isinstance(offset, dict):
        ((kind, seconds),) = offset.items()
        return (kind, seconds)
    return offset


def _in_flight(queue: Any, held: list[QueueConsumer]) -> int:
    """A queue's unacked deliveries and what its auto-ack consumers hold (the broker forgot
    those when it sent them)."""
    return queue.unacked + sum(c.held() for c in held)
