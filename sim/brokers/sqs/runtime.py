"""Builds a scenario's SQS queues, producers and consumers on a run's environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.base import Sender, Source
from sim.brokers.sqs.queue import Entry, SQSQueue
from sim.brokers.sqs.service import SQSService
from sim.clients.disturbance import Disturbance
from sim.distributions import Sampler
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
    for queue in config.queues:  # DLQs are checked at the first redrive, so order is free
        service.create(queue.name, queue.settings(), {})
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

    def source_of(self, consumer: Any) -> str:
        return str(consumer.from_)  # the queue

    def sources(self) -> list[Source]:
        """Every queue: visible messages are ready; in flight, the invisible ones (received,
        not deleted), plus what auto-deleting consumers hold (deleted on receipt)."""
        found = []
        for name, queue in self.service.queues.items():
            auto = [c for c in self.consumers if c.auto_delete and c.queue is queue]
            found.append(
                Source(
                    name,
                    lambda q=queue: q.visible_count,
                    lambda q=queue, held=auto: q.inflight_count + sum(len(c.held) for c in held),
                )
            )
        return found

    def retained(self) -> dict[str, Callable[[], int]]:
        return {}  # a deleted message is gone


def _sender(ctx: RunContext, service: SQSService, config: SQSProducerConfig) -> Any:
    """SendMessage for each produced message; on a FIFO queue with a MessageGroupId (one
    group, or a uniform pick from the list) and the message id as MessageDeduplicationId."""
    queue = service.queues[config.to]
    send = service.send
    groups = config.message_group
    if groups is None:
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


class SQSConsumer(Disturbance):
    """One consumer replica: a loop of ReceiveMessage (up to `max_messages`, long polling for
    `wait_time`), then each message processed in turn and deleted with its receipt handle.

    With `ack: manual` (the default) a message is deleted after processing: if processing
    outlasts the visibility timeout the message has already reappeared (and may be processed
    again by another replica) and the late DeleteMessage, with a stale receipt handle, deletes
    nothing. With `ack: auto` it is deleted on receipt (at most once). A failed processing
    (the fault hook's error probability) deletes nothing: the message reappears after the
    visibility timeout. `crash()` simply stops the replica: SQS keeps no sessions, so what it
    held reappears when its visibility timeouts expire.
    """

    def __init__(
        self, ctx: RunContext, queue: SQSQueue, config: SQSConsumerConfig, replica: int
    ) -> None:
        self.env = ctx.env
        self.recorder = ctx.recorder
        self.queue = queue
        self.config = config
        self.name = config.name if config.replicas == 1 else f"{config.name}.{replica}"
        owner = f"consumer:{config.name}.{replica}"
        self._request = ctx.link(owner, "consumer_to_broker", config.network)
        self._reply = ctx.link(owner, "broker_to_consumer", config.network)
        self.service_time = ctx.sampler(f"{owner}/service", config.service_time)
        self.max_messages = config.max_messages
        wait = config.wait_time
        self.wait_time = queue.settings.receive_wait_time if wait is None else wait
        self.auto_delete = config.ack == "auto"
        # Set by fault hooks (sim/faults.py).
        self.init_disturbance(ctx, owner)
        self.held: deque[Entry] = deque()  # received, not yet processed (in order)
        self.process: simpy.Process | None = self.env.process(self.run())

    def _hop(self, link: Link) -> Generator[Any, Any, None]:
        if not link.instant:
            arrived = self.env.event()
            link.send(arrived.succeed)
            yield arrived

    def _delete(self, entry: Entry, handle: str) -> None:
        """DeleteMessage as it reaches the queue: only the latest receipt handle deletes."""
        if entry.handle == handle and self.queue.entries.get(entry.seq) is entry:
            self.queue.delete(entry)
            return
        self.recorder.count(f"stale_deletes.{self.queue.name}")

    def run(self) -> Generator[Any, Any, None]:
        env, queue, recorder, name = self.env, self.queue, self.recorder, self.name
        timeout, service_time = env.timeout, self.service_time
        try:
            while True:
                if self._paused:
                    yield from self.wait_while_down()
                yield from self._hop(self._request)
                if self.wait_time > 0:
                    taken = yield from queue.wait_receive(self.max_messages, None, self.wait_time)
                else:
                    taken = queue.receive(self.max_messages, None)
                yield from self._hop(self._reply)
                if not taken:
                    if self.wait_time <= 0:  # short polling an empty queue: poll again soon
                        yield timeout(SHORT_POLL_BACKOFF)
                    continue
                handles = [entry.handle for entry in taken]
                self.held.extend(taken)
                if self.auto_delete:
                    for entry, handle in zip(taken, handles, strict=True):
                        self._request.send(self._delete, entry, handle)
                for entry, handle in zip(taken, handles, strict=True):
                    yield timeout(service_time() * self.slowdown)
                    self.held.popleft()
                    if self.failed():
                        recorder.count("consumer_failures")
                        continue  # not deleted: it reappears after the visibility timeout
                    recorder.processed(entry.msg, name)
                    if not self.auto_delete:
                        self._request.send(self._delete, entry, handle)
        except simpy.Interrupt:
            return

    # ----- fault hooks (sim/faults.py) -----
    def crash(self) -> None:
        """Stop at once; in-flight messages reappear after their visibility timeouts. With
        `ack: auto` the unprocessed messages of the batch were already deleted: lost."""
        if self.auto_delete:
            for entry in self.held:
                self.recorder.lost(entry.msg, self.name)
        self.held.clear()
        if self.process is not None and self.process.is_alive:
            self.process.interrupt("crash")
        self.process = None

    def restart(self) -> None:
        if self.process is None:
            self.process = self.env.process(self.run())

    def go_down(self) -> None:
        """Stop polling after the batch in hand."""
        super().go_down()
