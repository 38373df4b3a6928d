"""The Java client's producer and consumer, as the model runs them (Pulsar 4.0.0).

- **Connections** (``ConnectionHandler``): a producer or consumer holds one connection per topic
  partition; when it breaks (the broker died, the backlog quota disconnected a producer, a
  persistence error) it retries after the reconnection backoff (sim/brokers/pulsar/backoff.py),
  to the cluster of the client's service URL (``AutoClusterFailover`` may switch it).
- **Producer** (``ProducerImpl``): messages wait in the batch container up to
  ``batchingMaxPublishDelay`` (or until ``batchingMaxMessages`` / ``batchingMaxBytes``), then go
  as one entry; every sent entry stays *pending* until the broker confirms it, and is sent again
  after a reconnection. A pending message older than ``sendTimeout`` fails, and with it every
  pending message (``ProducerImpl.run``: "Message send timed out. Failing N messages"), with a
  ``TimeoutException``. ``maxPendingMessages`` and the client's ``memoryLimit`` bound the pending
  queue (``ProducerQueueIsFullError``, ``MemoryBufferIsFullError``; or the send waits with
  ``blockIfQueueFull``).
- **Consumer** (``ConsumerImpl``): the broker pushes entries while the consumer has permits; the
  consumer grants ``receiverQueueSize`` at subscribe and gives permits back as the application
  takes messages (``messageProcessed`` -> ``increaseAvailablePermits``: a Flow once half the
  queue is free; ``receiverQueueSize`` 0 is ``ZeroQueueConsumerImpl``: one permit per
  ``receive``). Acks are grouped for ``acknowledgmentGroupTime`` (100 ms) or 1000 acks
  (``PersistentAcknowledgmentsGroupingTracker``); a batch entry is acked when all its messages
  are (``batchIndexAckEnabled=false``). Negative acks come back after
  ``negativeAckRedeliveryDelay`` on the tracker's tick (sim/brokers/pulsar/negative_acks.py);
  unacked messages after ``ackTimeoutMillis`` (sim/brokers/pulsar/acktimeout.py). On Shared and
  Key_Shared the redelivery is of those messages; on Exclusive and Failover of everything unacked
  ("We cannot redeliver single messages if subscription type is not Shared"), the receiver queue
  being cleared. With a ``deadLetterPolicy``, a message received with ``redeliveryCount >=
  maxRedeliverCount`` goes to the dead letter topic instead of being redelivered
  (``processPossibleToDLQ``), and is acked; ``reconsumeLater`` sends a message to the retry
  letter topic with a delay, or to the dead letter topic once its RECONSUMETIMES exceeds
  ``maxRedeliverCount``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from functools import partial
from heapq import heappush
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import NORMAL, PENDING, Timeout

from sim.brokers.pulsar.acktimeout import UnAckedMessageTracker
from sim.brokers.pulsar.backoff import Backoff
from sim.brokers.pulsar.cursor import _NO_REPLAY
from sim.brokers.pulsar.errors import (
    ConsumerBusyException,
    MemoryBufferIsFullError,
    ProducerBlockedQuotaExceededException,
    ProducerQueueIsFullError,
    PulsarClientException,
    TimeoutException,
)
from sim.brokers.pulsar.negative_acks import NegativeAcksTracker
from sim.brokers.pulsar.routing import message_router
from sim.brokers.pulsar.storage import Entry
from sim.brokers.pulsar.subscription import (
    _DEAD_LETTERED,
    BatchItem,
    BrokerConsumer,
    Delivery,
    SharedSubscription,
    SourceAccount,
)
from sim.timer import succeed_now

if TYPE_CHECKING:
    from sim.brokers.pulsar.service import PulsarService, ScenarioTopic, TopicFamily
    from sim.brokers.pulsar.subscription import Subscription
    from sim.brokers.pulsar.topic import PersistentTopic
    from sim.message import Message
    from sim.network import Link

__all__ = ["ClientConsumer", "ClientCore", "ClientProducer", "Connection"]

RECONSUMETIMES = "RECONSUMETIMES"  # RetryMessageUtil.SYSTEM_PROPERTY_RECONSUMETIMES
DELAY_TIME = "DELAY_TIME"  # RetryMessageUtil.SYSTEM_PROPERTY_DELAY_TIME
REAL_TOPIC = "REAL_TOPIC"  # RetryMessageUtil.SYSTEM_PROPERTY_REAL_TOPIC
MAX_ACK_GROUP_SIZE = 1000  # ConsumerConfigurationData.maxAcknowledgmentGroupSize
# What `ClientConsumer._waiter` holds while `read_at_once` sends its Flow: the wake-up event
# is not made unless something must wait on it (see read_at_once).
_AT_ONCE: Any = object()
_new = object.__new__
_GENERAL: Any = object()  # what `ClientConsumer._read_one` returns when it cannot read


class Connection:
    """``ConnectionHandler``: connect, and after a loss reconnect with backoff."""

    __slots__ = ("_backoff", "_token", "core", "epoch", "mandatory_stop", "owner", "state")

    def __init__(self, core: ClientCore, owner: Any, mandatory_stop: float = 0.0) -> None:
        self.core = core
        self.owner = owner
        # ProducerImpl: setMandatoryStop(max(100, sendTimeoutMs - 100)); ConsumerImpl: 0.
        self.mandatory_stop = mandatory_stop
        # Speed: the Backoff is made at the first reconnection (`backoff`); a connection that
        # never breaks, as nearly all of a 10,000-partition topic's, needs none (one fresh
        # Backoff and a reset one behave the same).
        self._backoff: Backoff | None = None
        self.state = "idle"  # idle, connecting, ready, closed
        self.epoch = 0
        self._token = 0

    @property
    def backoff(self) -> Backoff:
        backoff = self._backoff
        if backoff is None:
            backoff = self._backoff = Backoff(
                self.core.random_int, mandatory_stop=self.mandatory_stop
            )
        return backoff

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def open(self) -> None:
        if self.state in ("idle", "closed"):
            self.state = "connecting"
            self._attempt(self._token)

    def lost(self) -> None:
        """The connection broke: reconnect after the backoff (``reconnectLater``)."""
        if self.state != "ready":
            return
        self.state = "connecting"
        self.owner.connection_lost()
        self._schedule()

    def close(self) -> None:
        was_ready = self.state == "ready"
        self.state = "closed"
        self._token += 1
        if was_ready:
            self.owner.connection_lost()

    def _schedule(self) -> None:
        self._token += 1
        token = self._token
        delay = self.backoff.next(self.core.env.now)
        self.core.env.timeout(delay).callbacks.append(lambda _e: self._attempt(token))

    def _attempt(self, token: int) -> None:
        if token != self._token or self.state != "connecting":
            return
        if self.owner.try_connect():
            self.state = "ready"
            self.epoch += 1
            if self._backoff is not None:
                self._backoff.reset()
            self.owner.connection_opened()
        elif self.state == "connecting":
            self._schedule()


class ClientCore:
    """One ``PulsarClient``: its service URL's cluster (``AutoClusterFailover``: probe the
    primary every ``checkInterval``; after ``failoverDelay`` of it unreachable switch to the
    first reachable secondary; back once the primary has been reachable ``switchBackDelay``),
    its network hops and its random draws."""

    def __init__(
        self,
        service: PulsarService,
        name: str,
        cluster: str | None = None,
        secondary: list[str] | None = None,
        failover_delay: float | None = None,
        switch_back_delay: float | None = None,
        check_interval: float = 30.0,
        links: Callable[[str], Link] | None = None,
    ) -> None:
        self.service = service
        self.env = service.env
        self.recorder = service.recorder
        self.name = name
        self.primary = None if cluster is None else service.cluster_by_name[cluster].index
        self.secondary = [service.cluster_by_name[c].index for c in secondary or []]
        self.current: int | None = self.primary
        self.failover_delay = failover_delay
        self.switch_back_delay = switch_back_delay
        self.check_interval = check_interval
        self._links = links
        rng = service.rng(f"pulsar-client:{name}/backoff")
        self.random_int: Callable[[int], int] = lambda n: int(rng.integers(n)) if n > 0 else 0
        self.members: list[Any] = []  # partition producers and consumers
        if self.secondary:
            self.env.process(self._probe())

    def link(self, hop: str) -> Link:
        from sim.distributions import Distribution, Sampler
        from sim.network import Link  # a leaf module; imported here to keep the top light

        if self._links is not None:
            return self._links(hop)
        zero = Distribution.constant(0.0)
        return Link(self.env, zero, Sampler.of(zero, None))

    def cluster_for(self, topic: ScenarioTopic) -> int:
        if self.current is None:
            self.current = self.primary = topic.clusters[0]
        return self.current

    def _probe(self) -> Any:
        """``AutoClusterFailover.run``, every checkInterval."""
        env = self.env
        clusters = self.service.clusters
        failed_at: float | None = None
        recovered_at: float | None = None
        while True:
            yield env.timeout(self.check_interval)
            if self.current is None:
                continue
            if self.current == self.primary:
                if clusters[self.current].reachable:
                    failed_at = None
                    continue
                failed_at = env.now if failed_at is None else failed_at
                if env.now - failed_at >= (self.failover_delay or 0.0):
                    target = next((c for c in self.secondary if clusters[c].reachable), None)
                    if target is not None:
                        self.switch(target)
                        failed_at = None
            else:
                assert self.primary is not None
                if not clusters[self.primary].reachable:
                    recovered_at = None
                    continue
                recovered_at = env.now if recovered_at is None else recovered_at
                if env.now - recovered_at >= (self.switch_back_delay or 0.0):
                    self.switch(self.primary)
                    recovered_at = None

    def switch(self, cluster: int) -> None:
        """``updateServiceUrl``: every connection is closed and made to the new cluster."""
        if cluster == self.current:
            return
        old = self.current
        self.current = cluster
        name = self.service.clusters[cluster].name
        self.recorder.event(self.name, f"fails over to {name}")
        self.recorder.count("pulsar.cluster_switches")
        for member in list(self.members):
            member.switch_cluster(old, cluster)


# ======================================================================= producers
class Op:
    """``OpSendMsg``: one entry (a message or a batch) waiting for the broker's receipt."""

    __slots__ = ("callbacks", "created", "deliver_at", "done", "key", "msgs", "published", "size")

    def __init__(
        self, msgs: tuple[Message, ...], key: str | None, deliver_at: float, created: float
    ) -> None:
        self.msgs = msgs
        self.key = key
        self.deliver_at = deliver_at
        self.created = created
        # Speed: a single message (batching off) needs no generator to sum one size.
        self.size = msgs[0].size if len(msgs) == 1 else sum(m.size for m in msgs)
        self.done = False
        self.published = False
        self.callbacks: list[Callable[[PulsarClientException | None, Any], None]] | None = None


