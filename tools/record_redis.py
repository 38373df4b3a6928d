"""Record Redis Streams traces from a live redis-server, in the golden file's format.

A trace file is its own script: for each case this tool runs the case's commands (`cmd`,
`repeat` with `<i>`, `sleep_seconds`) against a server and records every reply afresh, normalised
as shared/conformance/redis/streams_traces.json describes it: server-made ids become `<auto:N>`
in order of first appearance (commands may carry the tokens), idle times become "<idle>" with
the step's `idle_checks` evaluated on the real values, the unix-millisecond times of XINFO STREAM
FULL (deliveries, consumers' seen-time) become "<time>", errors are recorded under `error`.

    python tools/record_redis.py --script ../shared/conformance/redis/streams_traces.json \\
        --out /tmp/streams_traces.json [--host 127.0.0.1 --port 6379 --db 15] [--case NAME]

It empties the chosen database (FLUSHDB) before each case: point it at a scratch database.
The normalisation functions are also what tests/conformance/test_redis_streams_traces.py uses
to compare mqsim's model with the golden file.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Execute = Callable[[list[str]], Any]  # runs one command; raises with the server's error text


class Tokens:
    """Real ids <-> `<auto:N>` tokens within one trace."""

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


def server_made(cmd: list[str]) -> bool:
    """Only a full `*` id is made by the server (`1-*` keeps its given time, recorded as is)."""
    return cmd[0].upper() == "XADD" and "*" in cmd


def _words(cmd: list[str], n: int) -> list[str]:
    """The first n words of a command, upper-cased (command and subcommand names)."""
    return [word.upper() for word in cmd[:n]]


def _is_full_stream_info(cmd: list[str], reply: Any) -> bool:
    return _words(cmd, 2) == ["XINFO", "STREAM"] and len(cmd) > 3 and isinstance(reply, list)


def idle_times(cmd: list[str], reply: Any) -> dict[str, int]:
    """id (or consumer name) -> idle ms in an XPENDING range or an XINFO CONSUMERS reply."""
    if _words(cmd, 1) == ["XPENDING"] and len(cmd) > 3 and isinstance(reply, list):
        return {row[0]: row[2] for row in reply}
    if _words(cmd, 2) == ["XINFO", "CONSUMERS"] and isinstance(reply, list):
        return {row[1]: row[5] for row in reply}
    return {}


def _pairs(flat: list[Any]) -> Iterator[tuple[Any, Any]]:
    """A RESP2 map (a flat [key, value, ...] list) as (key, value) pairs."""
    return zip(flat[::2], flat[1::2], strict=True)


def _blank_full_times(reply: list[Any]) -> list[Any]:
    """XINFO STREAM FULL with its unix-ms times (t_stream.c xinfoReplyWithStreamInfo: each
    group PEL row [id, consumer, delivery time, count], each consumer's seen-time and PEL rows
    [id, delivery time, count]) replaced by "<time>"."""

    def group(flat: list[Any]) -> list[Any]:
        out: list[Any] = []
        for key, value in _pairs(flat):
            if key == "pending":
                value = [[row[0], row[1], "<time>", row[3]] for row in value]
            elif key == "consumers":
                value = [consumer(c) for c in value]
            out += [key, value]
        return out

    def consumer(flat: list[Any]) -> list[Any]:
        out: list[Any] = []
        for key, value in _pairs(flat):
            if key == "seen-time":
                value = "<time>"
            elif key == "pending":
                value = [[row[0], "<time>", row[2]] for row in value]
            out += [key, value]
        return out

    out: list[Any] = []
    for key, value in _pairs(reply):
        out += [key, [group(g) for g in value] if key == "groups" else value]
    return out


def blank_idle(cmd: list[str], reply: Any) -> Any:
    """The reply with its time-dependent values (idle times, unix-ms times) replaced."""
    if _words(cmd, 1) == ["XPENDING"] and len(cmd) > 3 and isinstance(reply, list):
        return [[row[0], row[1], "<idle>", row[3]] for row in reply]
    if _words(cmd, 2) == ["XINFO", "CONSUMERS"] and isinstance(reply, list):
        return [[*row[:5], "<idle>"] for row in reply]
    if _is_full_stream_info(cmd, reply):
        return _blank_full_times(reply)
    return reply


def idle_facts(
    checks: list[dict[str, Any]], idle: dict[str, int]
) -> Iterator[tuple[str, str, bool]]:
    """(id, fact, whether it holds) for each `idle_ms<N` / `idle_ms>=N` fact of the checks."""
    for check in checks:
        for fact in check:
            if fact == "id":
                continue
            match = re.fullmatch(r"idle_ms(<|>=)(\d+)", fact)
            if match is None:
                raise ValueError(f"unknown idle check {fact!r}")
            value = idle[check["id"]]
            holds = value < int(match[2]) if match[1] == "<" else value >= int(match[2])
            yield check["id"], fact, holds


def repeat_range(text: str) -> range:
    """`i = 1..250` -> range(1, 251)."""
    match = re.fullmatch(r"i = (\d+)\.\.(\d+)", text)
    if match is None:
        raise ValueError(f"a repeat is written 'i = LOW..HIGH', not {text!r}")
    return range(int(match[1]), int(match[2]) + 1)


def record_case(
    case: dict[str, Any], execute: Execute, sleep: Callable[[float], None]
) -> dict[str, Any]:
    """Run one case's commands through `execute` and return the case with fresh replies."""
    tokens = Tokens()
    steps: list[dict[str, Any]] = []
    for step in case["steps"]:
        if "sleep_seconds" in step:
            sleep(step["sleep_seconds"])
            steps.append({"sleep_seconds": step["sleep_seconds"]})
            continue
        out: dict[str, Any] = {"cmd": step["cmd"]}
        if "repeat" in step:
            out["repeat"] = step["repeat"]
            lengths = []
            for i in repeat_range(step["repeat"]):
                cmd = [arg.replace("<i>", str(i)) for arg in step["cmd"]]
                execute(cmd)
                lengths.append(execute(["XLEN", cmd[1]]))
            if "xlen_after_each" in step:
                out["xlen_after_each"] = lengths
            steps.append(out)
            continue
        cmd = [tokens.to_real(arg) for arg in step["cmd"]]
        try:
            reply = execute(cmd)
        except Exception as error:  # the server's error reply, kept as its text
            out["error"] = str(error)
        else:
            if server_made(cmd) and isinstance(reply, str):
                tokens.learn(reply)
            checks = step.get("idle_checks")
            if checks:
                idle = idle_times(cmd, reply)
                out["idle_checks"] = [
                    {"id": check["id"], **{f: ok for i, f, ok in idle_facts([check], idle)}}
                    for check in checks
                ]
            out["result"] = tokens.normalise(blank_idle(cmd, reply))
        if "note" in step:
            out["note"] = step["note"]
        steps.append(out)
    return {**case, "steps": steps}


