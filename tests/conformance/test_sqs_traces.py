"""Replay every step of every SQS trace recorded on moto (an SQS emulator) through mqsim's SQS
client in simulated time, and compare each result after the file's normalization.

Data: ``shared/conformance/sqs/moto_traces.json`` (missing data fails, never skips). Ids are
mapped to tokens in order of first appearance (`<msg:N>`, `<rh:N>`, `<seq:N>`), timestamps to
`<ts>`, the endpoint to `<endpoint>`; `sleep_seconds` steps advance simulated time.

moto is not AWS. Where the file's `emulator_divergences_observed` lists a divergence, the test
asserts what the AWS documentation says instead, and says so at that step:
- a DeleteMessage with a stale receipt handle does not delete (API Reference, DeleteMessage);
- every FIFO message has a SequenceNumber (moto omits it for content-based deduplication);
- messages of a FIFO group come in strict order (moto skipped b1): the expected replies from
  that step on are derived by hand from the Developer Guide's FIFO delivery logic, below.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.helpers import golden, require_golden
from tests.sqs_replay import replay

FILE = "sqs/moto_traces.json"


def _cases() -> list[Any]:
    data = golden(FILE)
    if data is None:
        return [pytest.param(None, id="DATA-MISSING")]
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


def _with_sequence_numbers(case: dict[str, Any]) -> list[dict[str, Any]]:
    """AWS: every FIFO message has a SequenceNumber (moto leaves it out without an explicit
    MessageDeduplicationId). Give each message one, numbered in order of first appearance."""
    steps = copy.deepcopy(case["steps"])
    fifo = {
        s["result"]["QueueUrl"]
        for s in steps
        if s.get("op") == "create_queue" and s["args"].get("Attributes", {}).get("FifoQueue")
    }
    numbers: dict[str, str] = {}

    def seq_for(message_id: str) -> str:
        return numbers.setdefault(message_id, f"<seq:{len(numbers) + 1}>")

    for step in steps:
        if step.get("args", {}).get("QueueUrl") not in fifo or "result" not in step:
            continue
        result = step["result"]
        if step["op"] == "send_message":
            result["SequenceNumber"] = seq_for(result["MessageId"])
        for message in result.get("Messages", []):
            message["Attributes"]["SequenceNumber"] = seq_for(message["MessageId"])
    return steps


def _fifo_groups_aws(steps: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The fifo_groups_and_dedup trace from its 2nd visibility timeout on, as AWS documents it.

    Sent: a1(A) b1(B) a2(A) b2(B) a3(A) c1(C) (a1-again deduplicated), queue visibility 1 s.
    A receive serves groups in the order of their oldest message and "first attempts to return
    as many messages with the same message group ID as possible"; a group with a message in
    flight is skipped; receipt handles are numbered in order of appearance.
    """
    by_body = {}  # each message as moto first returned it, for its ids, MD5 and attributes
    for step in steps:
        for message in step.get("result", {}).get("Messages", []):
            by_body.setdefault(message["Body"], message)

    def received(body: str, count: int, handle: int) -> dict[str, Any]:
        message = copy.deepcopy(by_body[body])
        message["ReceiptHandle"] = f"<rh:{handle}>"
        message["Attributes"]["ApproximateReceiveCount"] = str(count)
        return message

    return {
        # a1 b1 b2 c1 timed out; group A first: a1 (2nd receive) then a2, MaxNumberOfMessages=2.
        15: {"Messages": [received("a1", 2, 5), received("a2", 1, 6)]},
        # step 16 deletes a1 (<rh:5>); after the sleep a2 is visible again. Oldest heads:
        # B (b1), A (a2), C (c1).
        18: {
            "Messages": [
                received("b1", 2, 7),
                received("b2", 2, 8),
                received("a2", 2, 9),
                received("a3", 1, 10),
                received("c1", 2, 11),
            ]
        },
        # steps 19-21 delete b1 b2 a2; a3 and c1 are in flight, so A and C are blocked.
        22: {},
        # after the sleep: A's a3 and C's c1 again.
        24: {"Messages": [received("a3", 2, 12), received("c1", 3, 13)]},
    }


def _aws_expectations(case: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    steps = _with_sequence_numbers(case)
    overrides: dict[int, Any] = {}
    if case["name"] == "visibility_timeout":
        # AWS: DeleteMessage with the stale <rh:1> succeeds but does not delete; the message
        # stays in flight (its per-receive VisibilityTimeout is 30 s). moto deleted it.
        assert steps[10]["args"]["ReceiptHandle"] == "<rh:1>"
        overrides[11] = {
            "Attributes": {
                "ApproximateNumberOfMessages": "0",
                "ApproximateNumberOfMessagesNotVisible": "1",
            }
        }
    if case["name"] == "fifo_groups_and_dedup":
        overrides.update(_fifo_groups_aws(steps))
    return steps, overrides


def _sequence_numbers_increase(client: Any, url: str) -> None:
    """AWS: SequenceNumber increases within a message group. Send two more and compare."""
    first = client.send_message(
        QueueUrl=url, MessageBody="s1", MessageGroupId="S", MessageDeduplicationId="s1"
    )
    second = client.send_message(
        QueueUrl=url, MessageBody="s2", MessageGroupId="S", MessageDeduplicationId="s2"
    )
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])


@pytest.mark.parametrize("case", _cases())
def test_trace(case: dict[str, Any] | None) -> None:
    if case is None:
        require_golden(FILE)
        return
    steps, overrides = _aws_expectations(case)
    queue = steps[0].get("result", {}).get("QueueUrl", "")

    def check(client: Any, names: Any) -> None:  # a note on moto's random SequenceNumber
        _sequence_numbers_increase(client, names.raw_args(queue))

    replayed = replay(case["name"], steps, overrides, check)
    assert replayed == len(case["steps"])


def test_every_listed_divergence_is_handled() -> None:
    """Each divergence the file lists names a trace this test replays with AWS's behaviour,
    or one the file does not contain (nothing to replay)."""
    data = require_golden(FILE)
    names = {case["name"] for case in data["cases"]}
    handled = {"visibility_timeout", "fifo_groups_and_dedup", "fifo_content_based_dedup"}
    for divergence in data["emulator_divergences_observed"]:
        assert divergence["trace"] in handled or divergence["trace"] not in names, divergence
