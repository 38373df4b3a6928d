"""Replay the project's own SQS traces, recorded on moto by tools/record_sqs.py from
tools/sqs_extra_cases.json into tests/data/sqs_extra_traces.json: batches, per-message
DelaySeconds, ChangeMessageVisibility limits, ReceiveRequestAttemptId, high throughput FIFO and
FIFO redrive. The replay is tests/sqs_replay.py's, as for the shared file.

moto is not AWS. At each step the file's `emulator_divergences_observed` lists, the test asserts
what the AWS documentation says instead; each expectation below is derived from the recorded
replies by the documented rule it names, not copied from mqsim.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.sqs_replay import replay

FILE = Path(__file__).resolve().parents[1] / "data" / "sqs_extra_traces.json"
DATA = json.loads(FILE.read_text())
CASES = {case["name"]: case for case in DATA["cases"]}


def _batch_request_errors(steps: list[dict[str, Any]]) -> dict[int, Any]:
    # The API Reference lists the same request errors for the three batch actions; moto gets
    # them right for SendMessageBatch (steps 3-6: empty, 11 entries, repeated Ids, a bad Id),
    # so ChangeMessageVisibilityBatch (7-10) and DeleteMessageBatch (11-14) answer alike.
    send = [steps[i]["error"] for i in (3, 4, 5, 6)]

    def like_send(index: int, entry_kind: str) -> dict[str, Any]:
        error = dict(send[index])
        error["message"] = error["message"].replace("SendMessageBatchRequestEntry", entry_kind)
        return {"error": error}

    overrides = {7 + i: like_send(i, "ChangeMessageVisibilityBatchRequestEntry") for i in range(4)}
    overrides[12] = like_send(1, "DeleteMessageBatchRequestEntry")
    overrides[14] = like_send(3, "DeleteMessageBatchRequestEntry")
    # Nothing was deleted, so the message received at step 2 (VisibilityTimeout 30) is still
    # in flight.
    overrides[15] = {
        "Attributes": {
            "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "1",
            "ApproximateNumberOfMessagesDelayed": "0",
        }
    }
    return overrides


def _send_message_batch_fifo(steps: list[dict[str, Any]]) -> dict[int, Any]:
    # Each entry on its own: the delayed one fails with the error moto gave the whole request,
    # "plain" is sent (the 4th message and sequence number of the trace).
    error = steps[3]["error"]
    return {
        3: {
            "Successful": [
                {
                    "Id": "plain",
                    "MessageId": "<msg:4>",
                    "MD5OfMessageBody": hashlib.md5(b"plain").hexdigest(),
                    "SequenceNumber": "<seq:4>",
                }
            ],
            "Failed": [
                {
                    "Id": "delayed",
                    "SenderFault": True,
                    "Code": error["code"],
                    "Message": error["message"],
                }
            ],
        }
    }


def _change_message_visibility_limits(steps: list[dict[str, Any]]) -> dict[int, Any]:
    # Step 5: 43199 s right after the receive is within the 12 hours. Step 7: the message is
    # visible (step 6 set 0): MessageNotInflight, so step 8 receives it again (2nd receive,
    # a new handle) and step 9 deletes it with that handle.
    again = copy.deepcopy(steps[3]["result"])
    again["Messages"][0]["ReceiptHandle"] = "<rh:2>"
    again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] = "2"
    not_inflight = {
        "code": "AWS.SimpleQueueService.MessageNotInflight",
        "message": "The message is not in flight.",
    }
    return {5: {}, 7: {"error": not_inflight}, 8: again, 9: {}}


def _receive_request_attempt_id(steps: list[dict[str, Any]]) -> dict[int, Any]:
    # The retry (step 5) returns step 4's messages and handles; group A stays in flight, so the
    # next receive (step 6) gets b1: what moto returned at step 5.
    return {5: steps[4]["result"], 6: steps[5]["result"]}


def _fifo_high_throughput(steps: list[dict[str, Any]]) -> dict[int, Any]:
    # Deduplication per message group: b (group B) is kept, a-again (group A) is dropped; a
    # receive serves group A, then group B.
    first = steps[5]["result"]["Messages"][0]
    b = copy.deepcopy(first)
    b.update(
        MessageId=steps[3]["result"]["MessageId"],
        ReceiptHandle="<rh:2>",
        MD5OfBody=steps[3]["result"]["MD5OfMessageBody"],
        Body="b",
    )
    b["Attributes"].update(MessageGroupId="B", SequenceNumber=steps[3]["result"]["SequenceNumber"])
    refused = {
        "code": "InvalidAttributeValue",
        "message": "Invalid value for the parameter FifoThroughputLimit.",
    }
    return {5: {"Messages": [first, b]}, 6: {"error": refused}}


AWS_EXPECTATIONS = {
    "batch_request_errors": _batch_request_errors,
    "send_message_batch_fifo": _send_message_batch_fifo,
    "change_message_visibility_limits": _change_message_visibility_limits,
    "receive_request_attempt_id": _receive_request_attempt_id,
    "fifo_high_throughput": _fifo_high_throughput,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_extra_trace(name: str) -> None:
    case = CASES[name]
    derive = AWS_EXPECTATIONS.get(name)
    overrides = derive(case["steps"]) if derive else {}
    assert replay(name, case["steps"], overrides) == len(case["steps"])


def test_the_overridden_steps_are_exactly_the_listed_divergences() -> None:
    listed: dict[str, set[int]] = {}
    for divergence in DATA["emulator_divergences_observed"]:
        assert divergence["aws_documented"] and divergence["source"], divergence
        listed.setdefault(divergence["trace"], set()).update(divergence["steps"])
    overridden = {
        name: set(derive(CASES[name]["steps"])) for name, derive in AWS_EXPECTATIONS.items()
    }
    assert overridden == listed


def test_every_new_verb_is_recorded() -> None:
    ops = {step.get("op") for case in DATA["cases"] for step in case["steps"]}
    assert {
        "send_message_batch",
        "delete_message_batch",
        "change_message_visibility",
        "change_message_visibility_batch",
    } <= ops
    args = [step.get("args", {}) for case in DATA["cases"] for step in case["steps"]]
    assert any("ReceiveRequestAttemptId" in a for a in args)
    assert any("DelaySeconds" in a for a in args)
    assert any(a.get("Attributes", {}).get("FifoThroughputLimit") for a in args)
    assert DATA["source"]["moto_version"]


def test_the_recorder_normalises_like_the_golden_file() -> None:
    """tools/record_sqs.py on mqsim's own client: where moto and AWS agree (no divergence),
    recording the model writes back the golden case."""
    import simpy

    from sim.brokers.sqs import SQSError, SQSService
    from sim.brokers.sqs.service import ENDPOINT
    from tests.helpers import tool

    recorder = tool("record_sqs")
    case = CASES["fifo_redrive_once"]
    env = simpy.Environment()
    client = SQSService(env).client()

    def call(op: str, args: dict[str, Any]) -> tuple[str, Any]:
        try:
            return "result", getattr(client, op)(**args)
        except SQSError as error:
            return "error", {"code": error.code, "message": error.response["Error"]["Message"]}

    recorded = recorder.record_case(case, call, lambda s: env.run(env.now + s), ENDPOINT)
    assert recorded == case
    broken = recorder.record_case(case, lambda op, args: ("result", {}), lambda s: None, "")
    assert broken != case
