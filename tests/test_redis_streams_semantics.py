"""Redis Streams commands in simulated time: each semantic of redis-server 7.0 the model keeps
(ids, trimming, consumer groups, pending entries, claims, blocking reads), one test each."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim.brokers.redis import RedisStreamsServer, ResponseError, WouldBlock


def _server() -> tuple[simpy.Environment, RedisStreamsServer]:
    env = simpy.Environment()
    return env, RedisStreamsServer(env)


def _advance(env: simpy.Environment, seconds: float) -> None:
    env.run(until=env.now + seconds)


def _fill(server: RedisStreamsServer, key: str, n: int) -> None:
    for i in range(1, n + 1):
        server.execute_command("XADD", key, f"1-{i}", "n", str(i))


def test_auto_ids_come_from_the_simulated_clock_and_strictly_increase() -> None:
    env, server = _server()
    _advance(env, 1.5)
    first = server.execute_command("XADD", "s", "*", "n", "1")
    second = server.execute_command("XADD", "s", "*", "n", "2")
    assert first == "1500-0"
    assert second == "1500-1"  # same millisecond: the sequence grows
    server.execute_command("XADD", "s", "9999-0", "n", "3")  # an id ahead of the clock
    assert server.execute_command("XADD", "s", "*", "n", "4") == "9999-1"


def test_explicit_ids_must_be_greater_than_the_top_id() -> None:
    _, server = _server()
    server.execute_command("XADD", "s", "5-5", "n", "1")
    for stale in ("5-5", "5-4", "4-9"):
        with pytest.raises(ResponseError, match="equal or smaller than the target stream top"):
            server.execute_command("XADD", "s", stale, "n", "x")
    with pytest.raises(ResponseError, match="greater than 0-0"):
        server.execute_command("XADD", "t", "0-0", "n", "x")
    assert server.execute_command("XADD", "s", "5-*", "n", "2") == "5-6"


def test_exact_maxlen_keeps_exactly_n_newest() -> None:
    _, server = _server()
    for i in range(1, 8):
        server.execute_command("XADD", "s", "MAXLEN", "3", f"1-{i}", "n", str(i))
        assert server.xlen("s") == min(i, 3)
    assert [e[0] for e in server.xrange("s")] == ["1-5", "1-6", "1-7"]


def test_approximate_maxlen_frees_whole_nodes_only() -> None:
    _, server = _server()
    node = server.node_max_entries
    for i in range(1, 2 * node + 11):
        server.execute_command("XADD", "s", "MAXLEN", "~", "10", f"1-{i}", "n", str(i))
        length = server.xlen("s")
        assert length >= min(i, 10)
        # a node goes only when the entries outside it are still at least 10
        assert length == 10 + (i - 10) % node if i >= 10 else length == i
    first = server.xrange("s", count=1)[0][0]
    assert (int(first.split("-")[1]) - 1) % node == 0  # the head is a node boundary


def test_xtrim_limit_caps_the_work_in_whole_nodes() -> None:
    _, server = _server()
    _fill(server, "s", 250)
    assert server.execute_command("XTRIM", "s", "MAXLEN", "~", "10", "LIMIT", "50") == 0
    assert server.execute_command("XTRIM", "s", "MAXLEN", "~", "10", "LIMIT", "100") == 100
    with pytest.raises(ResponseError, match="LIMIT cannot be used without"):
        server.execute_command("XTRIM", "s", "MAXLEN", "10", "LIMIT", "100")
    # 1-101 .. 1-250 remain: MINID removes every id below 1-200 (exact: inside a node too)
    assert server.execute_command("XTRIM", "s", "MINID", "1-200") == 99


def _group(server: RedisStreamsServer, n: int = 4) -> None:
    _fill(server, "s", n)
    server.execute_command("XGROUP", "CREATE", "s", "g", "0")


def _counts(server: RedisStreamsServer) -> dict[str, int]:
    return {row[0]: row[3] for row in server.xpending_range("s", "g", "-", "+", 100)}


def test_new_entries_go_to_the_readers_pending_list_with_count_one() -> None:
    _, server = _server()
    _group(server)
    reply = server.execute_command(
        "XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">"
    )
    assert [e[0] for e in reply[0][1]] == ["1-1", "1-2", "1-3"]
    assert _counts(server) == {"1-1": 1, "1-2": 1, "1-3": 1}
    assert server.execute_command("XPENDING", "s", "g") == [3, "1-1", "1-3", [["a", "3"]]]


def test_reading_own_history_counts_a_delivery() -> None:
    _, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"}, count=2)
    again = server.xreadgroup("g", "a", {"s": "0"})
    assert [e[0] for e in again[0][1]] == ["1-1", "1-2"]
    assert _counts(server) == {"1-1": 2, "1-2": 2}
    assert server.xreadgroup("g", "b", {"s": "0"}) == [["s", []]]  # b has nothing pending


def test_noack_reads_leave_nothing_pending() -> None:
    _, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"}, noack=True)
    assert server.xpending("s", "g") == [0, None, None, None]
    assert server.xreadgroup("g", "a", {"s": ">"}) is None  # and they are read


def test_xack_counts_what_it_acknowledged() -> None:
    _, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"})
    assert server.execute_command("XACK", "s", "g", "1-1", "1-2", "9-9") == 2
    assert server.execute_command("XACK", "s", "g", "1-1") == 0
    assert server.execute_command("XACK", "s", "nogroup", "1-3") == 0
    assert list(_counts(server)) == ["1-3", "1-4"]


def test_setid_rewinds_and_reassigns_pending_entries() -> None:
    _, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"})
    server.xreadgroup("g", "a", {"s": "0"})  # counts now 2
    server.execute_command("XGROUP", "SETID", "s", "g", "0")
    server.xreadgroup("g", "b", {"s": ">"})
    rows = server.xpending_range("s", "g", "-", "+", 10)
    assert {row[1] for row in rows} == {"b"} and {row[3] for row in rows} == {1}


def test_xpending_reports_idle_time_in_simulated_milliseconds() -> None:
    env, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"}, count=1)
    _advance(env, 0.25)
    server.xreadgroup("g", "b", {"s": ">"}, count=1)
    _advance(env, 0.5)
    idle = {row[0]: row[2] for row in server.xpending_range("s", "g", "-", "+", 10)}
    assert idle == {"1-1": 750, "1-2": 500}
    assert server.xpending_range("s", "g", "-", "+", 10, idle=600)[0][0] == "1-1"


def test_xclaim_respects_min_idle_and_counts_deliveries_except_justid() -> None:
    env, server = _server()
    _group(server)
    server.xreadgroup("g", "a", {"s": ">"})
    assert server.xclaim("s", "g", "b", 1000, ["1-1"]) == []  # not idle long enough
    _advance(env, 1.0)
    assert [e[0] for e in server.xclaim("s", "g", "b", 1000, ["1-1"])] == ["1-1"]
    assert server.xclaim("s", "g", "c", 1000, ["1-2"], justid=True) == ["1-2"]
    rows = {row[0]: (row[1], row[3]) for row in server.xpending_range("s", "g", "-", "+", 10)}
    assert rows["1-1"] == ("b", 2) and rows["1-2"] == ("c", 1) and rows["1-3"] == ("a", 1)
    assert server.xclaim("s", "g", "c", 500, ["1-1"]) == []  # the claim reset its idle time


def test_xautoclaim_pages_with_a_cursor_and_purges_deleted_entries() -> None:
    env, server = _server()
    _group(server, 6)
    server.xreadgroup("g", "a", {"s": ">"})
    _advance(env, 1.0)
    server.xdel("s", "1-3")
    cursor, claimed, deleted = server.xautoclaim("s", "g", "b", 500, "0-0", count=2)
    assert (cursor, [e[0] for e in claimed], deleted) == ("1-3", ["1-1", "1-2"], [])
    cursor, claimed, deleted = server.xautoclaim("s", "g", "b", 500, cursor, count=2)
    assert (cursor, [e[0] for e in claimed], deleted) == ("1-5", ["1-4"], ["1-3"])
    cursor, claimed, _ = server.xautoclaim("s", "g", "b", 500, cursor, count=2)
    assert (cursor, [e[0] for e in claimed]) == ("0-0", ["1-5", "1-6"])  # end of the PEL
    assert "1-3" not in _counts(server)


def test_blocked_read_wakes_when_an_entry_arrives() -> None:
    env, server = _server()
    server.xgroup_create("s", "g", "$", mkstream=True)
    replies: dict[str, Any] = {}

    def reader(name: str) -> Any:
        replies[name] = yield from server.xreadgroup_wait("g", name, {"s": ">"}, 1, 5000)
        replies[name + "@"] = env.now

    def writer() -> Any:
        yield env.timeout(2.0)
        server.xadd("s", ["n", "1"], "*")

    env.process(reader("first"))
    env.process(reader("second"))
    env.process(writer())
    env.run()
    assert replies["first"] == [["s", [["2000-0", ["n", "1"]]]]]  # served in blocking order
    assert replies["first@"] == 2.0
    assert replies["second"] is None and replies["second@"] == 5.0  # BLOCK ran out


def test_destroying_a_group_answers_its_blocked_readers_with_nogroup() -> None:
    """XGROUP DESTROY signals the key; a reader blocked on the group gets NOGROUP at once
    (blocked.c serveClientsBlockedOnStreamKey), not at the end of its BLOCK."""
    env, server = _server()
    server.xgroup_create("s", "g", "$", mkstream=True)
    outcome: dict[str, Any] = {}

    def reader() -> Any:
        try:
            yield from server.command(
                "XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"
            )
        except ResponseError as error:
            outcome["error"], outcome["at"] = str(error), env.now

    def destroyer() -> Any:
        yield env.timeout(1.5)
        assert server.execute_command("XGROUP", "DESTROY", "s", "g") == 1

    env.process(reader())
    env.process(destroyer())
    env.run(until=10)
    assert outcome == {
        "error": "NOGROUP the consumer group this client was blocked on no longer exists",
        "at": 1.5,
    }


def test_a_blocking_raw_command_needs_a_process() -> None:
    _, server = _server()
    server.xgroup_create("s", "g", "$", mkstream=True)
    with pytest.raises(WouldBlock):
        server.execute_command("XREADGROUP", "GROUP", "g", "a", "BLOCK", "10", "STREAMS", "s", ">")


def test_group_lag_counts_entries_added_since_its_last_read() -> None:
    _, server = _server()
    _group(server, 5)
    server.xreadgroup("g", "a", {"s": ">"}, count=2)
    info = dict(zip(*[iter(server.xinfo_groups("s")[0])] * 2, strict=True))
    assert info["entries-read"] == 2 and info["lag"] == 3


def test_trimming_reports_only_entries_a_group_had_not_read() -> None:
    _, server = _server()
    _group(server, 5)
    server.xreadgroup("g", "a", {"s": ">"}, count=2)
    removed: list[str] = []
    server.on_removed = lambda key, group, entries: removed.extend(
        f"{i[0]}-{i[1]}" for i, _ in entries
    )
    server.xtrim("s", maxlen=1, approximate=False)
    assert removed == ["1-3", "1-4"]


def test_xinfo_stream_names_the_live_first_and_last_entries() -> None:
    _, server = _server()
    _fill(server, "s", 3)
    server.xdel("s", "1-3")
    info = dict(zip(*[iter(server.xinfo_stream("s"))] * 2, strict=True))
    assert info["length"] == 2 and info["entries-added"] == 3
    assert info["first-entry"] == ["1-1", ["n", "1"]]
    assert info["last-entry"] == ["1-2", ["n", "2"]]  # 1-3 was deleted
    assert info["last-generated-id"] == "1-3" and info["max-deleted-entry-id"] == "1-3"


def test_a_deleted_entry_ahead_of_a_group_makes_its_lag_unknown() -> None:
    _, server = _server()
    _group(server, 5)
    server.xreadgroup("g", "a", {"s": ">"}, count=2)
    server.xdel("s", "1-4")  # a tombstone after the group's last-delivered id
    info = dict(zip(*[iter(server.xinfo_groups("s")[0])] * 2, strict=True))
    assert info["lag"] is None  # XINFO GROUPS: lag is null when tombstones fragment the count
