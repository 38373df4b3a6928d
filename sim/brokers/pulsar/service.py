"""The Pulsar instance a run simulates: its clusters, topics and consumer groups, and the
accounting every copy of a message goes through.

A *topic family* is one topic (or one partition of a partitioned topic) across the clusters of
its namespace (``Policies.replication_clusters``); each cluster holds an instance of it
(:class:`sim.brokers.pulsar.topic.PersistentTopic`). A *group* is one subscription name of a
family: its instances in every cluster share one copy of each message, so that a replicated
subscription reads, after a failover, the very copies it read before (a message processed on
both sides is then a duplicate, as it is for the application).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.brokers.pulsar.bookkeeper import BookKeeperCluster
from sim.brokers.pulsar.charges import ClusterCharges
from sim.brokers.pulsar.cluster import Cluster, ClusterNode
from sim.brokers.pulsar.ledgers import LedgerConfig
from sim.brokers.pulsar.names import TopicName
from sim.brokers.pulsar.storage import NO_TAKER, NO_TAKER_YET, Entry
from sim.brokers.pulsar.subscription import SourceAccount
from sim.brokers.pulsar.topic import PersistentTopic
from sim.message import Message, State
from sim.metrics import Recorder
from sim.randomness import RandomStreams

if TYPE_CHECKING:
    from sim.brokers.pulsar.config import PulsarConfig

__all__ = ["PulsarService", "ScenarioTopic", "TopicFamily"]


class TopicFamily:
    """One topic or partition across clusters: its instances and its consumer groups."""

    def __init__(self, name: str, partition_index: int, declared: str) -> None:
        self.name = name  # full name of the topic or partition
        self.partition_index = partition_index
        self.declared = declared  # the scenario's name of the (partitioned) topic
        self.groups: dict[str, int] = {}  # subscription name -> copy index
        self.instances: dict[int, PersistentTopic] = {}  # cluster index -> instance

    def group(self, subscription: str) -> int:
        index = self.groups.get(subscription)
        if index is None:
            index = self.groups[subscription] = len(self.groups)
        return index


class ScenarioTopic:
    """A topic as the scenario declares it: its partitions and the clusters that serve it."""

    def __init__(self, declared: str, name: TopicName, partitions: int, clusters: list[int]):
        self.declared = declared
        self.name = name
        self.partitions = partitions  # 0: non-partitioned
        self.clusters = clusters  # cluster indexes, replication clusters first-declared first
        self.families: list[TopicFamily] = []


class PulsarService:
    """Every cluster, topic and source of one run."""

    def __init__(
        self,
        env: simpy.Environment,
        config: PulsarConfig,
        recorder: Recorder | None = None,
        streams: RandomStreams | None = None,
        message_ids: Iterator[int] | None = None,
    ) -> None:
        self.env = env
        self.settings = config
        self.config = config
        self.recorder = recorder or Recorder(env)
        self.streams = streams or RandomStreams(0)
        self.message_ids = message_ids or itertools.count(1)  # for messages made by the API
        self.store = config.policy_store()
        self.clusters: list[Cluster] = []
        self.bundle_moves: list[tuple[float, str, int, int]] = []  # (time, cluster, bundle, to)
        self.cluster_nodes: list[ClusterNode] = []
        self._build_clusters()
        self.cluster_by_name = {c.name: c for c in self.clusters}
        self.topics: dict[str, ScenarioTopic] = {}  # by declared name and by full name
        self.accounts: dict[str, SourceAccount] = {}
        self.ledger_config = LedgerConfig(
            config.max_entries_per_ledger,
            config.min_rollover_minutes / 60.0,
            config.max_rollover_minutes / 60.0,
            config.max_size_per_ledger_mb,
        )
        for topic in config.topics:
            self._create_topic(topic.name, topic.partitions)
        self.replication: Any = None  # the geo-replication controller, when clusters replicate

    # ----- building -----
    def _build_clusters(self) -> None:
        config = self.config
        latency = config.bookie_write_latency
        zero = latency.kind == "constant" and latency.params[0] == 0.0
        for index, cluster in enumerate(config.cluster_list()):
            prefix = f"{cluster.name}." if config.multi_cluster else ""
            bookies = [f"{prefix}bookie.{i}" for i in range(cluster.bookies)]
            brokers = [f"{prefix}broker.{i}" for i in range(cluster.brokers)]
            sampler = latency.sampler(self.streams.generator(f"pulsar:{cluster.name}/bookies"))
            rng = self.streams.generator(f"pulsar:{cluster.name}/ensembles")
            bk = BookKeeperCluster(
                bookies,
                config.ensemble_size,
                config.write_quorum,
                config.ack_quorum,
                sampler,
                zero,
                rng,
                self.recorder,
            )
            built = Cluster(self, index, cluster.name, brokers, bk, config.bundles)
            if config.cost is not None:
                charges = ClusterCharges(config.cost, cluster.brokers, cluster.bookies)
                built.charges = bk.charges = charges
            self.clusters.append(built)
            if config.multi_cluster:
                self.cluster_nodes.append(ClusterNode(built, f"cluster.{cluster.name}"))

    def _create_topic(self, declared: str, partitions: int) -> ScenarioTopic:
        name = TopicName.parse(declared)
        policies = self.store.resolve(name)
        order = {c.name: c.index for c in self.clusters}
        clusters = sorted(order[c] for c in policies.replication_clusters if c in order)
        scenario_topic = ScenarioTopic(declared, name, partitions, clusters)
        parts = name.partitions(partitions) if partitions else [name]
        for i, part in enumerate(parts):
            family = TopicFamily(str(part), i if partitions else -1, declared)
            for cluster_index in clusters:
                cluster = self.clusters[cluster_index]
                # The ledger's rollover jitter, drawn when first needed (ManagedLedger).
                jitter = self._jitter(f"pulsar:{cluster.name}:{part}/rollover")
                instance = PersistentTopic(
                    self,
                    cluster,
                    family,
                    str(part),
                    family.partition_index,
                    policies,
                    self.ledger_config,
                    jitter,
                )
                family.instances[cluster_index] = instance
                cluster.add_topic(instance)
            scenario_topic.families.append(family)
        self.topics[declared] = scenario_topic
        self.topics[str(name)] = scenario_topic
        return scenario_topic

    def _jitter(self, stream: str) -> Callable[[], float]:
        streams = self.streams
        return lambda: float(streams.generator(stream).random())

    def topic(self, name: str) -> ScenarioTopic:
        """The topic `name` (declared, short or full), created non-partitioned if unknown
        (``allowAutoTopicCreation=true``, ``allowAutoTopicCreationType=non-partitioned``)."""
        found = self.topics.get(name)
        if found is None:
            found = self.topics.get(str(TopicName.parse(name)))
        if found is None:
            found = self._create_topic(name, 0)
            if self.replication is not None:
                self.replication.topic_created(found)
        return found

    def account(self, source: str) -> SourceAccount:
        """The measures of source `<topic>/<subscription>` (registered on first use)."""
        found = self.accounts.get(source)
        if found is None:
            found = self.accounts[source] = SourceAccount(self.recorder, source)
        return found

    def start(self, persist_cursors: bool = True) -> None:
        """Start every cluster's periodic work (`persist_cursors`: see Cluster.start_tasks)."""
        for cluster in self.clusters:
            cluster.start_tasks(persist_cursors)

    def cluster_index(self, name: str | None, topic: ScenarioTopic) -> int:
        """A client's cluster: `name`, else the first cluster serving the topic."""
        if name is None:
            return topic.clusters[0]
        return self.cluster_by_name[name].index

    # ----- copies of messages -----
    def make_copy(self, entry: Entry, group: int, component: str) -> tuple[Message, ...]:
        """Group `group`'s copy of `entry`: the producer's own messages for the first group,
        a fresh copy (one more to account for) for every other."""
        record = entry.record or entry  # where the copies are kept (see Entry)
        if record.taker == NO_TAKER_YET:
            record.taker = group
            msgs = record.msgs
        else:
            recorder = self.recorder
            msgs = tuple(m.copy() for m in record.msgs)
            for msg in msgs:
                recorder.copied(msg)
            copies = record.copies
            if copies is None:
                copies = record.copies = [None] * (group + 1)
            elif len(copies) <= group:
                copies.extend([None] * (group + 1 - len(copies)))
            copies[group] = msgs
        if self.recorder.trace is not None:  # Speed: `enqueued` only traces
            enqueued = self.recorder.enqueued
            for msg in msgs:
                enqueued(msg, component)
        return msgs

    def no_subscription(self, record: Entry) -> None:
        """A message no subscription holds: nothing will deliver it (readers and retention
        aside), so it ends `dropped` (the topic's backlog does not hold it)."""
        if record.taker != NO_TAKER_YET:
            return
        record.taker = NO_TAKER
        msgs = record.msgs
        recorder = self.recorder
        dropped = 0
        for msg in msgs:
            if msg.state is State.LIVE:  # a dead-lettered message stays dead-lettered
                recorder.dropped(msg, "no subscription")
                dropped += 1
        recorder.count("pulsar.no_subscription", dropped)

    # ----- hooks -----
    def subscription_created(self, sub: Any) -> None:
        """A subscription instance was created (nothing to do without replication)."""
        if self.replication is not None:
            self.replication.subscription_created(sub)

    def replicated_mark_delete(self, topic: PersistentTopic, sub: Any) -> None:
        if self.replication is not None:
            self.replication.mark_delete_moved(topic, sub)

    def rng(self, name: str) -> np.random.Generator:
        return self.streams.generator(name)