def _live_server(host: str, port: int, db: int) -> tuple[Any, Execute]:
    import redis  # the `record` extra: pip install -e '.[record]'

    client = redis.Redis(host=host, port=port, db=db, decode_responses=True, protocol=2)
    client.response_callbacks.clear()  # raw replies, as the golden file records them

    def execute(cmd: list[str]) -> Any:
        return client.execute_command(*cmd)

    return client, execute


def _debian_package() -> str | None:
    """The installed redis-server package's version, where dpkg knows it."""
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "redis-server"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def _source(client: Any, host: str, port: int) -> dict[str, Any]:
    import redis

    info = str(client.execute_command("INFO", "server"))
    version = re.search(r"redis_version:(\S+)", info)
    source: dict[str, Any] = {
        "system": "Redis (real redis-server)",
        "version": version[1] if version else "unknown",
    }
    package = _debian_package()
    if package:
        source["debian_package"] = package
    source["client"] = (
        f"redis-py {redis.__version__} (RESP2, response callbacks removed -> raw replies)"
    )
    source["server_address"] = f"{host}:{port}"
    source["generated_at_unix"] = int(time.time())
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, required=True, help="a trace file to re-record")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--case", action="append", help="only these cases (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--db", type=int, default=15, help="a scratch database: it is flushed")
    args = parser.parse_args(argv)
    script = json.loads(args.script.read_text(encoding="utf-8"))
    client, execute = _live_server(args.host, args.port, args.db)
    recorded = []
    for case in script["cases"]:
        if args.case and case["name"] not in args.case:
            continue
        client.execute_command("FLUSHDB")
        recorded.append(record_case(case, execute, time.sleep))
        print(f"recorded {case['name']}", file=sys.stderr)
    out: dict[str, Any] = {"source": _source(client, args.host, args.port)}
    if "description" in script:
        out["description"] = script["description"]
    out["normalization"] = script.get("normalization", {})
    out["cases"] = recorded
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
