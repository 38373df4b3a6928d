"""The Kafka model: Kafka's client-side algorithms (partitioner, group assignors) as pure,
bit-exact functions, and a cluster with producer and consumer clients in simulated time."""

from sim.brokers.kafka.assignors import (
    CLIENTS,
    DEFAULT_CLIENT,
    STRATEGIES,
    Assignment,
    JavaStickyResult,
    TopicPartition,
    assign,
    cooperative_assignment,
    cooperative_first_assignment,
    cooperative_revocations,
    java_sticky_assign,
)
from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.kafka.consumer import ConsumerRebalanceListener, ConsumerRecord, KafkaConsumer
from sim.brokers.kafka.partitioner import (
    StickyPartitioner,
    default_partition,
    murmur2,
    to_positive,
)
from sim.brokers.kafka.producer import FutureRecordMetadata, KafkaProducer, RecordMetadata
from sim.brokers.kafka.settings import (
    ConsumerSettings,
    CostSettings,
    ProducerSettings,
    TopicSettings,
)

__all__ = [
    "CLIENTS",
    "DEFAULT_CLIENT",
    "STRATEGIES",
    "Assignment",
    "ConsumerRebalanceListener",
    "ConsumerRecord",
    "ConsumerSettings",
    "CostSettings",
    "FutureRecordMetadata",
    "JavaStickyResult",
    "KafkaCluster",
    "KafkaConfig",
    "KafkaConsumer",
    "KafkaError",
    "KafkaProducer",
    "ProducerSettings",
    "RecordMetadata",
    "StickyPartitioner",
    "TopicPartition",
    "TopicSettings",
    "assign",
    "cooperative_assignment",
    "cooperative_first_assignment",
    "cooperative_revocations",
    "default_partition",
    "java_sticky_assign",
    "murmur2",
    "to_positive",
]