class PartitionProducer:
    """A ``ProducerImpl`` on one partition (or a non-partitioned topic)."""

    # Whether a scenario producer's sends may take `add_direct`'s fused path (see there);
    # False: every send takes the general path (tests compare the two).
    direct = True

    def __init__(self, parent: ClientProducer, family: TopicFamily) -> None:
        self.parent = parent
        self.core = parent.core
        self.family = family
        self.env = self.core.env
        self.recorder = self.core.recorder
        self.conn = Connection(self.core, self, max(0.1, parent.send_timeout - 0.1))
        self.pending: deque[Op] = deque()
        self.batch: list[tuple[Message, Any]] = []
        self.batch_bytes = 0
        self._batch_timer = 0  # token of the armed batch flush timer (0: none)
        self._timeout_armed = False
        self.link = parent.link
        self.topic: PersistentTopic | None = None  # the instance connected to
        self.core.members.append(self)

    # ----- connection -----
    def instance(self) -> PersistentTopic | None:
        cluster = self.core.cluster_for(self.parent.topic)
        return self.family.instances.get(cluster)

    def try_connect(self) -> bool:
        topic = self.instance()
        if topic is None or not topic.available or not topic.cluster.reachable:
            return False
        refused = topic.producer_allowed()
        if refused is not None:
            self.parent.refused(self, refused)
            return False
        self.topic = topic
        topic.producers.append(self)
        return True

    def connection_opened(self) -> None:
        for op in list(self.pending):  # ProducerImpl.resendMessages
            self._transmit(op)

    def connection_lost(self) -> None:
        topic, self.topic = self.topic, None
        if topic is not None and self in topic.producers:
            topic.producers.remove(self)

    def disconnect(self, reason: str) -> None:
        """The broker closed the producer (``Producer.disconnect``)."""
        self.conn.lost()

    def switch_cluster(self, old: int | None, new: int) -> None:
        if self.conn.ready:
            self.conn.lost()

    # ----- sending -----
    def add(self, msg: Message, deliver_at: float = 0.0, callback: Any = None) -> None:
        parent = self.parent
        limit = parent.max_pending
        if (limit and parent.pending_count >= limit) or (
            parent.pending_bytes + msg.size > parent.memory_limit
        ):
            error: PulsarClientException = (
                ProducerQueueIsFullError("Producer send queue is full")
                if limit and parent.pending_count >= limit
                else MemoryBufferIsFullError("Client memory buffer is full")
            )
            if parent.block_if_queue_full:
                parent.blocked.append((self, msg, deliver_at, callback))
                return
            parent.fail([msg], error, [callback] if callback else None)
            return
        parent.pending_count += 1
        parent.pending_bytes += msg.size
        if parent.batching:
            self.batch.append((msg, callback))
            self.batch_bytes += msg.size
            if (
                len(self.batch) >= parent.batch_max_messages
                or self.batch_bytes >= parent.batch_max_bytes
                or deliver_at > 0  # a delayed message is sent on its own (isMultiBatches)
            ):
                self.flush(deliver_at)
            elif len(self.batch) == 1:
                self._arm_batch_timer()
            return
        # Speed: the clock read from SimPy's own field, not through its `now` property (a
        # message each; read_at_once already reads the environment's fields).
        op = Op((msg,), msg.key, deliver_at, self.env._now)
        if callback is not None:
            op.callbacks = [callback]
        self._enqueue(op)

    def add_direct(self, msg: Message) -> None:
        """`add` of a scenario producer's message (no delay, no callback) when the producer
        neither batches nor crosses a hop (`ClientProducer.direct_ok`).

        Speed: the fused path of the ideal case: when nothing is pending, the connection is
        ready and the topic stores the entry at once (`PersistentTopic.store_at_once`), the
        publish, its arrival, its write and its receipt are made here in one step, with no
        `Op`, no `_enqueue`, `_arrive`, `write` or `_persisted` call and no partial (nine
        calls and two objects a message fewer). It does what they do in their order: the
        pending counts go up, the send timeout is armed, the entry is stored and handed on,
        the message is published, the counts go down. Otherwise (or when the topic cannot
        store at once) it is the general path, from the same point. `direct` (a class
        switch) turns it off: tests/test_pulsar_direct_path.py runs both and compares."""
        parent = self.parent
        topic = self.topic
        limit = parent.max_pending
        size = msg.size
        if (
            self.pending
            or parent.blocked
            or topic is None
            or not topic.available
            or self.conn.state != "ready"
            or (limit and parent.pending_count >= limit)
            or parent.pending_bytes + size > parent.memory_limit
        ):
            self.add(msg)
            return
        now = self.env._now
        if not self._timeout_armed:
            self._arm_timeout(now + parent.send_timeout)
        msgs = (msg,)
        # Speed: the pending counts would go up here and down once stored, with nothing in
        # between that reads them (only this producer's own `add`, `add_direct` and
        # `unblock` do, and the store calls none of them): they move only when the entry is
        # not stored at once (four attribute updates a message fewer).
        if topic.store_at_once(msgs, size, msg.key, now) is None:
            # Not stored at once: the general path from `_enqueue` on (the counts up and the
            # timeout armed, as `add` and `_enqueue` leave them).
            parent.pending_count += 1
            parent.pending_bytes += size
            op = Op(msgs, msg.key, 0.0, now)
            self.pending.append(op)
            self._arrive(op, self.conn.epoch)
            return
        # What `_persisted` does for this receipt (the Op was never pending: nothing to pop).
        recorder = self.recorder
        if recorder.trace is None:
            recorder.published += 1  # Speed: `published_message` untraced, inlined (per message)
        else:
            recorder.published_message(msg, parent.topic.declared)
        if parent.blocked:
            parent.unblock()

    def _arm_batch_timer(self) -> None:
        self._batch_timer += 1
        token = self._batch_timer

        def fire(_event: Any) -> None:
            if token == self._batch_timer and self.batch:
                self.flush()

        self.env.timeout(self.parent.batch_delay).callbacks.append(fire)

    def flush(self, deliver_at: float = 0.0) -> None:
        """``batchMessageAndSend``: the batch container becomes one entry
        (``BatchMessageContainerImpl``: the entry carries its first message's key, so a
        Key_Shared subscription routes the whole batch by it), or with
        ``BatcherBuilder.KEY_BASED`` one entry per key, in the order each key first came
        (``BatchMessageKeyBasedContainer``)."""
        batch, self.batch = self.batch, []
        self.batch_bytes = 0
        self._batch_timer += 1
        if not batch:
            return
        groups = [batch]
        if self.parent.key_based and len(batch) > 1:
            by_key: dict[Any, list[tuple[Message, Any]]] = {}
            for item in batch:
                by_key.setdefault(item[0].key, []).append(item)
            groups = list(by_key.values())
        now = self.env.now
        for group in groups:
            msgs = tuple(m for m, _cb in group)
            op = Op(msgs, msgs[0].key, deliver_at, now)
            callbacks = [cb for _m, cb in group if cb is not None]
            if callbacks:
                op.callbacks = callbacks
            self._enqueue(op)

    def _enqueue(self, op: Op) -> None:
        self.pending.append(op)
        if not self._timeout_armed:
            self._arm_timeout(op.created + self.parent.send_timeout)
        conn = self.conn
        if conn.state == "ready":  # Speed: the `ready` property inlined (per message)
            if self.link.instant:  # Speed: `_transmit` inlined
                self._arrive(op, conn.epoch)
            else:
                self.link.send(self._arrive, op, conn.epoch)

    def _transmit(self, op: Op) -> None:
        link = self.link
        if link.instant:
            self._arrive(op, self.conn.epoch)
        else:
            link.send(self._arrive, op, self.conn.epoch)

    def _arrive(self, op: Op, epoch: int) -> None:
        """The publish reaches the broker (``ServerCnx.handleSend`` -> ``publishMessage``)."""
        conn = self.conn
        if epoch != conn.epoch or conn.state != "ready" or op.done:  # (`ready`, inlined)
            return  # lost with a broken connection: resent after the reconnection
        topic = self.topic
        if topic is None or not topic.available:
            self.conn.lost()
            return
        record = Entry(op.msgs, op.size, op.key, op.deliver_at, topic.cluster.index)
        # Speed: a C-level partial, not a lambda: one Python call fewer a message.
        if not topic.write(record, partial(self._persisted, op)):
            # PersistenceError: the client closes the connection and sends again later.
            self.recorder.count("pulsar.persistence_errors")
            self.conn.lost()

    def _persisted(self, op: Op, entry: Any) -> None:
        if entry is None:
            return  # the topic was unloaded first: the message is sent again
        if not op.published:
            op.published = True
            recorder, where = self.recorder, self.parent.topic.declared
            for msg in op.msgs:
                recorder.published_message(msg, where)
        if op.done:
            return
        op.done = True
        parent = self.parent
        parent.pending_count -= len(op.msgs)
        parent.pending_bytes -= op.size
        if self.pending and self.pending[0] is op:
            self.pending.popleft()  # confirmations come in order: the head, as a rule
        elif op in self.pending:
            self.pending.remove(op)
        if op.callbacks:
            for callback in op.callbacks:
                callback(None, entry)
        if parent.blocked:  # Speed: nothing to let in, no call (per message)
            parent.unblock()

    # ----- failures -----
    def _arm_timeout(self, at: float) -> None:
        if self.parent.send_timeout <= 0:
            return
        self._timeout_armed = True
        self.env.timeout(max(0.0, at - self.env.now)).callbacks.append(self._check_timeout)

    def _check_timeout(self, _event: Any) -> None:
        """``ProducerImpl.run``: if the oldest pending message timed out, all of them fail."""
        self._timeout_armed = False
        if not self.pending:
            return
        head = self.pending[0]
        timeout = self.parent.send_timeout
        if head.created + timeout <= self.env.now:
            self.recorder.count("pulsar.send_timeouts")
            self.fail_pending(
                TimeoutException(
                    f"The producer {self.parent.name} can not send message to the topic "
                    f"{self.family.name} within given timeout"
                )
            )
            if self.pending:
                self._arm_timeout(self.pending[0].created + timeout)
        else:
            self._arm_timeout(head.created + timeout)

    def fail_pending(self, error: PulsarClientException) -> None:
        """``failPendingMessages``: every pending entry (and the batch being filled) fails."""
        ops, self.pending = list(self.pending), deque()
        batch, self.batch = self.batch, []
        self.batch_bytes = 0
        parent = self.parent
        for op in ops:
            op.done = True
            parent.pending_count -= len(op.msgs)
            parent.pending_bytes -= op.size
            parent.fail(list(op.msgs), error, op.callbacks)
        if batch:
            parent.pending_count -= len(batch)
            parent.pending_bytes -= sum(m.size for m, _cb in batch)
            parent.fail([m for m, _cb in batch], error, [cb for _m, cb in batch if cb])
        parent.unblock()

    def close(self) -> None:
        self.conn.close()


