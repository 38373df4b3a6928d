"""A scenario consumer replica on Kafka: a KafkaConsumer client and the application's poll loop
around it, run as the shared consumer cycle (sim/consumers/cycle.py).

The cycle's native verbs here: take() is `poll()`; fetch() waits for data or a rebalance; a
failed record is retried in place (Kafka has no per-record redelivery); acknowledging is
committing offsets, per polled batch, with one of the application's commit strategies:

- auto-commit (`enable.auto.commit`, the default): `poll` commits what the previous polls
  returned every `auto.commit.interval.ms`; a crash replays up to an interval's worth of work.
- `commit: after-processing`: commit once the polled batch is processed (at least once: a crash
  mid-batch replays the processed part of the batch).
- `commit: before-processing`: commit right after `poll`, then process (at most once: a crash
  mid-batch loses the rest of the batch).

A consumer with a `guarantee:` section commits as its strategy says (auto-commit is off):
at-most-once before processing, the others after; `kafka-transactions` makes each batch one
Kafka transaction (KIP-98; "Transactions in Apache Kafka", Mehta & Gustafson, Confluent blog,
2017): the effect of a record is an output record written in the transaction, and the batch's
input offsets are committed inside it (`sendOffsetsToTransaction`), so offsets and outputs
become visible together at `commitTransaction`, or not at all. A crash aborts the open
transaction (the restarted instance's `initTransactions` fences its predecessor): its outputs
are never visible to a `read_committed` reader, and its input is read again from the last
committed offsets. The ledger stands for the downstream reader of the output topic, with the
guarantee's `isolation.level` (`read_uncommitted` sees aborted outputs too); the output topic is
not simulated record by record.

A record whose key is the consumer's `poison_key` always fails, and is retried in place for
ever: the partition behind it stops (a consumer group has no per-record redelivery, which is
what share groups add). A `rolling_restart` shuts a replica down cleanly at the next turn of
its poll loop, once its batch is done (the WakeupException pattern of the KafkaConsumer
javadoc): commit, `close()` (LeaveGroup, unless a static member), and a new process later.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.kafka.consumer import ConsumerRecord, KafkaConsumer
from sim.brokers.kafka.key_order import KeyOrder
from sim.brokers.kafka.retries import (
    ATTEMPTS_HEADER,
    BACKOFF_HEADER,
    dead_letter_topic,
    retry_topic,
)
from sim.brokers.kafka.settings import ConsumerSettings
from sim.consumers import ConsumerReplica
from sim.guarantees.strategies import ROUND_TRIPS
from sim.message import Message

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.brokers.kafka.config import KafkaConsumerConfig
    from sim.brokers.kafka.producer import KafkaProducer
    from sim.context import RunContext

__all__ = ["ConsumerApp"]

TopicPartition = tuple[str, int]


class ConsumerApp(ConsumerReplica):
    """One consumer replica: a Kafka client and the application's poll loop around it."""

    acks_per_batch = True  # offsets are committed per polled batch, not per record

    def __init__(
        self,
        ctx: RunContext,
        cluster: KafkaCluster,
        config: KafkaConsumerConfig,
        replica: int,
        key_order: KeyOrder | None = None,
        name: str | None = None,
        retrying: tuple[str, int] | None = None,
    ) -> None:
        """`retrying`: this replica reads a retry topic, (the main topic, the retry's index)
        (sim/brokers/kafka/retries.py)."""
        group = config.kafka_group
        self.group = group
        owner = None if retrying is None else f"consumer:{config.name}.{replica}/{config.from_}"
        self.init_replica(ctx, config, replica, f"{config.from_}/{group}", name, owner=owner)
        self.main_topic = config.from_ if retrying is None else retrying[0]
        self.first_try = 1 if retrying is None else retrying[1] + 2  # the try it delivers
        # The producer that forwards failed records to retry and dead-letter topics (the
        # runtime sets it for consumers with a retry policy).
        self.forwarder: KafkaProducer | None = None
        self.ctx = ctx
        self.cluster = cluster
        self.link_in = ctx.link(self.owner, "broker_to_consumer", config.network)
        self.link_out = ctx.link(self.owner, "consumer_to_broker", config.network)
        strategy = self.guarantee.strategy if self.guarantee is not None else None
        # The client's own settings (the consumer config is one), with its group and client
        # ids; a guarantee's strategy commits, so auto-commit would commit behind its back.
        update: dict[str, Any] = {"group_id": group, "client_id": self.name}
        if config.group_instance_id is not None:  # one instance id per replica
            update["group_instance_id"] = f"{config.group_instance_id}-{replica}"
        if strategy is not None:
            update["enable_auto_commit"] = False
        self.settings: ConsumerSettings = config.model_copy(update=update)
        if strategy == "at-most-once":
            self.commits = "before-processing"
        elif strategy == "kafka-transactions":
            self.commits = "transactions"
        elif strategy is not None:
            self.commits = "after-processing"
        else:
            self.commits = "auto" if self.settings.enable_auto_commit else config.commit
            self.commits = self.commits or "after-processing"
        self.read_committed = self.guarantee is not None and (
            self.guarantee.config.isolation == "read_committed"
        )
        self._open: list[int] = []  # outputs of the open transaction (read_committed)
        self._written = 0  # outputs written in the open transaction
        self._replay_from: float | None = None
        self.key_order = key_order
        self._poison = None if config.poison_key is None else config.poison_key.encode()
        self._stopping = False  # a clean shutdown asked for (rolling restart)
        self._stopped: simpy.Event | None = None  # shut down: succeeds when started again
        self.consumer: KafkaConsumer | None = None
        self.reconnect()
        if (
            self.commits not in _COMMITS_AROUND_BATCH
            and self._poison is None
            and self.first_try == 1
        ):
            # Speed: this replica's begin_batch, end_batch, checks_failures and before_work
            # do what the base cycle's do (nothing, False, the rate limit), so the cycle's
            # inlined path skips their calls (sim/consumers/cycle.py `run` asks the class),
            # four a record. Decided once: the commit mode, poison key and try never change.
            self.__class__ = _PlainConsumerApp
        self.start()
        crash = config.crash
        if crash is not None and crash.replica == replica:
            self.env.process(self._crashes(crash.at, crash.restart_after))

    # ----- the cycle's native verbs -----
    def reconnect(self) -> None:
        """A new client joins the group and resumes from the committed offsets."""
        consumer = KafkaConsumer(
            self.cluster, self.settings, link_in=self.link_in, link_out=self.link_out
        )
        self.consumer = consumer
        listener = _CommitOnRevoke(consumer) if self.commits == "after-processing" else None
        consumer.subscribe([self.config.from_], listener)

    def take(self) -> list[ConsumerRecord] | None:
        consumer = self.consumer
        assert consumer is not None
        if self._stopping:
            self._shut_down(consumer)
            return None
        if self._replay_from is not None:
            self._seek_back(consumer, self._replay_from)
            self._replay_from = None
        return consumer.poll() or None

    def fetch(self) -> Generator[Any, Any, None]:
        if self._stopped is not None:
            yield self._stopped  # shut down until the deploy starts the process again
            return
        assert self.consumer is not None
        yield self.consumer.wait()

    def message(self, delivery: ConsumerRecord) -> Message:
        return delivery.message

    def begin_batch(self, batch: list[ConsumerRecord]) -> None:
        if self.commits == "before-processing":
            assert self.consumer is not None
            self.consumer.commit()

    def end_batch(self, batch: list[ConsumerRecord]) -> Generator[Any, Any, None] | None:
        if self.commits == "after-processing":
            assert self.consumer is not None
            self.consumer.commit()
        elif self.commits == "transactions":
            return self._commit_transaction(batch)
        return None

    def reject(self, delivery: ConsumerRecord) -> bool:
        return True  # the application retries the record in place

    def checks_failures(self) -> bool:
        return self._poison is not None

    def fails(self, delivery: ConsumerRecord) -> bool:
        if self._poison is not None and delivery.key == self._poison:
            return True
        return self.failed()

    def finish(self, delivery: ConsumerRecord) -> None:
        consumer = self.consumer
        assert consumer is not None
        # Speed: a record without a key has no key order to keep (KeyOrder.processing would
        # return at once).
        if self.key_order is not None and delivery.key is not None:
            self.key_order.processing(delivery.key, delivery.offset, delivery.message)
        # Speed: `KafkaConsumer.processed` inlined (once a record): the same count and the
        # same release of the record in hand, its usual case (the head) without a call.
        consumer.recorder.processed(delivery.message, consumer.client_id)
        in_hand = consumer._in_hand
        if in_hand and in_hand[0] is delivery:
            in_hand.popleft()
        else:
            consumer._let_go(delivery)

    def drop(self) -> None:
        """The process dies: nothing more is committed, the open transaction is aborted; the
        group notices after session.timeout.ms and moves its partitions to the others."""
        if self.consumer is not None:
            self.consumer.crash()
        self._abort()

    def apply_effect(
        self, delivery: ConsumerRecord, msg: Message, crash_in_gap: bool
    ) -> Generator[Any, Any, bool]:
        if self.commits == "transactions":
            self._write_output(msg.id)
            return True
        return (yield from super().apply_effect(delivery, msg, crash_in_gap))

    # ----- retry policies (sim/brokers/kafka/retries.py) -----
    def attempt(self, delivery: ConsumerRecord) -> int:
        """Which try: 1 from the main topic, k + 2 from its retry topic k."""
        return self.first_try

    def before_work(self, delivery: ConsumerRecord) -> Generator[Any, Any, None] | None:
        """A retry-topic record waits until it is due, then for the rate limit."""
        if self.first_try == 1 and self.limiter is None:
            return None  # speed: a main-topic record is never due later, and no rate limit
        limit = super().before_work(delivery)
        headers = delivery.message.headers
        due = headers.get(BACKOFF_HEADER) if headers and self.first_try > 1 else None
        if due is None or due <= self.env.now:
            return limit
        return self._until_due(due, limit)

    def _until_due(
        self, due: float, then: Generator[Any, Any, None] | None
    ) -> Generator[Any, Any, None]:
        """Hold the record until `due`, polling on meanwhile (Spring pauses the partition and
        keeps polling, so the member stays in its group past max.poll.interval.ms)."""
        consumer = self.consumer
        assert consumer is not None
        step = self.settings.max_poll_interval / 2
        while self.env.now < due:
            yield self.env.timeout(min(step, due - self.env.now))
            if self.env.now < due:
                consumer.poll(0)
        if then is not None:
            yield from then

    def _forward(self, delivery: ConsumerRecord, topic: str) -> None:
        forwarder, consumer = self.forwarder, self.consumer
        assert forwarder is not None and consumer is not None
        forwarder.send_message(topic, delivery.message, delivery.key, None)
        consumer.forwarded(delivery)

    def retry_later(self, delivery: ConsumerRecord, delay: float) -> None:
        """Produce it to the next retry topic, due `delay` from now."""
        msg = delivery.message
        msg.headers = {
            **(msg.headers or {}),
            ATTEMPTS_HEADER: self.first_try + 1,
            BACKOFF_HEADER: self.env.now + delay,
        }
        self._forward(delivery, retry_topic(self.main_topic, self.first_try - 1))

    def dead_letter(self, delivery: ConsumerRecord) -> None:
        """Produce it to the dead-letter topic (DeadLetterPublishingRecoverer)."""
        self.recorder.dead_lettered(delivery.message, delivery.topic)
        self._forward(delivery, dead_letter_topic(self.main_topic))

    def in_hand(self, topic: str) -> int:
        """Records of `topic` this replica polled and has not finished."""
        consumer = self.consumer
        if consumer is None or consumer.crashed:
            return 0
        return consumer.in_hand(topic)

    # ----- Kafka transactions -----
    def _write_output(self, message_id: int) -> None:
        """producer.send(output) inside the open transaction."""
        assert self.guarantee is not None
        self.recorder.count("kafka.transactional_outputs")
        self._written += 1
        if self.read_committed:
            self._open.append(message_id)
        else:
            self.guarantee.step.apply_now(message_id)  # read_uncommitted sees it at once

    def _commit_transaction(self, records: list[ConsumerRecord]) -> Generator[Any, Any, None]:
        """sendOffsetsToTransaction(offset of each partition's last record + 1), then
        commitTransaction: the coordinator commits the offsets and makes the outputs visible
        together, when the EndTxn request reaches it (after the consumer->broker hop)."""
        guarantee, consumer = self.guarantee, self.consumer
        assert guarantee is not None and consumer is not None
        draw = guarantee.round_trip
        if not guarantee.ideal_store:  # AddOffsetsToTxn and TxnOffsetCommit, answered in turn
            trips = ROUND_TRIPS["kafka-transactions"] - 1
            yield self.env.timeout(sum(draw() for _ in range(trips)))
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = (record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        outputs, self._open, self._written = self._open, [], 0
        self.recorder.count("kafka.transactions")
        group = self.cluster.coordinator.group(consumer.group_id, consumer.strategy)
        self.link_out.send(self._committed, group, offsets, outputs)
        if not guarantee.ideal_store:  # commitTransaction returns when EndTxn is answered
            yield self.env.timeout(draw())

    def _committed(
        self, group: Any, offsets: dict[TopicPartition, int], outputs: list[int]
    ) -> None:
        """The transaction commits: its offsets and its outputs at the same instant."""
        assert self.guarantee is not None
        group.commit(offsets)
        for message_id in outputs:
            self.guarantee.step.apply_now(message_id)

    def _abort(self) -> None:
        """The open transaction is aborted: what it wrote is never committed."""
        if self._written:
            self.recorder.count("kafka.transactions_aborted")
        self._open, self._written = [], 0

    # ----- a rolling restart -----
    def shut_down(self) -> None:
        """Ask for a clean shutdown at the next turn of the poll loop (KafkaConsumer.wakeup)."""
        if self.crashed or self._stopping or self._stopped is not None:
            return
        self._stopping = True
        self.recorder.event(self.name, "restart start")
        if self.consumer is not None:
            self.consumer.wakeup()

    def _shut_down(self, consumer: KafkaConsumer) -> None:
        """The batch is done: commit what it processed, then close the client (auto-commit
        commits in close; a dynamic member sends LeaveGroup, a static one does not)."""
        self._stopping = False
        if self.commits == "after-processing":
            consumer.commit()
        consumer.close()
        self.recorder.count("kafka.restarts")
        self._stopped = self.env.event()

    def start_again(self) -> None:
        """The deploy starts the process again: a new client joins the group."""
        stopped = self._stopped
        if stopped is None:
            if self._stopping:  # still in its batch: it never got to shut down
                self._stopping = False
                self.recorder.event(self.name, "restart end")
            return
        self._stopped = None
        self.reconnect()
        self.recorder.event(self.name, "restart end")
        stopped.succeed()

    # ----- replays and the `crash:` shorthand -----
    def replay(self, since: float) -> None:
        """Seek back to `since` (simulated time) at the next turn of the poll loop."""
        if self.consumer is not None and not self.consumer.crashed:
            self._replay_from = since
            self.consumer.wakeup()

    def _seek_back(self, consumer: KafkaConsumer, since: float) -> None:
        assigned = sorted(consumer.assignment())
        found = consumer.offsets_for_times(dict.fromkeys(assigned, since))
        for tp in assigned:
            offset = found[tp]
            if offset is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset)
        self.recorder.count("kafka.replays")

    def _crashes(
        self, times: list[float], restart_after: float | None
    ) -> Generator[Any, Any, None]:
        for at in sorted(times):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if self.crashed:
                continue
            self.crash()
            self.recorder.event(self.name, "crash start")  # as a `faults:` crash window
            if restart_after is not None:
                yield self.env.timeout(restart_after)
                self.restart()
                self.recorder.event(self.name, "crash end")


# The commit modes that commit around each polled batch (begin_batch, end_batch).
_COMMITS_AROUND_BATCH = frozenset({"before-processing", "after-processing", "transactions"})


class _PlainConsumerApp(ConsumerApp):
    """A ConsumerApp whose verbs around a record are the base cycle's (see its __init__):
    auto-commit (or no commit), no poison key, records of the main topic."""

    begin_batch = ConsumerReplica.begin_batch
    end_batch = ConsumerReplica.end_batch
    checks_failures = ConsumerReplica.checks_failures
    before_work = ConsumerReplica.before_work


class _CommitOnRevoke:
    """ConsumerRebalanceListener of the commit-after-processing application: commit what was
    processed before giving partitions up (the Kafka javadoc's recommended pattern)."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.consumer.commit()

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass
