"""The Redis trace recorder (tools/record_redis.py) without a live server: it records the golden
scripts (the shared file and the project's extra one) against mqsim's own Redis model, which
agrees with redis-server, so a correct recorder must write back exactly the golden files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import simpy

from sim.brokers.redis import RedisStreamsServer
from tests.helpers import golden, require_golden, tool

TRACES = "redis/streams_traces.json"
CASES = [c["name"] for c in golden(TRACES)["cases"]] if golden(TRACES) else ["missing"]
ROOT = Path(__file__).resolve().parents[1]
EXTRA = json.loads((ROOT / "tests" / "data" / "redis_streams_extra_traces.json").read_text())
SCRIPT = json.loads((ROOT / "tools" / "redis_extra_cases.json").read_text())


def record_on_the_model(case: dict[str, Any]) -> dict[str, Any]:
    env = simpy.Environment()
    server = RedisStreamsServer(env)

    def execute(cmd: list[str]) -> Any:
        process = env.process(server.command(*cmd))  # BLOCK waits in simulated time
        env.run(until=process)
        return process.value

    return tool("record_redis").record_case(case, execute, lambda s: env.run(env.now + s))


@pytest.mark.parametrize("name", CASES)
def test_recording_the_model_gives_back_the_golden_case(name: str) -> None:
    case = next(c for c in require_golden(TRACES)["cases"] if c["name"] == name)
    assert record_on_the_model(case) == case


@pytest.mark.parametrize("name", [c["name"] for c in EXTRA["cases"]])
def test_recording_the_model_gives_back_the_extra_case(name: str) -> None:
    case = next(c for c in EXTRA["cases"] if c["name"] == name)
    assert record_on_the_model(case) == case


def test_the_extra_file_is_the_script_recorded() -> None:
    """The recorded file holds the script's cases and commands, in order, with replies added."""
    assert [c["name"] for c in EXTRA["cases"]] == [c["name"] for c in SCRIPT["cases"]]
    for recorded, script in zip(EXTRA["cases"], SCRIPT["cases"], strict=True):
        assert [s.get("cmd") for s in recorded["steps"]] == [s.get("cmd") for s in script["steps"]]
    assert EXTRA["normalization"] == SCRIPT["normalization"]


def test_full_stream_info_times_are_blanked_and_nothing_else() -> None:
    """XINFO STREAM FULL carries unix-ms delivery and seen times; they become "<time>"."""
    recorder = tool("record_redis")
    consumer = ["name", "a", "seen-time", 1700, "pel-count", 1, "pending", [["1-1", 1600, 2]]]
    group = ["name", "g", "last-delivered-id", "1-1", "entries-read", 1, "lag", 0]
    group += ["pel-count", 1, "pending", [["1-1", "a", 1600, 2]], "consumers", [consumer]]
    reply = ["length", 1, "entries", [["1-1", ["f", "1600"]]], "groups", [group]]
    blanked = recorder.blank_idle(["XINFO", "STREAM", "s", "full"], reply)
    assert blanked[:4] == reply[:4]  # entries keep their values, even number-like ones
    (out,) = blanked[5]
    assert out[11] == [["1-1", "a", "<time>", 2]]
    assert out[13][0][3] == "<time>" and out[13][0][7] == [["1-1", "<time>", 2]]
    assert out[:10] == group[:10]
    assert recorder.blank_idle(["XINFO", "STREAM", "s"], ["length", 1]) == ["length", 1]


def test_a_wrong_reply_would_be_recorded_as_it_is() -> None:
    """The recorder records what the server says: a server that answers otherwise shows."""
    case = require_golden(TRACES)["cases"][0]
    recorded = tool("record_redis").record_case(case, lambda cmd: 42, lambda s: None)
    assert recorded != case
    assert any(step.get("result") == 42 for step in recorded["steps"])


def test_repeat_ranges_and_idle_facts() -> None:
    recorder = tool("record_redis")
    assert recorder.repeat_range("i = 3..5") == range(3, 6)
    with pytest.raises(ValueError):
        recorder.repeat_range("1..5")
    facts = list(recorder.idle_facts([{"id": "1-1", "idle_ms>=300": True}], {"1-1": 250}))
    assert facts == [("1-1", "idle_ms>=300", False)]
