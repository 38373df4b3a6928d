"""The scenarios the benchmarks run, built for any registered broker from its spec's ideal
settings (`BrokerSpec.ideal`, sim/brokers/base.py IdealQueue), as tests/test_broker_contract.py
builds its M/M/1 and M/M/c runs.

- `mm1`: Poisson arrivals at rho 0.9 per consumer, exponential service times of mean 1 s, on
  `sources` independent sources (each its own producer and consumer group) read by
  `consumers` competing replicas each; a Kafka topic can be given more partitions.
- `drain`: a backlog made at once (a producer at 1,000,000 msg/s for `messages` messages),
  then drained by one consumer with a constant service time of 1 ms.
- `backlog`: a backlog made at once and held: the one consumer sits on its first message for
  longer than the run, so every other message stays queued at the broker.

`bounded=True` gives the logs a bound, as a log is run in production: a Kafka topic keeps an
hour (`retention.ms` 1 h, `segment.ms` 10 min) and a Redis stream about 10,000 entries
(`MAXLEN ~ 10000`). Without it a log keeps what it was given, as the real systems do (Kafka
for `retention.ms`, 7 days by default; a Redis stream until it is trimmed), so the memory of
a long run grows with what the log holds, not with anything the model leaks.
"""

from __future__ import annotations

from typing import Any

from sim.brokers.registry import spec_of

RHO = 0.9
SOURCE = "jobs"
BURST_RATE = 1_000_000.0  # messages a second while a backlog is made
DRAIN_SERVICE = 0.001  # seconds per message while it drains

# The bounds `bounded=True` gives each log (see the module docstring).
LOG_BOUNDS: dict[str, dict[str, Any]] = {
    "kafka": {"retention.ms": 3_600_000, "segment.ms": 600_000},
    "redis": {"maxlen": 10_000, "approximate": True},
}


def _section(broker: str, sources: list[str], consumers: int) -> dict[str, Any]:
    """The ideal broker section with every source in `sources`: each source's own section,
    merged by concatenating their lists (queues, topics, streams, groups)."""
    ideal = spec_of(broker).ideal
    assert ideal is not None, f"{broker}: its spec declares no ideal settings"
    merged: dict[str, Any] = {}
    for source in sources:
        for key, value in ideal.section(source, consumers).items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


def mm1(
    broker: str,
    messages: int,
    *,
    sources: int = 1,
    consumers: int = 1,
    partitions: int | None = None,
    seed: int = 1,
    consumer: dict[str, Any] | None = None,
    bounded: bool = False,
) -> dict[str, Any]:
    """About `messages` messages in all, at rho 0.9 on every consumer."""
    ideal = spec_of(broker).ideal
    assert ideal is not None
    names = [SOURCE] if sources == 1 else [f"{SOURCE}{i}" for i in range(sources)]
    section = _section(broker, names, consumers)
    if partitions is not None:  # Kafka: a topic of this many partitions
        for topic in section["topics"]:
            topic["partitions"] = partitions
    if bounded and broker in LOG_BOUNDS:
        for log in section.get("topics", []) + section.get("streams", []):
            log.update(LOG_BOUNDS[broker])
    rate = RHO * consumers
    return {
        "name": f"bench_{broker}",
        "seed": seed,
        "duration": ideal.warmup + messages / (rate * sources),
        "warmup": ideal.warmup,
        "broker": section,
        "producers": [
            {"name": f"p{i}", "to": name, "rate": rate, **ideal.producer}
            for i, name in enumerate(names)
        ],
        "consumers": [
            {
                "name": f"c{i}",
                "from": name,
                "replicas": consumers,
                "service_time": "exp(1s)",
                **ideal.consumer,
                **(consumer or {}),
            }
            for i, name in enumerate(names)
        ],
    }


def drain(broker: str, messages: int, consumer: dict[str, Any] | None = None) -> dict[str, Any]:
    """`messages` produced in the first instants, then drained at 1,000 msg/s: the run ends
    just after the last one is processed. Returns the scenario and when the drain starts."""
    ideal = spec_of(broker).ideal
    assert ideal is not None
    made = (messages + 0.5) / BURST_RATE  # half a gap more: the last arrival is in
    start = max(made, ideal.warmup)
    return {
        "name": f"drain_{broker}",
        "seed": 1,
        "duration": start + messages * DRAIN_SERVICE * 1.02,
        "broker": _section(broker, [SOURCE], 1),
        "producers": [
            {
                "name": "p",
                "to": SOURCE,
                "rate": BURST_RATE,
                "arrivals": "constant",
                "stop": made,
                **ideal.producer,
            }
        ],
        "consumers": [
            {
                "name": "c",
                "from": SOURCE,
                "service_time": DRAIN_SERVICE,
                **ideal.consumer,
                **(consumer or {}),
            }
        ],
    }


def backlog(broker: str, messages: int) -> dict[str, Any]:
    """`messages` produced at once and kept: the one consumer holds its first message for the
    whole run, so the broker stores every other one (ready, unread)."""
    ideal = spec_of(broker).ideal
    assert ideal is not None
    made = (messages + 0.5) / BURST_RATE
    return {
        "name": f"backlog_{broker}",
        "seed": 1,
        "duration": max(made, ideal.warmup) + 1.0,
        "broker": _section(broker, [SOURCE], 1),
        "producers": [
            {
                "name": "p",
                "to": SOURCE,
                "rate": BURST_RATE,
                "arrivals": "constant",
                "stop": made,
                **ideal.producer,
            }
        ],
        "consumers": [
            {"name": "c", "from": SOURCE, "service_time": "1000d", **ideal.consumer},
        ],
    }
