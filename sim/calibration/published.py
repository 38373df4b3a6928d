"""The published measurements (`../shared/calibration/published.csv`), one `Row` each.

The file's README (`../shared/calibration/README.md`) explains the columns; here a row keeps
them as text except the numbers the calibration reads (`value`, the message size, the client
machines and threads), which are None where the file gives none.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_CSV", "Row", "read_rows"]

#: Beside the repository, as every shared data set (tests/helpers.py CONFORMANCE).
DEFAULT_CSV = (
    Path(__file__).resolve().parents[2].parent / "shared" / "calibration" / "published.csv"
)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Row:
    """One published figure and its setup."""

    row_id: str
    system: str
    variant: str
    study: str  # the first word of `source`: mqperf-2021, confluent-2020, ...
    source: str
    source_ref: str
    confidence: str
    run_id: str
    nodes: str
    replication: str
    message_size: float | None
    sender_nodes: float | None
    sender_threads: float | None
    receiver_nodes: float | None
    receiver_threads: float | None
    partitions: str
    metric: str
    value: float
    unit: str
    notes: str

    @property
    def threads(self) -> float | None:
        """Sender threads in all (machines x threads each), None when not published."""
        if self.sender_nodes is None or self.sender_threads is None:
            return None
        return self.sender_nodes * self.sender_threads

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


def read_rows(path: str | Path = DEFAULT_CSV) -> list[Row]:
    """Every row of the file, in its order."""
    with open(path, encoding="utf-8", newline="") as handle:
        found = []
        for raw in csv.DictReader(handle):
            found.append(
                Row(
                    row_id=raw["row_id"],
                    system=raw["system"],
                    variant=raw["variant"],
                    study=raw["source"].split(" ", 1)[0],
                    source=raw["source"],
                    source_ref=raw["source_ref"],
                    confidence=raw["confidence"],
                    run_id=raw["run_id"],
                    nodes=raw["nodes"],
                    replication=raw["replication"],
                    message_size=_number(raw["message_size_bytes"]),
                    sender_nodes=_number(raw["sender_nodes"]),
                    sender_threads=_number(raw["sender_threads"]),
                    receiver_nodes=_number(raw["receiver_nodes"]),
                    receiver_threads=_number(raw["receiver_threads"]),
                    partitions=raw["partitions_or_queues"],
                    metric=raw["metric"],
                    value=float(raw["value"]),
                    unit=raw["unit"],
                    notes=raw["notes"],
                )
            )
    return found
