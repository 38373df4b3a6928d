"""A system's preset part as broker sections, and the accounts of loads on them.

A *part* is one system's share of a preset as plain data: `cost` (the broker's cost fields),
`broker` (the setup's broker fields), `network` (`one_way`: the one-way delay between clients
and brokers) and `client` (`sender_cpu`: core-seconds a sender machine spends per message).
The accounts come from each broker's own cost module (sim/brokers/<system>/cost.py), on the
section the part and a study's setup describe, validated as a scenario would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.brokers.costs import Account, Load
from sim.brokers.kafka import cost as kafka_cost
from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.pulsar import cost as pulsar_cost
from sim.brokers.rabbitmq import cost as rabbitmq_cost
from sim.brokers.rabbitmq.config import RabbitMQConfig
from sim.brokers.redis import cost as redis_cost
from sim.brokers.redis.config import RedisConfig
from sim.brokers.sqs import cost as sqs_cost
from sim.brokers.sqs.config import SQSConfig
from sim.presets import cost_preset

__all__ = ["SYSTEMS", "account", "part_of", "section"]

Part = Mapping[str, Mapping[str, Any]]

#: published.csv's system names -> mqsim's broker types.
SYSTEMS = {
    "kafka": "kafka",
    "rabbitmq": "rabbitmq",
    "pulsar": "pulsar",
    "sqs": "sqs",
    "redis-streams": "redis",
}


def section(system: str, part: Part, setup: Mapping[str, Any]) -> dict[str, Any]:
    """The `broker:` section of `system` (a broker type) for a part and a setup.

    Setup keys: kafka `partitions`, `replication_factor`, `min_insync`, `flush_messages`;
    rabbitmq `queue_type`, `mirrors`; sqs `fifo`. Pulsar has no section yet: its part's
    `broker` fields are its Topology (sim/brokers/pulsar/cost.py)."""
    cost = dict(part["cost"])
    broker = dict(part.get("broker", {}))
    if system == "kafka":
        topic: dict[str, Any] = {
            "name": "t",
            "partitions": setup.get("partitions", 1),
            "replication.factor": setup.get("replication_factor", 1),
            "min.insync.replicas": setup.get("min_insync", 1),
        }
        if setup.get("flush_messages") is not None:
            topic["flush.messages"] = setup["flush_messages"]
        return {"type": "kafka", **broker, "topics": [topic], "cost": cost}
    if system == "rabbitmq":
        queue = {"name": "q", "type": setup.get("queue_type", "classic")}
        if setup.get("mirrors"):
            queue["mirrors"] = setup["mirrors"]
        return {"type": "rabbitmq", **broker, "queues": [queue], "cost": cost}
    if system == "redis":
        return {"type": "redis", **broker, "streams": [{"name": "s"}], "cost": cost}
    if system == "sqs":
        name = "q.fifo" if setup.get("fifo") else "q"
        queue = {"name": name, "fifo": bool(setup.get("fifo"))}
        return {"type": "sqs", **broker, "queues": [queue], "cost": cost}
    raise ValueError(f"no broker section for {system!r}")


def account(system: str, part: Part, setup: Mapping[str, Any], load: Load) -> Account:
    """The broker's own account of `load` on the section (Pulsar: on its topology)."""
    if system == "pulsar":
        cost = pulsar_cost.PulsarCost.model_validate(dict(part["cost"]))
        topology = pulsar_cost.Topology.model_validate(dict(part.get("broker", {})))
        return pulsar_cost.account(cost, topology, load)
    data = section(system, part, setup)
    if system == "kafka":
        return kafka_cost.account(KafkaConfig.model_validate(data, by_alias=True), load)
    if system == "rabbitmq":
        return rabbitmq_cost.account(RabbitMQConfig.model_validate(data, by_alias=True), load)
    if system == "redis":
        config = RedisConfig.model_validate(data, by_alias=True)
        return redis_cost.account(config, load, manual_ack=setup.get("ack", "manual") == "manual")
    if system == "sqs":
        return sqs_cost.account(SQSConfig.model_validate(data, by_alias=True), load)
    raise ValueError(f"no account for {system!r}")


def part_of(preset: str, system: str) -> dict[str, dict[str, Any]]:
    """A shipped preset's part for `system` (a broker type), as the accounts take it."""
    found = cost_preset(preset, system)
    return {
        "cost": dict(found.cost),
        "broker": dict(found.broker),
        "network": {"one_way": float(found.network.get("producer_to_broker", 0.0))},
        "client": dict(found.client),
    }
