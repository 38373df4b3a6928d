"""Field types shared by every section of a scenario: durations, rates, sizes, distributions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from sim.distributions import Distribution, parse_distribution
from sim.units import parse_duration, parse_rate, parse_size

__all__ = ["Dist", "Duration", "Rate", "Size", "StrictModel"]


def _plain(parse: Any) -> PlainValidator:
    # PlainValidator so that `1.5` and `"1.5s"` both reach our parser, which owns the messages.
    return PlainValidator(parse, json_schema_input_type=str | float)


Duration = Annotated[float, _plain(parse_duration)]
Rate = Annotated[float, _plain(parse_rate)]
Size = Annotated[int, _plain(parse_size)]
Dist = Annotated[
    Distribution,
    _plain(parse_distribution),
    PlainSerializer(str, return_type=str),
]


class StrictModel(BaseModel):
    """Immutable, and an unknown key is an error: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
