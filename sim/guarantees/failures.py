"""Where and how often a consumer's processing fails: crashes at points of its cycle, and acks
lost on the network.

Every decision draws from a named random stream of its own, in blocks (sim.distributions
.Sampler): whether a processing crashes, at which point, how far into the processing time, and
whether an ack is lost. Changing the crash probability therefore changes which processings
crash, but not the service times or the arrivals (common random numbers across strategies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.distributions import Sampler

if TYPE_CHECKING:
    from sim.guarantees.config import GuaranteeConfig
    from sim.randomness import RandomStreams

__all__ = ["CrashPlan"]


def _uniform(rng: np.random.Generator) -> Sampler:
    return Sampler(lambda n: rng.random(n).tolist())


class CrashPlan:
    """Decides, for each processing, whether and where it crashes.

    `owner` names the consumer replica ("consumer:worker.0"): its streams are its own.
    `crash_on` is the set of message ids still to crash on, shared by the replicas.
    """

    def __init__(
        self, config: GuaranteeConfig, streams: RandomStreams, owner: str, crash_on: set[int]
    ) -> None:
        self.probability = config.crash_probability
        self.points = config.points
        # Ids still to crash on, shared by the consumer's replicas: each crashes once.
        self.crash_on = crash_on
        self.ack_loss = config.ack_loss_probability
        self._crash = _uniform(streams.generator(f"{owner}/guarantee/crash"))
        self._point = Sampler.choice(self.points, streams.generator(f"{owner}/guarantee/point"))
        self._fraction = _uniform(streams.generator(f"{owner}/guarantee/fraction"))
        self._ack = _uniform(streams.generator(f"{owner}/guarantee/ack_loss"))

    @property
    def active(self) -> bool:
        return self.probability > 0 or bool(self.crash_on)

    def crash_point(self, message_id: int) -> str | None:
        """The point at which this processing crashes, or None. A message listed in
        `crash_on` crashes the first time it is processed (so that its redelivery goes
        through)."""
        if message_id in self.crash_on:
            self.crash_on.discard(message_id)
            return self.points[0] if len(self.points) == 1 else self._point()
        if self.probability > 0 and self._crash() < self.probability:
            return self.points[0] if len(self.points) == 1 else self._point()
        return None

    def fraction(self) -> float:
        """How far into the processing time a crash during processing strikes (uniform)."""
        return self._fraction()

    def ack_lost(self) -> bool:
        return self.ack_loss > 0 and self._ack() < self.ack_loss
