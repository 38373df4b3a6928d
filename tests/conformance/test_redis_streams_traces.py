"""Replays every command of shared/conformance/redis/streams_traces.json (redis-server 7.0.15)
against the Redis Streams model and compares every reply.

Normalisation as the file describes: server-made ids become `<auto:N>` in order of first
appearance within a trace (commands may carry the tokens); idle times are compared through the
step's `idle_checks` and otherwise replaced by "<idle>"; `sleep_seconds` steps advance simulated
time; a `repeat` step runs its command for each i with `<i>` substituted.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import simpy

from sim.brokers.redis_streams import RedisStreamsServer, ResponseError
from tests.helpers import golden, require_golden

TRACES = "redis/streams_traces.json"
_DATA = golden(TRACES)
CASES = [case["name"] for case in _DATA["cases"]] if _DATA else ["missing"]
_ID = re.compile(r"^\d+-\d+$")


class Tokens:
    """Real ids <-> `<auto:N>` tokens of one trace."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.by_token: dict[str, str] = {}

    def learn(self, real: str) -> None:
        if real not in self.by_id:
            token = f"<auto:{len(self.by_id) + 1}>"
            self.by_id[real], self.by_token[token] = token, real

    def to_real(self, arg: str) -> str:
        return self.by_token.get(arg, arg)

    def normalise(self, reply: Any) -> Any:
        if isinstance(reply, list):
            return [self.normalise(item) for item in reply]
        if isinstance(reply, str):
            return self.by_id.get(reply, reply)
        return reply


def _idle_times(cmd: list[str], reply: Any) -> dict[str, int]:
    """id (or consumer name) -> idle ms in an XPENDING range / XINFO CONSUMERS reply."""
    if cmd[0] == "XPENDING" and len(cmd) > 3 and isinstance(reply, list):
        return {row[0]: row[2] for row in reply}
    if cmd[:2] == ["XINFO", "CONSUMERS"]:
        return {row[1]: row[5] for row in reply}
    return {}


def _blank_idle(cmd: list[str], reply: Any) -> Any:
    if cmd[0] == "XPENDING" and len(cmd) > 3 and isinstance(reply, list):
        return [[row[0], row[1], "<idle>", row[3]] for row in reply]
    if cmd[:2] == ["XINFO", "CONSUMERS"]:
        return [[*row[:5], "<idle>"] for row in reply]
    return reply


def _check_idle(step: dict[str, Any], idle: dict[str, int], where: str) -> int:
    checked = 0
    for check in step.get("idle_checks", []):
        for fact, expected in check.items():
            if fact == "id":
                continue
            match = re.fullmatch(r"idle_ms(<|>=)(\d+)", fact)
            assert match, f"{where}: unknown idle check {fact}"
            value = idle[check["id"]]
            holds = value < int(match[2]) if match[1] == "<" else value >= int(match[2])
            assert holds == expected, f"{where}: idle {value} ms of {check['id']}: {fact}"
            checked += 1
    return checked


def replay(case: dict[str, Any]) -> tuple[int, int]:
    """Run the case; returns (commands replayed, idle checks made). Fails on a mismatch."""
    env = simpy.Environment()
    server = RedisStreamsServer(env)
    tokens = Tokens()
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
                low, high = map(int, re.fullmatch(r"i = (\d+)\.\.(\d+)", step["repeat"]).groups())
                lengths = step.get("xlen_after_each")
                for i in range(low, high + 1):
                    cmd = [a.replace("<i>", str(i)) for a in step["cmd"]]
                    outcome = yield from call(cmd)
                    assert "result" in outcome, f"{where} i={i}: {outcome}"
                    counts[0] += 1
                    if lengths is not None:
                        assert server.xlen(cmd[1]) == lengths[i - low], f"{where} i={i}: XLEN"
                continue
            cmd = [tokens.to_real(a) for a in step["cmd"]]
            outcome = yield from call(cmd)
            counts[0] += 1
            if "error" in step:
                assert outcome == {"error": step["error"]}, where
                continue
            assert "result" in outcome, f"{where}: {outcome}"
            reply = outcome["result"]
            if cmd[0] == "XADD" and "*" in cmd and isinstance(reply, str):
                tokens.learn(reply)  # only a full `*` id is server-made (`1-*` is recorded as is)
            counts[1] += _check_idle(step, _idle_times(cmd, reply), where)
            got = tokens.normalise(_blank_idle(cmd, reply))
            assert got == step["result"], f"{where}: got {got!r}"

    env.process(steps())
    env.run()
    return counts[0], counts[1]


@pytest.mark.parametrize("name", CASES)
def test_trace_replays_exactly(name: str) -> None:
    data = require_golden(TRACES)
    case = next(c for c in data["cases"] if c["name"] == name)
    commands, _ = replay(case)
    expected = sum(
        (int(s["repeat"].split("..")[1]) - int(s["repeat"].split("=")[1].split("..")[0]) + 1)
        if "repeat" in s
        else 1
        for s in case["steps"]
        if "cmd" in s
    )
    assert commands == expected


def test_every_idle_check_is_made() -> None:
    data = require_golden(TRACES)
    made = sum(replay(case)[1] for case in data["cases"])
    listed = sum(
        len([k for k in check if k != "id"])
        for case in data["cases"]
        for step in case["steps"]
        for check in step.get("idle_checks", [])
    )
    assert listed > 0 and made == listed
