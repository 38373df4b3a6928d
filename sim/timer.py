"""Re-armed SimPy events for the per-message paths: the same events, fewer objects and calls.

A SimPy `Timeout` is an `Event` made, initialised and scheduled by two Python calls
(`Timeout.__init__`, `Environment.schedule`). A part that waits on one timer at a time (a
producer's next arrival, a consumer's service time) can schedule one event object again and
again instead: the queue entry is the one `schedule` makes (`(now + delay, NORMAL, next eid,
event)`), so every event keeps its place in the order SimPy gives events (time, priority,
then the order they were scheduled), and the run is the same event for event.

Speed: each use saves the two calls and the event object a `Timeout` costs. This leans on
SimPy's own fields (`Environment._queue`, `_eid`, `_now`; an event is pending while its
`callbacks` is a list and processed once `step` sets it to None), those of SimPy 4.1.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

__all__ = ["Timer", "succeed_now"]


class Timer:
    """One event re-scheduled over and over, calling `callback(event)` each time it fires: a
    chain of timeouts for a part that is waiting on at most one at a time (no process, no
    generator to resume).

    `set(delay)` must only be called while the timer is not pending, i.e. from its own
    callback or before it was first set (as a process only ever waits on one event)."""

    __slots__ = ("_eid", "_env", "_queue", "callbacks", "event")

    def __init__(self, env: simpy.Environment, callback: Callable[[Any], None]) -> None:
        event = simpy.Event(env)
        event._ok = True  # a timeout's: it succeeds, with the value None
        event._value = None
        event.callbacks = None  # not pending until set
        self._env = env
        self.event = event
        self._queue = env._queue
        self._eid = env._eid
        # One list for every firing: `step` takes it off the event before calling it, and
        # `set` puts it back (nothing else ever appends to this private event). A hot path
        # may inline `set` with these two (`event`, `callbacks`).
        self.callbacks: list[Callable[[Any], None]] = [callback]

    def retarget(self, callback: Callable[[Any], None]) -> None:
        """Call `callback` from now on (safe from inside the current callback: `step` has
        already read the list's one entry)."""
        self.callbacks[0] = callback

    def set(self, delay: float) -> None:
        """Fire `delay` from now, as `env.timeout(delay)` made now would."""
        event = self.event
        event.callbacks = self.callbacks
        heappush(self._queue, (self._env._now + delay, NORMAL, next(self._eid), event))

    def urgent(self) -> None:
        """Fire now, before the instant's normal events, as a new process's Initialize does."""
        event = self.event
        event.callbacks = self.callbacks
        heappush(self._queue, (self._env._now, URGENT, next(self._eid), event))


def succeed_now(event: simpy.Event, value: Any = None) -> None:
    """`event.succeed(value)` for a pending event, in one call instead of two (`succeed`,
    then the environment's `schedule`): the same outcome and the same queue entry (now,
    NORMAL, the next event id). Speed: for the wake-ups on the per-message paths (an idle
    consumer woken by a message); the caller knows the event is pending."""
    event._ok = True
    event._value = value
    env = event.env
    heappush(env._queue, (env._now, NORMAL, next(env._eid), event))
