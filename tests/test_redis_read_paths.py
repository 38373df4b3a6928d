"""The model's own XREADGROUP (`RedisStreamsServer.read_new`, its inlined read loop) and the
command's general path (`xreadgroup(..., raw=True)`) must give the same entries and leave the
same group state (last id, entries-read, both PELs) on the same stream, whatever its shape:
several listpack nodes, a reader many nodes behind, deleted entries (the entries-read estimate),
trimmed nodes and a COUNT larger than what is left."""

from __future__ import annotations

from typing import Any

import simpy

from sim.brokers.redis import RedisStreamsServer


def _twins() -> tuple[simpy.Environment, RedisStreamsServer, RedisStreamsServer]:
    env = simpy.Environment()
    # Three entries a node: a few dozen entries make many nodes, as a long run does.
    return env, RedisStreamsServer(env, node_max_entries=3), RedisStreamsServer(env, 3)


def _state(server: RedisStreamsServer) -> Any:
    group = server.streams["s"].groups["g"]
    pel = {key: (n.consumer.name, n.delivery_count) for key, n in group.pel.items.items()}
    own = {name: list(c.pel.items) for name, c in group.consumers.items()}
    return group.last_id, group.entries_read, pel, own


def _both(servers: tuple[RedisStreamsServer, RedisStreamsServer], command: str, *args: str) -> None:
    for server in servers:
        server.execute_command(command, *args)


def _read_both(
    fast: RedisStreamsServer, general: RedisStreamsServer, consumer: str, count: int | None
) -> list[Any]:
    read = fast.read_new("s", "g", consumer, count, False)
    reply = general.xreadgroup("g", consumer, {"s": ">"}, count, raw=True)
    assert read == (None if reply is None else reply[0][1])
    assert _state(fast) == _state(general)
    return read or []


def test_read_new_matches_xreadgroup_across_nodes_deletes_and_trims() -> None:
    env, fast, general = _twins()
    servers = (fast, general)
    _both(servers, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    for i in range(40):
        env.run(until=env.now + 0.001)
        _both(servers, "XADD", "s", "*", "n", str(i))
    # A reader keeping up reads from the last node; one far behind from the first ones.
    served = [_read_both(fast, general, "a", 1) for _ in range(5)]
    assert [entry[0] for [entry] in served] == sorted(entry[0] for [entry] in served)
    _read_both(fast, general, "b", 7)  # across nodes
    first = fast.streams["s"].entries_after((0, 0), None)
    _both(servers, "XDEL", "s", f"{first[20][0][0]}-{first[20][0][1]}")  # a tombstone ahead
    _read_both(fast, general, "a", 10)  # over the deleted entry: entries-read estimated
    _both(servers, "XTRIM", "s", "MAXLEN", "~", "6")  # whole nodes trimmed away
    _read_both(fast, general, "b", None)  # everything that is left
    assert _read_both(fast, general, "a", 1) == []  # nothing new: not served
    for i in range(4):
        env.run(until=env.now + 0.001)
        _both(servers, "XADD", "s", "*", "n", str(100 + i))
    _read_both(fast, general, "c", 100)  # a new consumer, COUNT beyond what is there


def test_read_new_from_an_empty_or_read_stream_serves_nothing_and_creates_no_consumer() -> None:
    _env, fast, general = _twins()
    _both((fast, general), "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    assert _read_both(fast, general, "a", 1) == []
    assert fast.streams["s"].groups["g"].consumers == {}


def test_a_reader_keeping_up_with_count_1_matches_xreadgroup_in_the_tail_node() -> None:
    """read_new serves a COUNT 1 read from the tail node inline (its entry, the group's
    counters and both PELs); every shape of tail that must leave that shortcut (the next
    entry deleted, a rewound group whose next id is still pending, NOACK, an exact trim inside
    the node, an unordered node after XSETID) gives what the general path gives."""
    env, fast, general = _twins()
    servers = (fast, general)
    _both(servers, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")

    def add(n: int) -> None:
        for _ in range(n):
            env.run(until=env.now + 0.001)
            _both(servers, "XADD", "s", "*", "n", "v")

    read = []
    for _ in range(10):  # one entry added, one read: always from the tail node
        add(1)
        read += _read_both(fast, general, "a", 1)
    add(2)
    tail = fast.streams["s"]._nodes[-1]
    next_id = tail.ids[-2]
    _both(servers, "XDEL", "s", f"{next_id[0]}-{next_id[1]}")  # the next slot is deleted
    read += _read_both(fast, general, "a", 1)
    # Rewound to the deleted slot: the next id, in the tail node, is still pending for a.
    _both(servers, "XGROUP", "SETID", "s", "g", f"{next_id[0]}-{next_id[1]}")
    read += _read_both(fast, general, "b", 1)
    assert read[-1][0] == read[-2][0]  # the same entry again, now pending for b
    _both(servers, "XGROUP", "SETID", "s", "g", "0")  # rewound to the first nodes
    read += _read_both(fast, general, "b", 1)
    assert read[-1][0] == read[0][0]  # the first entry again, now pending for b
    _both(servers, "XGROUP", "SETID", "s", "g", "$")
    add(2)
    for server in servers:  # NOACK: served, pending for nobody
        server.xreadgroup("g", "a", {"s": ">"}, 1, noack=True, raw=True)
    assert _state(fast) == _state(general)
    add(1)
    _both(servers, "XTRIM", "s", "MAXLEN", "1")  # exact: slots deleted inside the tail node
    add(1)
    read += _read_both(fast, general, "a", 1)
    read += _read_both(fast, general, "a", 1)
    assert _read_both(fast, general, "a", 1) == []  # caught up
    last = fast.streams["s"].last_id
    add(1)
    newest = fast.streams["s"].last_id
    _both(servers, "XDEL", "s", f"{newest[0]}-{newest[1]}")
    _both(servers, "XSETID", "s", f"{last[0]}-{last[1]}")  # back to the last live entry
    _both(servers, "XADD", "s", f"{last[0]}-5", "n", "v")  # before the deleted greater id
    assert not fast.streams["s"]._nodes[-1].ordered
    read += _read_both(fast, general, "a", 1)
    assert read[-1][0] == (last[0], 5)
    assert len(read) == 16
