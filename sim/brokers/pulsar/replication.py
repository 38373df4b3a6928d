"""Geo-replication between clusters, and replicated subscriptions (Pulsar 4.0.0).

- **Replicators** (``PersistentReplicator``). A topic whose namespace replicates to several
  clusters (``Policies.replication_clusters``) has, in each cluster, one replicator per remote
  cluster: a durable cursor on the local topic (``pulsar.repl.<remote>``), so the local topic
  keeps what is not replicated yet, and a producer to the remote topic. It reads the entries
  published locally, in order, and sends them over the inter-cluster hop (`replication_delay`,
  a distribution: a replicated message appears in the remote cluster that long after it was
  stored here); an entry is acknowledged on the cursor once the remote cluster stored it.
  Entries that came from another cluster are not replicated again ("Discard messages that
  were already replicated into this region", ``readEntriesComplete``). When the remote
  cluster cannot be reached the replicator's producer reconnects with the client's backoff
  (``ProducerImpl`` / ``Backoff``) and resends from its cursor.
- **Replicated subscriptions** (``ReplicatedSubscriptionsController``, PIP-33). For a topic
  with a subscription created with ``replicateSubscriptionState``, every
  ``replicatedSubscriptionsSnapshotFrequencyMillis`` (1 s) the cluster takes a *snapshot*: a
  request goes to every remote cluster, which answers with its topic's last position; once
  every answer is back, the snapshot pairs the local position with the remote ones. No
  snapshot starts while a replicator is disconnected, nor when nothing was published since
  the last one; one that is not complete after ``replicatedSubscriptionsSnapshotTimeoutSeconds``
  is dropped. Each replicated subscription keeps the last
  ``replicatedSubscriptionsSnapshotMaxCachedPerSubscription`` (10) snapshots
  (``ReplicatedSubscriptionSnapshotCache``); when its mark-delete position passes one, it
  sends the remote positions to the other clusters (a ``SUBSCRIPTION_UPDATE`` marker, over the
  replication hop), where the subscription's mark-delete moves there, the subscription being
  created at ``Earliest`` first if it does not exist (``receiveSubscriptionUpdated``).

So a consumer that fails over to another cluster resumes from the last snapshot its
subscription had passed and sent: what it acked after that is delivered again (duplicates),
more of it the longer the snapshot interval. The model takes one round of snapshot requests
(Pulsar takes two, to close a race with messages in flight) and assumes one cluster produces at
a time, as in an active/standby pair: then a remote position covers every message published
before the local one.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.pulsar.backoff import Backoff
from sim.brokers.pulsar.cursor import Cursor
from sim.network import Link

if TYPE_CHECKING:
    from sim.brokers.pulsar.service import PulsarService, ScenarioTopic
    from sim.brokers.pulsar.storage import Entry
    from sim.brokers.pulsar.subscription import Subscription
    from sim.brokers.pulsar.topic import PersistentTopic

__all__ = ["GeoReplication", "Replicator"]

REPLICATOR_PREFIX = "pulsar.repl."  # PersistentReplicator's cursor: pulsar.repl.<cluster>


class Replicator:
    """``PersistentReplicator`` from one topic instance to the same topic in another cluster."""

    def __init__(
        self, geo: GeoReplication, local: PersistentTopic, remote: PersistentTopic
    ) -> None:
        self.geo = geo
        self.local = local
        self.remote = remote
        self.name = REPLICATOR_PREFIX + remote.cluster.name
        self.env = geo.service.env
        start = local.storage.last_index  # created with the topic: everything after is copied
        self.cursor = Cursor(start)
        self.persisted = start
        self.md_ledger = -1  # as a subscription's: PersistentTopic.mark_delete_moved reads it
        self.replicated = False
        self.link = geo.link(local.cluster.name, remote.cluster.name)
        self.connected = False
        self.next = start + 1  # the next local entry index to read
        self.generation = 0  # bumped at each disconnection: what was on the way is dropped
        self.backoff = Backoff(geo.random_int)
        self._retry_armed = False
        self.replicated_count = 0

    def __repr__(self) -> str:
        return f"Replicator({self.local.name}: {self.local.cluster.name} -> {self.name})"

    # ----- connection -----
    def start(self) -> None:
        """The local topic is loaded: connect the producer to the remote cluster."""
        self._try_connect(self.generation)

    def stop(self) -> None:
        """The local topic was unloaded: the cursor comes back from its persisted position."""
        self.connected = False
        self.generation += 1
        self.cursor = Cursor(self.persisted)
        self.next = self.persisted + 1

    def persist(self) -> None:
        self.persisted = self.cursor.mark_delete

    def _reachable(self) -> bool:
        remote = self.remote
        return remote.available and remote.cluster.reachable

    def _try_connect(self, generation: int) -> None:
        self._retry_armed = False
        if generation != self.generation or self.connected or not self.local.available:
            return
        if self._reachable():
            self.connected = True
            self.backoff.reset()
            self.next = self.cursor.mark_delete + 1  # resend what is not acknowledged
            self._pump()
        else:
            self._retry()

    def _retry(self) -> None:
        if self._retry_armed:
            return
        self._retry_armed = True
        generation = self.generation
        delay = self.backoff.next()
        self.env.timeout(delay).callbacks.append(lambda _e: self._try_connect(generation))

    def _disconnect(self) -> None:
        if not self.connected:
            return
        self.connected = False
        self.generation += 1
        self._retry()

    # ----- replication -----
    def entry_added(self, entry: Entry) -> None:
        if self.connected:
            self._pump()
        elif entry.origin != self.local.cluster.index:
            self._ack(entry.index)

    def _pump(self) -> None:
        """Read what is stored and not sent yet; entries from elsewhere are acked, not sent."""
        storage = self.local.storage
        last = storage.last_index
        here = self.local.cluster.index
        cursor = self.cursor
        generation = self.generation
        send = self.link.send
        while self.next <= last:
            index = self.next
            self.next += 1
            entry = storage.get(index)
            if entry is None or cursor.is_acked(index):
                continue
            if entry.origin != here:
                self._ack(index)
                continue
            send(self._arrive, entry, generation)

    def _arrive(self, entry: Entry, generation: int) -> None:
        """The replicator's publish reaches the remote cluster."""
        if generation != self.generation:
            return
        if not self._reachable():
            self._disconnect()
            return

        def stored(remote_entry: Entry | None) -> None:
            if generation != self.generation:
                return
            if remote_entry is None:  # the remote topic was unloaded first
                self._disconnect()
                return
            self.replicated_count += entry.count
            self._ack(entry.index)

        if not self.remote.write(entry, stored):
            self._disconnect()  # a PersistenceError there: try again later

    def _ack(self, index: int) -> None:
        cursor = self.cursor
        before = cursor.mark_delete
        cursor.ack(index)
        if cursor.mark_delete != before:
            self.local.mark_delete_moved(self)

    def skip_through(self, index: int) -> None:
        """Backlog eviction skipped the replicator's cursor (``skipEntries``)."""
        self.cursor.ack_cumulative(index)
        self.next = max(self.next, index + 1)

    def backlog(self) -> int:
        """Entries stored here and not replicated yet (``replicationBacklog``)."""
        return max(0, self.local.storage.last_index - self.cursor.mark_delete)


