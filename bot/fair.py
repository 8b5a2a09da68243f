"""A bounded, fair queue in front of a few worker threads (the NLU's).

One client that sends many (or long) messages must not make everyone else wait: waiting
jobs are taken round-robin by key (the client's address or conversation), so another
client's message waits for at most one job of each busy client; with more than one
thread, one key never runs on all of them, so a thread is always free for the others.
The queue as a whole is bounded: a job that would make it longer is refused with
ServerBusyError (503).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from bot.errors import ServerBusyError

T = TypeVar("T")


@dataclass
class _Job:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    result: asyncio.Future[Any]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class FairExecutor:
    """Run blocking functions on `threads` threads, fairly between keys.

    Used from one event loop. `max_waiting` bounds the jobs waiting for a thread, and
    `max_waiting_per_key` those of one key.
    """

    def __init__(self, threads: int, *, max_waiting: int = 256, max_waiting_per_key: int = 16,
                 name: str = "fair") -> None:
        self.threads = threads
        self.max_waiting = max_waiting
        self.max_waiting_per_key = max_waiting_per_key
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._queues: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._waiting = 0
        self._running = 0
        self._running_of: dict[str, int] = {}
        self.max_running_per_key = max(1, threads - 1)

    async def run(self, key: str, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` in a thread when it is `key`'s turn; return its result.

        Raises:
            ServerBusyError: the queue (or this key's share of it) is full.
        """
        queue = self._queues.get(key)
        if self._waiting >= self.max_waiting or (
                queue is not None and len(queue) >= self.max_waiting_per_key):
            raise ServerBusyError("The assistant is busy with other messages.")
        job = _Job(function, args, asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, deque()).append(job)
        self._waiting += 1
        self._dispatch()
        return await job.result

    def _dispatch(self) -> None:
        while self._running < self.threads:
            key = next((k for k in self._queues
                        if self._running_of.get(k, 0) < self.max_running_per_key), None)
            if key is None:
                return
            queue = self._queues[key]
            job = queue.popleft()
            if queue:
                self._queues.move_to_end(key)  # the other keys go first
            else:
                del self._queues[key]
            self._waiting -= 1
            if job.result.cancelled():  # its request went away while it waited
                continue
            self._running += 1
            self._running_of[key] = self._running_of.get(key, 0) + 1
            done = self._pool.submit(job.context.run, job.function, *job.args)
            done.add_done_callback(partial(self._from_thread, key, job))

    def _from_thread(self, key: str, job: _Job, done: Future[Any]) -> None:
        job.result.get_loop().call_soon_threadsafe(self._finished, key, done, job)

    def _finished(self, key: str, done: Future[Any], job: _Job) -> None:
        self._running -= 1
        self._running_of[key] -= 1
        if not self._running_of[key]:
            del self._running_of[key]
        if not job.result.cancelled():
            error = done.exception()
            if error is not None:
                job.result.set_exception(error)
            else:
                job.result.set_result(done.result())
        self._dispatch()

    def shutdown(self) -> None:
        """Stop the threads (jobs already running finish)."""
        self._pool.shutdown(wait=False)
