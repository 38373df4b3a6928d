"""The trace recorder (tools/record_rabbitmq.py) without a live broker: its script extraction
and its summaries against the committed golden file."""

from __future__ import annotations

from types import ModuleType

from tests.helpers import require_golden, tool


def recorder_module() -> ModuleType:
    return tool("record_rabbitmq")


def test_summaries_are_derived_as_in_the_golden_file() -> None:
    tool = recorder_module()
    data = require_golden("rabbitmq/delivery_traces.json")
    for case in data["cases"]:
        assert tool.summarize(case["events"]) == case["summary"], case["name"]


def test_a_script_keeps_the_actions_and_drops_the_observations() -> None:
    tool = recorder_module()
    data = require_golden("rabbitmq/delivery_traces.json")
    for case in data["cases"]:
        script = tool.script_of(case)
        assert [e["op"] for e in script["events"]] == [e["op"] for e in case["events"]]
        for event in script["events"]:
            assert "confirms" not in event and "delivery_tag" not in event
            assert "deliveries" not in event and "messages" not in event
            if event["op"] in ("basic_ack", "basic_nack", "basic_reject"):
                assert event["body"] and event["consumer"]  # what to settle, by body
            if event["op"] == "publish":
                assert event["bodies"]
