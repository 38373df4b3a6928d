"""A `mqsim` command that starts in milliseconds, for a test that runs many documented commands
(tests/test_docs_snippets.py): a server process imports the CLI once, then forks one child per
command; the child takes the caller's stdin, stdout and stderr (passed over a Unix socket), its
working directory, environment and arguments, runs `sim.cli.main()` as `python -m sim.cli`
does, and sends back its exit status, which the caller exits with.

A fresh `python -m sim.cli` spends about 3 s of CPU importing sim, pandas, networkx, pydantic
and matplotlib before it does anything; a documented command usually takes less than that.

    python -m tests.mqsim_forkserver serve SOCKET          # from the checkout; prints "ready"
    python -I -S tests/mqsim_forkserver.py SOCKET ARGS...  # one `mqsim ARGS...` (stdlib only)

Start the server with the environment the commands will see (COLUMNS, NO_COLOR...): a few
objects read it once, when their module is imported (`sim.cli.stderr`, the rich Console of the
progress bar, which only draws on a terminal).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import sys
import traceback

__all__ = ["client", "serve"]

_HEADER = 4  # bytes: the length of the request that follows, big-endian
_STD_FDS = [0, 1, 2]


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the request ended early")
        chunks += chunk
    return bytes(chunks)


def client(path: str, args: list[str]) -> int:
    """Run `mqsim ARGS` in a child of the server at `path`; its exit status."""
    request = json.dumps({"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        socket.send_fds(conn, [len(request).to_bytes(_HEADER, "big")], _STD_FDS)
        conn.sendall(request)
        status = conn.recv(_HEADER)
    if len(status) != _HEADER:
        print("mqsim_forkserver: the command ended without an exit status", file=sys.stderr)
        return 1
    return int.from_bytes(status, "big", signed=True)


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` makes the process's exit status (a message is printed, then 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _command(conn: socket.socket) -> int:
    """In the forked child: become the caller's process, run the command, its exit status."""
    header, fds, _, _ = socket.recv_fds(conn, _HEADER, len(_STD_FDS))
    request = json.loads(_read_exactly(conn, int.from_bytes(header, "big")))
    for target, fd in zip(_STD_FDS, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["mqsim", *request["args"]]
    from sim.cli import main

    try:
        main()
        status = 0
    except SystemExit as done:
        status = _exit_status(done.code)
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()  # what the interpreter runs on its way out
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def _reap(signum: int, frame: object) -> None:
    """Wait for every child that has ended (so their CPU time counts as the server's)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def serve(path: str) -> None:
    """Import what the commands need, then fork a child per connection, forever."""
    # Imported once here, inherited by every child: the CLI and the charts `mqsim run` draws.
    import matplotlib.pyplot  # noqa: F401

    import sim.cli
    import sim.viz.charts  # noqa: F401

    signal.signal(signal.SIGCHLD, _reap)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a command waits for its own
            status = 1
            try:
                status = _command(conn)
            finally:
                try:
                    conn.sendall(status.to_bytes(_HEADER, "big", signed=True))
                finally:
                    os._exit(0)
        conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        sys.exit(client(sys.argv[1], sys.argv[2:]))
