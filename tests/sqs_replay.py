"""Replaying recorded SQS traces through mqsim's SQS client in simulated time (shared by
tests/conformance/test_sqs_traces.py and tests/conformance/test_sqs_extra_traces.py).

A trace's steps are `{op, args, result | error}`, `{sleep_seconds}` (simulated time advances) or
`{check}`; ids are tokens normalised by tools/record_sqs.py's `Tokens`, the same rules the
recorder applied to moto's replies. `overrides` replaces the recorded reply of a step with what
the AWS documentation says, where the emulator departs from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import simpy

from sim.brokers.sqs import SQSClient, SQSError, SQSService
from sim.brokers.sqs.service import ENDPOINT
from tests.helpers import tool


def tokens() -> Any:
    """A fresh `Tokens` for mqsim's endpoint."""
    return tool("record_sqs").Tokens(ENDPOINT)


# moto formats its ReceiveMessage validation message like a client error; AWS's is the rest.
_CLIENT_PREFIX = re.compile(r"^An error occurred \([^)]*\) when calling the \w+ operation: ")


def expected_error(error: dict[str, str]) -> dict[str, str]:
    return {"code": error["code"], "message": _CLIENT_PREFIX.sub("", error["message"])}


def replay(
    name: str,
    steps: list[dict[str, Any]],
    overrides: dict[int, Any],
    check: Callable[[SQSClient, Any], None] | None = None,
) -> int:
    """Replay `steps` on a fresh service; assert each reply (or its override: a `{"error":
    ...}` dict overrides an error, anything else a result). Returns the steps replayed."""
    env = simpy.Environment()
    client = SQSService(env).client()
    names = tokens()
    replayed = 0
    for index, step in enumerate(steps):
        where = f"{name} step {index} ({step.get('op') or 'sleep/check'})"
        if "sleep_seconds" in step:
            env.run(until=env.now + step["sleep_seconds"])
            replayed += 1
            continue
        if "check" in step:
            assert check is not None, where
            check(client, names)
            replayed += 1
            continue
        args = names.raw_args(step["args"])
        try:
            actual: Any = {"result": names.normalise(getattr(client, step["op"])(**args))}
        except SQSError as error:
            message = names.normalise(error.response["Error"]["Message"], "Message")
            actual = {"error": {"code": error.code, "message": message}}
        if index in overrides:
            override = overrides[index]
            expected = override if "error" in override else {"result": override}
        elif "error" in step:
            expected = {"error": expected_error(step["error"])}
        else:
            expected = {"result": step["result"]}
        assert actual == expected, where
        replayed += 1
    return replayed
