"""OpenMessaging Benchmark workload files: YAML in, a validated Workload out, or one line.

A workload file is the YAML that OMB maps with Jackson onto the public fields of its `Workload`
class (openmessaging/benchmark, `benchmark-framework/src/main/java/io/openmessaging/benchmark/
Workload.java`). Every field of that class is here, under its YAML key and with its Java
default; ../shared/omb/README.md ("Workload file format") describes each one.

Where mqsim is stricter than OMB, on purpose, so that a typo never runs silently:
- OMB's mapper ignores unknown keys and reads an unknown `keyDistributor` as `NO_KEY`
  (`Benchmark.java`: FAIL_ON_UNKNOWN_PROPERTIES false, READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_
  VALUE); here both are errors naming the field.
- Counts OMB leaves unchecked (topics, partitions, producers, message size) must be at least 1,
  and a subscription needs a consumer: OMB would wait for it and fail after 60 s ("Timed out
  waiting for consumers to be ready", `WorkloadGenerator.ensureTopicsAreReady`).
- OMB's own checks come earlier: `consumerBacklogSizeGB` with `producerRate: 0` ("Cannot probe
  producer sustainable rate when building backlog", `WorkloadGenerator` constructor) and a
  payload file whose length is not `messageSize` (`FilePayloadReader.load`, PayloadException).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from sim.errors import ScenarioError, format_path
from sim.fieldtypes import StrictModel

__all__ = ["KEY_DISTRIBUTORS", "Workload", "load_workload", "validate_workload"]

JAVA_INT_MAX = 2**31 - 1  # Java's int: a larger number does not parse in OMB either
JAVA_LONG_MAX = 2**63 - 1

#: `KeyDistributorType` (benchmark-framework/.../utils/distributor/KeyDistributorType.java).
KEY_DISTRIBUTORS = ("NO_KEY", "KEY_ROUND_ROBIN", "RANDOM_NANO")

Count = Annotated[int, Field(ge=0, le=JAVA_INT_MAX, strict=True)]
Positive = Annotated[int, Field(ge=1, le=JAVA_INT_MAX, strict=True)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class Workload(StrictModel):
    """One OMB workload: the fields of `Workload.java`, by their YAML names, with its defaults."""

    name: str | None = None
    topics: Positive = Field(alias="topics")
    partitions_per_topic: Positive = Field(alias="partitionsPerTopic")
    key_distributor: Literal["NO_KEY", "KEY_ROUND_ROBIN", "RANDOM_NANO"] = Field(
        default="NO_KEY", alias="keyDistributor"
    )
    message_size: Positive = Field(alias="messageSize")
    use_randomized_payloads: bool = Field(default=False, alias="useRandomizedPayloads")
    # Randomized payloads only shape the bytes (compressibility); mqsim models sizes, not bytes.
    random_bytes_ratio: Ratio = Field(default=0.0, alias="randomBytesRatio")
    randomized_payload_pool_size: Count = Field(default=0, alias="randomizedPayloadPoolSize")
    payload_file: str | None = Field(default=None, alias="payloadFile")
    subscriptions_per_topic: Count = Field(default=0, alias="subscriptionsPerTopic")
    producers_per_topic: Positive = Field(alias="producersPerTopic")
    consumer_per_subscription: Count = Field(default=0, alias="consumerPerSubscription")
    # msg/s for the whole workload; 0 = find the maximum sustainable rate.
    producer_rate: Count = Field(default=0, alias="producerRate")
    consumer_backlog_size_gb: Annotated[int, Field(ge=0, le=JAVA_LONG_MAX, strict=True)] = Field(
        default=0, alias="consumerBacklogSizeGB"
    )
    backlog_drain_ratio: Ratio = Field(default=1.0, alias="backlogDrainRatio")
    test_duration_minutes: Count = Field(default=0, alias="testDurationMinutes")
    warmup_duration_minutes: Count = Field(default=1, alias="warmupDurationMinutes")

    _source: str = PrivateAttr(default="")
    _payload_path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> Workload:
        if self.consumer_backlog_size_gb > 0 and self.producer_rate == 0:
            raise ValueError(
                "consumerBacklogSizeGB: cannot probe the sustainable rate (producerRate: 0) "
                "while building a backlog, as OMB refuses"
            )
        if self.subscriptions_per_topic > 0 and self.consumer_per_subscription == 0:
            raise ValueError(
                "consumerPerSubscription: a subscription needs at least 1 consumer "
                "(OMB would time out waiting for it)"
            )
        if self.use_randomized_payloads:
            if self.randomized_payload_pool_size < 1:
                raise ValueError(
                    "randomizedPayloadPoolSize: must be at least 1 with useRandomizedPayloads"
                )
        elif self.payload_file is None:
            raise ValueError("payloadFile: required unless useRandomizedPayloads is true")
        return self

    @property
    def source(self) -> str:
        """The file this workload came from ('' when built in Python)."""
        return self._source

    @property
    def payload_path(self) -> Path | None:
        """The payload file found for `payloadFile` (None with randomized payloads)."""
        return self._payload_path

    @property
    def title(self) -> str:
        """The result's `workload` field: the `name`, else the file's stem."""
        if self.name is not None:
            return self.name
        return Path(self._source).stem if self._source else "workload"

    @property
    def probes_rate(self) -> bool:
        """`producerRate: 0`: OMB searches for the maximum sustainable rate."""
        return self.producer_rate == 0

    @property
    def backlog_bytes(self) -> int:
        """The backlog to build before consumers drain it (GiB, 2^30 bytes, as OMB counts)."""
        return self.consumer_backlog_size_gb * 1024**3


def load_workload(path: str | Path) -> Workload:
    """Read and validate an OMB workload file; a bad one raises one ScenarioError line naming
    the file and the field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", source=source) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"cannot read the file ({error})", source=source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ScenarioError(f"invalid YAML: {problem}", where, source) from None
    return validate_workload(data, source, Path(path).parent)


