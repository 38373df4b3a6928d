"""Which producer and consumer fields a broker model reads, and the error for the others."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["GENERIC_CONSUMER_FIELDS", "GENERIC_PRODUCER_FIELDS", "Loc", "foreign_fields"]

Loc = tuple[str | int, ...]

# What every broker model's producers and consumers understand (ProducerConfig /
# ConsumerConfig field names); a model adds its own to these.
GENERIC_PRODUCER_FIELDS = frozenset(
    {
        "name",
        "to",
        "rate",
        "arrivals",
        "message_size",
        "start",
        "stop",
        "schedule",
        "spikes",
        "network",
    }
)
GENERIC_CONSUMER_FIELDS = frozenset({"name", "from_", "replicas", "service_time", "network"})


def foreign_fields(
    broker_type: str, loc: Loc, item: Any, allowed: frozenset[str]
) -> Iterator[tuple[Loc, str]]:
    """Fields set on `item` that the `broker_type` model does not read.

    Fields marked for another broker (`json_schema_extra={"broker": X}`) are left to
    sim/scenario/load.py, which names the broker they belong to.
    """
    fields = type(item).model_fields
    for name in sorted(item.model_fields_set):
        info = fields[name]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        owner = extra.get("broker")
        if name in allowed or owner is not None:
            continue
        yield ((*loc, info.alias or name), f"is not used by broker type {broker_type!r}")
