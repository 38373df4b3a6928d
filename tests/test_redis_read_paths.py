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