class ClientProducer:
    """A Java-client ``Producer`` on a topic: a ``PartitionedProducerImpl`` over its partitions
    (router: sim/brokers/pulsar/routing.py) or one ``ProducerImpl``."""

    def __init__(
        self,
        core: ClientCore,
        topic: ScenarioTopic,
        name: str,
        *,
        batching: bool = True,
        batch_delay: float = 0.001,
        batch_max_messages: int = 1000,
        batch_max_bytes: int = 128 * 1024,
        send_timeout: float = 30.0,
        routing_mode: str = "RoundRobinPartition",
        hashing_scheme: str = "JavaStringHash",
        max_pending: int = 0,
        block_if_queue_full: bool = False,
        memory_limit: int = 64 * 1024 * 1024,
        key_based: bool = False,
        link: Link | None = None,
    ) -> None:
        self.core = core
        self.topic = topic
        self.name = name
        self.env = core.env
        self.recorder = core.recorder
        self.batching = batching
        self.batch_delay = batch_delay
        self.batch_max_messages = batch_max_messages
        self.batch_max_bytes = batch_max_bytes
        self.send_timeout = send_timeout
        self.max_pending = max_pending
        self.block_if_queue_full = block_if_queue_full
        self.memory_limit = memory_limit
        self.key_based = key_based  # BatcherBuilder.KEY_BASED
        self.pending_count = 0
        self.pending_bytes = 0
        self.blocked: deque[Any] = deque()
        self.link = link or core.link("producer_to_broker")
        self.partitions = [PartitionProducer(self, f) for f in topic.families]
        self.router = None
        if topic.partitions:
            self.router = message_router(
                routing_mode,
                topic.partitions,
                core.service.rng(f"pulsar-producer:{name}/router"),
                hashing_scheme,
                batching,
                max(1000, round(batch_delay * 1e6)),
            )
        self.on_failure: Callable[[Message, PulsarClientException], None] | None = None
        for partition in self.partitions:
            partition.conn.open()

    def send(self, msg: Message, deliver_at: float = 0.0, callback: Any = None) -> None:
        """``sendAsync``: route the message to its partition and queue it there."""
        router = self.router
        if router is None:
            partition = self.partitions[0]
        else:
            key = msg.key if isinstance(msg.key, str) else None
            partition = self.partitions[
                router.choose_partition(key, self.topic.partitions, self.env.now)
            ]
        partition.add(msg, deliver_at, callback)

    @property
    def direct_ok(self) -> bool:
        """Whether a scenario producer may send through `PartitionProducer.add_direct`: one
        partition, no batching, an instant hop, and the switch on."""
        return (
            PartitionProducer.direct
            and self.router is None
            and len(self.partitions) == 1
            and not self.batching
            and self.link.instant
        )

    def refused(self, partition: PartitionProducer, error: PulsarClientException) -> None:
        """The broker refused to (re)create the producer."""
        self.recorder.count("pulsar.producer_refused")
        if isinstance(error, ProducerBlockedQuotaExceededException):
            # ProducerImpl: "Topic backlog quota exceeded. Throwing Exception on producer."
            self.recorder.count("pulsar.quota_exceptions")
            partition.fail_pending(error)

    def fail(
        self, msgs: list[Message], error: PulsarClientException, callbacks: list[Any] | None
    ) -> None:
        """Sends that fail: the messages never reach the broker (`rejected`), counted by the
        exception the application gets (`pulsar.failed_sends.<exception>`)."""
        recorder, name = self.recorder, self.name
        recorder.count(f"pulsar.failed_sends.{type(error).__name__}", len(msgs))
        for msg in msgs:
            recorder.rejected(msg, name)
            if self.on_failure is not None:
                self.on_failure(msg, error)
        for callback in callbacks or ():
            callback(error, None)

    def unblock(self) -> None:
        """``blockIfQueueFull``: sends waiting for room go in as room frees."""
        while self.blocked:
            if self.max_pending and self.pending_count >= self.max_pending:
                return
            partition, msg, deliver_at, callback = self.blocked[0]
            if self.pending_bytes + msg.size > self.memory_limit:
                return
            self.blocked.popleft()
            partition.add(msg, deliver_at, callback)

    def flush(self) -> None:
        for partition in self.partitions:
            partition.flush()

    def close(self) -> None:
        for partition in self.partitions:
            partition.close()


