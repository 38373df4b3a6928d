"""A scenario consumer replica in a Kafka share group (KIP-932): a KafkaShareConsumer in explicit
acknowledgement mode and the application's poll loop around it, run as the shared consumer
cycle (sim/consumers/cycle.py).

The cycle's native verbs here: take() is `poll()` (which also sends the acknowledgements not
sent yet); fetch() is a blocking poll, waiting for records; a processed record is acknowledged
ACCEPT; a failed one RELEASE (the share group delivers it again, to any member, until the
delivery count limit archives it) or REJECT (archived at once), as the consumer's `on_failure`
says. Acknowledgements travel with the application's requests: the batch's are sent by
`commitAsync` when the batch is done (KafkaShareConsumer javadoc, "Record Delivery and
Acknowledgement", explicit mode), so they are per batch, as a consumer group's offset commits.

With a `guarantee:` section the strategy decides when records are acknowledged: at-most-once
accepts the whole batch and sends it (`commitSync`) before processing, so a crash loses the rest
of the batch (the broker has ACCEPT for it); the others accept after processing, so a crash
before the batch's acknowledgements are sent leaves its records acquired until their locks
expire, and they are delivered again. Share groups have no transactions (no exactly-once).

A crash sends nothing: the member is noticed after ``group.share.session.timeout.ms``, and what
it held comes back when its acquisition locks expire.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.kafka.key_order import KeyOrder
from sim.brokers.kafka.settings import ShareConsumerSettings
from sim.brokers.kafka.share import AcknowledgeType
from sim.brokers.kafka.share_consumer import KafkaShareConsumer, ShareConsumerRecord
from sim.consumers import ConsumerReplica
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.brokers.kafka.config import KafkaConsumerConfig
    from sim.context import RunContext

__all__ = ["ShareConsumerApp"]


class ShareConsumerApp(ConsumerReplica):
    """One member of a share group: a KafkaShareConsumer and the poll loop around it."""

    acks_per_batch = True  # acknowledgements are sent per polled batch

    def __init__(
        self,
        ctx: RunContext,
        cluster: KafkaCluster,
        config: KafkaConsumerConfig,
        replica: int,
        key_order: KeyOrder | None = None,
    ) -> None:
        group = config.share_group
        assert group is not None
        self.group = group
        self.init_replica(ctx, config, replica, f"{config.from_}/{group}")
        self.cluster = cluster
        self.link_in = ctx.link(self.owner, "broker_to_consumer", config.network)
        self.link_out = ctx.link(self.owner, "consumer_to_broker", config.network)
        self.settings = ShareConsumerSettings.from_config(
            {
                "group.id": group,
                "client.id": self.name,
                "max.poll.records": config.max_poll_records,
                "share.acknowledgement.mode": "explicit",
            }
        )
        self.on_failure = (
            AcknowledgeType.REJECT if config.on_failure == "reject" else AcknowledgeType.RELEASE
        )
        self.accept_first = self.guarantee is not None and self.guarantee.acks_first
        self.key_order = key_order
        self._poison = None if config.poison_key is None else config.poison_key.encode()
        self.consumer: KafkaShareConsumer | None = None
        self.reconnect()
        self.start()
        crash = config.crash
        if crash is not None and crash.replica == replica:
            self.env.process(self._crashes(crash.at, crash.restart_after))

    # ----- the cycle's native verbs -----
    def reconnect(self) -> None:
        """A new client joins the share group (its first heartbeat)."""
        consumer = KafkaShareConsumer(
            self.cluster, self.settings, link_in=self.link_in, link_out=self.link_out
        )
        self.consumer = consumer
        consumer.subscribe([self.config.from_])

    def take(self) -> list[ShareConsumerRecord] | None:
        assert self.consumer is not None
        return self.consumer.poll() or None

    def fetch(self) -> Generator[Any, Any, None]:
        assert self.consumer is not None
        yield self.consumer.wait()

    def message(self, delivery: ShareConsumerRecord) -> Message:
        return delivery.message

    def begin_batch(self, batch: list[ShareConsumerRecord]) -> None:
        if self.accept_first:  # at most once: the broker forgets the batch before processing
            consumer = self.consumer
            assert consumer is not None
            for record in batch:
                consumer.acknowledge(record, AcknowledgeType.ACCEPT)
            consumer.commit_sync()

    def end_batch(self, batch: list[ShareConsumerRecord]) -> None:
        assert self.consumer is not None
        self.consumer.commit_async()  # send the batch's acknowledgements

    def checks_failures(self) -> bool:
        return self._poison is not None

    def fails(self, delivery: ShareConsumerRecord) -> bool:
        if self._poison is not None and delivery.key == self._poison:
            return True
        return self.failed()

    def reject(self, delivery: ShareConsumerRecord) -> bool:
        """Processing failed: RELEASE or REJECT it, sent with the batch's acknowledgements. A
        record accepted before processing (at most once) cannot be given back: it is lost."""
        consumer = self.consumer
        assert consumer is not None
        if self.accept_first:
            consumer.abandon(delivery)
        else:
            consumer.acknowledge(delivery, self.on_failure)
        return False

    def finish(self, delivery: ShareConsumerRecord) -> None:
        consumer = self.consumer
        assert consumer is not None
        if self.key_order is not None:
            self.key_order.processing(delivery.key, delivery.offset, delivery.message)
        consumer.processed(delivery)
        if not self.accept_first:
            consumer.acknowledge(delivery, AcknowledgeType.ACCEPT)

    def drop(self) -> None:
        """The process dies: nothing more is sent; the locks of what it held expire."""
        if self.consumer is not None:
            self.consumer.crash()

    def in_hand(self, topic: str) -> int:
        """Records of `topic` this member acquired and has neither processed nor given back."""
        consumer = self.consumer
        if consumer is None or consumer.crashed:
            return 0
        return consumer.in_hand(topic)

    # ----- the `crash:` shorthand -----
    def _crashes(
        self, times: list[float], restart_after: float | None
    ) -> Generator[Any, Any, None]:
        for at in sorted(times):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if self.crashed:
                continue
            self.crash()
            self.recorder.event(f"consumer {self.name}", "crash")
            if restart_after is not None:
                yield self.env.timeout(restart_after)
                self.restart()
                self.recorder.event(f"consumer {self.name}", "restart")
