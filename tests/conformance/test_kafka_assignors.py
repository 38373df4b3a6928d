"""Replay ``shared/conformance/kafka/assignors.json`` against ``sim.brokers.kafka.assignors``.

Every case is replayed for every assignor, and every step of every sticky sequence with each
member sending its previous assignment. Expected answers come from the reference client
(kafka-python 3.0.12); where its round-robin assignor raised (a bug in its static-membership
code), the conformance README says to use kafka-python 2.0.2's answer, which predates static
membership, so that replay passes no instance ids. 2.0.2's answers for every assignor are
replayed as well, without instance ids, as a second reference for the dynamic-membership order.

The recordings are kafka-python's, so they are replayed against its port (``client=KP``); the
simulator's default, Java's sticky algorithm, is checked in ``tests/test_kafka_java_sticky.py``.

A missing data directory is a failure, not a skip.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.kafka import (
    STRATEGIES,
    assign,
    cooperative_first_assignment,
    cooperative_revocations,
)
from tests.helpers import golden, require_golden

MISSING = "golden-data-missing"
RECORDED = ("range", "roundrobin", "sticky")
KP = "kafka-python"  # the client the golden data was recorded from


def _subscriptions(members: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {m["member_id"]: list(m["topics"]) for m in members}


def _instance_ids(members: list[dict[str, Any]]) -> dict[str, str]:
    return {m["member_id"]: m["group_instance_id"] for m in members if m.get("group_instance_id")}


def _case_params() -> list[Any]:
    """(case, strategy, expected, use_instance_ids) for every case and every strategy."""
    data = golden("kafka/assignors.json")
    if data is None:
        return [pytest.param(None, None, None, None, id=MISSING)]
    params = []
    for case in data["cases"]:
        static = "-static" if _instance_ids(case["members"]) else ""
        for strategy in STRATEGIES:
            recorded = "sticky" if strategy == "cooperative-sticky" else strategy
            expected = case["assignments"][recorded]
            use_instance_ids = True
            suffix = ""
            if "error" in expected:
                expected = case["kafka_python_2_0_2"]["assignments"][recorded]
                use_instance_ids = False
                suffix = "-fallback-2.0.2"
            params.append(
                pytest.param(
                    case,
                    strategy,
                    expected,
                    use_instance_ids,
                    id=f"case{case['id']:03d}-{strategy}{static}{suffix}",
                )
            )
    return params


def _legacy_params() -> list[Any]:
    data = golden("kafka/assignors.json")
    if data is None:
        return [pytest.param(None, None, id=MISSING)]
    return [
        pytest.param(case, strategy, id=f"case{case['id']:03d}-{strategy}-2.0.2")
        for case in data["cases"]
        for strategy in RECORDED
    ]


def _step_params() -> list[Any]:
    """(sequence, step index, strategy) for every step of every sticky sequence."""
    data = golden("kafka/assignors.json")
    if data is None:
        return [pytest.param(None, None, None, id=MISSING)]
    return [
        pytest.param(seq, i, strategy, id=f"{seq['name']}-step{i}-{strategy}")
        for seq in data["sticky_sequences"]
        for i in range(len(seq["steps"]))
        for strategy in ("sticky", "cooperative-sticky")
    ]


def test_golden_data_present() -> None:
    data = require_golden("kafka/assignors.json")
    assert data["cases"], "no assignor cases"
    assert data["sticky_sequences"], "no sticky sequences"


@pytest.mark.parametrize(("case", "strategy", "expected", "use_instance_ids"), _case_params())
def test_case(
    case: dict[str, Any] | None,
    strategy: str | None,
    expected: dict[str, Any] | None,
    use_instance_ids: bool | None,
) -> None:
    if case is None or strategy is None:
        require_golden("kafka/assignors.json")
        return
    members = case["members"]
    instance_ids = _instance_ids(members) if use_instance_ids else None
    got = assign(
        strategy, _subscriptions(members), case["partitions"], instance_ids=instance_ids, client=KP
    )
    assert got == expected
    assert list(got) == sorted(m["member_id"] for m in members)


@pytest.mark.parametrize(("case", "strategy"), _legacy_params())
def test_case_kafka_python_2_0_2(case: dict[str, Any] | None, strategy: str | None) -> None:
    """kafka-python 2.0.2 had no static membership: its answers are the member-id order."""
    if case is None or strategy is None:
        require_golden("kafka/assignors.json")
        return
    got = assign(strategy, _subscriptions(case["members"]), case["partitions"], client=KP)
    assert got == case["kafka_python_2_0_2"]["assignments"][strategy]


def _previous_inputs(
    seq: dict[str, Any], index: int
) -> tuple[dict[str, Any] | None, dict[str, int] | None]:
    """What the members send at ``index``: the previous step's assignment and its generation."""
    step = seq["steps"][index]
    if index == 0 or not step.get("carries_previous_assignment"):
        return None, None
    previous = seq["steps"][index - 1]["assignment"]
    members = {m["member_id"] for m in step["members"]}
    generation = step["previous_generation"]
    return previous, {m: generation for m in previous if m in members}


