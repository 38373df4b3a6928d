"""Each broker's cost mechanisms in simulated runs, against the broker's own account of them
(sim/brokers/<system>/cost.py): a load above a stage's capacity is served at that capacity,
and each mechanism (Kafka's handler threads, follower copies and fsyncs; RabbitMQ's
schedulers, mirrors and quorum fsync; Redis's event loop; SQS's call latencies; Pulsar's
managed ledger, bookie journals and fsyncs, ack quorum and IO threads) moves the
capacity or the latency the way the account says. Calibrated presets are selected by name in
`broker.cost`, and the ideal broker stays the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.costs import Load
from sim.brokers.kafka import cost as kafka_cost
from sim.brokers.kafka.config import KafkaConfig
from sim.brokers.pulsar.config import PulsarConfig
from sim.brokers.pulsar.cost import PulsarCost, Topology, section_account
from sim.brokers.pulsar.cost import account as pulsar_account
from sim.brokers.rabbitmq import cost as rabbitmq_cost
from sim.brokers.rabbitmq.config import RabbitMQConfig
from sim.brokers.redis import cost as redis_cost
from sim.brokers.redis.config import RedisConfig
from sim.errors import ScenarioError
from sim.presets import cost_preset
from sim.scenario import load_scenario

DURATION, WARMUP = 2.0, 0.5


def served(
    broker: dict[str, Any], producers: list[dict[str, Any]], consumers: list[dict[str, Any]]
) -> sim.Results:
    data = {
        "name": "cost",
        "seed": 3,
        "duration": DURATION,
        "warmup": WARMUP,
        "broker": broker,
        "producers": producers,
        "consumers": consumers,
    }
    return sim.run(sim.Scenario.from_dict(data))


# ----- Kafka ------------------------------------------------------------------------------


def kafka(cost: dict[str, Any], partitions: int = 3, rf: int = 3, **topic: Any) -> dict[str, Any]:
    return {
        "type": "kafka",
        "brokers": 3,
        "group.initial.rebalance.delay.ms": 0,
        "topics": [
            {
                "name": "t",
                "partitions": partitions,
                "replication.factor": rf,
                "min.insync.replicas": 1,
                **topic,
            }
        ],
        "cost": cost,
    }


PER_BYTE = {"per_request": 0, "per_batch": 0, "per_byte": 1e-7}  # 10 KB: 1 ms a copy


def kafka_rate(broker: dict[str, Any], rate: float) -> tuple[float, float]:
    """(msg/s consumed after the warm-up, the account's capacity) of 10 KB records at `rate`."""
    producers = [{"name": "p", "to": "t", "rate": rate, "message_size": 10_000, "acks": 1}]
    results = served(broker, producers, [{"name": "c", "from": "t"}])
    config = KafkaConfig.model_validate(broker, by_alias=True)
    capacity = kafka_cost.account(config, Load(10_000, partitions=3)).capacity
    return results.summary["throughput"], capacity


def test_kafka_brokers_serve_a_heavy_load_at_the_capacity_their_account_gives() -> None:
    published, capacity = kafka_rate(kafka({**PER_BYTE, "io_threads": 1}), 2000)
    # Each broker leads a partition and copies two: 3 copies of 1 ms per message, 3 brokers.
    assert capacity == pytest.approx(1000, rel=0.02)
    assert published == pytest.approx(capacity, rel=0.05)


def test_follower_copies_take_capacity_and_handler_threads_add_it() -> None:
    single, single_capacity = kafka_rate(kafka({**PER_BYTE, "io_threads": 1}, rf=1), 6000)
    assert single_capacity == pytest.approx(3 * 1000, rel=0.02)  # no copies: 3x
    assert single == pytest.approx(single_capacity, rel=0.05)
    threads, threads_capacity = kafka_rate(kafka({**PER_BYTE, "io_threads": 2}), 4000)
    assert threads_capacity == pytest.approx(2 * 1000, rel=0.02)
    assert threads == pytest.approx(threads_capacity, rel=0.05)


def test_flush_messages_makes_every_append_wait_for_an_fsync() -> None:
    cost = {**PER_BYTE, "io_threads": 1, "fsync": 0.002}
    flushed, capacity = kafka_rate(kafka(cost, **{"flush.messages": 1}), 2000)
    unflushed, _ = kafka_rate(kafka(cost), 2000)
    assert unflushed == pytest.approx(1000, rel=0.05)  # the default flush policy: no fsync
    # Batches of one 10 KB record at this load; each copy also fsyncs: 3 ms a copy.
    assert capacity == pytest.approx(1000 / 3, rel=0.05)
    assert flushed == pytest.approx(capacity, rel=0.08)


# ----- RabbitMQ ---------------------------------------------------------------------------


def rabbitmq(cost: dict[str, Any], queues: int = 4, **queue: Any) -> dict[str, Any]:
    return {
        "type": "rabbitmq",
        "exchanges": [{"name": "x", "type": "direct"}],
        "queues": [{"name": f"q{i}", "durable": True, **queue} for i in range(queues)],
        "bindings": [{"exchange": "x", "queue": f"q{i}", "routing_key": f"k{i}"} for i in range(4)],
        "cost": cost,
    }


def rabbitmq_rate(broker: dict[str, Any], rate: float) -> tuple[float, float, sim.Results]:
    producers = [{"name": "p", "to": "x", "rate": rate, "routing_key": [f"k{i}" for i in range(4)]}]
    consumers = [{"name": f"c{i}", "from": f"q{i}", "prefetch": 0, "ack": "auto"} for i in range(4)]
    results = served(broker, producers, consumers)
    config = RabbitMQConfig.model_validate(broker, by_alias=True)
    capacity = rabbitmq_cost.account(config, Load(0, partitions=4)).capacity
    return results.summary["throughput"], capacity, results


def test_the_schedulers_are_shared_by_every_queue_and_mirrors_cost_more() -> None:
    cores = {"queue_rate": 1e6, "schedulers": 2, "core_time": 1e-3}
    plain, capacity, _ = rabbitmq_rate(rabbitmq(cores), 3000)
    assert capacity == pytest.approx(2000)  # 2 cores / 1 ms, whatever the 4 queues
    assert plain == pytest.approx(capacity, rel=0.05)
    mirrored, mirrored_capacity, _ = rabbitmq_rate(
        rabbitmq({**cores, "mirroring": 1e-3}, mirrors=1), 3000
    )
    assert mirrored_capacity == pytest.approx(1000)
    assert mirrored == pytest.approx(mirrored_capacity, rel=0.05)


def test_a_quorum_queue_waits_for_its_fsync_without_losing_capacity() -> None:
    cost = {"queue_rate": 500, "persistence": 0, "fsync": 0.002}
    rate, capacity, _ = rabbitmq_rate(rabbitmq(cost, type="quorum"), 3000)
    assert capacity == pytest.approx(4 * 500)  # the fsync occupies no queue process
    assert rate == pytest.approx(capacity, rel=0.05)
    _, _, light = rabbitmq_rate(rabbitmq(cost, type="quorum"), 200)
    assert light.summary["latency_p50"] == pytest.approx(0.002 + 1 / 500, rel=0.05)


def test_a_mirror_is_a_classic_queue_thing() -> None:
    with pytest.raises(ScenarioError, match="only classic queues are mirrored"):
        sim.Scenario.from_dict(
            {
                "name": "m",
                "duration": 1,
                "broker": {
                    "type": "rabbitmq",
                    "queues": [{"name": "q", "type": "quorum", "mirrors": 1}],
                },
                "producers": [{"name": "p", "to": "q", "rate": 1}],
                "consumers": [{"name": "c", "from": "q"}],
            }
        )


# ----- Redis and SQS ----------------------------------------------------------------------


def test_the_redis_event_loop_serves_every_command_in_turn() -> None:
    cost = {"per_command": 1e-3}
    broker = {
        "type": "redis",
        "streams": [{"name": "s"}],
        "groups": [{"stream": "s", "name": "g"}],
        "cost": cost,
    }
    config = RedisConfig.model_validate(broker, by_alias=True)
    account = redis_cost.account(config, Load(0, receive_batch=1), manual_ack=False)
    assert account.capacity == pytest.approx(500)  # XADD and a one-entry XREADGROUP: 2 ms

    def at(rate: float) -> dict[str, Any]:
        producers = [{"name": "p", "to": "s", "rate": rate, "arrivals": "constant"}]
        consumers = [{"name": "c", "from": "s", "group": "g", "prefetch": 1, "ack": "auto"}]
        return served(broker, producers, consumers).summary

    below, above = at(0.9 * account.capacity), at(1.1 * account.capacity)
    assert below["throughput"] == pytest.approx(0.9 * account.capacity, rel=0.03)
    assert below["max_backlog"] < 10
    # Past the capacity the loop, first come first served, gives the XADDs their share and
    # the reads what is left: the stream's backlog grows for the whole run.
    assert above["throughput"] < 0.9 * 1.1 * account.capacity
    assert above["backlog_at_end"] > 0.1 * account.capacity * (DURATION - WARMUP)
    fsynced = redis_cost.account(
        RedisConfig.model_validate(
            {**broker, "cost": {**cost, "appendfsync": "always", "fsync": 1e-3}}, by_alias=True
        ),
        Load(0, receive_batch=1),
        manual_ack=False,
    )
    assert fsynced.capacity == pytest.approx(1 / 3e-3)


def test_sqs_calls_take_their_latency_and_the_queue_keeps_up() -> None:
    broker = {
        "type": "sqs",
        "queues": [{"name": "q", "receive_wait_time": 20}],
        "cost": {"send_latency": "20ms", "receive_latency": "5ms"},
    }
    producers = [{"name": "p", "to": "q", "rate": 2000}]
    consumers = [{"name": "c", "from": "q", "replicas": 8, "max_messages": 10}]
    summary = served(broker, producers, consumers).summary
    assert summary["throughput"] == pytest.approx(2000, rel=0.05)  # no ceiling: a managed queue
    assert summary["latency_p50"] >= 0.025 - 1e-9  # the send, then a receive call
    ideal = served({**broker, "cost": None}, producers, consumers).summary
    assert ideal["latency_max"] < 0.005


# ----- Pulsar -----------------------------------------------------------------------------


def pulsar(cost: dict[str, Any], partitions: int = 0, **section: Any) -> dict[str, Any]:
    return {
        "type": "pulsar",
        "bookies": 3,
        "managedLedgerDefaultEnsembleSize": 3,
        "managedLedgerDefaultWriteQuorum": 3,
        "managedLedgerDefaultAckQuorum": 2,
        "topics": [{"name": "t", "partitions": partitions}],
        "cost": cost,
        **section,
    }


def pulsar_rate(
    broker: dict[str, Any],
    rate: float,
    size: int = 1000,
    subscriptions: int = 1,
    arrivals: str = "poisson",
    **consumer: Any,
) -> tuple[sim.Results, float, float]:
    """(results, msg/s consumed per subscription, the account's capacity) of unbatched
    messages of `size` bytes at `rate`, read by `subscriptions` shared subscriptions."""
    producers = [
        {
            "name": "p",
            "to": "t",
            "rate": rate,
            "message_size": size,
            "arrivals": arrivals,
            "batchingEnabled": False,
        }
    ]
    consumers = [
        {"name": f"c{i}", "from": "t", "subscription_type": "shared", "replicas": 2, **consumer}
        for i in range(subscriptions)
    ]
    results = served(broker, producers, consumers)
    config = PulsarConfig.model_validate(broker, by_alias=True)
    partitions = max(1, config.topics[0].partitions)
    load = Load(size, partitions=partitions, subscriptions=subscriptions)
    capacity = section_account(config, load).capacity
    return results, results.summary["throughput"] / subscriptions, capacity


def test_the_pulsar_account_takes_the_tightest_of_its_stages() -> None:
    cost = PulsarCost(dispatch=1e-6, io_threads=4, ledger_entry=1e-4, per_byte=1e-9)
    topology = Topology(brokers=2, bookies=3, ensemble_size=3, write_quorum=3, ack_quorum=2)
    one = pulsar_account(cost, topology, Load(1000, batch=1, partitions=1))
    assert one.capacity == pytest.approx(10_000)  # the partition's managed ledger: 0.1 ms
    assert one.bottleneck is not None and one.bottleneck.name.startswith("managed ledger")
    many = pulsar_account(cost, topology, Load(1000, batch=10, partitions=100))
    assert many.capacity == pytest.approx(1 / 1e-6)  # each bookie journals every entry
    assert many.bottleneck is not None and many.bottleneck.name == "bookie journal"


def test_a_pulsar_partitions_managed_ledger_appends_one_entry_at_a_time() -> None:
    one, served_one, capacity = pulsar_rate(pulsar({"ledger_entry": 1e-3}), 2000)
    assert capacity == pytest.approx(1000)
    assert served_one == pytest.approx(capacity, rel=0.05)
    assert one.summary["backlog_at_end"] > 0.2 * 1000 * (DURATION - WARMUP)
    # Two partitions: two ledgers, each with its own thread.
    _, served_two, capacity_two = pulsar_rate(pulsar({"ledger_entry": 1e-3}, partitions=2), 1800)
    assert capacity_two == pytest.approx(2000)
    assert served_two == pytest.approx(1800, rel=0.05)


def test_each_bookie_journals_the_entries_of_its_write_set() -> None:
    """10 kB entries at 0.1 us a byte: 1 ms of a bookie's journal each. Qw of the ensemble's 3
    bookies get each entry: capacity 3 / Qw thousand entries a second."""
    cost = {"per_byte": 1e-7, "journal_group_wait": 0}
    three = {"managedLedgerDefaultWriteQuorum": 3}
    _, full, capacity = pulsar_rate(pulsar(cost, **three), 1400, size=10_000)
    assert capacity == pytest.approx(1000)
    assert full == pytest.approx(capacity, rel=0.05)
    _, striped, striped_capacity = pulsar_rate(
        pulsar(cost, managedLedgerDefaultWriteQuorum=2), 1400, size=10_000
    )
    assert striped_capacity == pytest.approx(1500)  # each bookie gets 2 of every 3 entries
    assert striped == pytest.approx(1400, rel=0.05)


def test_a_publish_waits_for_its_group_fsync_on_the_ack_quorum() -> None:
    """Entries 10 ms apart each open a journal group: each waits the whole group wait, then
    the fsync (no queueing anywhere). Bookie answers that take exp(1 ms) more confirm an
    entry at the Qa-th fastest of Qw = 3: the mean of the fastest of 3 is 1/3 ms, of the
    slowest 1 + 1/2 + 1/3 ms."""
    cost = {"journal_group_wait": 0.002, "journal_fsync": 0.001}
    light, _, _ = pulsar_rate(pulsar(cost), 100, arrivals="constant")
    assert light.summary["latency_mean"] == pytest.approx(0.003, abs=1e-6)
    assert light.summary["latency_max"] == pytest.approx(0.003, abs=1e-6)
    means = {}
    for quorum in (1, 3):
        broker = pulsar(cost, managedLedgerDefaultAckQuorum=quorum, bookie_write_latency="exp(1ms)")
        results, _, _ = pulsar_rate(broker, 100, arrivals="constant")
        means[quorum] = results.summary["latency_mean"] - 0.003
    assert means[1] == pytest.approx(1e-3 / 3, rel=0.2)
    assert means[3] == pytest.approx(1e-3 * (1 + 1 / 2 + 1 / 3), rel=0.2)


def test_the_brokers_io_threads_dispatch_to_every_subscription_and_take_its_acks() -> None:
    dispatch = {"dispatch": 1e-3, "io_threads": 1}
    _, each, capacity = pulsar_rate(pulsar(dispatch), 900, subscriptions=2)
    assert capacity == pytest.approx(500)  # one thread sends every entry to 2 subscriptions
    assert each == pytest.approx(capacity, rel=0.05)
    _, each_two, capacity_two = pulsar_rate(
        pulsar({**dispatch, "io_threads": 2}), 900, subscriptions=2
    )
    assert capacity_two == pytest.approx(1000)
    assert each_two == pytest.approx(900, rel=0.05)
    # Acks (sent at once here, not grouped) take the same threads: past the capacity they are
    # handled at the capacity's pace, and the sends queued behind them wait longer and longer.
    acks = {"ack": 1e-3, "io_threads": 1}
    below, _, ack_capacity = pulsar_rate(pulsar(acks), 800, acknowledgmentGroupTime=0)
    assert ack_capacity == pytest.approx(1000)
    assert below.summary["acked"] == pytest.approx(below.summary["processed"], abs=5)
    above, _, _ = pulsar_rate(pulsar(acks), 1500, acknowledgmentGroupTime=0)
    assert above.summary["acked"] == pytest.approx(ack_capacity * DURATION, rel=0.05)
    assert above.summary["latency_p50"] > 50 * below.summary["latency_p50"]


# ----- presets in scenario files ----------------------------------------------------------


def test_a_preset_fills_the_cost_section_and_explicit_fields_win() -> None:
    base = {"type": "rabbitmq", "queues": [{"name": "q", "durable": True, "type": "quorum"}]}
    config = RabbitMQConfig.model_validate({**base, "cost": {"preset": "mqperf-2021"}})
    expected = cost_preset("mqperf-2021", "rabbitmq").cost
    assert config.cost is not None
    assert config.cost.persistence == expected["persistence"]
    assert config.cost.fsync == expected["fsync"]
    mine = RabbitMQConfig.model_validate(
        {**base, "cost": {"preset": "mqperf-2021", "fsync": "1ms"}}
    )
    assert mine.cost is not None and mine.cost.fsync == 0.001
    assert mine.cost.persistence == expected["persistence"]
    kafka_config = KafkaConfig.model_validate(
        {"type": "kafka", "topics": [{"name": "t"}], "cost": {"preset": "confluent-2020"}}
    )
    assert kafka_config.cost is not None
    assert kafka_config.cost.per_byte == cost_preset("confluent-2020", "kafka").cost["per_byte"]


def test_without_a_cost_section_every_broker_is_the_ideal_one() -> None:
    sections = {
        "kafka": ({"type": "kafka", "topics": [{"name": "t"}]}, "t"),
        "rabbitmq": ({"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]}, "q"),
        "sqs": ({"type": "sqs", "queues": [{"name": "q"}]}, "q"),
        "redis": ({"type": "redis", "streams": [{"name": "s"}]}, "s"),
        "pulsar": ({"type": "pulsar", "topics": [{"name": "t"}]}, "t"),
    }
    assert set(sections) == set(sim.broker_types())
    for section, to in sections.values():
        scenario = sim.Scenario.from_dict(
            {
                "name": "ideal",
                "duration": 1,
                "broker": section,
                "producers": [{"name": "p", "to": to, "rate": 1}],
            }
        )
        assert getattr(scenario.broker, "cost", None) is None


@pytest.mark.parametrize(
    ("cost", "message"),
    [
        (
            "{preset: mqperf-2020}",
            "broker.cost.preset: unknown preset 'mqperf-2020' (known: confluent-2020, mqperf-2021)",
        ),
        (
            "{preset: confluent-2020}",
            "broker.cost.preset: preset 'confluent-2020' has no redis costs (it has: kafka, "
            "pulsar, rabbitmq)",
        ),
    ],
)
def test_a_bad_preset_is_one_line_naming_the_file_and_field(
    tmp_path: Path, cost: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nduration: 1\nbroker:\n  type: redis\n  streams: [{name: s}]\n"
        f"  cost: {cost}\nproducers: [{{name: p, to: s, rate: 1}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(error.value) == f"{path}: {message}"
    assert "\n" not in str(error.value)


def test_a_pulsar_broker_that_dies_loses_the_work_queued_on_its_io_threads() -> None:
    from sim.brokers.pulsar.charges import ClusterCharges

    charges = ClusterCharges(PulsarCost(io_threads=1), brokers=2, bookies=3)
    for _ in range(10):
        charges.io[0].finish(0.0, 1.0)  # 10 s of work queued on broker 0
        charges.io[1].finish(0.0, 1.0)
    charges.broker_crashed(0)
    assert charges.io[0].finish(2.0, 0.5) == 2.5  # a restarted broker starts idle
    assert charges.io[1].finish(2.0, 0.5) == 10.5  # the other keeps its queue
