"""The Redis trace recorder (tools/record_redis.py) without a live server: it records the golden
script against mqsim's own Redis model, which agrees with redis-server, so a correct recorder
must write back exactly the golden file."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim.brokers.redis import RedisStreamsServer
from tests.helpers import golden, require_golden, tool

TRACES = "redis/streams_traces.json"
CASES = [c["name"] for c in golden(TRACES)["cases"]] if golden(TRACES) else ["missing"]


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
