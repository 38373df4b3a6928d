"""Builds a scenario's SQS queues, producers and consumers on a run's environment."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.sqs.queue import Entry, EntryState, QueueSettings, SQSQueue
from sim.brokers.sqs.retries import retry_redrives
from sim.brokers.sqs.service import MAX_BATCH_BYTES, SQSService
from sim.consumers import ConsumerReplica
from sim.distributions import Distribution, Sampler
from sim.message import Message
from sim.network import Link

if TYPE_CHECKING:
    from sim.brokers.sqs.config import SQSConfig, SQSConsumerConfig, SQSProducerConfig
    from sim.context import RunContext

__all__ = ["SQSConsumer", "SQSRuntime", "build"]

# A consumer short polling an empty queue sleeps this long before the next ReceiveMessage
# (the SDKs leave it to the application; a tight loop would spin at one simulated instant).
SHORT_POLL_BACKOFF = 0.1


def build(ctx: RunContext) -> SQSRuntime:
    config: SQSConfig = ctx.scenario.broker
    service = SQSService(ctx.env, ctx.recorder, ctx.message_ids)
    redrives = retry_redrives(config.queues, ctx.scenario.consumers)
    for queue in config.queues:  # DLQs are checked at the first redrive, so order is free
        settings = queue.settings()
        made = redrives.get(queue.name)
        if made is not None:  # a retry policy's dead-letter queue (sim/brokers/sqs/retries.py)
            dlq, attempts = made
            settings = replace(settings, dead_letter_queue=dlq, max_receive_count=attempts)
            service.create(dlq, QueueSettings(fifo=queue.fifo), {})
        service.create(queue.name, settings, {})
    runtime = SQSRuntime(ctx, service)
    for consumer in ctx.scenario.consumers:
        for replica in range(consumer.replicas):
            part = SQSConsumer(ctx, service.queues[consumer.from_], consumer, replica)
            runtime.consumers.append(part)
            ctx.register_part(part, consumer.name, f"{consumer.name}.{replica}")  # fault target
    return runtime


class SQSRuntime:
    """The built SQS model as the rest of the run sees it (sim/brokers/base.py)."""

    def __init__(self, ctx: RunContext, service: SQSService) -> None:
        self.ctx = ctx
        self.service = service
        self.consumers: list[SQSConsumer] = []

    def sender(self, producer: SQSProducerConfig) -> Sender:
        return Sender(_sender(self.ctx, self.service, producer))

    def publisher(self, to: str, routing_key: str) -> Callable[[Message], bool]:
        """SendMessage for a service; a FIFO queue gets the routing key as MessageGroupId."""
        queue, send = self.service.queues[to], self.service.send
        group = routing_key or "default"

        def publish(msg: Message) -> bool:
            if queue.settings.fifo:
                send(queue, msg, "", group=group, dedup_id=str(msg.id))
            else:
                send(queue, msg, "")
            return True  # SendMessage has no refusal short of an error: a queue takes it

        return publish

    def service_consumers(self, service: Any, work: Callable[[Message], Any]) -> list[Any]:
        from sim.brokers.sqs.spec import SPEC

        config = SPEC.service_consumer(service)
        queue = self.service.queues[config.from_]
        replicas = []
        for replica in range(config.replicas):
            part = SQSConsumer(self.ctx, queue, config, replica, name=service.name)
            part.work = work
            self.consumers.append(part)
            replicas.append(part)
        return replicas

    def source_of(self, consumer: Any) -> str:
        return str(consumer.from_)  # the queue

    def sources(self) -> list[Source]:
        """Every queue: visible messages are ready; in flight, the invisible ones (received,
        not deleted), plus what auto-deleting consumers hold (deleted on receipt)."""
        found = []
        for name, queue in self.service.queues.items():
            auto = [c for c in self.consumers if c.auto_delete and c.queue is queue]
            # Speed: read at every sample (three gauges a source); with nothing held by
            # auto-deleting consumers to add, the count is read without a Python frame.
            in_flight: Callable[[], int] = (
                partial(getattr, queue, "inflight_count")
                if not auto
                else lambda q=queue, held=auto: q.inflight_count + sum(c.held() for c in held)
            )
            found.append(Source(name, lambda q=queue: q.visible_count, in_flight))
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        return {}  # a deleted message is gone


BILLED_CHUNK = 65_536  # bytes of payload billed as one request (Amazon SQS pricing)


def _instant(delay: Distribution) -> bool:
    return delay.kind == "constant" and delay.params[0] == 0.0


class SendBatches:
    """One producer's SendMessageBatch calls (SQSProducerConfig says when a call is made).

    A call is one request: with a cost model it takes one `send_latency` for all its messages,
    which are stored together, in order, when it is answered; it is billed as one request per
    64 KiB chunk of its payload ("Each 64 KB chunk of a payload is billed as 1 request",
    Amazon SQS pricing, https://aws.amazon.com/sqs/pricing/). The run counts both:
    `sqs.send_calls.<queue>` and `sqs.billed_requests.<queue>`."""

    __slots__ = (
        "_billed",
        "_bytes",
        "_calls",
        "_latency",
        "_opened",
        "_pending",
        "_queue",
        "_size",
        "_wait",
        "ctx",
        "service",
    )

    def __init__(
        self,
        ctx: RunContext,
        service: SQSService,
        queue: SQSQueue,
        size: int,
        wait: float,
        latency: Link | None,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self._queue = queue
        self._size = size
        self._wait = wait
        self._latency = latency
        self._pending: list[tuple[Any, ...]] = []
        self._bytes = 0
        self._opened = 0  # calls opened so far: a timer closes only the call it was armed for
        self._calls = f"sqs.send_calls.{queue.name}"
        self._billed = f"sqs.billed_requests.{queue.name}"

    def add(self, queue: SQSQueue, msg: Message, body: str, **fifo: Any) -> None:
        if self._pending and self._bytes + msg.size > MAX_BATCH_BYTES:
            self._call()
        self._pending.append((msg, body, fifo))
        self._bytes += msg.size
        if len(self._pending) >= self._size:
            self._call()
        elif len(self._pending) == 1:
            opened = self._opened
            timer = self.ctx.env.timeout(self._wait)
            timer.callbacks.append(lambda _event: self._call() if self._opened == opened else None)

    def _call(self) -> None:
        batch, self._pending = self._pending, []
        payload, self._bytes = self._bytes, 0
        self._opened += 1
        recorder = self.service.recorder
        recorder.count(self._calls)
        recorder.count(self._billed, max(1, math.ceil(payload / BILLED_CHUNK)))
        if self._latency is None:
            self._store(batch)
        else:
            self._latency.send(self._store, batch)

    def _store(self, batch: list[tuple[Any, ...]]) -> None:
        send, queue = self.service.send, self._queue
        for msg, body, fifo in batch:
            send(queue, msg, body, **fifo)


def _sender(ctx: RunContext, service: SQSService, config: SQSProducerConfig) -> Any:
    """SendMessage for each produced message; on a FIFO queue with a MessageGroupId (one
    group, or a uniform pick from the list) and the message id as MessageDeduplicationId.
    With a cost model each call reaches the queue `send_latency` after it is made."""
    queue = service.queues[config.to]
    send = service.send
    cost = ctx.scenario.broker.cost
    latency: Link | None = None
    if cost is not None and not _instant(cost.send_latency):
        latency = Link(
            ctx.env,
            cost.send_latency,
            ctx.sampler(f"{config.name}/send_latency", cost.send_latency),
        )
    if config.batch > 1:
        calls = SendBatches(ctx, service, queue, config.batch, config.batch_wait, latency)
        send = calls.add
    elif latency is not None:
        stored, link = send, latency
        send = lambda *args, **kwargs: link.send(lambda: stored(*args, **kwargs))  # noqa: E731
    groups = config.message_group
    if groups is None:
        if config.batch <= 1 and latency is None and not queue.settings.fifo:
            return service.standard_sender(queue)  # speed: one call a message (service.py)
        return lambda msg: send(queue, msg, "")
    if isinstance(groups, str):
        fixed = groups
        group: Callable[[], str] = lambda: fixed  # noqa: E731
    else:
        group = Sampler.choice(list(groups), ctx.streams.generator(f"producer:{config.name}/group"))

    def send_fifo(msg: Message) -> None:
        chosen = group()
        msg.key = chosen
        send(queue, msg, "", group=chosen, dedup_id=str(msg.id))

    return send_fifo


class SQSConsumer(ConsumerReplica):
    """One consumer replica: a loop of ReceiveMessage (up to `max_messages`, long polling for
    `wait_time`), each message of a batch going through the shared cycle in turn and deleted
    with its receipt handle.

    With `ack: manual` (the default) a message is deleted after processing: if processing
    outlasts the visibility timeout the message has already reappeared (and may be processed
    again by another replica) and the late DeleteMessage, with a stale receipt handle, deletes
    nothing. With `ack: auto` the batch is deleted on receipt (at most once), as is each message
    before its processing under an at-most-once guarantee. A failed processing deletes nothing:
    the message reappears after the visibility timeout. A crash simply stops the replica: SQS
    keeps no sessions, so what it held reappears when its visibility timeouts expire (what it
    had deleted is lost).
    """

    # Whether a long poll on an ideal network waits through `fetch_event` (see there); False
    # (tests only) keeps `fetch`, the general path.
    fused_wait = True

    def __init__(
        self,
        ctx: RunContext,
        queue: SQSQueue,
        config: SQSConsumerConfig,
        replica: int,
        name: str | None = None,
    ) -> None:
        self.init_replica(ctx, config, replica, queue.name, name)
        self.queue = queue
        self._request = ctx.link(self.owner, "consumer_to_broker", config.network)
        self._reply = ctx.link(self.owner, "broker_to_consumer", config.network)
        self.max_messages = config.max_messages
        wait = config.wait_time
        self.wait_time = queue.settings.receive_wait_time if wait is None else wait
        self.auto_delete = self.forgets_on_delivery = config.ack == "auto"
        self._received: list[tuple[Entry, int]] | None = None
        cost = ctx.scenario.broker.cost
        self._receive_latency = (
            None
            if cost is None or _instant(cost.receive_latency)
            else ctx.sampler(f"{self.name}/receive_latency", cost.receive_latency)
        )
        # Speed: with an ideal network and instant calls a receive takes no time, so `take`
        # receives itself (no generator for `fetch` to run when a message is visible) and
        # `settle` deletes at once (no hop). `_received_now`: take's receive got nothing,
        # so fetch waits without receiving again at the same instant.
        self._instant = (
            self._request.instant and self._reply.instant and self._receive_latency is None
        )
        self._received_now = False
        # Speed: a long poll on an ideal network is waited for by `fetch_event` (the cycle
        # waits on the poll's event itself: no `fetch` and `wait_receive` generators made and
        # resumed each time the replica goes idle, about 0.6 times a message with 50
        # competing consumers); the switch `fused_wait` keeps `fetch`.
        self.waits_by_event = self._instant and self.wait_time > 0 and SQSConsumer.fused_wait
        self._poll: simpy.Event | None = None  # the long poll fetch_event waits on
        self.start()

    def held(self) -> int:
        """Messages received and not finished (the one in progress included)."""
        return len(self.waiting) + (self.current is not None) + len(self._received or ())

    def _hop(self, link: Link) -> Generator[Any, Any, None]:
        if not link.instant:
            arrived = self.env.event()
            link.send(arrived.succeed)
            yield arrived

    def _delete(self, entry: Entry, receipt: int) -> None:
        """DeleteMessage as it reaches the queue: only the latest receipt handle deletes (a
        delivery keeps the number of its receipt, `Entry.receipt`, not the handle's string)."""
        if entry.receipt == receipt and self.queue.entries.get(entry.seq) is entry:
            self.queue.delete(entry)
            return
        self.recorder.count(f"stale_deletes.{self.queue.name}")

    # ----- the cycle's native verbs -----
    def take(self) -> list[tuple[Entry, int]] | None:
        received = self._received
        if received is not None:
            self._received = None
            return received
        if not self._instant:
            return None
        # What `fetch` does first at this instant on an ideal network: ReceiveMessage.
        taken = self.queue.receive(self.max_messages, None)
        if not taken:
            self._received_now = True  # nothing visible now: fetch waits at once
            return None
        if len(taken) == 1 and not self.auto_delete:
            # Speed: `_deliveries` of one message (no delete to send), without its call and
            # its list comprehension's.
            entry = taken[0]
            return [(entry, entry.receipt)]
        return self._deliveries(taken)

    def fetch(self) -> Generator[Any, Any, None]:
        """One ReceiveMessage round trip (a long poll waits up to `wait_time`)."""
        queue = self.queue
        received_now, self._received_now = self._received_now, False
        if not self._request.instant:
            yield from self._hop(self._request)
        if self.wait_time > 0:
            taken = yield from queue.wait_receive(
                self.max_messages, None, self.wait_time, not received_now
            )
        else:
            taken = [] if received_now else queue.receive(self.max_messages, None)
        if taken and self._receive_latency is not None:
            yield self.env.timeout(self._receive_latency())  # the call's own time (cost.py)
        if not self._reply.instant:
            yield from self._hop(self._reply)
        if not taken:
            if self.wait_time <= 0:  # short polling an empty queue: poll again soon
                yield self.env.timeout(SHORT_POLL_BACKOFF)
            return
        self._received = self._deliveries(taken)

    def fetch_event(self) -> simpy.Event | None:
        """`fetch` on an ideal network with long polling (`waits_by_event`), one wait at a
        time: the same receives, the same long poll (`SQSQueue.poll_event`, the event
        `wait_receive` yields) and the same deliveries, without the two generators. Called
        again once the poll's event has fired: its messages (none if the wait ran out)."""
        ready = self._poll
        if ready is not None:  # resumed by the long poll's answer
            self._poll = None
            taken = ready._value
        else:
            queue = self.queue
            if self._received_now:  # take's receive got nothing at this instant
                self._received_now = False
                taken = []
            else:
                taken = queue.receive(self.max_messages, None)
            if not taken:
                self._poll = ready = queue.poll_event(self.max_messages, None, self.wait_time)
                return ready
        if taken:
            if len(taken) == 1 and not self.auto_delete:  # `_deliveries` of one, inlined
                entry = taken[0]
                self._received = [(entry, entry.receipt)]
            else:
                self._received = self._deliveries(taken)
        return None

    def _deliveries(self, taken: list[Entry]) -> list[tuple[Entry, int]]:
        """A receive's messages as deliveries (each keeps its receipt's number); with
        `ack: auto` each DeleteMessage is sent at once."""
        received = [(entry, entry.receipt) for entry in taken]
        if self.auto_delete:
            for entry, handle in received:
                self._request.send(self._delete, entry, handle)
        return received

    def message(self, delivery: tuple[Entry, int]) -> Message:
        return delivery[0].msg

    def settle(self, delivery: tuple[Entry, int]) -> None:
        if not self.auto_delete:
            if self._instant:  # speed: no hop, DeleteMessage now (Link.send would call it)
                # `_delete` inlined (one call fewer a message): the same test.
                entry, receipt = delivery
                queue = self.queue
                if entry.receipt == receipt and queue.entries.get(entry.seq) is entry:
                    queue.delete(entry)
                else:
                    self.recorder.count(f"stale_deletes.{queue.name}")
            else:
                self._request.send(self._delete, *delivery)

    def settle_early(self, delivery: tuple[Entry, int]) -> bool:
        self._request.send(self._delete, *delivery)
        return True  # the request is on its way: SQS has no session for a crash to end

    # ----- retry policies (sim/brokers/sqs/retries.py) -----
    def attempt(self, delivery: tuple[Entry, int]) -> int:
        """The receive's ApproximateReceiveCount."""
        return delivery[0].receive_count

    def retry_later(self, delivery: tuple[Entry, int], delay: float) -> None:
        """ChangeMessageVisibility(delay): received again once it runs out."""
        self._request.send(self._change_visibility, *delivery, delay)

    def dead_letter(self, delivery: tuple[Entry, int]) -> None:
        """ChangeMessageVisibility(0): the next receive redrives it to the dead-letter queue."""
        self._request.send(self._change_visibility, *delivery, 0.0)

    def _change_visibility(self, entry: Entry, receipt: int, timeout: float) -> None:
        """As it reaches the queue: only the latest receipt handle of an in-flight message
        counts (an older one: the message was received again meanwhile); the delivery keeps
        its receipt's number, as `_delete` does."""
        queue = self.queue
        latest = entry.receipt == receipt and queue.entries.get(entry.seq) is entry
        if latest and entry.state is EntryState.INFLIGHT:
            queue.change_visibility(entry, timeout)

    def drop(self) -> None:
        """Auto-deleted messages not processed yet are lost: SQS no longer has them."""
        if self.auto_delete:
            for entry, _handle in [*self.waiting, *(self._received or ())]:
                self.recorder.lost(entry.msg, self.name)
        self._received = None
        self._poll = None  # a crash ends the cycle's wait: the next one polls afresh
