"""A Pulsar cluster: stateless brokers that own namespace bundles, and its BookKeeper bookies.

- **Bundles.** A namespace's topics are spread over ``defaultNumberOfNamespaceBundles`` (4)
  bundles by a hash of the topic name into equal ranges (``NamespaceBundles.findBundle``); a
  bundle is owned by one broker, which serves all its topics. (Which broker is the load
  manager's choice, ``ModularLoadManagerImpl``; the model spreads bundles round-robin at start
  and gives a moved bundle to the live broker with the fewest.)
- **A broker dies.** Its ownership is an ephemeral lock in the metadata store: it disappears
  only when the broker's session expires, ``metadataStoreSessionTimeoutMillis`` (30 s) after the
  crash. Then another broker takes the bundle and loads its topics (``topic_load_time``):
  managed ledgers recover from BookKeeper, cursors from their last persisted positions. Until
  then clients cannot connect (their lookups lead to the dead broker) and retry with backoff.
  Brokers keep no messages: nothing is lost, but acks not yet persisted are redone.
- **Periodic work** runs per cluster on every loaded topic: the retention check
  (``retentionCheckIntervalInSeconds``: idle rollover and trimming), message expiry
  (``messageExpiryCheckIntervalInMinutes``), the backlog quota check
  (``backlogQuotaCheckIntervalInSeconds``), and cursor persistence at most
  ``managedLedgerDefaultMarkDeleteRateLimit`` times a second.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.pulsar.bookkeeper import BookKeeperCluster, LedgerWriter
from sim.faults import CrashOnly

if TYPE_CHECKING:
    from sim.brokers.pulsar.charges import ClusterCharges
    from sim.brokers.pulsar.service import PulsarService
    from sim.brokers.pulsar.topic import PersistentTopic

__all__ = ["BrokerNode", "Cluster", "ClusterNode"]


class BrokerNode(CrashOnly):
    """One broker process, a crash-only fault target (`broker.N`)."""

    def __init__(self, cluster: Cluster, index: int, name: str) -> None:
        self.cluster = cluster
        self.index = index
        self.name = name
        self.alive = True

    def crash(self) -> None:
        if self.alive:
            self.alive = False
            self.cluster.alive_brokers -= 1
            self.cluster.broker_crashed(self.index)

    def restart(self) -> None:
        if not self.alive:
            self.alive = True
            self.cluster.alive_brokers += 1
            self.cluster.broker_restarted(self.index)


class ClusterNode(CrashOnly):
    """A whole cluster as one fault target (`cluster.<name>`): every broker and bookie crashes
    (a region outage) and comes back together."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    def crash(self) -> None:
        for broker in self.cluster.brokers:
            broker.crash()
        for bookie in self.cluster.bookkeeper.bookies:
            bookie.crash()

    def restart(self) -> None:
        for bookie in self.cluster.bookkeeper.bookies:
            bookie.restart()
        for broker in self.cluster.brokers:
            broker.restart()


