"""The Kafka model: Kafka's client-side algorithms (partitioner, group assignors) and the
broker-side ones (the consumer protocol's and share groups' assignors) as pure, bit-exact
functions, and a cluster with producer, consumer and share consumer clients in simulated time."""

from sim.brokers.kafka.assignors import (
    CLIENTS,
    DEFAULT_CLIENT,
    SERVER_ASSIGNORS,
    STRATEGIES,
    Assignment,
    JavaStickyResult,
    PartitionAssignorError,
    TopicPartition,
    assign,
    cooperative_assignment,
    cooperative_first_assignment,
    cooperative_revocations,
    java_sticky_assign,
    range_server_assign,
    server_assign,
    simple_share_assign,
    uniform_assign,
)
from sim.brokers.kafka.cluster import KafkaCluster, KafkaError
from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.kafka.consumer import ConsumerRebalanceListener, ConsumerRecord, KafkaConsumer
from sim.brokers.kafka.group import MemberState, next_member_assignment
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
    GroupCoordinatorSettings,
    ProducerSettings,
    ShareConsumerSettings,
    ShareGroupSettings,
    TopicSettings,
)
from sim.brokers.kafka.share import AcknowledgeType, SharePartition
from sim.brokers.kafka.share_consumer import KafkaShareConsumer, ShareConsumerRecord

__all__ = [
    "CLIENTS",
    "DEFAULT_CLIENT",
    "SERVER_ASSIGNORS",
    "STRATEGIES",
    "AcknowledgeType",
    "Assignment",
    "ConsumerRebalanceListener",
    "ConsumerRecord",
    "ConsumerSettings",
    "CostSettings",
    "FutureRecordMetadata",
    "GroupCoordinatorSettings",
    "JavaStickyResult",
    "KafkaCluster",
    "KafkaConfig",
    "KafkaConsumer",
    "KafkaError",
    "KafkaProducer",
    "KafkaShareConsumer",
    "MemberState",
    "PartitionAssignorError",
    "ProducerSettings",
    "RecordMetadata",
    "ShareConsumerRecord",
    "ShareConsumerSettings",
    "ShareGroupSettings",
    "SharePartition",
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
    "next_member_assignment",
    "range_server_assign",
    "server_assign",
    "simple_share_assign",
    "to_positive",
    "uniform_assign",
]