def validate_workload(data: Any, source: str = "", folder: Path | None = None) -> Workload:
    """A workload from plain data; `folder` is where the file was, to find its payload file."""
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping of workload fields at the top level", source=source)
    try:
        workload = Workload.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as error:
        raise _first_error(error, source) from None
    workload._source = source
    if not workload.use_randomized_payloads and workload.payload_file is not None:
        workload._payload_path = _payload(workload, folder, source)
    return workload


def _payload(workload: Workload, folder: Path | None, source: str) -> Path:
    """The payload file, looked up as OMB does (against the directory it runs in), then beside
    the workload file and in its parent: OMB's `payload/` folder sits next to `workloads/`
    (../shared/omb/README.md). Its length must be `messageSize` (FilePayloadReader.load)."""
    given = Path(str(workload.payload_file))
    places = [given]
    if not given.is_absolute() and folder is not None:
        places += [folder / given, folder.parent / given]
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        looked = ", ".join(str(p) for p in dict.fromkeys(places))
        raise ScenarioError(f"no such file (looked for {looked})", "payloadFile", source)
    length = found.stat().st_size
    if length != workload.message_size:
        raise ScenarioError(
            f"{found} is {length} bytes but messageSize is {workload.message_size} "
            "(OMB refuses a payload of another length)",
            "payloadFile",
            source,
        )
    return found


def _first_error(error: ValidationError, source: str) -> ScenarioError:
    """Pydantic's first complaint, as `file: field: what was expected`."""
    detail = error.errors(include_url=False)[0]
    loc = tuple(detail["loc"])
    kind, message = detail["type"], str(detail["msg"])
    if kind == "extra_forbidden":
        known = sorted(f.alias or n for n, f in Workload.model_fields.items())
        message = f"unknown key {loc[-1]!r} (known: {', '.join(known)})"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "literal_error":
        message = f"unknown value {detail.get('input')!r} (known: {', '.join(KEY_DISTRIBUTORS)})"
    elif kind in ("value_error", "assertion_error"):
        # Our own checks name their field first: "field: what".
        text = message.removeprefix("Value error, ")
        field, _, rest = text.partition(": ")
        return ScenarioError(rest or text, field if rest else "", source)
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {detail.get('input')!r}"
    return ScenarioError(message, format_path(loc), source)
