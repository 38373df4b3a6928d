"""Share groups in scenario files (`share_group: NAME`): validation of the share consumer's
fields and of one protocol per group, the broker's group.share.* settings, the source
`<topic>/<share group>`, RELEASE and REJECT on failures, guarantees, and the kafka_share_groups
scenario: throughput past the partition count, per-key order, the poison record archived."""

from __future__ import annotations

from typing import Any

import pytest

import sim
from sim.results import Results
from sim.scenario import ScenarioError
from tests.scenario_runs import scenario_runs


def _data(consumer: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "s",
        "duration": 60.0,
        "warmup": 5.0,
        "broker": {"type": "kafka", "topics": [{"name": "t", "partitions": 2}]},
        "producers": [
            {"name": "p", "to": "t", "rate": 20.0, "keys": 50},
            {"name": "bad", "to": "t", "rate": "6/min", "keys": ["poison"]},
        ],
        "consumers": [
            {
                "name": "w",
                "from": "t",
                "replicas": 4,
                "share_group": "w",
                "share.auto.offset.reset": "earliest",
                "max.poll.records": 5,
                "service_time": "exp(50ms)",
                "poison_key": "poison",
                **(consumer or {}),
            }
        ],
    }
    data.update(changes)
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        sim.Scenario.from_dict(data, "x.yaml")
    return str(caught.value)


def _run(data: dict[str, Any], **kwargs: Any) -> Results:
    results = sim.run(sim.Scenario.from_dict(data), **kwargs)
    assert results.conservation_gap() == 0
    return results


# ----- validation -----
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("group.id", "w"),
        ("enable.auto.commit", False),
        ("auto.offset.reset", "earliest"),
        ("partition.assignment.strategy", "range"),
        ("group.instance.id", "w"),
        ("max.poll.interval.ms", 1000),
    ],
)
def test_a_share_consumer_refuses_the_settings_of_a_group_consumer(field: str, value: Any) -> None:
    message = _error(_data({field: value}))
    assert (
        message == f"x.yaml: consumers[0].{field}: not a setting of a share consumer (share_group)"
    )


def test_share_settings_need_a_share_group() -> None:
    plain = {"share_group": None, "share.auto.offset.reset": None, "poison_key": None}
    for field, value in (("share.auto.offset.reset", "earliest"), ("on_failure", "reject")):
        message = _error(_data({**plain, field: value}))
        assert message == f"x.yaml: consumers[0].{field}: applies only to a share_group consumer"


def test_one_group_cannot_mix_protocols() -> None:
    base = _data()
    classic = {"name": "c", "from": "t", "group.id": "w"}
    message = _error({**base, "consumers": [*base["consumers"], classic]})
    assert "consumers[1].group.protocol: group 'w' is a share group (consumers[0])" in message
    modern = {"name": "m", "from": "t", "group.id": "g", "group.protocol": "consumer"}
    old = {"name": "o", "from": "t", "group.id": "g"}
    message = _error({**base, "consumers": [modern, old]})
    assert "group 'g' is a consumer group (consumers[0])" in message
    assert "INCONSISTENT_GROUP_PROTOCOL" in message


def test_share_groups_have_no_transactions_and_members_agree_on_where_to_start() -> None:
    guarantee = {"strategy": "kafka-transactions"}
    message = _error(_data({"guarantee": guarantee}))
    assert "consumers[0].guarantee.strategy: share groups have no transactional reads" in message
    base = _data()
    other = {**base["consumers"][0], "name": "w2", "share.auto.offset.reset": "latest"}
    message = _error({**base, "consumers": [*base["consumers"], other]})
    assert "consumers[1].share.auto.offset.reset: share group 'w' already starts at 'earliest'" in (
        message
    )


# ----- runs -----
def test_the_source_is_topic_slash_share_group_with_ready_and_in_flight() -> None:
    results = _run(_data())
    assert results.columns_of("ready") == ["ready.t/w"]
    frame = results.timeseries
    assert frame["in_flight.t/w"].max() <= 4 * 5  # replicas x max.poll.records
    assert frame["ready.t/w"].max() > 0 and "kafka.lag" not in results.series
    assert set(results.latency_by("source").index) == {"t/w"}


