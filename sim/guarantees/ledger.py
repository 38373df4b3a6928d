"""The effect ledger: for every logical message, how many times its side effect was applied.

It stands downstream of the consumers (the database a payment or an e-mail ends in) and sees
what the broker and the Recorder cannot: that the same logical message was applied twice,
whether it came back as a redelivery or as a second copy the producer published.

One byte per message id: 0 for an id the run never handed out, 1 + the number of applications
otherwise (saturating at 255), in a bytearray grown in chunks. Memory is therefore about one
byte per message, and the end-of-run counts are one numpy bincount.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

__all__ = ["EffectLedger"]

_CHUNK = 1 << 16  # bytes added when an id falls past the end
_ISSUED = 1  # the byte of an id handed out and not applied yet
_CAP = 255


class EffectLedger:
    """Counts applications per message id. `issuing(ids)` wraps the run's id source so that
    every message the run creates is expected to have its effect applied exactly once."""

    def __init__(self) -> None:
        self._counts = bytearray(_CHUNK)
        self.applied = 0  # applications, over all messages
        # (time, message_id, event, component, applications) when the run is traced
        self.journal: list[tuple[float, int, str, str, int]] | None = None

    def _grow(self, message_id: int) -> None:
        needed = message_id + 1 - len(self._counts)
        self._counts.extend(bytes(-(-needed // _CHUNK) * _CHUNK))

    def issue(self, message_id: int) -> None:
        """A logical message exists: from now on it counts as lost until applied."""
        if message_id >= len(self._counts):
            self._grow(message_id)
        if not self._counts[message_id]:
            self._counts[message_id] = _ISSUED

    def issuing(self, ids: Iterator[int]) -> Iterator[int]:
        """The ids of `ids`, each issued in the ledger as it is handed out."""
        issue = self.issue
        for message_id in ids:
            issue(message_id)
            yield message_id

    def apply(self, message_id: int) -> int:
        """The effect of `message_id` was applied once more; returns its applications so far."""
        counts = self._counts
        if message_id >= len(counts):
            self._grow(message_id)
        value = counts[message_id] or _ISSUED
        if value < _CAP:
            value += 1
        counts[message_id] = value
        self.applied += 1
        return value - _ISSUED

    def applications(self, message_id: int) -> int:
        """How many times the effect of `message_id` has been applied."""
        if message_id >= len(self._counts):
            return 0
        return max(self._counts[message_id] - _ISSUED, 0)

    def histogram(self) -> np.ndarray:
        """Messages by number of applications: element k counts messages applied k times
        (the last element also counts those applied more often)."""
        bins = np.bincount(np.frombuffer(self._counts, dtype=np.uint8), minlength=_CAP + 1)
        return bins[_ISSUED:]

    def outcomes(self) -> dict[str, int]:
        """effects_lost (never applied), effects_once, effects_duplicated (more than once)."""
        by_count = self.histogram()
        return {
            "effects_lost": int(by_count[0]),
            "effects_once": int(by_count[1]),
            "effects_duplicated": int(by_count[2:].sum()),
        }

    def table(self) -> pd.DataFrame:
        """One row per number of applications that occurred: `applications`, `messages`."""
        by_count = self.histogram()
        present = np.flatnonzero(by_count)
        return pd.DataFrame({"applications": present, "messages": by_count[present]})