class Cluster:
    """One cluster's brokers, bookies, bundles and topics."""

    def __init__(
        self,
        service: PulsarService,
        index: int,
        name: str,
        broker_names: list[str],
        bookkeeper: BookKeeperCluster,
        bundles: int,
    ) -> None:
        self.service = service
        self.index = index
        self.name = name
        self.brokers = [BrokerNode(self, i, n) for i, n in enumerate(broker_names)]
        # Speed: the brokers up, kept by BrokerNode.crash and restart, so that `reachable`
        # (asked at every connection of every partition) is not a scan.
        self.alive_brokers = len(self.brokers)
        self.bookkeeper = bookkeeper
        self.bundles = bundles
        self.owner: list[int | None] = [b % len(self.brokers) for b in range(bundles)]
        self.bundle_topics: list[list[PersistentTopic]] = [[] for _ in range(bundles)]
        self.topics: dict[str, PersistentTopic] = {}
        self.writers: list[tuple[float, str, LedgerWriter]] = []  # every ledger opened
        self._orphans: set[int] = set()  # bundles whose lock expired with no broker alive
        self.listeners: list[Any] = []  # told when the cluster's reachability changes
        self.charges: ClusterCharges | None = None  # the cost model's stages (None: ideal)

    def __repr__(self) -> str:
        return f"Cluster({self.name})"

    @property
    def reachable(self) -> bool:
        """A client can reach the cluster's service URL (some broker is up)."""
        return self.alive_brokers > 0

    # ----- topics and bundles -----
    def bundle_of(self, topic_name: str) -> int:
        """The bundle whose hash range holds the topic (CRC32 into equal ranges)."""
        return (zlib.crc32(topic_name.encode("utf-8")) * self.bundles) >> 32

    def add_topic(self, topic: PersistentTopic) -> None:
        self.topics[topic.name] = topic
        topic.bundle = self.bundle_of(topic.name)
        self.bundle_topics[topic.bundle].append(topic)

    def io_finish(self, topic: PersistentTopic, work: float) -> float:
        """With a cost model, when `work` seconds of the owning broker's IO threads, asked for
        now, are done (now when the topic has no owner: it is being moved)."""
        now = self.service.env.now
        owner = self.owner[topic.bundle]
        if owner is None or self.charges is None:
            return now
        return self.charges.io[owner].finish(now, work)

    def ledger_opened(self, topic: PersistentTopic, writer: LedgerWriter) -> None:
        self.writers.append((self.service.env.now, topic.name, writer))

    def broker_of(self, topic: PersistentTopic) -> int | None:
        return self.owner[self.bundle_of(topic.name)]

    # ----- brokers -----
    def broker_crashed(self, index: int) -> None:
        env = self.service.env
        if self.charges is not None:
            self.charges.broker_crashed(index)
        delay = self.service.settings.session_timeout
        for bundle, owner in enumerate(self.owner):
            if owner != index:
                continue
            self.owner[bundle] = None
            for topic in self.bundle_topics[bundle]:
                topic.unload()
            env.timeout(delay).callbacks.append(lambda _e, b=bundle: self._reassign(b))
        self._notify()

    def broker_restarted(self, index: int) -> None:
        orphans, self._orphans = self._orphans, set()
        for bundle in sorted(orphans):
            self._assign(bundle, index)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    def _reassign(self, bundle: int) -> None:
        """The dead owner's session expired: a live broker takes the bundle."""
        if self.owner[bundle] is not None:
            return
        alive = [b.index for b in self.brokers if b.alive]
        if not alive:
            self._orphans.add(bundle)
            return
        load = {i: self.owner.count(i) for i in alive}
        self._assign(bundle, min(alive, key=lambda i: (load[i], i)))

    def _assign(self, bundle: int, broker: int) -> None:
        self.owner[bundle] = broker
        # Kept as a table (pulsar.bundles), not as events: a fault target's events are its
        # fault windows.
        self.service.bundle_moves.append((self.service.env.now, self.name, bundle, broker))
        load_time = self.service.settings.topic_load_time

        def load(_event: Any) -> None:
            if self.owner[bundle] != broker or not self.brokers[broker].alive:
                return
            for topic in self.bundle_topics[bundle]:
                topic.load()

        if load_time > 0:
            self.service.env.timeout(load_time).callbacks.append(load)
        else:
            load(None)

    # ----- periodic work -----
    def start_tasks(self, persist_cursors: bool = True) -> None:
        """Start the periodic work. `persist_cursors=False`: no broker of the run can die, so
        no cursor is ever restored from what was persisted, and the persistence (one event a
        second per cluster, whatever the load) is left out; it changes nothing else."""
        settings = self.service.settings
        env = self.service.env
        env.process(self._every(settings.retention_check_interval, self._retention_check))
        if persist_cursors:
            env.process(self._every(1.0 / settings.mark_delete_rate_limit, self._persist_cursors))
        if any(t.policies.ttl_enabled for t in self.topics.values()):
            env.process(self._every(settings.message_expiry_check_interval, self._expire))
        if any(_has_quota(t) for t in self.topics.values()):
            env.process(self._every(settings.backlog_quota_check_interval, self._quota_check))

    def _every(self, interval: float, task: Any) -> Generator[Any, Any, None]:
        timeout = self.service.env.timeout
        while True:
            yield timeout(interval)
            task()

    def _loaded(self) -> list[PersistentTopic]:
        return [t for t in self.topics.values() if t.available]

    def _retention_check(self) -> None:
        now = self.service.env.now
        for topic in self._loaded():
            if topic.storage.roll_if_full(now):
                topic.writer = None
            topic.trim()

    def _expire(self) -> None:
        for topic in self._loaded():
            topic.expire_messages()

    def _quota_check(self) -> None:
        for topic in self._loaded():
            if _has_quota(topic):
                topic.check_backlog_quota()

    def _persist_cursors(self) -> None:
        for topic in self._loaded():
            for sub in topic.sub_list:
                sub.persist()
            for replicator in topic.replicators:
                replicator.persist()


def _has_quota(topic: PersistentTopic) -> bool:
    policies = topic.policies
    return policies.size_quota.limit_size_bytes >= 0 or policies.time_quota.limit_time_seconds >= 0
