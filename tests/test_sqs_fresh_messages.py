"""A message the model's producers send to a standard queue has no Entry until it is received
(sim/brokers/sqs/queue.py `_fresh`): its queue must behave exactly as one whose messages all
have Entries (sent through `SQSService.send`), whatever meets the fresh messages: batch and
single receives mixing them with messages back from a visibility timeout, deletes, visibility
changes, receipt handles that name a never-received message, purges, long polls and
retention running out."""

from __future__ import annotations

import random
from typing import Any

import pytest
import simpy

from sim.brokers.sqs import SQSService
from sim.brokers.sqs.queue import QueueSettings
from sim.message import Message, State
from sim.metrics import Recorder


def _state(service: SQSService) -> Any:
    queue = service.queues["q"]
    recorder = service.recorder
    entries = [
        (e.seq, e.message_number, e.state, e.receive_count, e.receipt, e.msg.id, e.sent_at)
        for e in queue.held()
    ]
    counts = (queue.visible_count, queue.inflight_count, queue.delayed_count)
    totals = (recorder.published, recorder.delivered, recorder.ready_total, recorder.requeued)
    return entries, counts, totals, list(recorder.states), queue._next_due(), recorder.trace


@pytest.mark.parametrize("seed", range(4))
def test_fresh_messages_behave_as_entries_do(seed: int) -> None:
    rng = random.Random(seed)
    env = simpy.Environment()
    # Traced: the order of what happens to the messages (a purge's drops included) is compared.
    fast, general = (SQSService(env, Recorder(env, trace=True)) for _ in range(2))
    settings = QueueSettings(visibility_timeout=3.0, message_retention=60.0)
    fast.create("q", settings, {})
    general.create("q", settings, {})
    send_fast = fast.standard_sender(fast.queues["q"])
    numbers = iter(range(1, 100_000))
    polls: list[list[Any]] = [[], []]

    def poll(service: SQSService, answers: list[Any]) -> Any:
        taken = yield from service.queues["q"].wait_receive(2, None, 1.0)
        answers.append([(e.seq, e.receipt) for e in taken])

    promoted_by_handle = 0
    for step in range(1500):
        gap = rng.choice([0.0, 0.05, 0.3, 1.0])
        if gap:
            env.run(until=env.now + gap)
        action = rng.random()
        if action < 0.45:
            number = next(numbers)
            send_fast(Message(number, env.now))
            general.send(general.queues["q"], Message(number, env.now), "")
        elif action < 0.5:  # an API send: an Entry at once, among the fresh messages
            number = next(numbers)
            for service in (fast, general):
                service.send(service.queues["q"], Message(number, env.now), "")
        elif action < 0.75:
            count = rng.choice([1, 1, 3, 10])
            taken = [service.queues["q"].receive(count, None) for service in (fast, general)]
            assert [(e.seq, e.receipt) for e in taken[0]] == [(e.seq, e.receipt) for e in taken[1]]
            for service, entries in zip((fast, general), taken, strict=True):
                for entry in entries:
                    if entry.seq % 3 == 0:
                        service.queues["q"].delete(entry)
                    elif entry.seq % 3 == 1:
                        service.queues["q"].change_visibility(entry, 0.0)  # back at once
        elif action < 0.85:
            seq = rng.randint(1, max(1, fast.queues["q"]._seq))
            handle = f"q#{seq}#{rng.choice([0, 1])}"
            fresh_before = len(fast.queues["q"]._fresh)
            found = [service.queues["q"].find(handle) for service in (fast, general)]
            fresh_after = len(fast.queues["q"]._fresh)
            promoted_by_handle += fresh_before > fresh_after
            assert [(e is None, latest) for e, latest in found] == [
                (e is None, latest) for e, latest in found[::-1]
            ]
            assert [e.seq for e, _ in found if e is not None] in ([], [seq, seq])
        elif action < 0.9:
            for service, answers in zip((fast, general), polls, strict=True):
                env.process(poll(service, answers))
        elif action < 0.903:  # rare: retention runs out between purges
            assert fast.queues["q"].purge() == general.queues["q"].purge()
        assert _state(fast) == _state(general), step
    assert polls[0] == polls[1] and any(polls[0])
    assert fast.recorder.states == general.recorder.states
    assert promoted_by_handle > 0  # a handle named a fresh message
    assert fast.recorder.requeued > 0
    assert fast.recorder.states[State.EXPIRED] > 0 and fast.recorder.states[State.DROPPED] > 0


def test_a_held_backlog_of_fresh_messages_keeps_no_entries() -> None:
    env = simpy.Environment()
    service = SQSService(env)
    queue = service.create("q", QueueSettings(), {})
    send = service.standard_sender(queue)
    for number in range(1, 1001):
        send(Message(number, env.now))
    assert not queue.entries and len(queue._fresh) == 1000 and queue.visible_count == 1000
    [first] = queue.receive(1, None)
    assert (first.seq, first.message_number, first.msg.id) == (1, 1, 1)
    assert list(queue.entries) == [1]  # only the received one has an Entry
    taken = queue.receive(10, None)
    assert [entry.seq for entry in taken] == list(range(2, 12))
