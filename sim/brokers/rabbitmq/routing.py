"""RabbitMQ (AMQP 0-9-1) exchange routing as pure functions.

Every rule here is checked against routing recorded on a real RabbitMQ 3.10.8 broker
(``shared/conformance/rabbitmq/routing.json``, replayed by
``tests/conformance/test_rabbitmq_routing.py``). Where the golden data is silent, the behaviour
follows the broker's own source (``rabbit_exchange_type_topic`` / ``rabbit_exchange_type_headers``)
and the comment says so.

Topic keys
    A key is split on ``.`` keeping empty words, except that ``''`` is *zero* words: ``'a.'`` is
    ``['a', '']``, ``'.'`` is ``['', '']``. In a binding key, ``*`` matches exactly one word (which
    may be empty) and ``#`` matches zero or more words; every other word, including a ``*`` or
    ``#`` inside a longer word such as ``a*``, is literal. In a routing key ``*`` and ``#`` are
    ordinary words.

Header values (plain Python, as the simulator's messages carry them)
    Header tables are ``Mapping[str, object]``. The broker decodes each AMQP field into an Erlang
    term and compares binding and message values with Erlang ``==``, which ignores the wire type
    but not the kind of term. We reproduce that by mapping each Python value to a *type class*:

    ========================  ==========================  =====================================
    Python value              AMQP field types            compares equal to
    ========================  ==========================  =====================================
    ``None``                  void ``V``                  in a binding: any value (presence
                                                          test); in a message: only ``None``
    ``bool``                  boolean ``t``               the same bool only (never ``1``/``0``)
    ``int``, ``float``        b B s u I i l L f d         a number with the same value: 32- and
                                                          64-bit ints are equal, ``1 == 1.0``
    ``str``, ``bytes``        longstr ``S``, bytes ``x``  the same bytes (``str`` as UTF-8), so
                                                          ``"v1"`` equals ``b"v1"`` but ``"1"``
                                                          never equals ``1``
    ``decimal.Decimal``       decimal ``D``               the same digits *and* scale
    ``list`` / ``tuple``      array ``A``                 element-wise by these rules
    ``dict``                  table ``F``                 key-wise by these rules
    anything else             (as the client encodes it)  the same Python type and ``==``
    ========================  ==========================  =====================================

    The golden data exercises void, bool, 32/64-bit ints and longstr; the float, bytes and
    decimal rows follow from the broker comparing decoded terms with ``==``. Nested arrays and
    tables are an approximation: the broker compares nested values together with their exact
    wire type tag (an array element ``I 1`` differs from ``l 1``), which plain Python values do
    not carry.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

__all__ = [
    "MATCHERS",
    "Binding",
    "ExchangeType",
    "Matcher",
    "direct_matches",
    "fanout_matches",
    "headers_matches",
    "route",
    "split_topic_key",
    "topic_matches",
]

Headers = Mapping[str, Any]
#: ``(destination_queue, binding_key, binding_arguments)``, as given to ``queue.bind``.
Binding = tuple[str, str, Headers | None]
#: Uniform matcher: ``(binding_key, binding_arguments, routing_key, message_headers) -> bool``.
Matcher = Callable[[str, Headers | None, str, Headers | None], bool]


class ExchangeType(StrEnum):
    """The four built-in exchange types, named as in ``exchange.declare``."""

    DIRECT = "direct"
    FANOUT = "fanout"
    TOPIC = "topic"
    HEADERS = "headers"


# --------------------------------------------------------------------------------------------
# direct / fanout


def direct_matches(binding_key: str, routing_key: str) -> bool:
    """Exact comparison: no case folding, no normalisation, ``*`` and ``#`` are literal.

    The broker compares raw bytes; comparing ``str`` code points is the same thing for UTF-8.
    """
    return binding_key == routing_key


def fanout_matches(binding_key: str, routing_key: str) -> bool:
    """A fanout exchange ignores both keys: every binding receives every message."""
    return True


# --------------------------------------------------------------------------------------------
# topic


def split_topic_key(key: str) -> list[str]:
    """Split a topic key into words: ``''`` is zero words, otherwise empty words are kept."""
    return key.split(".") if key else []


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """Whether a topic binding key matches a routing key.

    Dynamic programming over the binding words: ``reachable[j]`` says the binding words seen so
    far can consume exactly the first ``j`` routing words. This is O(binding words x routing
    words) whatever the mix of ``#`` and ``*``, where a naive backtracking matcher is exponential
    in the number of ``#`` words.
    """
    pattern = split_topic_key(binding_key)
    words = split_topic_key(routing_key)
    n = len(words)
    reachable = [True] + [False] * n
    for p in pattern:
        if p == "#":
            # Zero or more words: everything from the first reachable position onwards. Some
            # position is always reachable here: the other branch returns once none is.
            first = reachable.index(True)
            reachable = [j >= first for j in range(n + 1)]
        else:
            # One word, which must equal p unless p is '*'. Shift the reachable set right by one.
            reachable = [False] + [reachable[j] and (p == "*" or p == words[j]) for j in range(n)]
            if not any(reachable):
                return False
    return reachable[n]


# --------------------------------------------------------------------------------------------
# headers

_X_MATCH_MODES = frozenset({"all", "any", "all-with-x", "any-with-x"})


def _value_class(value: object) -> object:
    """A comparable stand-in for ``value`` that is equal exactly when the broker's ``==`` is.

    See the table in the module docstring. ``bool`` is tested before ``int`` because in Python
    ``True == 1``, whereas the broker's boolean (an Erlang atom) never equals an integer.
    """
    if value is None:
        return ("void",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("binary", value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return ("binary", bytes(value))
    if isinstance(value, decimal.Decimal):
        # Decoded as {Scale, Unscaled}: Decimal("1.0") and Decimal("1.00") differ on the wire.
        return ("decimal", value.as_tuple())
    if isinstance(value, list | tuple):
        return ("array", tuple(_value_class(v) for v in value))
    if isinstance(value, Mapping):
        return ("table", {k: _value_class(v) for k, v in value.items()})
    return ("other", type(value), value)


def _x_match_mode(binding_arguments: Headers) -> str:
    """The binding's ``x-match`` mode; ``all`` when absent, as the broker defaults it.

    The broker refuses (``binding_invalid``) a binding whose ``x-match`` is any other value or
    not a string, so we raise instead of guessing.
    """
    mode = binding_arguments.get("x-match", "all")
    if isinstance(mode, bytes):
        mode = mode.decode("utf-8", errors="replace")
    if mode not in _X_MATCH_MODES:
        raise ValueError(
            f"invalid x-match {mode!r}: expected one of {', '.join(sorted(_X_MATCH_MODES))}"
        )
    return mode


def headers_matches(binding_arguments: Headers, message_headers: Headers | None) -> bool:
    """Whether a headers-exchange binding matches a message's headers.

    The fields that take part are the binding arguments except ``x-match`` itself and, unless
    the mode is ``all-with-x``/``any-with-x``, except every other ``x-`` argument. A field
    matches when the message has a header of the same (case-sensitive) name and either the
    binding value is ``None`` (a presence test) or the values are equal by type class (module
    docstring). ``all`` needs every field to match, so it matches everything when there are no
    fields; ``any`` needs one, so it matches nothing when there are none. Absent headers
    (``None``) behave as an empty table.
    """
    mode = _x_match_mode(binding_arguments)
    with_x = mode.endswith("-with-x")
    headers: Headers = message_headers or {}

    def field_matches(name: str, expected: object) -> bool:
        if name not in headers:
            return False
        return expected is None or _value_class(expected) == _value_class(headers[name])

    fields = (
        (name, expected)
        for name, expected in binding_arguments.items()
        if name != "x-match" and (with_x or not name.startswith("x-"))
    )
    results: Iterable[bool] = (field_matches(name, expected) for name, expected in fields)
    return all(results) if mode.startswith("all") else any(results)


# --------------------------------------------------------------------------------------------
# exchange types and routing


def _by_keys(match: Callable[[str, str], bool]) -> Matcher:
    """Adapt a key matcher to the uniform :data:`Matcher` signature (arguments ignored)."""

    def matcher(
        binding_key: str, _arguments: Headers | None, routing_key: str, _headers: Headers | None
    ) -> bool:
        return match(binding_key, routing_key)

    return matcher


def _by_headers(
    _binding_key: str, arguments: Headers | None, _routing_key: str, headers: Headers | None
) -> bool:
    """Headers exchanges ignore both keys; a binding without arguments is ``x-match: all``."""
    return headers_matches(arguments or {}, headers)


MATCHERS: Mapping[ExchangeType, Matcher] = {
    ExchangeType.DIRECT: _by_keys(direct_matches),
    ExchangeType.FANOUT: _by_keys(fanout_matches),
    ExchangeType.TOPIC: _by_keys(topic_matches),
    ExchangeType.HEADERS: _by_headers,
}


def route(
    exchange_type: str,
    bindings: Iterable[Binding],
    routing_key: str,
    headers: Headers | None,
) -> list[str]:
    """Destination queues of the bindings that match, each once, in binding order.

    ``bindings`` are ``(queue, binding_key, binding_arguments)``. The broker delivers one copy
    per queue however many of its bindings match, hence the de-duplication. An unknown exchange
    type raises ``ValueError``.
    """
    match = MATCHERS[ExchangeType(exchange_type)]
    destinations: dict[str, None] = {}  # an insertion-ordered set
    for queue, binding_key, arguments in bindings:
        if queue not in destinations and match(binding_key, arguments, routing_key, headers):
            destinations[queue] = None
    return list(destinations)
