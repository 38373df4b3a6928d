"""Replay every routing case recorded on a real RabbitMQ 3.10.8 broker.

Data: ``shared/conformance/rabbitmq/routing.json`` beside the repository (``/work/shared`` for
``/work/main``; CI puts a copy of ``shared/`` beside its clone). Each case is checked twice: with
the exchange type's matcher, and through ``route`` with a single binding, so both agree with the
broker. Missing data is a failure, never a skip: a green run must mean the cases were replayed.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.rabbitmq.routing import (
    direct_matches,
    fanout_matches,
    headers_matches,
    route,
    topic_matches,
)
from tests.helpers import CONFORMANCE, golden

DATA = golden("rabbitmq/routing.json")
MISSING = (
    f"golden data not found at {CONFORMANCE}/rabbitmq/routing.json: put shared/ beside the repo"
)


def _short(key: str) -> str:
    """Readable id fragment for a key: empty shown as <empty>, 40-word keys abbreviated."""
    if key == "":
        return "<empty>"
    if len(key) > 24:
        return f"{key[:12]}...({key.count('.') + 1}w)"
    return key


def _params(list_name: str, make_id: Any) -> list[Any]:
    """One pytest param per case; a single failing placeholder when the data is missing."""
    if DATA is None:
        return [pytest.param(None, id=f"{list_name}-DATA-MISSING")]
    return [pytest.param(case, id=make_id(case)) for case in DATA[list_name]]


def _require(case: dict[str, Any] | None) -> dict[str, Any]:
    if case is None:
        pytest.fail(MISSING)
    return case


def _single_binding_route(
    exchange_type: str,
    binding_key: str,
    arguments: dict[str, Any] | None,
    routing_key: str,
    headers: dict[str, Any] | None,
) -> bool:
    queues = route(exchange_type, [("q", binding_key, arguments)], routing_key, headers)
    assert queues in ([], ["q"])
    return queues == ["q"]


# --------------------------------------------------------------------------------------------
# typed AMQP values in the golden data -> the plain Python values the simulator carries

#: AMQP field type as recorded (pika's encoding, see the file's ``notes``) -> Python type(s).
#: Both integer widths become ``int`` so that they compare equal, as on the broker; ``bool`` is
#: its own class (never ``1``); void becomes ``None``. An unknown type fails loudly rather than
#: being guessed, so newly recorded types get a deliberate mapping.
AMQP_TO_PYTHON: dict[str, tuple[type, ...]] = {
    "longstr(S)": (str,),
    "int(I)": (int,),
    "long(l)": (int,),
    "bool": (bool,),
    "void": (type(None),),
}


def _plain_value(field: dict[str, Any]) -> Any:
    amqp_type, value = field["type"], field["value"]
    if amqp_type not in AMQP_TO_PYTHON:
        pytest.fail(f"no Python mapping for AMQP field type {amqp_type!r} (value {value!r})")
    expected = AMQP_TO_PYTHON[amqp_type]
    # Exact type check: bool subclasses int, so isinstance would let a JSON true pass as an int.
    if type(value) not in expected:
        pytest.fail(f"{amqp_type} value {value!r} decoded as {type(value).__name__}")
    return value


def _plain_table(table: dict[str, Any] | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {name: _plain_value(field) for name, field in table.items()}


def _table_id(table: dict[str, Any] | None) -> str:
    if table is None:
        return "None"
    parts = [
        f"{name}={field['type'].split('(')[0]}:{field['value']}" for name, field in table.items()
    ]
    return "{" + ",".join(parts) + "}"


# --------------------------------------------------------------------------------------------
# the data file itself


def test_golden_data_present_and_complete() -> None:
    """The file is there, from the expected broker, with every case list non-empty."""
    if DATA is None:
        pytest.fail(MISSING)
    assert DATA["source"]["version"] == "3.10.8"
    for list_name in ("cases", "direct_cases", "fanout_cases", "headers_cases"):
        cases = DATA[list_name]
        assert cases, f"{list_name} is empty"
        ids = [case["id"] for case in cases]
        assert len(ids) == len(set(ids)), f"duplicate ids in {list_name}"


# --------------------------------------------------------------------------------------------
# replay


@pytest.mark.parametrize(
    "case",
    _params(
        "cases",
        lambda c: (
            f"topic{c['id']:03d}-{c['group']}:{_short(c['binding_key'])}|{_short(c['routing_key'])}"
        ),
    ),
)
def test_topic(case: dict[str, Any] | None) -> None:
    case = _require(case)
    bk, rk, matched = case["binding_key"], case["routing_key"], case["matched"]
    assert topic_matches(bk, rk) is matched, f"topic {bk!r} vs {rk!r}: broker said {matched}"
    assert _single_binding_route("topic", bk, None, rk, None) is matched


@pytest.mark.parametrize(
    "case",
    _params(
        "direct_cases",
        lambda c: f"direct{c['id']:03d}:{_short(c['binding_key'])}|{_short(c['routing_key'])}",
    ),
)
def test_direct(case: dict[str, Any] | None) -> None:
    case = _require(case)
    bk, rk, matched = case["binding_key"], case["routing_key"], case["matched"]
    assert direct_matches(bk, rk) is matched, f"direct {bk!r} vs {rk!r}: broker said {matched}"
    assert _single_binding_route("direct", bk, None, rk, None) is matched


@pytest.mark.parametrize(
    "case",
    _params(
        "fanout_cases",
        lambda c: f"fanout{c['id']:03d}:{_short(c['binding_key'])}|{_short(c['routing_key'])}",
    ),
)
def test_fanout(case: dict[str, Any] | None) -> None:
    case = _require(case)
    bk, rk, matched = case["binding_key"], case["routing_key"], case["matched"]
    assert fanout_matches(bk, rk) is matched
    assert _single_binding_route("fanout", bk, None, rk, None) is matched


@pytest.mark.parametrize(
    "case",
    _params(
        "headers_cases",
        lambda c: (
            f"headers{c['id']:03d}:{_table_id(c['binding_arguments'])}"
            f"<-{_table_id(c['message_headers'])}"
        ),
    ),
)
def test_headers(case: dict[str, Any] | None) -> None:
    case = _require(case)
    arguments = _plain_table(case["binding_arguments"])
    assert arguments is not None  # a binding always has an arguments table, possibly empty
    headers = _plain_table(case["message_headers"])
    matched = case["matched"]
    assert headers_matches(arguments, headers) is matched, (
        f"headers binding {arguments!r} vs message {headers!r}: broker said {matched}"
    )
    # The routing key is irrelevant to a headers exchange: any key must give the same answer.
    assert (
        _single_binding_route("headers", "ignored", arguments, "also.ignored", headers) is matched
    )