# ======================================================================= consumers
class PartitionConsumer:
    """A ``ConsumerImpl`` on one partition (or topic): its connection and permits."""

    def __init__(
        self,
        parent: ClientConsumer,
        family: TopicFamily,
        topic: ScenarioTopic,
        account: SourceAccount | None = None,
    ) -> None:
        self.parent = parent
        self.core = parent.core
        self.family = family
        self.scenario_topic = topic
        self.conn = Connection(self.core, self)
        self.handle: BrokerConsumer | None = None
        self.sub: Subscription | None = None
        self.queue_size = parent.partition_queue_size
        self.refill = self.queue_size // 2  # receiverQueueRefillThreshold
        self.available_permits = 0
        if account is None:
            account = self.core.service.account(f"{topic.declared}/{parent.subscription}")
        self.account = account
        self.link_in = parent.link_in
        self.link_out = parent.link_out
        self.error: PulsarClientException | None = None
        self.core.members.append(self)

    def instance(self) -> PersistentTopic | None:
        return self.family.instances.get(self.core.cluster_for(self.scenario_topic))

    def try_connect(self) -> bool:
        topic = self.instance()
        if topic is None or not topic.available or not topic.cluster.reachable:
            return False
        parent = self.parent
        sub = topic.subscriptions.get(parent.subscription)
        if sub is not None and sub.kind != parent.kind:
            self.error = ConsumerBusyException("Subscription is of different type")
            self.conn.close()
            return False
        if sub is not None and sub.kind == "exclusive" and sub.handles:
            self.error = ConsumerBusyException(ConsumerBusyException.EXCLUSIVE_MESSAGE)
            self.conn.close()
            return False
        if sub is None:
            sub = topic.subscription(
                parent.subscription,
                parent.kind,
                self.account,
                self.family.group(parent.subscription),
                parent.initial_position,
                parent.key_shared_mode,
                parent.allow_out_of_order,
            )
        if parent.replicated:
            sub.replicated = True
        self._count_here(sub)
        handle = BrokerConsumer(self, parent.name, parent.priority, self._from_broker)
        self.handle, self.sub = handle, sub
        topic.consumers.append(self)
        sub.add_consumer(handle)
        return True

    def _count_here(self, sub: Subscription) -> None:
        """Report the ready count of the subscription in the cluster this consumer uses."""
        for instance in self.family.instances.values():
            other = instance.subscriptions.get(sub.name)
            if other is not None and other is not sub:
                other.set_counted(False)
        sub.set_counted(True)

    def connection_opened(self) -> None:
        self.available_permits = 0
        if self.queue_size > 0:
            self.send_flow(self.queue_size)
        elif self.parent.waiting_for_message:
            self.send_flow(1)

    def connection_lost(self) -> None:
        """The connection broke (or the consumer closed): the broker drops the consumer and
        redelivers its unacked entries; the client clears what it held of this partition."""
        handle, sub = self.handle, self.sub
        self.handle = self.sub = None
        if handle is not None and sub is not None:
            topic = sub.topic
            if self in topic.consumers:
                topic.consumers.remove(self)
            sub.remove_consumer(handle)
        self.parent.partition_lost(self)

    def disconnect(self, reason: str) -> None:
        self.conn.lost()

    def switch_cluster(self, old: int | None, new: int) -> None:
        if self.conn.ready:
            self.conn.lost()

    # ----- broker -> client -----
    def _from_broker(self, delivery: Delivery) -> None:
        conn = self.conn
        delivery.epoch = conn.epoch
        link = self.link_in
        if link.instant:
            # Speed: `_arrive` inlined: its epoch test holds (the epoch was just set).
            if conn.state == "ready":
                parent = self.parent
                if parent.max_redeliver is not None or delivery.entry.count != 1:
                    parent.enqueue(self, delivery)
                    return
                # Speed: `enqueue`'s usual case inlined (a one-message entry, no
                # redelivery limit to check): a delivery a message.
                parent.incoming.append((self, delivery))
                waiter = parent._waiter
                if waiter is not None:
                    if waiter is _AT_ONCE:  # see `enqueue`
                        parent._waiter = None
                        parent._woken = next(parent.env._eid)
                    elif waiter._value is PENDING:  # (`triggered`, inlined)
                        parent._waiter = None
                        # Speed: `succeed` in one call, not two (sim/timer.py): with
                        # competing consumers, the wake-up of an idle one, most messages.
                        succeed_now(waiter)
        else:
            link.send(self._arrive, delivery)

    def _arrive(self, delivery: Delivery) -> None:
        conn = self.conn
        if delivery.epoch != conn.epoch or conn.state != "ready":  # (`ready`, inlined)
            return  # sent on a connection that broke: the broker has taken it back
        self.parent.enqueue(self, delivery)

    # ----- client -> broker -----
    def send_flow(self, permits: int) -> None:
        conn = self.conn
        if conn.state != "ready":  # (`ready`, inlined: a zero-queue consumer's Flow a message)
            return
        link = self.link_out
        if link.instant:  # Speed: `_out` inlined
            self._flow_arrives(permits, conn.epoch)
        else:
            link.send(self._flow_arrives, permits, conn.epoch)

    def _flow_arrives(self, permits: int, epoch: int) -> None:
        handle, sub = self.handle, self.sub
        if epoch == self.conn.epoch and handle is not None and sub is not None:
            sub.flow(handle, permits)

    def message_processed(self) -> None:
        """``increaseAvailablePermits``: a Flow once half the receiver queue is free."""
        if self.queue_size <= 0:
            return
        self.available_permits += 1
        if self.available_permits >= self.refill:
            permits, self.available_permits = self.available_permits, 0
            self.send_flow(permits)

    def _out(self, fn: Callable[..., None], *args: Any) -> None:
        link = self.link_out
        if link.instant:
            fn(*args)
        else:
            link.send(fn, *args)

    def send_acks(
        self,
        individual: list[int],
        cumulative: int | None,
        landed: Callable[[], None] | None = None,
    ) -> None:
        link = self.link_out
        if link.instant:  # Speed: `_out` inlined (an ack a message without grouping)
            self._acks_arrive(individual, cumulative, landed)
        else:
            link.send(self._acks_arrive, individual, cumulative, landed)

    def _acks_arrive(
        self, individual: list[int], cumulative: int | None, landed: Callable[[], None] | None
    ) -> None:
        core = self.core
        current = core.current  # Speed: `instance` and `cluster_for` inlined (an ack a message)
        if current is None:
            current = core.cluster_for(self.scenario_topic)
        topic = self.family.instances.get(current)
        if topic is None or not topic.available:
            return
        charges = topic.cluster.charges
        if charges is None and cumulative is None and landed is None:
            # Speed: `_acks_handled` inlined for the usual individual acks (no cost model).
            sub = topic.subscriptions.get(self.parent.subscription)
            if sub is not None:
                handle = self.handle if self.sub is sub else None
                for index in individual:
                    sub.ack(handle, index)
            return
        if charges is not None and charges.ack > 0:
            # The cost model: the owning broker's IO threads handle the ack command, `ack` per
            # entry acknowledged (a cumulative ack counts once).
            now = self.core.env.now
            work = charges.ack * (len(individual) + (cumulative is not None))
            at = topic.cluster.io_finish(topic, work)
            if at > now:
                self.core.env.timeout(at - now).callbacks.append(
                    lambda _event: self._acks_handled(individual, cumulative, landed)
                )
                return
        # Speed: handled at once, the instance just looked up is the one to use.
        self._acks_handled(individual, cumulative, landed, topic)

    def _acks_handled(
        self,
        individual: list[int],
        cumulative: int | None,
        landed: Callable[[], None] | None,
        topic: PersistentTopic | None = None,
    ) -> None:
        if topic is None:
            topic = self.instance()
            if topic is None or not topic.available:
                return
        sub = topic.subscriptions.get(self.parent.subscription)
        if sub is None:
            return
        handle = self.handle if self.sub is sub else None
        for index in individual:
            sub.ack(handle, index)
        if cumulative is not None:
            sub.ack_cumulative(handle, cumulative)
        if landed is not None:
            landed()  # the ack receipt (isAckReceiptEnabled)

    def send_redeliver(self, indexes: list[int] | None) -> None:
        """``CommandRedeliverUnacknowledgedMessages`` (all when `indexes` is None)."""
        if self.conn.ready:
            self._out(self._redeliver_arrives, indexes, self.conn.epoch)

    def _redeliver_arrives(self, indexes: list[int] | None, epoch: int) -> None:
        handle, sub = self.handle, self.sub
        if epoch != self.conn.epoch or handle is None or sub is None:
            return
        if indexes is None:
            sub.redeliver_all(handle)
        else:
            sub.redeliver(handle, indexes)

    def close(self) -> None:
        self.conn.close()


