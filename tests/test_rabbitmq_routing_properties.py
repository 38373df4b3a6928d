"""Properties of the RabbitMQ routing functions, and unit tests of ``route``.

The recorded broker cases (tests/conformance/test_rabbitmq_routing.py) pin exact answers; these
tests cover the space between them: invariants over generated keys and header tables, an
independent reference matcher for topics, and the bookkeeping ``route`` adds on top.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.brokers.rabbitmq.routing import (
    MATCHERS,
    ExchangeType,
    direct_matches,
    headers_matches,
    route,
    split_topic_key,
    topic_matches,
)

# Small alphabets so that generated keys collide often enough to match.
plain_words = st.sampled_from(["", "a", "b", "c", "ab"])
pattern_words = st.sampled_from(["", "a", "b", "*", "#", "a*", "#b"])
plain_keys = st.lists(plain_words, max_size=8).map(".".join)
pattern_keys = st.lists(pattern_words, max_size=8).map(".".join)


def reference_topic_match(binding_key: str, routing_key: str) -> bool:
    """Textbook recursive matcher (memoised), written independently of the DP under test."""
    pattern = tuple(split_topic_key(binding_key))
    words = tuple(split_topic_key(routing_key))

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        if pattern[i] == "#":
            return match(i + 1, j) or (j < len(words) and match(i, j + 1))
        if j == len(words):
            return False
        return (pattern[i] in ("*", words[j])) and match(i + 1, j + 1)

    return match(0, 0)


# --------------------------------------------------------------------------------------------
# topic


@given(pattern_keys, plain_keys)
def test_topic_agrees_with_reference_matcher(binding_key: str, routing_key: str) -> None:
    assert topic_matches(binding_key, routing_key) == reference_topic_match(
        binding_key, routing_key
    )


@given(st.lists(pattern_words, max_size=8).map(".".join))
def test_hash_matches_everything(routing_key: str) -> None:
    # Routing keys may contain '*' and '#' words too: there they are literal.
    assert topic_matches("#", routing_key)


@given(plain_keys)
def test_key_without_wildcards_matches_itself(key: str) -> None:
    assert topic_matches(key, key)
    assert direct_matches(key, key)


@given(st.integers(min_value=0, max_value=6), plain_keys)
def test_stars_match_exactly_their_word_count(stars: int, routing_key: str) -> None:
    binding_key = ".".join(["*"] * stars)
    assert topic_matches(binding_key, routing_key) == (len(split_topic_key(routing_key)) == stars)


@given(plain_keys)
def test_star_x_never_matches_a_different_word_count(routing_key: str) -> None:
    if len(split_topic_key(routing_key)) != 2:
        assert not topic_matches("*.x", routing_key)


@given(plain_keys, plain_keys)
def test_a_hash_suffix_matches_every_extension(prefix: str, suffix: str) -> None:
    # 'p.#' matches p itself and p followed by any words ('' is zero words, so no dot needed).
    binding_key = f"{prefix}.#" if prefix else "#"
    routing_key = f"{prefix}.{suffix}" if prefix and suffix else prefix or suffix
    if prefix:
        assert topic_matches(binding_key, prefix)
    assert topic_matches(binding_key, routing_key)


def test_empty_and_dot_word_splitting() -> None:
    assert split_topic_key("") == []
    assert split_topic_key(".") == ["", ""]
    assert split_topic_key("a.") == ["a", ""]
    assert topic_matches("", "")
    assert not topic_matches("*", "")
    assert topic_matches("*", "#")  # a literal '#' word in a routing key is just a word
    assert topic_matches("*.*", "a.")
    assert not topic_matches("a*", "ab")  # wildcards are whole words only


def test_long_keys_with_many_hashes_do_not_backtrack() -> None:
    # 30 '#' words against a 60-word key that fails at the very end: a backtracking matcher
    # explores ~C(60, 30) splits here and never returns; the DP does 60 x 60 steps.
    binding_key = ".".join(["#", "x"] * 30) + ".end"
    routing_key = ".".join(["x"] * 60)
    assert not topic_matches(binding_key, routing_key)
    assert topic_matches(binding_key, routing_key + ".end")


# --------------------------------------------------------------------------------------------
# direct


@given(plain_keys, plain_keys)
def test_direct_is_plain_equality(binding_key: str, routing_key: str) -> None:
    assert direct_matches(binding_key, routing_key) == (binding_key == routing_key)


# --------------------------------------------------------------------------------------------
# headers

header_names = st.sampled_from(["h1", "h2", "H1", "x-foo"])
header_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["v1", "1", ""])
)
header_tables = st.dictionaries(header_names, header_values, max_size=4)


@given(st.one_of(st.none(), header_tables))
def test_empty_all_matches_everything_and_empty_any_nothing(headers: dict[str, Any] | None) -> None:
    assert headers_matches({}, headers)
    assert headers_matches({"x-match": "all"}, headers)
    assert not headers_matches({"x-match": "any"}, headers)


@given(header_tables, header_tables, st.sampled_from(["all", "any"]))
def test_x_arguments_are_ignored_without_with_x(
    fields: dict[str, Any], headers: dict[str, Any], mode: str
) -> None:
    with_x = {"x-match": mode, **fields, "x-other": "anything"}
    without_x = {"x-match": mode, **{k: v for k, v in fields.items() if not k.startswith("x-")}}
    assert headers_matches(with_x, headers) == headers_matches(without_x, headers)


@given(header_tables, header_tables)
def test_all_implies_any_when_there_are_fields(
    fields: dict[str, Any], headers: dict[str, Any]
) -> None:
    plain = {k: v for k, v in fields.items() if not k.startswith("x-")}
    if plain and headers_matches({"x-match": "all", **plain}, headers):
        assert headers_matches({"x-match": "any", **plain}, headers)


@given(header_tables)
def test_a_table_matches_a_binding_of_itself(headers: dict[str, Any]) -> None:
    assert headers_matches({"x-match": "all-with-x", **headers}, headers)


@pytest.mark.parametrize(
    ("bound", "sent", "matched"),
    [
        pytest.param(True, 1, False, id="bool-is-not-int"),
        pytest.param(1, True, False, id="int-is-not-bool"),
        pytest.param(False, 0, False, id="false-is-not-zero"),
        pytest.param(True, True, True, id="bool-equals-bool"),
        pytest.param("1", 1, False, id="str-is-not-int"),
        pytest.param(1, 2**40, False, id="int-value-differs"),
        pytest.param(2**40, 2**40, True, id="long-equals-long"),
        pytest.param(1, 1.0, True, id="int-equals-float-like-erlang"),
        pytest.param("v1", b"v1", True, id="longstr-equals-bytes"),
        pytest.param(Decimal("1.0"), Decimal("1.00"), False, id="decimal-scale-matters"),
        pytest.param(Decimal("1"), 1, False, id="decimal-is-not-int"),
        pytest.param([1, "a"], [1, "a"], True, id="array-equal"),
        pytest.param([True], [1], False, id="array-bool-is-not-int"),
        pytest.param({"k": "v"}, {"k": "v"}, True, id="table-equal"),
        pytest.param("v1", None, False, id="value-vs-void"),
        pytest.param(None, None, True, id="presence-of-void"),
        pytest.param(None, "anything", True, id="presence-of-value"),
    ],
)
def test_value_comparison_by_type_class(bound: Any, sent: Any, matched: bool) -> None:
    assert headers_matches({"h": bound}, {"h": sent}) is matched


def test_header_names_are_case_sensitive() -> None:
    assert not headers_matches({"h1": None}, {"H1": "v"})


def test_invalid_x_match_is_refused_like_the_broker() -> None:
    with pytest.raises(ValueError, match="x-match"):
        headers_matches({"x-match": "ALL"}, {})
    with pytest.raises(ValueError, match="x-match"):
        headers_matches({"x-match": 1}, {})


# --------------------------------------------------------------------------------------------
# route


def test_matchers_cover_every_exchange_type() -> None:
    assert set(MATCHERS) == set(ExchangeType)
    assert [t.value for t in ExchangeType] == ["direct", "fanout", "topic", "headers"]


def test_route_topic_in_binding_order_each_queue_once() -> None:
    bindings = [
        ("q2", "a.*", None),
        ("q1", "#", None),
        ("q2", "a.b", None),  # q2 matches twice but gets one copy
        ("q3", "b.#", None),
    ]
    assert route("topic", bindings, "a.b", None) == ["q2", "q1"]
    assert route(ExchangeType.TOPIC, bindings, "b", None) == ["q1", "q3"]


def test_route_direct_and_fanout() -> None:
    bindings = [("q1", "k", None), ("q2", "K", None), ("q3", "k", None)]
    assert route("direct", bindings, "k", None) == ["q1", "q3"]
    assert route("fanout", bindings, "anything", None) == ["q1", "q2", "q3"]


def test_route_headers_ignores_keys_and_treats_no_arguments_as_match_all() -> None:
    bindings = [
        ("q1", "", {"x-match": "any", "h1": "v1", "h2": "v2"}),
        ("q2", "routing-key-is-ignored", {"h1": "v1", "h2": "v2"}),
        ("q3", "", None),
    ]
    assert route("headers", bindings, "whatever", {"h1": "v1"}) == ["q1", "q3"]
    assert route("headers", bindings, "", {"h1": "v1", "h2": "v2"}) == ["q1", "q2", "q3"]
    assert route("headers", bindings, "", None) == ["q3"]


def test_route_with_no_bindings_or_no_match() -> None:
    assert route("topic", [], "a", None) == []
    assert route("direct", [("q", "a", None)], "b", None) == []


def test_route_unknown_exchange_type() -> None:
    with pytest.raises(ValueError):
        route("x-consistent-hash", [("q", "1", None)], "a", None)
