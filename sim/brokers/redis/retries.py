"""Retry policies on Redis Streams: a failed entry stays pending, and is claimed again once it
has been idle for the backoff; spent entries go to a dead-letter stream.

- A failed try is not acknowledged: the entry stays in the group's pending entries list (PEL)
  under the consumer. When the backoff has passed, the consumer takes it again with XCLAIM and
  a min-idle-time of the backoff (an entry idle that long, not acknowledged since its last
  delivery), which counts a delivery ("XCLAIM", https://redis.io/docs/latest/commands/xclaim/;
  the Redis Streams guide, "Recovering from permanent failures").
- Which try a delivery is: the entry's delivery counter (XPENDING's fourth field).
- The last try's failure: the entry is added to the stream `<stream>-dlq` and acknowledged,
  as the guide advises for entries whose delivery counter grows too large ("it is probably
  wiser to put such messages in another stream and send a notification"): Redis has no
  dead-letter stream of its own, the consumer moves it.

With `retry.blocking` the consumer retries in place, the entry pending under it meanwhile.
"""

from __future__ import annotations

__all__ = ["dead_letter_stream"]


def dead_letter_stream(stream: str) -> str:
    return f"{stream}-dlq"