def test_release_delivers_the_poison_record_up_to_the_limit_and_reject_archives_it_at_once() -> (
    None
):
    released = _run(_data())
    table = released.tables["kafka.share.deliveries"]
    archived = table[table["outcome"] == "ARCHIVED"]
    poison = released.summary["dropped"]
    assert poison >= 4  # the poison records sent
    assert list(archived["deliveries"]) == [5] and archived["records"].sum() == poison
    rejected = _run(_data({"on_failure": "reject"}))
    table = rejected.tables["kafka.share.deliveries"]
    assert list(table[table["outcome"] == "ARCHIVED"]["deliveries"]) == [1]
    assert rejected.summary["dropped"] == poison
    assert rejected.summary["redelivered"] == 0


def test_the_brokers_group_share_settings_reach_the_share_groups() -> None:
    data = _data()
    data["broker"]["group.share.delivery.count.limit"] = 3
    table = _run(data).tables["kafka.share.deliveries"]
    assert list(table[table["outcome"] == "ARCHIVED"]["deliveries"]) == [3]
    data["broker"]["group.share.delivery.count.limit"] = 11
    assert "group.share.delivery.count.limit" in _error(data)


def test_a_crashed_members_records_come_back_when_their_locks_expire() -> None:
    data = _data({"poison_key": None, "crash": {"at": [20.0], "replica": 0}})
    data["producers"] = data["producers"][:1]
    data["broker"]["group.share.record.lock.duration.ms"] = 5000
    results = _run(data)
    assert results.summary["kafka.share.lock_timeouts"] > 0
    assert results.summary["lost"] == 0 and results.summary["backlog_at_end"] < 10


@pytest.mark.parametrize("strategy", ["at-least-once", "at-most-once"])
def test_guarantees_run_on_share_consumers(strategy: str) -> None:
    guarantee = {"strategy": strategy, "crash_probability": 0.02, "restart_after": "1s"}
    data = _data({"poison_key": None, "guarantee": guarantee})
    data["producers"] = [{**data["producers"][0], "stop": 40.0}]
    data["broker"]["group.share.record.lock.duration.ms"] = 2000
    # Crashed members keep their share of the assignment until their session times out.
    data["broker"]["group.share.session.timeout.ms"] = 3000
    s = _run(data).summary
    assert s["crashes"] > 0
    if strategy == "at-least-once":
        assert s["effects_lost"] == 0 and s["effects_duplicated"] > 0
    else:
        assert s["effects_duplicated"] == 0 and s["effects_lost"] > 0


# ----- the scenario file -----
def _runs() -> dict[str, Results]:
    return scenario_runs("kafka_share_groups")  # simulated once (tests/scenario_runs.py)


def test_share_group_throughput_keeps_scaling_past_the_partition_count() -> None:
    rate = {name: r.summary["throughput"] for name, r in _runs().items()}
    # Two partitions: a consumer group of six works as fast as two consumers...
    assert rate["consumer-group"] == pytest.approx(rate["share-2"], rel=0.1)
    # ... while a share group of six works three times as fast, twelve keep up with the load.
    assert rate["share-6"] > 2.5 * rate["share-2"]
    assert rate["share-12"] > 1.5 * rate["share-6"]
    assert rate["share-12"] == pytest.approx(100.0, rel=0.05)
    consumer_group = _runs()["consumer-group"].summary["processed_by"]
    assert sum(1 for n in consumer_group.values() if n) == 2  # four members sit idle


def test_per_key_order_is_kept_by_the_consumer_group_and_not_by_share_groups() -> None:
    runs = _runs()
    assert runs["consumer-group"].summary["kafka.out_of_key_order"] == 0
    assert runs["share-2"].summary["kafka.out_of_key_order"] == 0  # one member per partition
    assert runs["share-12"].summary["kafka.out_of_key_order"] > 100


def test_the_poison_record_is_archived_after_five_deliveries() -> None:
    for name in ("share-6", "share-12"):
        results = _runs()[name]
        table = results.tables["kafka.share.deliveries"]
        archived = table[table["outcome"] == "ARCHIVED"]
        assert list(archived["deliveries"]) == [5]
        assert archived["records"].sum() == results.summary["dropped"] >= 1
    for results in _runs().values():
        assert results.conservation_gap() == 0


def test_the_catalog_draws_the_share_group_charts() -> None:
    from sim.viz.catalog import chosen

    names = set(chosen(_runs(), "variants"))
    assert {"share_scaling", "key_order", "share_deliveries"} <= names
    assert "throughput_vs_consumers" not in names and "scaling" not in names
    for chart in ("share_scaling", "key_order", "share_deliveries"):
        chosen(_runs(), "variants")[chart].draw(_runs())
