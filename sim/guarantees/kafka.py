"""A Kafka consumer application that applies side effects under a delivery-guarantee strategy,
including Kafka's own exactly-once: read-process-write transactions.

It is the scenario's consumer application (`ConsumerApp`) with another poll loop; the group,
the offsets and what a crash does to them are the Kafka model's. The strategy decides when
offsets are committed (auto-commit is off):

- `at-most-once`: commit the polled batch's offsets, then process it (a crash loses the rest
  of the batch: the group never reads it again).
- `at-least-once`, `idempotent`, `transactional`: process the batch (effects go to the store as
  for RabbitMQ, sim/guarantees/strategies.py), then commit (a crash redelivers the batch).
- `kafka-transactions`: each batch is one Kafka transaction (KIP-98; "Transactions in Apache
  Kafka", Mehta & Gustafson, Confluent blog, 2017): the effect of a record is an output record
  written in the transaction, and the batch's input offsets are committed inside the same
  transaction (`sendOffsetsToTransaction`), so offsets and outputs become visible together at
  `commitTransaction`, or not at all. A crash aborts the open transaction (the restarted
  instance's `initTransactions` fences its predecessor and aborts what it left open): its
  outputs are never visible to a `read_committed` reader, and its input is read again from the
  last committed offsets.

For `kafka-transactions` the ledger stands for the downstream reader of the output topic, with
the guarantee's `isolation.level`: `read_committed` sees an output when its transaction
commits; `read_uncommitted` sees it as soon as it is written, aborted or not, so a crash mid-
transaction shows the same output twice. The output topic is not simulated record by record:
the ledger takes its place (what a reader of it would see, and when).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.brokers.kafka.consumer import KafkaConsumer
from sim.brokers.kafka.runtime import ConsumerApp, _CommitOnRevoke
from sim.guarantees.failures import CrashPlan
from sim.guarantees.strategies import ROUND_TRIPS, EffectStep, SharedEffects

if TYPE_CHECKING:
    from sim.brokers.kafka.cluster import KafkaCluster
    from sim.brokers.kafka.consumer import ConsumerRecord
    from sim.clients.config import ConsumerBase as ConsumerConfig
    from sim.context import RunContext

__all__ = ["GuaranteedConsumerApp"]


class _Crashed(Exception):
    """Raised inside the poll loop at a crash point (a process cannot interrupt itself)."""


class GuaranteedConsumerApp(ConsumerApp):
    """One replica of a Kafka consumer with a `guarantee:` section."""

    def __init__(
        self,
        ctx: RunContext,
        cluster: KafkaCluster,
        config: ConsumerConfig,
        replica: int,
        shared: SharedEffects,
    ) -> None:
        super().__init__(ctx, cluster, config, replica)  # the loop starts at the next step
        guarantee = shared.config
        owner = f"consumer:{config.name}.{replica}"
        # The strategy commits; auto-commit would commit behind its back.
        self.settings = self.settings.model_copy(update={"enable_auto_commit": False})
        self.recorder = ctx.recorder
        self.guarantee = guarantee.strategy
        self.read_committed = guarantee.isolation == "read_committed"
        self.shared = shared
        self.plan = CrashPlan(guarantee, ctx.streams, owner, shared.crash_on)
        ideal = (
            guarantee.store_round_trip.kind == "constant"
            and guarantee.store_round_trip.params[0] == 0.0
        )
        self._ideal_store = ideal
        self._round_trip = ctx.sampler(f"{owner}/guarantee/store", guarantee.store_round_trip)
        self.step = EffectStep(ctx.env, shared, ctx.recorder, self._round_trip, self.name, ideal)
        self.restart_after = ctx.sampler(f"{owner}/guarantee/restart", guarantee.restart_after)
        self._journal = shared.ledger.journal
        self._open: list[int] = []  # outputs of the open transaction (read_committed)
        self._written = 0  # outputs written in the open transaction

    # ----- the poll loop -----
    def run(self) -> Generator[Any, Any, None]:
        consumer = KafkaConsumer(
            self.cluster, self.settings, link_in=self.link_in, link_out=self.link_out
        )
        self.consumer = consumer
        strategy = self.guarantee
        first, transactions = strategy == "at-most-once", strategy == "kafka-transactions"
        listener = None if first or transactions else _CommitOnRevoke(consumer)
        consumer.subscribe([self.config.from_], listener)
        try:
            while True:
                yield from self.wait_while_down()
                records = consumer.poll()
                if not records:
                    yield consumer.wait()
                    continue
                if first:
                    consumer.commit()
                crash_after_commit = False
                for record in records:
                    point = self.plan.crash_point(record.message.id) if self.plan.active else None
                    crash_after_commit |= point == "after-ack" and not first
                    yield from self._handle(consumer, record, point)
                if transactions:
                    yield from self._commit_transaction(consumer, records)
                elif not first:
                    consumer.commit()
                if crash_after_commit:  # offsets (and effects) are durable: nothing to lose
                    self._crash("after-ack", records[-1].message.id)
        except _Crashed:
            consumer.crash()
            self._abort()
            self.env.timeout(self.restart_after()).callbacks.append(lambda _e: self._restart())
        except simpy.Interrupt:  # a `crash:` option of the Kafka model
            consumer.crash()
            self._abort()

    def _handle(
        self, consumer: KafkaConsumer, record: ConsumerRecord, point: str | None
    ) -> Generator[Any, Any, None]:
        """Process one record and apply (or write) its effect, crashing at `point`."""
        message_id = record.message.id
        if point == "before-processing" or (
            point == "after-ack" and self.guarantee == "at-most-once"
        ):
            self._crash(point, message_id)
        work = self.service_time() * self.slowdown  # a `slow` fault stretches the work
        if point == "during-processing":
            yield self.env.timeout(work * self.plan.fraction())
            self._crash(point, message_id)
        yield self.env.timeout(work)
        if self.guarantee == "kafka-transactions":
            self._write_output(message_id)
        else:
            applied = yield from self.step.run(message_id, point == "after-effect")
            if not applied:
                self._crash("after-effect", message_id)
        consumer.processed(record)
        if point in ("after-effect", "after-processing"):
            self._crash(point, message_id)

    # ----- Kafka transactions -----
    def _write_output(self, message_id: int) -> None:
        """producer.send(output) inside the open transaction."""
        self.recorder.count("kafka.transactional_outputs")
        self._written += 1
        if self.read_committed:
            self._open.append(message_id)
        else:
            self.step.apply_now(message_id)  # a read_uncommitted reader sees it at once

    def _commit_transaction(
        self, consumer: KafkaConsumer, records: list[ConsumerRecord]
    ) -> Generator[Any, Any, None]:
        """sendOffsetsToTransaction(offset of each partition's last record + 1), then
        commitTransaction: the coordinator commits the offsets and makes the outputs visible
        together, when the EndTxn request reaches it (after the consumer->broker hop)."""
        draw = self._round_trip
        if not self._ideal_store:  # AddOffsetsToTxn and TxnOffsetCommit, answered in turn
            yield self.env.timeout(sum(draw() for _ in range(ROUND_TRIPS[self.guarantee] - 1)))
        offsets: dict[tuple[str, int], int] = {}
        for record in records:
            tp = (record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        outputs, self._open, self._written = self._open, [], 0
        self.recorder.count("kafka.transactions")
        group = self.cluster.coordinator.group(consumer.group_id, consumer.strategy)
        self.link_out.send(self._committed, group, offsets, outputs)
        if not self._ideal_store:  # commitTransaction returns when EndTxn is answered
            yield self.env.timeout(draw())

    def _committed(
        self, group: Any, offsets: dict[tuple[str, int], int], outputs: list[int]
    ) -> None:
        """The transaction commits: its offsets and its outputs at the same instant."""
        group.commit(offsets)
        for message_id in outputs:
            self.step.apply_now(message_id)

    def _abort(self) -> None:
        """The open transaction is aborted: what it wrote is never committed."""
        if self._written:
            self.recorder.count("kafka.transactions_aborted")
        self._open, self._written = [], 0

    # ----- crashing and coming back -----
    def _crash(self, point: str, message_id: int) -> None:
        self.recorder.count("crashes")
        self.recorder.count(f"crashes.{point}")
        self.recorder.event(self.name, "crash start")
        if self._journal is not None:
            self._journal.append((self.env.now, message_id, f"crash ({point})", self.name, -1))
        raise _Crashed(point)

    def _restart(self) -> None:
        self.recorder.event(self.name, "crash end")
        self.process = self.env.process(self.run())