class _Snapshot:
    """A snapshot being taken: the remote positions answered so far."""

    __slots__ = ("answers", "started", "waiting")

    def __init__(self, started: float, waiting: int) -> None:
        self.started = started
        self.waiting = waiting
        self.answers: dict[int, int] = {}


class GeoReplication:
    """The replicators of every replicated topic and the replicated-subscription snapshots."""

    def __init__(self, service: PulsarService) -> None:
        self.service = service
        settings = service.settings
        self.delay = settings.replication_delay
        self.frequency = settings.snapshot_frequency
        self.timeout = settings.snapshot_timeout
        self.max_cached = settings.snapshot_max_cached
        rng = service.rng("pulsar:replication/backoff")
        self.random_int = lambda n: int(rng.integers(n)) if n > 0 else 0
        self._links: dict[tuple[str, str], Link] = {}
        self.replicated: list[PersistentTopic] = []  # instances that may hold replicated subs
        self._pending: dict[PersistentTopic, _Snapshot] = {}
        self._last_snapshot: dict[PersistentTopic, float] = {}  # start of the last completed
        self._published: dict[PersistentTopic, float] = {}  # last data message stored
        self.snapshots_completed = 0
        self.updates_applied = 0
        seen: set[int] = set()
        for topic in service.topics.values():
            if id(topic) not in seen:
                seen.add(id(topic))
                self.topic_created(topic)
        service.env.process(self._snapshot_timer())

    def link(self, source: str, target: str) -> Link:
        """The replication hop from one cluster to another, a stream of its own per pair."""
        found = self._links.get((source, target))
        if found is None:
            rng = self.service.rng(f"pulsar:replication/{source}->{target}")
            found = Link(self.service.env, self.delay, self.delay.sampler(rng))
            self._links[(source, target)] = found
        return found

    def topic_created(self, topic: ScenarioTopic) -> None:
        """Replicators between every pair of clusters serving the topic."""
        if len(topic.clusters) < 2:
            return
        for family in topic.families:
            instances = family.instances
            for here, local in instances.items():
                for there, remote in instances.items():
                    if here != there:
                        replicator = Replicator(self, local, remote)
                        local.replicators.append(replicator)
                        replicator.start()
                local.listeners.append(lambda entry, t=local: self._stored(t, entry))
                self.replicated.append(local)

    def subscription_created(self, sub: Subscription) -> None:
        """Nothing to do at creation: a subscription is replicated once a consumer asks."""

    def _stored(self, topic: PersistentTopic, entry: Entry) -> None:
        self._published[topic] = self.service.env.now

    # ----- snapshots -----
    def _snapshot_timer(self) -> Generator[Any, Any, None]:
        env = self.service.env
        while True:
            yield env.timeout(self.frequency)
            for topic in self.replicated:
                if any(s.replicated for s in topic.sub_list):
                    self._start_snapshot(topic)

    def _start_snapshot(self, topic: PersistentTopic) -> None:
        """``ReplicatedSubscriptionsController.startNewSnapshot``."""
        env = self.service.env
        pending = self._pending.get(topic)
        if pending is not None:
            if env.now - pending.started < self.timeout:
                return
            del self._pending[topic]  # cleanupTimedOutSnapshots
        if not topic.available or not topic.cluster.reachable:
            return
        published = self._published.get(topic)
        if published is None or published < self._last_snapshot.get(topic, -1.0):
            return  # no data since the last snapshot
        if not topic.replicators or not all(r.connected for r in topic.replicators):
            return  # "Do not attempt to create snapshot when some of the clusters are not
            # reachable"
        snapshot = _Snapshot(env.now, len(topic.replicators))
        self._pending[topic] = snapshot
        for replicator in topic.replicators:
            request = self.link(topic.cluster.name, replicator.remote.cluster.name)
            request.send(self._request_arrives, topic, replicator, snapshot)

    def _request_arrives(
        self, topic: PersistentTopic, replicator: Replicator, snapshot: _Snapshot
    ) -> None:
        """``receivedSnapshotRequest``: the remote answers with its topic's last position."""
        remote = replicator.remote
        if not remote.available or not remote.cluster.reachable:
            return  # no answer: the snapshot times out
        position = remote.storage.last_index
        back = self.link(remote.cluster.name, topic.cluster.name)
        back.send(self._answer_arrives, topic, remote.cluster.index, position, snapshot)

    def _answer_arrives(
        self, topic: PersistentTopic, cluster: int, position: int, snapshot: _Snapshot
    ) -> None:
        if self._pending.get(topic) is not snapshot:
            return  # "Received late reply for timed-out snapshot"
        snapshot.answers[cluster] = position
        if len(snapshot.answers) < snapshot.waiting:
            return
        del self._pending[topic]
        self._last_snapshot[topic] = snapshot.started
        self.snapshots_completed += 1
        local = topic.storage.last_index  # the snapshot marker's position
        for sub in topic.sub_list:
            if sub.replicated:
                cache = sub.snapshots
                cache.append((local, dict(snapshot.answers)))
                while len(cache) > self.max_cached:
                    del cache[0]  # ReplicatedSubscriptionSnapshotCache prunes the oldest
                # The snapshot is a marker entry the dispatcher skips and acks: a subscription
                # that had acked everything passes it at once.
                self.mark_delete_moved(topic, sub)

    # ----- subscription updates -----
    def mark_delete_moved(self, topic: PersistentTopic, sub: Subscription) -> None:
        """``advancedMarkDeletePosition``: the newest snapshot at or below mark-delete is sent
        to the other clusters (and every older one dropped)."""
        cache = sub.snapshots
        if not cache or cache[0][0] > sub.cursor.mark_delete:
            return
        md = sub.cursor.mark_delete
        found = None
        while cache and cache[0][0] <= md:
            found = cache.pop(0)[1]
        assert found is not None
        for replicator in topic.replicators:
            cluster = replicator.remote.cluster.index
            position = found.get(cluster)
            if position is None or not replicator.connected:
                continue  # the marker waits for the replicator; a later snapshot will do
            hop = self.link(topic.cluster.name, replicator.remote.cluster.name)
            hop.send(self._update_arrives, replicator.remote, sub, position)

    def _update_arrives(self, remote: PersistentTopic, source: Subscription, position: int) -> None:
        """``receiveSubscriptionUpdated``: a cumulative ack there (the subscription is created
        at Earliest first if it does not exist)."""
        if not remote.available:
            return
        sub = remote.subscriptions.get(source.name)
        if sub is None:
            sub = remote.subscription(
                source.name,
                source.kind,
                source.account,
                source.group,
                "Earliest",
                getattr(source, "mode", "consistent_hashing"),
                getattr(source, "allow_out_of_order", False),
                counted=False,
            )
            sub.replicated = True
        if position > sub.cursor.mark_delete:
            self.updates_applied += 1
            sub.skip_through(position, "replicated")
