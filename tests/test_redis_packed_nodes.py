"""A full listpack node's ids are packed into one array (sim/brokers/redis/stream.py
_PackedIds): every command must answer exactly as it does with the ids kept as tuples, for
ids that pack and ids that do not (a sequence of 2**32 or more, a millisecond 2**32 past the
node's first), and for range bounds on either side of what a node can hold."""

from __future__ import annotations

import random
from typing import Any

import pytest
import simpy

import sim.brokers.redis.stream as stream_module
from sim.brokers.redis import RedisStreamsServer
from sim.brokers.redis.stream import _PackedIds

WIDE = 2**32
NODE = 20  # entries a node: above _PACK_FROM, so full nodes are packed


def _bound(rng: random.Random, ids: list[tuple[int, int]]) -> str:
    """A range bound near a real id, on a millisecond or sequence edge, or open."""
    choice = rng.random()
    if choice < 0.1 or not ids:
        return rng.choice(["-", "+"])
    ms, seq = rng.choice(ids)
    if choice < 0.4:
        return f"{ms}-{seq}"
    if choice < 0.5:
        return str(ms)  # a bare millisecond: seq 0 as a start, the last seq as an end
    if choice < 0.6:
        return f"({ms}-{seq}"  # exclusive
    offsets = [0, 0, -1, 1, WIDE - 1, WIDE, WIDE + 5, 2 * WIDE]
    return f"{max(0, ms + rng.choice(offsets))}-{rng.choice([0, seq, WIDE - 1, WIDE, 2**64 - 1])}"


def _script(seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    commands: list[list[str]] = [["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"]]
    ms, seq = 1, 0
    ids: list[tuple[int, int]] = []
    for _ in range(900):
        kind = rng.random()
        if kind < 0.55:
            step = rng.random()
            if step < 0.55:
                seq += 1
            elif step < 0.96:
                ms, seq = ms + rng.randint(1, 3), 0
            elif step < 0.98:
                seq += WIDE + rng.randint(0, 9)  # a sequence too wide to pack
            else:
                ms, seq = ms + WIDE + rng.randint(0, 9), 0  # a millisecond too far to pack
            ids.append((ms, seq))
            commands.append(["XADD", "s", f"{ms}-{seq}", "n", str(len(ids))])
        elif kind < 0.7:
            commands.append(["XRANGE", "s", _bound(rng, ids), _bound(rng, ids)])
        elif kind < 0.8:
            end, start = _bound(rng, ids), _bound(rng, ids)
            commands.append(["XREVRANGE", "s", end, start, "COUNT", str(rng.randint(1, 30))])
        elif kind < 0.86 and ids:
            ms_, seq_ = rng.choice(ids)
            commands.append(["XDEL", "s", f"{ms_}-{seq_}"])
        elif kind < 0.9:
            commands.append(["XREADGROUP", "GROUP", "g", "c", "COUNT", "7", "STREAMS", "s", ">"])
        elif kind < 0.93 and ids:
            commands.append(["XTRIM", "s", "MINID", rng.choice(["~", "="]), _bound(rng, ids)])
        elif kind < 0.95:
            commands.append(["XTRIM", "s", "MAXLEN", rng.choice(["~", "="]), "300"])
        else:
            commands.append(["XINFO", "STREAM", "s", "FULL"])
        commands.append(["XLEN", "s"])
    commands.append(["XRANGE", "s", "-", "+"])
    return commands


def _run(commands: list[list[str]]) -> tuple[list[Any], int]:
    """The replies, and after how many commands a packed node was held."""
    server = RedisStreamsServer(simpy.Environment(), node_max_entries=NODE)
    replies: list[Any] = []
    packed = 0
    for command in commands:
        try:
            replies.append(server.execute_command(*command))
        except Exception as error:  # a refused command answers the same error
            replies.append(f"{type(error).__name__}: {error}")
        held = server.streams["s"]._nodes if "s" in server.streams else []
        packed += any(isinstance(node.ids, _PackedIds) for node in held)
    return replies, packed


@pytest.mark.parametrize("seed", range(6))
def test_packed_nodes_answer_every_command_as_tuples_do(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = _script(seed)
    packed_replies, packed = _run(commands)
    assert packed > 100  # commands met packed nodes (read, trimmed, deleted from)
    monkeypatch.setattr(stream_module, "_PACK_FROM", 10**9)  # no node is packed
    plain_replies, plain = _run(commands)
    assert plain == 0
    for command, got, expected in zip(commands, packed_replies, plain_replies, strict=True):
        assert got == expected, command


def test_ids_that_do_not_fit_stay_tuples() -> None:
    server = RedisStreamsServer(simpy.Environment(), node_max_entries=NODE)
    for i in range(NODE):  # a sequence of 2**32: not packable
        server.execute_command("XADD", "s", f"5-{i * WIDE}", "n", str(i))
    for i in range(NODE):  # small ids: packed once the next node is made
        server.execute_command("XADD", "s", f"6-{i}", "n", str(i))
    server.execute_command("XADD", "s", "7-0", "n", "x")  # the third node: two are full
    for i in range(NODE):
        server.execute_command("XADD", "s", f"7-{i + 1}", "n", str(i))
    first, second, _full, _tail = server.streams["s"]._nodes
    assert type(first.ids) is list
    assert isinstance(second.ids, _PackedIds) and list(second.ids) == [(6, i) for i in range(NODE)]
    assert server.execute_command("XRANGE", "s", "5-4294967296", "6-1") == [
        [f"5-{i * WIDE}", ["n", str(i)]] for i in range(1, NODE)
    ] + [["6-0", ["n", "0"]], ["6-1", ["n", "1"]]]


def _model_reads(deletes: list[int]) -> list[Any]:
    """The model's own XREADGROUP (`read_new`, its one-entry path included) over packed
    nodes, with the later nodes' entries deleted so that a packed node is the tail."""
    env = simpy.Environment()
    server = RedisStreamsServer(env, node_max_entries=NODE)
    server.execute_command("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM")
    added = []
    for i in range(5 * NODE):
        env.run(until=env.now + 0.0005)  # two entries a millisecond: seqs 0 and 1
        added.append(server.add_entry("s", i, None, None))
    for index in deletes:
        ms, seq = added[index]
        server.execute_command("XDEL", "s", f"{ms}-{seq}")
    reads = []
    for count in [1, 3, 45, 1, 1, 7, 1, None, 1]:  # 45: into the third node
        reads.append(server.read_new("s", "g", "c", count, False))
        group = server.streams["s"].groups["g"]
        reads.append((group.last_id, group.entries_read, list(group.pel.items)))
    return reads


@pytest.mark.parametrize(
    "deletes", [[], list(range(3 * NODE, 5 * NODE)), [5, 17, *range(2 * NODE, 5 * NODE)]]
)
def test_model_reads_from_packed_nodes_match_tuples(
    deletes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = _model_reads(deletes)
    monkeypatch.setattr(stream_module, "_PACK_FROM", 10**9)
    assert packed == _model_reads(deletes)
