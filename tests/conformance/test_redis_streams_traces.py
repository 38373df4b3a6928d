"""Replays every command of shared/conformance/redis/streams_traces.json (redis-server 7.0.15)
and of the project's own tests/data/redis_streams_extra_traces.json (the rest of Redis 7.0's
stream commands, recorded by tools/record_redis.py from tools/redis_extra_cases.json on the same
version) against the Redis Streams model and compares every reply.

Normalisation as the file describes: server-made ids become `<auto:N>` in order of first
appearance within a trace (commands may carry the tokens); idle times are compared through the
step's `idle_checks` and otherwise replaced by "<idle>"; `sleep_seconds` steps advance simulated
time; a `repeat` step runs its command for each i with `<i>` substituted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import simpy

from sim.brokers.redis import RedisStreamsServer, ResponseError
from tests.helpers import golden, require_golden, tool

TRACES = "redis/streams_traces.json"
_DATA = golden(TRACES)
CASES = [case["name"] for case in _DATA["cases"]] if _DATA else ["missing"]
# The project's own recording: every stream command the shared file does not exercise.
EXTRA = Path(__file__).resolve().parents[1] / "data" / "redis_streams_extra_traces.json"
_EXTRA_DATA = json.loads(EXTRA.read_text(encoding="utf-8"))
EXTRA_CASES = [case["name"] for case in _EXTRA_DATA["cases"]]


# The recorder's own normalisation (tools/record_redis.py), so model and server are compared
# by the same rules.
RECORDER = tool("record_redis")


def _check_idle(step: dict[str, Any], idle: dict[str, int], where: str) -> int:
    checked = 0
    for check in step.get("idle_checks", []):
        for ident, fact, holds in RECORDER.idle_facts([check], idle):
            value = idle[ident]
            assert holds == check[fact], f"{where}: idle {value} ms of {ident}: {fact}"
            checked += 1
    return checked


def replay(case: dict[str, Any]) -> tuple[int, int]:
    """Run the case; returns (commands replayed, idle checks made). Fails on a mismatch."""
    env = simpy.Environment()
    server = RedisStreamsServer(env)
    tokens = RECORDER.Tokens()
    counts = [0, 0]

    def call(cmd: list[str]) -> Any:
        try:
            reply = yield from server.command(*cmd)
        except ResponseError as error:
            return {"error": str(error)}
        return {"result": reply}

    def steps() -> Any:
        for n, step in enumerate(case["steps"]):
            where = f"{case['name']} step {n} {step.get('cmd')}"
            if "sleep_seconds" in step:
                yield env.timeout(step["sleep_seconds"])
                continue
            if "repeat" in step:
                span = RECORDER.repeat_range(step["repeat"])
                lengths = step.get("xlen_after_each")
                for i in span:
                    cmd = [a.replace("<i>", str(i)) for a in step["cmd"]]
                    outcome = yield from call(cmd)
                    assert "result" in outcome, f"{where} i={i}: {outcome}"
                    counts[0] += 1
                    if lengths is not None:
                        assert server.xlen(cmd[1]) == lengths[i - span.start], f"{where} i={i}"
                continue
            cmd = [tokens.to_real(a) for a in step["cmd"]]
            outcome = yield from call(cmd)
            counts[0] += 1
            if "error" in step:
                assert outcome == {"error": step["error"]}, where
                continue
            assert "result" in outcome, f"{where}: {outcome}"
            reply = outcome["result"]
            if RECORDER.server_made(cmd) and isinstance(reply, str):
                tokens.learn(reply)
            counts[1] += _check_idle(step, RECORDER.idle_times(cmd, reply), where)
            got = tokens.normalise(RECORDER.blank_idle(cmd, reply))
            assert got == step["result"], f"{where}: got {got!r}"

    env.process(steps())
    env.run()
    return counts[0], counts[1]


def _replays_every_command(case: dict[str, Any]) -> None:
    commands, _ = replay(case)
    expected = sum(
        (int(s["repeat"].split("..")[1]) - int(s["repeat"].split("=")[1].split("..")[0]) + 1)
        if "repeat" in s
        else 1
        for s in case["steps"]
        if "cmd" in s
    )
    assert commands == expected


def _makes_every_idle_check(data: dict[str, Any]) -> None:
    made = sum(replay(case)[1] for case in data["cases"])
    listed = sum(
        len([k for k in check if k != "id"])
        for case in data["cases"]
        for step in case["steps"]
        for check in step.get("idle_checks", [])
    )
    assert listed > 0 and made == listed


@pytest.mark.parametrize("name", CASES)
def test_trace_replays_exactly(name: str) -> None:
    data = require_golden(TRACES)
    _replays_every_command(next(c for c in data["cases"] if c["name"] == name))


@pytest.mark.parametrize("name", EXTRA_CASES)
def test_extra_trace_replays_exactly(name: str) -> None:
    _replays_every_command(next(c for c in _EXTRA_DATA["cases"] if c["name"] == name))


def test_every_idle_check_is_made() -> None:
    _makes_every_idle_check(require_golden(TRACES))


def test_every_idle_check_of_the_extra_traces_is_made() -> None:
    _makes_every_idle_check(_EXTRA_DATA)


def test_the_extra_traces_come_from_the_shared_traces_server_version() -> None:
    """Both files describe one redis-server version, the one the model follows."""
    shared = require_golden(TRACES)["source"]
    extra = _EXTRA_DATA["source"]
    assert extra["system"] == shared["system"] == "Redis (real redis-server)"
    assert extra["version"] == shared["version"] == "7.0.15"


def test_the_extra_traces_cover_every_stream_command_of_redis_7() -> None:
    """Each stream command and XGROUP / XINFO subcommand of Redis 7.0 (src/commands.c) is
    replayed with a reply and with an error, except XREAD (no group) which mqsim does not
    model; XREADGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM are in the shared file."""
    seen: dict[str, set[str]] = {}
    for data in (require_golden(TRACES), _EXTRA_DATA):
        for case in data["cases"]:
            for step in case["steps"]:
                if "cmd" not in step or "repeat" in step:
                    continue
                words = [w.upper() for w in step["cmd"][:2]]
                name = " ".join(words) if words[0] in ("XGROUP", "XINFO") else words[0]
                seen.setdefault(name, set()).add("error" if "error" in step else "result")
    replied = {name for name, kinds in seen.items() if "result" in kinds}
    failed = {name for name, kinds in seen.items() if "error" in kinds}
    commands = {
        "XADD", "XTRIM", "XDEL", "XSETID", "XLEN", "XRANGE", "XREVRANGE", "XREADGROUP",
        "XACK", "XPENDING", "XCLAIM", "XAUTOCLAIM", "XGROUP CREATE", "XGROUP SETID",
        "XGROUP DESTROY", "XGROUP CREATECONSUMER", "XGROUP DELCONSUMER", "XGROUP HELP",
        "XINFO STREAM", "XINFO GROUPS", "XINFO CONSUMERS", "XINFO HELP",
    }  # fmt: skip
    assert commands <= replied
    assert commands - {"XLEN", "XACK", "XCLAIM", "XAUTOCLAIM", "XINFO HELP"} <= failed
