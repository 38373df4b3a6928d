"""A consumer's retry policy (`retry:`), as the shared cycle applies it on every broker.

With a retry policy, any failed processing is a failed attempt: an error fault, a provider's
error, a timeout, a throttling answer. After a failed attempt the cycle asks the broker's
consumer which try it was (`attempt(d)`: the system's own count, such as RabbitMQ's x-death,
SQS's ApproximateReceiveCount, Kafka's retry-topic header, Redis's delivery count) and then:

- tries left: waits the policy's backoff (at least a provider's Retry-After) and tries again,
  in place with `blocking: true`, else through the broker (`retry_later(d, delay)`: a delayed
  retry queue, a visibility timeout, a retry topic, a pending entry claimed later);
- none left: dead-letters it (`dead_letter(d)`), the broker's own way.

The summary counts `retries` (tries after the first, as they are scheduled) and
`retries_exhausted` (messages whose tries were all spent). The table `retry.attempts` keeps
every attempt of the messages that failed at least once (at most MAX_ROWS rows): consumer,
message, attempt, start, end, outcome and the wait before the next try.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sim.backoff import backoff_delay
from sim.distributions import Distribution

if TYPE_CHECKING:
    from sim.clients.config import RetryPolicyConfig
    from sim.context import RunContext
    from sim.message import Message

__all__ = ["MAX_ROWS", "AttemptLog", "RetryPolicy"]

UNIFORM = Distribution("uniform", (0.0, 1.0))
MAX_ROWS = 50_000  # rows of retry.attempts over a run: memory stays bounded
COLUMNS = ["consumer", "message_id", "attempt", "start", "end", "outcome", "next_delay"]


class AttemptLog:
    """The attempts of messages that failed at least once, for every consumer of a run."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int, float, float, str, float]] = []
        self.tracked: set[tuple[str, int]] = set()  # (consumer, message id)

    def add(
        self,
        consumer: str,
        msg: Message,
        attempt: int,
        start: float,
        end: float,
        outcome: str,
        next_delay: float,
    ) -> None:
        if len(self.rows) >= MAX_ROWS:
            return
        self.tracked.add((consumer, msg.id))
        self.rows.append((consumer, msg.id, attempt, start, end, outcome, next_delay))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


class RetryPolicy:
    """One consumer replica's view of its consumer's retry policy."""

    def __init__(
        self, ctx: RunContext, config: RetryPolicyConfig, owner: str, consumer: str
    ) -> None:
        self.config = config
        self.attempts = config.attempts
        self.blocking = config.blocking
        self.consumer = consumer
        self.recorder = ctx.recorder
        self._exponential = config.backoff == "exponential"
        self._uniform = ctx.sampler(f"{owner}/retry", UNIFORM) if config.jitter != "none" else None
        log = ctx.shared.get("retry_log")
        if log is None:
            log = ctx.shared["retry_log"] = AttemptLog()
            ctx.tables["retry.attempts"] = log.table
        self.log: AttemptLog = log

    def delay(self, attempt: int, retry_after: float) -> float:
        """The wait after failed try `attempt` (1: the first), before the next one."""
        config = self.config
        uniform = self._uniform() if self._uniform is not None else 0.0
        wait = backoff_delay(
            attempt,
            config.initial,
            config.multiplier,
            config.max_delay,
            config.jitter,
            uniform,
            self._exponential,
        )
        if config.retry_after and retry_after > wait:
            wait = retry_after
        return wait

    def exhausted(self, msg: Message, attempt: int, start: float, now: float, outcome: str) -> None:
        """Try `attempt` was the last one: the message goes to the dead letters."""
        self.recorder.count("retries_exhausted")
        self.log.add(self.consumer, msg, attempt, start, now, outcome, float("nan"))

    def scheduled(
        self, msg: Message, attempt: int, start: float, now: float, outcome: str, wait: float
    ) -> None:
        self.recorder.count("retries")
        self.log.add(self.consumer, msg, attempt, start, now, outcome, wait)

    def succeeded(self, msg: Message, attempt: int, start: float, now: float) -> None:
        log = self.log
        if (self.consumer, msg.id) in log.tracked:
            log.add(self.consumer, msg, attempt, start, now, "ok", float("nan"))
