"""Where runs execute: this process, a local process pool, any Executor, or a Dask cluster.

`open_executor` turns what the user asked for into a `concurrent.futures.Executor` and owns its
lifetime when it created it; `execute` submits every spec, collects results in submission order
(so the tables do not depend on which run finished first) and, on Ctrl-C or an error, cancels
what has not started and stops the workers it owns.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, TypeVar

from sim.experiments.worker import ignore_interrupts, no_op

__all__ = [
    "ExecutorLike",
    "InlineExecutor",
    "Interrupted",
    "available_cores",
    "execute",
    "executor_name",
    "open_executor",
]

T = TypeVar("T")
R = TypeVar("R")

# None: a process pool over all cores; an int: a pool of that many processes; "inline": this
# process; "dask" (or "local"): a Dask LocalCluster; "tcp://host:8786": a Dask scheduler; an
# Executor (or a dask.distributed Client): used as it is, and left open.
ExecutorLike = Executor | str | int | None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during an experiment: pending runs were cancelled and the workers stopped."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} runs")
        self.done = done
        self.total = total


class InlineExecutor(Executor):
    """Runs each call in this process when it is submitted: no pool, nothing pickled."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # a KeyboardInterrupt is not the run's result: it propagates
            future.set_exception(error)
        return future


def available_cores() -> int:
    """The cores this process may use (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _start_method() -> str:
    """fork while this process has a single thread, else forkserver (spawn where neither exists).

    fork starts workers fastest and does not re-run the caller's script in them, but forking a
    process that runs other threads (a Dask client, a notebook kernel, a progress bar) can
    deadlock the child on a lock one of them held. forkserver and spawn are safe there; like
    any multiprocessing code, a script that uses them needs `if __name__ == "__main__":`.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _process_pool(workers: int) -> ProcessPoolExecutor:
    method = _start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The server imports the worker module once: each worker starts with it loaded.
        context.set_forkserver_preload(["sim.experiments.worker"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=ignore_interrupts
    )


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now, rather than after their runs."""
    # Python 3.14 has pool.terminate_workers(); before it the processes are only reachable here.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
    # Join the pool's manager thread now: left to the interpreter's exit, it can race the
    # closing of its wake-up pipe and print a "Bad file descriptor" traceback (CPython 3.11).
    if manager is not None:
        manager.join(timeout=5)


@contextmanager
def _owned_pool(workers: int) -> Iterator[Executor]:
    pool = _process_pool(workers)
    try:
        # Start the workers now (a pool starts them on its first task), so a forking pool forks
        # before a progress bar starts its refresh thread, and Ctrl-C from here on stops them.
        pool.submit(no_op).result()
        yield pool
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


@contextmanager
def _interrupts_ignored_by_children() -> Iterator[None]:
    """Processes started in this block ignore Ctrl-C (an ignored signal stays ignored across
    exec, and Python then installs no handler of its own), so only this process handles it,
    and the Dask workers do not each print a traceback as the cluster closes."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handlers
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _dask(address: str | None, workers: int) -> Iterator[Executor]:
    """A Dask client on `address`, or on a LocalCluster of `workers` processes when None."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if address is None:
        with _interrupts_ignored_by_children():
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,  # a run is pure Python: threads would only share one GIL
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
    client = Client(cluster if cluster is not None else address)
    executor = client.get_executor(pure=False)  # two runs with equal specs are still two runs
    try:
        yield executor
    except BaseException:
        executor.shutdown(wait=False)  # cancels this experiment's tasks on the cluster
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def open_executor(executor: ExecutorLike = None, workers: int | None = None) -> Iterator[Executor]:
    """The Executor that `executor` names; one this function creates is shut down on exit.

    `workers` sizes the process pool or LocalCluster created here (default: all cores).
    """
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive number, got {workers!r}")
    size = workers or available_cores()
    if isinstance(executor, Executor):
        yield executor
    elif hasattr(executor, "get_executor"):  # a dask.distributed Client the caller owns
        yield executor.get_executor(pure=False)  # type: ignore[union-attr]
    elif executor is None:
        with _owned_pool(size) as pool:
            yield pool
    elif isinstance(executor, int) and not isinstance(executor, bool):
        if executor < 1:
            raise ValueError(f"a process pool needs at least 1 worker, got {executor}")
        with _owned_pool(executor) as pool:
            yield pool
    elif executor in ("inline", "serial"):
        yield InlineExecutor()
    elif executor in ("dask", "local"):
        with _dask(None, size) as dask_executor:
            yield dask_executor
    elif isinstance(executor, str) and "://" in executor:
        with _dask(executor, size) as dask_executor:
            yield dask_executor
    else:
        raise ValueError(
            f"unknown executor {executor!r}: expected None (all cores), a number of worker "
            "processes, 'inline', 'dask', a Dask scheduler address such as tcp://host:8786, "
            "or a concurrent.futures.Executor"
        )


def executor_name(executor: ExecutorLike = None, workers: int | None = None) -> str:
    """Where `open_executor(executor, workers)` runs things, in a few words."""
    if executor is None or (isinstance(executor, int) and not isinstance(executor, bool)):
        count = executor or workers or available_cores()
        return f"{count} worker process{'es' if count != 1 else ''}"
    if executor in ("inline", "serial"):
        return "this process"
    if executor in ("dask", "local"):
        return f"a Dask LocalCluster of {workers or available_cores()} workers"
    if isinstance(executor, str):
        return f"the Dask scheduler at {executor}"
    return type(executor).__name__


def execute(
    fn: Callable[[T], R],
    items: Sequence[T],
    executor: Executor,
    on_done: Callable[[], None] | None = None,
) -> list[R]:
    """[fn(item) for item in items] on `executor`, in the order of `items`.

    `on_done` is called after each finished run (a progress bar). Ctrl-C cancels every run not
    yet started and raises Interrupted; a run that fails cancels the rest and re-raises.
    """
    tick = on_done or (lambda: None)
    done = 0
    results: list[Any] = [None] * len(items)
    if isinstance(executor, InlineExecutor):  # one at a time, so the progress bar moves
        try:
            for i, item in enumerate(items):
                results[i] = fn(item)
                done += 1
                tick()
        except KeyboardInterrupt:
            raise Interrupted(done, len(items)) from None
        return results
    futures: dict[Future[R], int] = {}
    try:
        for i, item in enumerate(items):
            futures[executor.submit(fn, item)] = i
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done += 1
            tick()
    except KeyboardInterrupt:
        _cancel(futures)
        raise Interrupted(done, len(items)) from None
    except BaseException:
        _cancel(futures)
        raise
    return results


def _cancel(futures: dict[Future[Any], int]) -> None:
    for future in futures:
        future.cancel()