@pytest.mark.parametrize(("seq", "index", "strategy"), _step_params())
def test_sticky_sequence_step(
    seq: dict[str, Any] | None, index: int | None, strategy: str | None
) -> None:
    if seq is None or index is None or strategy is None:
        require_golden("kafka/assignors.json")
        return
    step = seq["steps"][index]
    previous, generations = _previous_inputs(seq, index)
    subscriptions = _subscriptions(step["members"])
    got = assign(
        strategy,
        subscriptions,
        step["partitions"],
        previous=previous,
        generations=generations,
        client=KP,
    )
    assert got == step["assignment"]
    # kafka-python 2.0.2 recorded the same sequence; it must agree too.
    assert got == seq["kafka_python_2_0_2_steps"][index]

    if strategy == "cooperative-sticky":
        _check_cooperative_round(previous or {}, got)


def _check_cooperative_round(previous: dict[str, Any], target: dict[str, Any]) -> None:
    """First round of KIP-429: revoke what moves, never hand out what another member owns."""
    revoked = cooperative_revocations(previous, target)
    first = cooperative_first_assignment(previous, target)
    assert set(revoked) == set(first) == set(target)
    owners = {
        (topic, p): member
        for member, topics in previous.items()
        if member in target
        for topic, parts in topics.items()
        for p in parts
    }
    for member in target:
        owned = {(t, p) for t, parts in previous.get(member, {}).items() for p in parts}
        wanted = {(t, p) for t, parts in target[member].items() for p in parts}
        gone = {(t, p) for t, parts in revoked[member].items() for p in parts}
        granted = {(t, p) for t, parts in first[member].items() for p in parts}
        assert gone == owned - wanted
        assert granted <= wanted
        # Withheld exactly: partitions another current member still owns.
        withheld = {tp for tp in wanted if owners.get(tp, member) != member}
        assert granted == wanted - withheld


# -- behaviour beyond the golden data ------------------------------------------------------


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"range.*roundrobin.*sticky.*cooperative-sticky"):
        assign("uniform", {"C0": ["t"]}, {"t": 1})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_missing_and_null_topics_have_no_partitions(strategy: str) -> None:
    got = assign(strategy, {"C0": ["ghost", "t"], "C1": ["gone"]}, {"t": 2, "gone": None})
    assert got == {"C0": {"t": [0, 1]}, "C1": {}}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_group(strategy: str) -> None:
    assert assign(strategy, {}, {"t": 3}) == {}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_negative_partition_count_is_rejected(strategy: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        assign(strategy, {"C0": ["t"]}, {"t": -1})


def test_member_ids_sort_as_strings() -> None:
    got = assign("range", {"C2": ["t"], "C10": ["t"]}, {"t": 3})
    assert got == {"C10": {"t": [0, 1]}, "C2": {"t": [2]}}


def test_static_members_come_first_by_instance_id() -> None:
    subs = {"A": ["t"], "B": ["t"], "C": ["t"]}
    got = assign("roundrobin", subs, {"t": 3}, instance_ids={"C": "i-1", "B": "i-2"})
    assert got == {"A": {"t": [2]}, "B": {"t": [1]}, "C": {"t": [0]}}


def test_sticky_higher_generation_wins_a_conflicting_claim() -> None:
    subs = {"C0": ["t"], "C1": ["t"]}
    previous = {"C0": {"t": [0, 1]}, "C1": {"t": [1]}}
    got = assign("sticky", subs, {"t": 2}, previous=previous, generations={"C0": 1, "C1": 2})
    assert got == {"C0": {"t": [0]}, "C1": {"t": [1]}}


def test_sticky_ignores_previous_of_departed_members() -> None:
    subs = {"C0": ["t"], "C1": ["t"]}
    previous = {"C0": {"t": [0]}, "C1": {"t": [1]}, "gone": {"t": [2, 3]}}
    got = assign("sticky", subs, {"t": 4}, previous=previous)
    assert got["C0"]["t"][0] == 0 and got["C1"]["t"][0] == 1
    assert sorted(got["C0"]["t"] + got["C1"]["t"]) == [0, 1, 2, 3]


def test_sticky_revokes_unsubscribed_topic() -> None:
    previous = {"C0": {"a": [0], "b": [0]}, "C1": {"b": [1]}}
    got = assign("sticky", {"C0": ["b"], "C1": ["b"]}, {"a": 1, "b": 2}, previous=previous)
    assert got == {"C0": {"b": [0]}, "C1": {"b": [1]}}
    assert cooperative_revocations(previous, got) == {"C0": {"a": [0]}, "C1": {}}
