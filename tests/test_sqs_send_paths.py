"""The model's producers send to a standard queue through `SQSService.standard_sender` (one call
a message), and its consumers receive one message at a time through `SQSQueue.receive`'s
inlined take; both must do what `SQSService.send` and the general receive do: the same
MessageIds, states, counts, Recorder totals and receipts, with delays, visibility timeouts and
retention running out between the calls (the deadlines `advance` applies)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import simpy

from sim.brokers.sqs import SQSService
from sim.brokers.sqs.queue import QueueSettings
from sim.message import Message, State


def _state(service: SQSService) -> Any:
    queue = service.queues["q"]
    recorder = service.recorder
    entries = [
        (e.seq, e.message_number, e.state, e.receive_count, e.receipt, e.msg.id)
        for e in queue.held()
    ]
    counts = (queue.visible_count, queue.inflight_count, queue.delayed_count)
    totals = (recorder.published, recorder.delivered, recorder.ready_total, recorder.requeued)
    return entries, counts, totals, list(recorder.states)


@pytest.mark.parametrize(
    "settings",
    [
        # Retention 60 s (the smallest MessageRetentionPeriod), visibility 2 s, delay 1 s.
        QueueSettings(visibility_timeout=2.0, message_retention=60.0, delay=1.0),
        # No delay, timeouts far off: only retention makes a deadline due.
        QueueSettings(visibility_timeout=1000.0, message_retention=60.0),
    ],
)
def test_standard_sender_and_one_message_receives_match_the_general_paths(
    settings: QueueSettings,
) -> None:
    env = simpy.Environment()
    fast, general = SQSService(env), SQSService(env)
    fast.create("q", settings, {})
    # A maxReceiveCount without a dead-letter queue redrives nothing, but takes `_take`.
    general.create("q", replace(settings, max_receive_count=1000), {})
    send_fast = fast.standard_sender(fast.queues["q"])
    ids = iter(range(1, 10_000))

    def send_both() -> None:
        number = next(ids)
        send_fast(Message(number, env.now))
        general.send(general.queues["q"], Message(number, env.now), "")

    def receive_both() -> None:
        one = fast.queues["q"].receive(1, None)  # the inlined take
        other = general.queues["q"].receive(1, None)  # the general take
        assert [(e.seq, e.receipt) for e in one] == [(e.seq, e.receipt) for e in other]
        for service, taken in ((fast, one), (general, other)):
            for entry in taken:  # delete half of them: the rest reappear after the timeout
                if entry.seq % 2:
                    service.queues["q"].delete(entry)

    for step in range(400):
        env.run(until=env.now + 0.35)
        send_both()
        if step % 3:
            receive_both()
        assert _state(fast) == _state(general), step
    # Retention ran out for some (60 s), timeouts returned others, delays ended for all.
    assert fast.recorder.states[State.EXPIRED] > 0
    assert (fast.recorder.requeued > 0) == (settings.visibility_timeout < 100)
    assert [n for n in (next(fast._uuids), next(general._uuids))] == [401, 401]


def test_standard_sender_reaches_a_waiting_long_poll_at_once() -> None:
    env = simpy.Environment()
    service = SQSService(env)
    queue = service.create("q", QueueSettings(), {})
    answers: list[Any] = []

    def poll() -> Any:
        answers.append((yield from queue.wait_receive(1, None, 20.0)))

    env.process(poll())
    env.run(until=1.0)
    service.standard_sender(queue)(Message(1, env.now))
    env.run(until=1.0 + 1e-9)
    assert [[entry.msg.id for entry in answer] for answer in answers] == [[1]]


def test_a_send_at_a_retention_deadline_expires_the_old_message_first() -> None:
    """A send at the very instant a message's retention ends, before the queue's own clock
    rings: the send applies the deadline first (as every queue operation does), so the old
    message is gone when the new one is stored."""
    env = simpy.Environment()
    service = SQSService(env)
    queue = service.create("q", QueueSettings(message_retention=60.0), {})
    send = service.standard_sender(queue)
    seen: list[list[int]] = []

    def at_deadline(_event: Any) -> None:
        send(Message(2, env.now))
        seen.append([entry.msg.id for entry in queue.held()])

    env.timeout(60.0).callbacks.append(at_deadline)  # scheduled before the clock is armed
    send(Message(1, env.now))
    env.run(until=61.0)
    assert seen == [[2]]
    assert service.recorder.states[State.EXPIRED] == 1
