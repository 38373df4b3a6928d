"""Record SQS traces from moto (an SQS emulator) in server mode, in the golden files' format.

A case is a list of steps: `{op, args}` (a boto3 SQS client method and its keyword arguments),
`{sleep_seconds}` (real time passes), and any `note`. This tool starts `moto_server` on
127.0.0.1 at a free port, resets it before each case, runs every step through boto3 and records
its reply afresh as `result` (ResponseMetadata dropped) or `error` ({code, message} as botocore
reports them), normalised as shared/conformance/sqs/moto_traces.json is: MessageId, ReceiptHandle
and SequenceNumber become `<msg:N>`, `<rh:N>`, `<seq:N>` in order of first appearance within the
case (arguments may carry the tokens, and a receipt handle quoted in an error message is replaced
too), every `...Timestamp` value becomes `<ts>`, the server's scheme and host become `<endpoint>`.

    python tools/record_sqs.py --script tools/sqs_extra_cases.json \\
        --out tests/data/sqs_extra_traces.json [--case NAME]

The script's top-level `emulator_divergences_observed` and `not_recorded` (written by hand after
reading a recording against the AWS documentation) are copied into the output. The test suite
never needs moto: it replays the committed file, and uses `Tokens` from here to normalise
mqsim's replies by the same rules (tests/sqs_replay.py).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOKEN_KINDS = {"MessageId": "msg", "ReceiptHandle": "rh", "SequenceNumber": "seq"}
REGION = "us-east-1"

# One step's outcome: ("result", reply) or ("error", {"code": ..., "message": ...}).
Call = Callable[[str, dict[str, Any]], tuple[str, Any]]


class Tokens:
    """Raw ids <-> tokens, numbered per kind in order of first appearance, for one case."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint  # scheme and host of the queue URLs, shown as <endpoint>
        self.to_token: dict[tuple[str, str], str] = {}
        self.to_raw: dict[str, str] = {}

    def token(self, kind: str, raw: str) -> str:
        key = (kind, raw)
        if key not in self.to_token:
            number = sum(1 for k, _ in self.to_token if k == kind) + 1
            self.to_token[key] = f"<{kind}:{number}>"
            self.to_raw[self.to_token[key]] = raw
        return self.to_token[key]

    def normalise(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.normalise(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalise(v, key) for v in value]
        if isinstance(value, str):
            if key in TOKEN_KINDS:
                return self.token(TOKEN_KINDS[key], value)
            if key.endswith("Timestamp"):
                return "<ts>"
            if key == "Message":  # a batch entry's error may quote the receipt handle
                for (kind, raw), token in self.to_token.items():
                    if kind == "rh":
                        value = value.replace(f'"{raw}"', f'"{token}"')
            return value.replace(self.endpoint, "<endpoint>")
        return value

    def raw_args(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.raw_args(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.raw_args(v) for v in value]
        if isinstance(value, str):
            if value in self.to_raw:
                return self.to_raw[value]
            return value.replace("<endpoint>", self.endpoint)
        return value


def record_case(
    case: dict[str, Any], call: Call, sleep: Callable[[float], None], endpoint: str
) -> dict[str, Any]:
    """The case with every step's outcome recorded afresh (old results and errors dropped)."""
    tokens = Tokens(endpoint)
    steps = []
    for step in case["steps"]:
        if "op" not in step:
            if "sleep_seconds" in step:
                sleep(step["sleep_seconds"])
            steps.append(dict(step))
            continue
        kind, value = call(step["op"], tokens.raw_args(step["args"]))
        recorded = {"op": step["op"], "args": step["args"]}
        if kind == "result":
            recorded["result"] = tokens.normalise(value)
        else:
            message = tokens.normalise(value["message"], "Message")
            recorded["error"] = {"code": value["code"], "message": message}
        if "note" in step:
            recorded["note"] = step["note"]
        steps.append(recorded)
    return {**{k: v for k, v in case.items() if k != "steps"}, "steps": steps}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto_server on 127.0.0.1:`port`, answering once this returns."""
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"moto_server did not answer on 127.0.0.1:{port}")


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def boto3_call(endpoint: str) -> Call:
    import boto3
    import botocore.exceptions

    client = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",  # moto accepts any credentials
        aws_secret_access_key="testing",
    )

    def call(op: str, args: dict[str, Any]) -> tuple[str, Any]:
        try:
            reply = getattr(client, op)(**args)
        except botocore.exceptions.ClientError as error:
            details = error.response["Error"]
            return "error", {"code": details["Code"], "message": details["Message"]}
        reply.pop("ResponseMetadata", None)
        return "result", reply

    return call


def source() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "system": "moto (EMULATOR of Amazon SQS, moto_server on 127.0.0.1) -- NOT real AWS SQS",
        "moto_version": version("moto"),
        "boto3_version": version("boto3"),
        "botocore_version": version("botocore"),
        "region": REGION,
        "generated_at_unix": int(time.time()),
    }


NORMALIZATION = {
    "MessageId": "<msg:N> per trace, order of first appearance",
    "ReceiptHandle": "<rh:N> per trace, order of first appearance (arguments and error "
    "messages shown with the same token)",
    "SequenceNumber": "<seq:N> per trace, order of first appearance",
    "timestamps": "every ...Timestamp value -> '<ts>'",
    "QueueUrl": "scheme+host replaced by <endpoint>",
    "ResponseMetadata": "dropped",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True, help="cases to run (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the traces")
    parser.add_argument("--case", action="append", help="record only this case (repeatable)")
    args = parser.parse_args(argv)
    script = json.loads(args.script.read_text())
    cases = [c for c in script["cases"] if not args.case or c["name"] in args.case]
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    try:
        call = boto3_call(endpoint)
        recorded = []
        for case in cases:
            reset_moto(endpoint)
            recorded.append(record_case(case, call, time.sleep, endpoint))
            print(f"recorded {case['name']} ({len(case['steps'])} steps)", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = {
        "source": source(),
        "normalization": NORMALIZATION,
        "emulator_divergences_observed": script.get("emulator_divergences_observed", []),
        "not_recorded": script.get("not_recorded", []),
        "cases": recorded,
    }
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