class ClientConsumer:
    """A Java-client ``Consumer``: one partition consumer per partition (and, with
    ``retryEnable``, one on the retry letter topic), one receiver queue for the application,
    the ack grouping, negative-ack and ack-timeout trackers, and the dead letter policy."""

    # Whether `read_at_once` may read through `_read_one`'s fused path (see there); False
    # (tests only) keeps the dispatcher's general read.
    fused_read = True
    # Whether that fused read also serves a consumer of a shared subscription with several
    # consumers, when no other one is available (see `_read_one`); False (tests only) keeps
    # it for a lone consumer, the others taking the general read.
    fused_read_shared = True
    # Whether `_read_one` also serves a read that finds nothing (the consumer then waits);
    # False (tests only) gives it to the general read.
    fused_idle = True

    def __init__(
        self,
        core: ClientCore,
        topic: ScenarioTopic,
        subscription: str,
        name: str,
        *,
        kind: str = "exclusive",
        receiver_queue_size: int = 1000,
        max_total_receiver_queue_size: int = 50_000,
        ack_timeout: float = 0.0,
        tick_duration: float = 1.0,
        negative_ack_redelivery_delay: float = 60.0,
        ack_group_time: float = 0.1,
        priority: int = 0,
        initial_position: str = "Latest",
        key_shared_mode: str = "consistent_hashing",
        allow_out_of_order: bool = False,
        dead_letter: dict[str, Any] | None = None,
        retry_enable: bool = False,
        replicated: bool = False,
        link_in: Link | None = None,
        link_out: Link | None = None,
    ) -> None:
        self.core = core
        self.env = core.env
        self.recorder = core.recorder
        self.service = core.service
        self.topic = topic
        self.subscription = subscription
        self.name = name
        self.kind = kind
        self.individual = kind in ("shared", "key_shared")
        self.priority = priority
        self.initial_position = initial_position
        self.key_shared_mode = key_shared_mode
        self.allow_out_of_order = allow_out_of_order
        self.replicated = replicated
        self.link_in = link_in or core.link("broker_to_consumer")
        self.link_out = link_out or core.link("consumer_to_broker")
        self.incoming: deque[tuple[PartitionConsumer, Any]] = deque()
        self.waiting_for_message = False
        self._waiter: simpy.Event | None = None
        self._prepared: simpy.Event | None = None  # made by read_at_once, for `wait`
        self._woken: int | None = None  # the wake-up's event id (read_at_once, enqueue)
        # The event `_read_one` re-arms for an idle wait: made processed, so free to use.
        self._idle_event = _new(simpy.Event)
        self._idle_event.env = self.env
        self._idle_event.callbacks = None
        # Dead letter and retry letter topics (ConsumerImpl: "<topic>-<subscription>-DLQ").
        self.dead_letter = dead_letter
        self.retry_enable = retry_enable
        self.max_redeliver = None
        self.dlq_topic: str | None = None
        self.retry_topic: str | None = None
        if dead_letter is not None or retry_enable:
            policy = dead_letter or {}
            self.max_redeliver = policy.get("maxRedeliverCount") or 16  # MAX_RECONSUMETIMES
            base = topic.declared
            self.dlq_topic = policy.get("deadLetterTopic") or f"{base}-{subscription}-DLQ"
            self.retry_topic = policy.get("retryLetterTopic") or f"{base}-{subscription}-RETRY"
            initial = policy.get("initialSubscriptionName")
            self._dlq_initial = initial
        topics = [topic]
        if retry_enable and self.retry_topic is not None:
            topics.append(self.service.topic(self.retry_topic))
        families = [(f, t) for t in topics for f in t.families]
        self.receiver_queue_size = receiver_queue_size
        if len(families) > 1:
            # MultiTopicsConsumerImpl: min(receiverQueueSize, maxTotal / partitions)
            self.partition_queue_size = min(
                receiver_queue_size, max_total_receiver_queue_size // len(families)
            )
        else:
            self.partition_queue_size = receiver_queue_size
        # Speed: one source account per topic, looked up once, not per partition.
        accounts = {id(t): self.service.account(f"{t.declared}/{subscription}") for t in topics}
        self.partitions = [PartitionConsumer(self, f, t, accounts[id(t)]) for f, t in families]
        # Speed: what `read_at_once` and `_read_one` ask of the consumer's build at every read,
        # asked once (none of it changes after the build): no receiver queue, one partition,
        # instant hops both ways, no redelivery limit.
        one = self.partitions[0] if len(self.partitions) == 1 else None
        self._reads_at_once = (
            one is not None and self.partition_queue_size == 0 and one.link_out.instant
        )
        self._reads_fused = (
            self._reads_at_once
            and one is not None
            and one.link_in.instant
            and self.max_redeliver is None
        )
        # Acknowledgements.
        self.ack_group_time = ack_group_time
        self._acks: dict[PartitionConsumer, list[int]] = {}
        self._cumulative: dict[PartitionConsumer, int] = {}
        self._ack_count = 0
        self._ack_timer = False
        self.nacks: NegativeAcksTracker[tuple[PartitionConsumer, Delivery]] = NegativeAcksTracker(
            negative_ack_redelivery_delay
        )
        self.unacked: UnAckedMessageTracker[tuple[PartitionConsumer, Delivery]] | None = None
        if ack_timeout > 0:
            self.unacked = UnAckedMessageTracker(ack_timeout, tick_duration, self.env.now)
            self._arm_ack_timeout()
        self.closed = False

    # ----- subscribing -----
    def subscribe(self) -> None:
        self.closed = False
        for partition in self.partitions:
            partition.conn.open()

    @property
    def error(self) -> PulsarClientException | None:
        return next((p.error for p in self.partitions if p.error is not None), None)

    def close(self) -> None:
        """Close (or crash): every partition's connection goes, with what the client held."""
        self.closed = True
        for partition in self.partitions:
            partition.close()
        self._acks.clear()
        self._cumulative.clear()
        self._ack_count = 0
        self.nacks = NegativeAcksTracker(self.nacks.delay)
        if self.unacked is not None:
            self.unacked.clear()

    def partition_lost(self, partition: PartitionConsumer) -> None:
        """``clearIncomingMessages`` for that partition (the broker redelivers them)."""
        if any(p is partition for p, _item in self.incoming):
            self.incoming = deque((p, i) for p, i in self.incoming if p is not partition)

    # ----- receiving -----
    def enqueue(self, partition: PartitionConsumer, delivery: Delivery) -> None:
        count = len(delivery.msgs)
        if self.max_redeliver is not None and delivery.redelivery_count > self.max_redeliver:
            # ConsumerImpl.messageReceived: over the limit, straight to the dead letter topic.
            self._dead_letter(partition, delivery)
            for _ in range(count):
                partition.message_processed()
            return
        if count == 1:
            self.incoming.append((partition, delivery))
        else:
            for i in range(count):
                self.incoming.append((partition, BatchItem(delivery, i)))
        waiter = self._waiter
        if waiter is not None:
            if waiter is _AT_ONCE:
                # Speed: read_at_once's Flow brought it. The wake-up `succeed` would schedule
                # now is not made: only the event id its schedule would take is (read_at_once
                # makes the event with that id if the consumer must wait for it after all).
                self._waiter = None
                self._woken = next(self.env._eid)
            elif not waiter.triggered:
                self._waiter = None
                waiter.succeed()

    def receive_now(self) -> tuple[PartitionConsumer, Any] | None:
        """A message from the receiver queue if one is there (``internalReceive``)."""
        if not self.incoming:
            return None
        partition, item = self.incoming.popleft()
        if partition.queue_size > 0:  # Speed: a zero-queue consumer sends no Flow for it
            partition.message_processed()
        if self.unacked is not None:
            self.unacked.add((partition, item.delivery))
        self.waiting_for_message = False
        return partition, item

    def read_at_once(self) -> tuple[PartitionConsumer, Any] | None:
        """What `wait` and the receive after it come to, made now where that changes no
        order: the message the zero-queue consumer's Flow brings, or None (then `wait` gives
        the event the Flow left waiting).

        Speed: `wait`'s Flow schedules the dispatcher's read for the end of the instant, and
        the delivery wakes the consumer by an event of its own: two event steps a message.
        Done here instead when those two are provably the next events anyway: nothing else
        is due at this instant (the heap's head is later), there is one partition (one
        Flow), and the consumer's process was resumed by a timeout only it waits on (its
        service time: no other callback runs after it in this step). Then the read happens
        now, and if the wake-up event it scheduled is the heap's head, it is taken off and
        the consumer goes on at once, as that step would have it do."""
        env = self.env
        queue = env._queue  # SimPy's event heap: (time, priority, id, event)
        now = env._now  # Speed: SimPy's fields, not its properties (`now`, `active_process`)
        if (
            self.waiting_for_message
            or not self._reads_at_once  # (a receiver queue, partitions, a hop: see __init__)
            or (queue and queue[0][0] <= now)
        ):
            return None
        process = env._active_proc
        if process is None or type(process._target) is not Timeout:
            return None
        partition = self.partitions[0]
        sub, handle = partition.sub, partition.handle
        if sub is None or handle is None or partition.conn.state != "ready":
            return None
        if self._reads_fused and ClientConsumer.fused_read and sub.__class__ is SharedSubscription:
            got = self._read_one(partition, sub, handle, queue, now)
            if got is not _GENERAL:
                return got
        self._waiter = _AT_ONCE  # before the Flow: the broker answers at once
        self.waiting_for_message = True
        sub.read_now = True
        try:
            # send_flow and _flow_arrives on an instant link, then the subscription's Flow.
            limit = sub.max_unacked_consumer
            if (
                handle.sub is sub
                and not handle.blocked
                and not sub._read_scheduled
                and not (sub.individual_ack and limit and handle.unacked >= limit)
            ):
                # Speed: `Subscription.flow`'s usual case inlined (a read a message): the
                # permit, the consumer's availability, and the dispatch at once that
                # `read_now` makes.
                handle.permits += 1
                now_available = handle.permits > 0
                if now_available is not handle.avail:
                    handle.avail = now_available
                    sub.available += 1 if now_available else -1
                sub.dispatch()
            else:
                sub.flow(handle, 1)
        finally:
            sub.read_now = False
        eid = self._woken
        if eid is None:  # nothing came yet: the consumer waits for the Flow's message
            event = self._waiter = env.event()
            self._prepared = event
            return None
        self._woken = None
        # Speed: what the wake-up event `enqueue` did not make would have been: its heap entry
        # (now, NORMAL, eid). First in the heap, it would be popped at once, never processed:
        # the consumer goes on now (no event made, scheduled, popped). Else it is made now,
        # triggered, and put in the heap with that entry, as `succeed` would have put it.
        # Speed: a head due later is told by its time alone (no entry tuple made to compare).
        if not queue or queue[0][0] > now or (now, NORMAL, eid) < queue[0]:
            # Speed: `receive_now` inlined (the Flow's message is in the queue: a message
            # each); a zero-queue consumer sends no Flow for it.
            got = self.incoming.popleft()
            if self.unacked is not None:
                self.unacked.add((partition, got[1].delivery))
            self.waiting_for_message = False
            return got
        event = simpy.Event(env)
        event._ok = True
        event._value = None
        heappush(queue, (now, NORMAL, eid, event))
        self._prepared = event
        return None

    def _read_one(
        self,
        partition: PartitionConsumer,
        sub: SharedSubscription,
        handle: BrokerConsumer,
        queue: list[Any],
        now: float,
    ) -> Any:
        """`read_at_once`'s Flow and read, fused, when the consumer is the shared
        subscription's only one (or, `fused_read_shared`, the only one available: see
        below), its Flow the usual one (not blocked, its permit the only
        one) and the next entry one message the group has as its copy, untraced, with nothing
        delayed, replayed or acked out of order on the way: the Flow (`Subscription.flow`),
        the read (`SharedSubscription.dispatch`), the send (`Subscription.send`) and the
        delivery's arrival (`PartitionConsumer._from_broker`, `enqueue`) in one step.
        Returns what `read_at_once` returns; `_GENERAL`, with nothing done, when any of that
        does not hold (then `read_at_once` takes its general path).

        Speed: four calls a message fewer, and what they set only for one another: the
        `_AT_ONCE` waiter, the `read_now` flag, the waiting flag, the permit that comes and
        goes, the receiver-queue append and pop while the consumer goes on at once, the len()
        of the consumers and the entries. The rest in the same order: the read position
        moves on, the delivery is made and counted, the consumer is no longer available, the
        message counted delivered, its epoch set, the wake-up's event id taken (see
        `read_at_once` for the wake-up). `dispatch` would go round again only while a consumer
        is available: its one available consumer's permit is used, so it would end.
        `fused_read` (a class switch) turns it off, `fused_read_shared` for several consumers
        only: tests/test_pulsar_direct_path.py and tests/test_pulsar_shared_reads.py run both
        and compare."""
        cursor = sub.cursor
        limit = sub.max_unacked_consumer
        if (
            handle.sub is not sub
            or handle.blocked
            or handle.permits != 0
            or sub._read_scheduled
            or (limit and handle.unacked >= limit)  # (a shared subscription acks individually)
            or sub.blocked
            or sub.delayed_set
            or cursor._replay is not _NO_REPLAY
            or sub.dispatch_cost is not None
        ):
            return _GENERAL
        # `next_entry`'s usual case, as `dispatch` inlines it.
        position = cursor.read_position
        if position <= cursor.mark_delete:
            position = cursor.mark_delete + 1
        if cursor._acked and position <= cursor._acked_end:
            return _GENERAL  # (a lookup to make: the general read)
        storage = sub.topic.storage
        handles = sub.handles
        if position > storage.ledger.next_entry - 1:
            # Nothing to read: the Flow's permit stays and the consumer waits for an entry.
            if not ClientConsumer.fused_idle or (len(handles) == 1 and handles[0] is not handle):
                return _GENERAL
            # Speed: what the general read comes to then, made without the Flow's and the
            # dispatch's calls (with competing consumers, most reads: a consumer that is done
            # finds the backlog empty): the permit, the consumer available, the read position
            # where `dispatch` leaves it (its test for nothing to read, before any pick, with
            # several consumers; its read finding nothing, which puts the round-robin index
            # back, with one), and the wake-up event the consumer waits on.
            handle.permits = 1
            if not handle.avail:
                handle.avail = True
                sub.available += 1
            cursor.read_position = position
            self.waiting_for_message = True
            # Speed: the wait is on one re-armed event (see sim/timer.py), not a new one each
            # time the consumer goes idle (with competing consumers, most messages): once
            # processed (its callbacks gone) nothing holds it, so it is reset to pending, as a
            # new event is. One still pending (a crash left it untriggered, or it is in the
            # queue) is left alone: a new event then, made by setting its two fields, as
            # `Event.__init__` does.
            event = self._idle_event
            if event.callbacks is None:
                event.callbacks = []
                event._value = PENDING
            else:
                event = self._idle_event = _new(simpy.Event)
                event.env = self.env
                event.callbacks = []
            self._waiter = self._prepared = event
            return None
        if len(handles) == 1:
            if handles[0] is not handle:
                return _GENERAL
            round_robin = 1
        elif sub.available != handle.avail or not ClientConsumer.fused_read_shared:
            # Another consumer is available: `next_consumer`'s round robin picks among them.
            return _GENERAL
        else:
            # No other consumer is available (with competing consumers, the usual case when
            # the backlog is not empty: an available one would have been sent the entry), so
            # after its Flow this consumer is the only one `next_consumer` can pick, whatever
            # the round-robin index and priority levels: the index becomes its place + 1
            # (``AbstractDispatcherMultipleConsumers.getNextConsumer``, Pulsar 4.0.0:
            # ``currentConsumerRoundRobinIndex = availableConsumerIndex + 1``). Speed: the
            # general read's dispatch, pick (a walk over the consumers), send and arrival are
            # skipped for every message read off a backlog by a competing consumer. Its place
            # is kept on it (`SharedSubscription.placed`): no scan of the list a read.
            if SharedSubscription.placed:
                round_robin = handle.place + 1
            else:
                round_robin = handles.index(handle) + 1
        offset = position - storage.first
        entries = storage.entries
        if not 0 <= offset < len(entries):
            return _GENERAL
        entry = entries[offset]
        if entry.__class__ is not Entry:
            entry = storage.unsettle(offset)  # a settled entry: its Entry back (`get`)
        record = entry.record or entry
        recorder = sub.recorder
        if entry.count != 1 or record.taker != sub.group or recorder.trace is not None:
            return _GENERAL
        # The Flow's permit, used at once by the send: the consumer ends not available (it
        # was made available by the permit, then not by the send).
        if handle.avail:
            handle.avail = False
            sub.available -= 1
        # What `dispatch` does for its one pick: the round-robin index, the read position.
        sub.round_robin = round_robin
        cursor.read_position = position + 1
        # `send`, for one message of the group's own copy on the ideal broker.
        msgs = record.msgs
        # Speed: the Delivery made without its class call and `__init__` (see
        # `PersistentTopic.store_at_once`): every slot set once, as `Delivery(entry, msgs,
        # sub, handle)`, `send` and `_from_broker` leave it.
        delivery = _new(Delivery)
        delivery.released = False
        delivery.entry = entry
        delivery.msgs = msgs
        delivery.sub = sub
        delivery.handle = handle
        delivery.index = index = entry.index
        delivery.done = 0
        delivery.acked = 0
        delivery.returned = False
        delivery.redelivery_count = cursor.redelivery_count(index) if cursor._redelivery else 0
        handle.unacked += 1
        sub.unacked += 1
        if limit and handle.unacked >= limit:
            handle.blocked = True
        if sub.max_unacked_subscription and sub.unacked >= sub.max_unacked_subscription:
            sub.blocked = True
        handle.pending[index] = delivery
        account = sub.account
        account.in_flight += 1
        sub.ready -= 1
        if sub.counted:
            recorder.ready_values[account.slot] -= 1
            total = recorder.ready_total - 1
            recorder.ready_total = total
            if total > recorder.max_queue_depth:
                recorder.max_queue_depth = total
        msg = msgs[0]
        deliveries = msg.deliveries = msg.deliveries + 1
        if deliveries > 1 or msg.state is _DEAD_LETTERED:
            recorder.delivered_message(msg, account.name)
        else:
            recorder.delivered += 1
        # `_from_broker` on an instant hop, its connection ready, a one-message entry and no
        # redelivery limit: for the receiver queue, the wake-up by its event id.
        delivery.epoch = partition.conn.epoch
        self._waiter = self._woken = None
        eid = next(self.env._eid)
        got = (partition, delivery)
        if not queue or queue[0][0] > now or (now, NORMAL, eid) < queue[0]:
            if self.unacked is not None:
                self.unacked.add(got)
            return got
        self.incoming.append(got)
        self.waiting_for_message = True
        event = simpy.Event(self.env)
        event._ok = True
        event._value = None
        heappush(queue, (now, NORMAL, eid, event))
        self._prepared = event
        return None

    def wait(self) -> simpy.Event:
        """An event that fires when a message may be there; a zero-queue consumer asks the
        broker for one (``ZeroQueueConsumerImpl.fetchSingleMessageFromBroker``)."""
        prepared = self._prepared
        if prepared is not None:  # read_at_once sent the Flow already
            self._prepared = None
            return prepared
        event = self.env.event()
        if self.incoming:
            event.succeed()
            return event
        self._waiter = event  # before the Flow: the broker may answer at once
        if self.partition_queue_size == 0 and not self.waiting_for_message:
            self.waiting_for_message = True
            for partition in self.partitions:
                partition.send_flow(1)
        return event

    # ----- acknowledging -----
    def acknowledge(self, partition: PartitionConsumer, item: Any) -> None:
        self.acknowledge_received((partition, item))

    def acknowledge_received(self, got: tuple[PartitionConsumer, Any]) -> None:
        """`acknowledge` of what `receive_now` gave (a partition and its item): the form the
        consumer cycle settles a delivery in (PulsarConsumer binds it as its `settle`)."""
        partition, item = got
        if not item.released:  # Speed: `finish` released it, as a rule
            item.release()  # acked: no longer in flight, processed or not
        # Speed: a one-message entry is its own delivery (what the `delivery` property
        # returns), told by its class without the property's call (an ack a message).
        delivery: Delivery = item if item.__class__ is Delivery else item.delivery
        delivery.acked += 1
        nacks = self.nacks
        if nacks.pending:  # Speed: no key to make and forget while nothing is nacked
            nacks.remove((partition, delivery))
        # Speed: the entry's count is its messages' (every group's copy has as many), read
        # without a len() call (an ack a message).
        if delivery.acked < delivery.entry.count:
            return  # BatchMessageAcker: the entry is acked when every message is
        if self.unacked is not None:
            self.unacked.remove((partition, delivery))
        if (
            self.ack_group_time <= 0
            and not self._acks
            and not self._cumulative
            and partition.conn.state == "ready"
        ):
            # Speed: acks not grouped and none waiting: the flush would send this one ack of
            # this partition at once, and leave nothing behind, so it is sent without it
            # (and on an instant link, `send_acks` inlined).
            if partition.link_out.instant:
                # Speed: `_acks_arrive`'s usual case inlined (the client's cluster chosen, its
                # instance up, no cost model): the ack goes to the subscription with no
                # one-index list (an ack a message).
                current = partition.core.current
                if current is not None:
                    topic = partition.family.instances.get(current)
                    if topic is not None and topic.available and topic.cluster.charges is None:
                        sub = topic.subscriptions.get(self.subscription)
                        if sub is not None:
                            handle = partition.handle if partition.sub is sub else None
                            sub.ack(handle, delivery.index)
                        return
                partition._acks_arrive([delivery.index], None, None)
            else:
                partition.send_acks([delivery.index], None)
            return
        self._acks.setdefault(partition, []).append(delivery.index)
        self._ack_added()

    def acknowledge_now(
        self, partition: PartitionConsumer, item: Any, landed: Callable[[], None] | None = None
    ) -> bool:
        """``acknowledge`` with an ack receipt (``isAckReceiptEnabled``): the ack is sent at
        once, not grouped; `landed()` runs when the broker has it. True when it landed at once.
        A message of a batch is acked with its entry, once every message of it is."""
        item.release()
        delivery: Delivery = item.delivery
        delivery.acked += 1
        key = (partition, delivery)
        self.nacks.remove(key)
        if delivery.acked < len(delivery.msgs):
            return False
        if self.unacked is not None:
            self.unacked.remove(key)
        if not partition.conn.ready:
            self._acks.setdefault(partition, []).append(delivery.index)
            self._ack_added()
            return False
        partition.send_acks([delivery.index], None, landed)
        return partition.link_out.instant

    def acknowledge_cumulative(self, partition: PartitionConsumer, item: Any) -> None:
        item.release()
        delivery: Delivery = item.delivery
        index = delivery.index
        if item.i < len(delivery.msgs) - 1:
            index -= 1  # a cumulative ack inside a batch covers the entries before it
        if index < 0:
            return
        current = self._cumulative.get(partition, -1)
        if index > current:
            self._cumulative[partition] = index
        self._ack_added()

    def _ack_added(self) -> None:
        self._ack_count += 1
        if self.ack_group_time <= 0 or self._ack_count >= MAX_ACK_GROUP_SIZE:
            self.flush_acks()
        elif not self._ack_timer:
            self._ack_timer = True
            self.env.timeout(self.ack_group_time).callbacks.append(self._ack_tick)

    def _ack_tick(self, _event: Any) -> None:
        self._ack_timer = False
        self.flush_acks()

    def flush_acks(self) -> None:
        """``PersistentAcknowledgmentsGroupingTracker.flush`` (acks wait while disconnected)."""
        if not self._acks and not self._cumulative:
            self._ack_count = 0
            return
        keep_acks: dict[PartitionConsumer, list[int]] = {}
        keep_cumulative: dict[PartitionConsumer, int] = {}
        for partition in self.partitions:
            individual = self._acks.get(partition)
            cumulative = self._cumulative.get(partition)
            if individual is None and cumulative is None:
                continue
            if not partition.conn.ready:
                if individual:
                    keep_acks[partition] = individual
                if cumulative is not None:
                    keep_cumulative[partition] = cumulative
                continue
            partition.send_acks(individual or [], cumulative)
        self._acks, self._cumulative = keep_acks, keep_cumulative
        self._ack_count = sum(len(v) for v in keep_acks.values()) + len(keep_cumulative)
        if self._ack_count and not self._ack_timer and self.ack_group_time > 0:
            self._ack_timer = True
            self.env.timeout(self.ack_group_time).callbacks.append(self._ack_tick)

    # ----- negative acks and the ack timeout -----
    def negative_acknowledge(self, partition: PartitionConsumer, item: Any) -> None:
        key = (partition, item.delivery)
        if self.unacked is not None:
            self.unacked.remove(key)
        tracker = self.nacks
        tick_at = tracker.add(key, self.env.now)
        if tick_at is not None:
            self._arm_nack_tick(tracker, tick_at)

    def _arm_nack_tick(self, tracker: NegativeAcksTracker[Any], at: float) -> None:
        def tick(_event: Any) -> None:
            if tracker is not self.nacks:
                return  # the consumer closed: its tracker (and timer) went with it
            due, next_tick = tracker.tick(self.env.now)
            if due:
                self.redeliver(due)
            if next_tick is not None:
                self._arm_nack_tick(tracker, next_tick)

        self.env.timeout(max(0.0, at - self.env.now)).callbacks.append(tick)

    def _arm_ack_timeout(self) -> None:
        tracker = self.unacked
        assert tracker is not None
        self.env.timeout(max(0.0, tracker.next_tick - self.env.now)).callbacks.append(
            self._ack_timeout_tick
        )

    def _ack_timeout_tick(self, _event: Any) -> None:
        tracker = self.unacked
        if tracker is None:
            return
        timed_out = tracker.tick()
        if timed_out:
            self.recorder.count("pulsar.ack_timeouts", len(timed_out))
            self.redeliver(timed_out)
        self._arm_ack_timeout()

    def redeliver(self, keys: list[tuple[PartitionConsumer, Delivery]]) -> None:
        """``redeliverUnacknowledgedMessages(messageIds)``."""
        if not self.individual:
            # Exclusive / Failover: everything unacked, the receiver queue cleared.
            for partition in {p for p, _d in keys}:
                self.incoming = deque((p, i) for p, i in self.incoming if p is not partition)
                partition.send_redeliver(None)
            return
        by_partition: dict[PartitionConsumer, list[int]] = {}
        seen: set[int] = set()
        for partition, delivery in keys:
            if id(delivery) in seen or delivery.returned:
                continue
            seen.add(id(delivery))
            limit = self.max_redeliver
            if (
                self.dead_letter is not None
                and limit is not None
                and delivery.redelivery_count >= limit
            ):
                self._dead_letter(partition, delivery)  # processPossibleToDLQ
                continue
            by_partition.setdefault(partition, []).append(delivery.index)
        for partition, indexes in by_partition.items():
            partition.send_redeliver(indexes)

    # ----- dead letter and retry letter topics -----
    def _dead_letter(self, partition: PartitionConsumer, delivery: Delivery) -> None:
        """Send the entry's messages to the dead letter topic, then ack it."""
        if self.dlq_topic is None:
            return
        self.recorder.count("pulsar.dead_lettered", len(delivery.msgs))
        recorder = self.recorder
        for msg in delivery.msgs:
            recorder.dead_lettered(msg, self.dlq_topic)
        for _ in range(len(delivery.msgs) - delivery.done):
            delivery.finish_one()  # no longer in flight: it is in the dead letter topic
        self.service_publish(self.dlq_topic, delivery.msgs, delivery.entry.key, 0.0, fresh=False)
        self._acks.setdefault(partition, []).append(delivery.index)
        self._ack_added()

    def reconsume_later(self, partition: PartitionConsumer, item: Any, delay: float) -> None:
        """``reconsumeLater(msg, delay)``: to the retry topic (RECONSUMETIMES + 1), or to the
        dead letter topic once RECONSUMETIMES exceeds maxRedeliverCount; the message is acked."""
        msg: Message = item.msg
        headers = dict(msg.headers or {})
        times = int(headers.get(RECONSUMETIMES, 0)) + 1
        headers[RECONSUMETIMES] = str(times)
        headers[DELAY_TIME] = str(int(max(delay, 0.0) * 1000))
        headers.setdefault(REAL_TOPIC, self.topic.declared)
        msg.headers = headers
        assert self.max_redeliver is not None and self.retry_topic is not None
        if times > self.max_redeliver and self.dlq_topic is not None:
            self.recorder.count("pulsar.dead_lettered")
            self.recorder.dead_lettered(msg, self.dlq_topic)
            self.service_publish(self.dlq_topic, (msg,), msg.key, 0.0, fresh=False)
        else:
            self.recorder.count("pulsar.reconsumed_later")
            self.recorder.requeued_message(msg, self.retry_topic)
            deliver_at = self.env.now + max(delay, 0.0)
            self.service_publish(self.retry_topic, (msg,), msg.key, deliver_at, fresh=True)
        self.acknowledge(partition, item)

    def service_publish(
        self,
        topic_name: str,
        msgs: tuple[Message, ...],
        key: Any,
        deliver_at: float,
        fresh: bool,
    ) -> None:
        """The client's dead-letter (or retry) producer publishes `msgs` as one entry."""
        scenario_topic = self.service.topic(topic_name)
        family = scenario_topic.families[0]
        cluster = self.core.cluster_for(scenario_topic)
        instance = family.instances.get(cluster)
        if instance is None:
            return
        if not fresh and self._dlq_initial and self._dlq_initial not in instance.subscriptions:
            # DeadLetterPolicy.initialSubscriptionName: the DLQ producer creates it.
            account = self.service.account(f"{scenario_topic.declared}/{self._dlq_initial}")
            instance.subscription(
                self._dlq_initial, "exclusive", account, family.group(self._dlq_initial), "Earliest"
            )
        record = Entry(
            msgs,
            sum(m.size for m in msgs),
            key if isinstance(key, str) else None,
            deliver_at,
            instance.cluster.index,
        )
        if not instance.available or not instance.write(record, lambda _entry: None):
            self.recorder.count("pulsar.letter_publish_failed", len(msgs))
            if fresh:
                for msg in msgs:
                    self.recorder.lost(msg, topic_name)

    _dlq_initial: str | None = None

    def partition_of(self, item: Any) -> PartitionConsumer:
        for partition in self.partitions:
            if partition.sub is item.delivery.sub:
                return partition
        return self.partitions[0]


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)
