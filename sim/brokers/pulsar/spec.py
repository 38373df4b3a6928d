"""The Apache Pulsar model's declaration for the registry (sim/brokers/base.py: BrokerSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.brokers.base import BrokerSpec, IdealQueue, OMBDriver
from sim.brokers.pulsar.config import PulsarConfig, PulsarConsumerConfig, PulsarProducerConfig
from sim.brokers.pulsar.cost import COSTS
from sim.brokers.pulsar.features import FEATURES

if TYPE_CHECKING:
    from sim.brokers.base import BrokerRuntime
    from sim.context import RunContext

__all__ = ["SPEC", "node_names"]


def _build(ctx: RunContext) -> BrokerRuntime:
    from sim.brokers.pulsar.runtime import build

    return build(ctx)


def _omb_sections(layout: Any) -> dict[str, Any]:
    from sim.brokers.pulsar.omb import sections

    return sections(layout)


def node_names(section: PulsarConfig) -> list[str]:
    """Crash targets: `broker.N` and `bookie.N` of the one cluster; with `clusters`,
    `<cluster>.broker.N`, `<cluster>.bookie.N`, and `cluster.<name>` (the whole cluster)."""
    names: list[str] = []
    clusters = section.cluster_list()
    for cluster in clusters:
        prefix = f"{cluster.name}." if section.multi_cluster else ""
        names += [f"{prefix}broker.{i}" for i in range(cluster.brokers)]
    for cluster in clusters:
        prefix = f"{cluster.name}." if section.multi_cluster else ""
        names += [f"{prefix}bookie.{i}" for i in range(cluster.bookies)]
    if section.multi_cluster:
        names += [f"cluster.{c.name}" for c in clusters]
    return names


def _client_errors(section: Any, producers: list[Any], consumers: list[Any]) -> Any:
    return section.client_errors(producers, consumers)


def _servers(section: PulsarConfig, consumer: Any) -> int:
    """How many of a consumer's replicas work at once: one active consumer per partition on
    exclusive and failover subscriptions (PersistentDispatcherSingleActiveConsumer), every
    replica on shared and key_shared."""
    if consumer.subscription_type in ("shared", "key_shared"):
        return int(consumer.replicas)
    topic = next((t for t in section.topics if t.name == consumer.from_), None)
    partitions = 1 if topic is None or topic.partitions == 0 else topic.partitions
    return min(int(consumer.replicas), partitions)


def _unbounded(section: PulsarConfig, source: str) -> bool:
    """A topic's backlog grows without bound unless a backlog quota or a message TTL caps it
    (at the topic level; namespace-level policies are not looked at here)."""
    topic = next((t for t in section.topics if t.name == source), None)
    if topic is None:
        return True
    return not topic.backlog_quota_map and not topic.message_ttl_in_seconds


def _service_fields(service: Any) -> dict[str, Any]:
    """A consuming service's workers share one subscription (shared: they compete), read the
    topic from its start (what was published before they subscribed is work too), and each
    prefetches its share of the service's prefetch (its receiver queue)."""
    workers = service.workers
    prefetch = workers if service.prefetch is None else service.prefetch
    return {
        "subscription_type": "shared",
        "subscriptionInitialPosition": "Earliest",
        "receiverQueueSize": 0 if prefetch == 0 else max(1, prefetch // workers),
    }


SPEC = BrokerSpec(
    type="pulsar",
    title="Apache Pulsar",
    section=PulsarConfig,
    producer=PulsarProducerConfig,
    consumer=PulsarConsumerConfig,
    build=_build,
    reads=frozenset({"keys", "key_distribution"}),
    instead={
        "prefetch": "it reads receiverQueueSize",
        "max_messages": "it reads receiverQueueSize",
        "max.poll.records": "it reads receiverQueueSize",
        "ack": "a Pulsar consumer always acknowledges (acknowledgment: individual | cumulative)",
        "group": "it reads subscription",
        "group.id": "it reads subscription",
        "routing_key": "it reads keys",
        "message_group": "it reads keys",
        "headers": "it reads properties",
        "poison_header": "it reads poison_property",
        "ttl": "it reads the namespace's message_ttl_in_seconds",
        "priority": "it reads priorityLevel (a consumer's, not a message's)",
    },
    strategies=frozenset({"at-most-once", "at-least-once", "idempotent", "transactional"}),
    nodes=node_names,
    client_errors=_client_errors,
    service_fields=_service_fields,
    servers=_servers,
    unbounded=_unbounded,
    ideal=IdealQueue(
        section=lambda source, consumers: {
            "type": "pulsar",
            "topics": [{"name": source, "partitions": 0}],
        },
        # A shared subscription whose consumers have no receiver queue (ZeroQueueConsumerImpl:
        # a consumer asks for one message when it is free) and send each ack at once: one FIFO
        # queue served by whichever consumer is free, the M/M/c queue (one consumer: M/M/1).
        consumer={
            "subscription_type": "shared",
            "receiverQueueSize": 0,
            "acknowledgmentGroupTime": 0,
        },
        producer={"batchingEnabled": False},
    ),
    # driver-pulsar; its default preset is Confluent's, whose Pulsar setup is that driver's
    # (ensemble 3, write quorum 3, ack quorum 2, batching delay 1 ms).
    omb=OMBDriver("Pulsar", "native", build=_omb_sections, default_preset="confluent-2020"),
    costs=COSTS,  # its cost model in closed form (cost.py), charged by the broker (charges.py)
    features=FEATURES,
)
