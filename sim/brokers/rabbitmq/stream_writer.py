"""Which publishes to a stream share a chunk: the stream's writer process as the model runs it.

Every publish routed to a stream becomes one asynchronous write command to the stream's writer,
`osiris_writer` (rabbitmq-server deps/rabbit/src/rabbit_stream_queue.erl `deliver/3` and
`deliver0/4`: `osiris:write(LeaderPid, WriterId, Seq, Msg)` for each message, a
`gen_batch_server:cast/2`). The writer is a `gen_batch_server` (rabbitmq/gen-batch-server
src/gen_batch_server.erl): it waits for a message (`loop_wait/2`), then takes whatever else its
mailbox holds (`loop_batched/2`, `receive ... after 0`) until the mailbox is empty or the batch
holds `batch_size` commands, and hands the batch to `osiris_writer:handle_batch/2`, which writes
every write command of the batch as ONE chunk (`osiris_log:write/5`, `make_chunk/7`: one header,
all the entries; no size limit splits it). Publishes arriving while the writer is busy wait in
its mailbox and go into the next chunk.

`batch_size` adapts (`loop_batched/2`): it starts at `min_batch_size`, doubles (up to
`max_batch_size`) after a batch that filled it, and halves (down to `min_batch_size`) after one
that ended because the mailbox was empty. osiris starts its writer with only
`{reversed_batch, true}` (osiris_writer.erl `start_link/1`), so the defaults apply: 32 and 8192
(gen_batch_server.erl `MIN_MAX_BATCH_SIZE`, `MAX_MAX_BATCH_SIZE`; its README).

Two ways to run it, both in `sim/brokers/rabbitmq/stream.py`:

- The ideal broker (no `cost:`): the writer takes no time, so it finds waiting exactly the
  publishes of the current instant that nothing separated: those share a chunk (up to the batch
  size), publishes at different instants never do. A blocking confirm (a script's channel in
  confirm mode waits for each confirm, and a stream confirms a message once its chunk is
  written) ends the chunk. The stream appends such a chunk entry by entry as the publishes come,
  so nothing waits for an event; a 3.x reader reads the chunk to its end whatever its credit,
  as it reads a whole chunk (3.10 rabbit_stream_queue.erl `stream_entries/4`).
- With a cost model, `StreamWriter` below: the writer is one server taking `per_chunk` seconds
  per batch plus `per_entry` per message; what arrives while it works waits for the next batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from sim.message import Message

__all__ = ["MAX_BATCH_SIZE", "MIN_BATCH_SIZE", "BatchSize", "StreamWriter"]

MIN_BATCH_SIZE = 32  # gen_batch_server.erl MIN_MAX_BATCH_SIZE, the min_batch_size default
MAX_BATCH_SIZE = 8192  # gen_batch_server.erl MAX_MAX_BATCH_SIZE, the max_batch_size default

#: One write command in the writer's mailbox: the message and who to tell once it is written.
Write = tuple[Message, Any]


class BatchSize:
    """gen_batch_server's adaptive batch size (`loop_batched/2`)."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = MIN_BATCH_SIZE

    def completed(self, full: bool) -> None:
        """A batch was handled: it had filled the batch size (`full`) or emptied the mailbox."""
        if full:
            self.size = min(MAX_BATCH_SIZE, self.size * 2)
        else:
            self.size = max(MIN_BATCH_SIZE, self.size // 2)


class StreamWriter:
    """The writer with a processing time: `write(batch)` is called when a batch of write
    commands has been handled, `per_chunk + per_entry * len(batch)` seconds after the writer
    took it from its mailbox.

    A write reaching an idle writer is taken at the end of the current instant (a
    `timeout(0)`), so the publishes of one instant share its batch as on the ideal broker.
    While it works, writes wait; when it is done it takes the next batch at once. One event
    per batch, none per message.
    """

    __slots__ = ("_busy", "_mailbox", "batch", "env", "per_chunk", "per_entry", "write")

    def __init__(
        self,
        env: simpy.Environment,
        per_chunk: float,
        per_entry: float,
        write: Callable[[list[Write]], None],
        batch: BatchSize,
    ) -> None:
        self.env = env
        self.per_chunk = per_chunk
        self.per_entry = per_entry
        self.write = write
        self.batch = batch
        self._mailbox: deque[Write] = deque()
        self._busy = False

    @property
    def waiting(self) -> int:
        """Write commands in the mailbox, not yet taken into a batch."""
        return len(self._mailbox)

    def cast(self, msg: Message, on_answer: Any) -> None:
        """`gen_batch_server:cast(Pid, {write, ...})`: into the mailbox."""
        self._mailbox.append((msg, on_answer))
        if not self._busy:
            self._busy = True
            self.env.timeout(0).callbacks.append(self._take)

    def _take(self, _event: Any = None) -> None:
        mailbox, size = self._mailbox, self.batch.size
        full = len(mailbox) >= size
        if full:
            batch = [mailbox.popleft() for _ in range(size)]
        else:
            batch = list(mailbox)
            mailbox.clear()
        done = self.env.timeout(self.per_chunk + self.per_entry * len(batch))
        done.callbacks.append(lambda _event: self._handled(batch, full))

    def _handled(self, batch: list[Write], full: bool) -> None:
        self.write(batch)
        self.batch.completed(full)
        if self._mailbox:
            self._take()  # loop_wait/2 finds the next write waiting
        else:
            self._busy = False
