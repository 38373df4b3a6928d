"""Raw stream commands (["XADD", "s", "MAXLEN", "~", "10", "*", "f", "v"]) parsed into calls of
RedisStreamsServer's methods, with the argument rules of the Redis 7.0 command pages."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.redis.server import ResponseError, _integer

if TYPE_CHECKING:
    from sim.brokers.redis.server import RedisStreamsServer

__all__ = ["WouldBlock", "execute", "run"]

_SYNTAX = "syntax error"


class WouldBlock(Exception):
    """A blocking read found nothing: only a SimPy process can wait for it."""


def _arity(name: str) -> ResponseError:
    return ResponseError(f"wrong number of arguments for '{name.lower()}' command")


def _trim_options(args: list[str], at: int) -> tuple[dict[str, Any], int]:
    """[MAXLEN|MINID [=|~] threshold [LIMIT n]] starting at `at`; returns (kwargs, next)."""
    options: dict[str, Any] = {}
    while at < len(args):
        word = args[at].upper()
        if word in ("MAXLEN", "MINID") and at + 1 < len(args):
            at += 1
            approx = False
            if args[at] in ("=", "~"):
                approx = args[at] == "~"
                at += 1
            if at >= len(args):
                raise ResponseError(_SYNTAX)
            if word == "MAXLEN":
                options["maxlen"] = _integer(args[at])
            else:
                options["minid"] = args[at]
            options["approximate"] = approx
            at += 1
        elif word == "LIMIT" and at + 1 < len(args):
            options["limit"] = _integer(args[at + 1])
            at += 2
        else:
            break
    options.setdefault("approximate", False)
    return options, at


def _xadd(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) < 5:
        raise _arity("XADD")
    key, at, nomkstream = args[1], 2, False
    if args[at].upper() == "NOMKSTREAM":
        nomkstream, at = True, at + 1
    options, at = _trim_options(args, at)
    if at >= len(args):
        raise _arity("XADD")
    stream_id, fields = args[at], args[at + 1 :]
    if not fields or len(fields) % 2:
        raise _arity("XADD")
    return server.xadd(key, fields, stream_id, nomkstream=nomkstream, **options)


def _xtrim(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) < 4:
        raise _arity("XTRIM")
    options, at = _trim_options(args, 2)
    if at != len(args):
        raise ResponseError(_SYNTAX)
    return server.xtrim(args[1], **options)


def _xrange(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) not in (4, 6):
        raise _arity("XRANGE") if len(args) < 4 else ResponseError(_SYNTAX)
    count = None
    if len(args) == 6:
        if args[4].upper() != "COUNT":
            raise ResponseError(_SYNTAX)
        count = _integer(args[5])
    return server.xrange(args[1], args[2], args[3], count)


def _xgroup(server: RedisStreamsServer, args: list[str]) -> Any:
    sub = args[1].upper() if len(args) > 1 else ""
    rest = args[2:]
    if sub in ("CREATE", "SETID"):
        if len(rest) < 3:
            raise _arity("XGROUP")
        key, group, stream_id = rest[0], rest[1], rest[2]
        mkstream, entries_read, at = False, None, 3
        while at < len(rest):
            word = rest[at].upper()
            if word == "MKSTREAM" and sub == "CREATE":
                mkstream, at = True, at + 1
            elif word == "ENTRIESREAD" and at + 1 < len(rest):
                entries_read, at = _integer(rest[at + 1]), at + 2
            else:
                raise ResponseError(_SYNTAX)
        if sub == "CREATE":
            return server.xgroup_create(key, group, stream_id, mkstream, entries_read)
        return server.xgroup_setid(key, group, stream_id, entries_read)
    if sub == "DESTROY" and len(rest) == 2:
        return server.xgroup_destroy(*rest)
    if sub == "CREATECONSUMER" and len(rest) == 3:
        return server.xgroup_createconsumer(*rest)
    if sub == "DELCONSUMER" and len(rest) == 3:
        return server.xgroup_delconsumer(*rest)
    raise ResponseError(f"unknown subcommand '{args[1] if len(args) > 1 else ''}'")


def _xreadgroup_options(args: list[str]) -> dict[str, Any]:
    """GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k1 .. kN id1 .. idN."""
    if len(args) < 7 or args[1].upper() != "GROUP":
        raise ResponseError(_SYNTAX)
    options: dict[str, Any] = {"groupname": args[2], "consumername": args[3]}
    at = 4
    while at < len(args):
        word = args[at].upper()
        if word == "COUNT" and at + 1 < len(args):
            options["count"], at = max(0, _integer(args[at + 1])), at + 2
        elif word == "BLOCK" and at + 1 < len(args):
            block = _integer(args[at + 1])
            if block < 0:
                raise ResponseError("timeout is negative")
            options["block"], at = block, at + 2
        elif word == "NOACK":
            options["noack"], at = True, at + 1
        elif word == "STREAMS":
            rest = args[at + 1 :]
            if not rest or len(rest) % 2:
                raise ResponseError(
                    "Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' "
                    "must be specified."
                )
            half = len(rest) // 2
            options["streams"] = dict(zip(rest[:half], rest[half:], strict=True))
            return options
        else:
            raise ResponseError(_SYNTAX)
    raise ResponseError(_SYNTAX)


def _xreadgroup(server: RedisStreamsServer, args: list[str]) -> Any:
    options = _xreadgroup_options(args)
    block = options.pop("block", None)
    reply = server.xreadgroup(**options)
    if reply is None and block is not None:
        raise WouldBlock(" ".join(args))
    return reply


def _xack(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) < 4:
        raise _arity("XACK")
    return server.xack(args[1], args[2], *args[3:])


def _xpending(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) == 3:
        return server.xpending(args[1], args[2])
    rest, idle = args[3:], None
    if rest and rest[0].upper() == "IDLE":
        if len(rest) < 2:
            raise ResponseError(_SYNTAX)
        idle, rest = _integer(rest[1]), rest[2:]
    if len(rest) not in (3, 4):
        raise ResponseError(_SYNTAX)
    consumer = rest[3] if len(rest) == 4 else None
    return server.xpending_range(
        args[1], args[2], rest[0], rest[1], _integer(rest[2]), consumer, idle
    )


def _xclaim(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) < 6:
        raise _arity("XCLAIM")
    key, group, consumer, min_idle = args[1], args[2], args[3], _integer(args[4])
    at, ids = 5, []
    options: dict[str, Any] = {}
    keywords = {"IDLE", "TIME", "RETRYCOUNT", "FORCE", "JUSTID", "LASTID"}
    while at < len(args) and args[at].upper() not in keywords:
        ids.append(args[at])
        at += 1
    while at < len(args):
        word = args[at].upper()
        if word in ("FORCE", "JUSTID"):
            options[word.lower()], at = True, at + 1
        elif word in ("IDLE", "TIME", "RETRYCOUNT") and at + 1 < len(args):
            options[word.lower()], at = _integer(args[at + 1]), at + 2
        elif word == "LASTID" and at + 1 < len(args):
            at += 2  # moves the group's last-delivered id forward (replication); not modelled
        else:
            raise ResponseError(f"Unrecognized XCLAIM option '{args[at]}'")
    return server.xclaim(key, group, consumer, min_idle, ids, **options)


def _xautoclaim(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) < 6:
        raise _arity("XAUTOCLAIM")
    options: dict[str, Any] = {}
    at = 6
    while at < len(args):
        word = args[at].upper()
        if word == "COUNT" and at + 1 < len(args):
            options["count"], at = _integer(args[at + 1]), at + 2
        elif word == "JUSTID":
            options["justid"], at = True, at + 1
        else:
            raise ResponseError(_SYNTAX)
    return server.xautoclaim(args[1], args[2], args[3], _integer(args[4]), args[5], **options)


def _xinfo(server: RedisStreamsServer, args: list[str]) -> Any:
    sub = args[1].upper() if len(args) > 1 else ""
    if sub == "STREAM" and len(args) == 3:
        return server.xinfo_stream(args[2])
    if sub == "GROUPS" and len(args) == 3:
        return server.xinfo_groups(args[2])
    if sub == "CONSUMERS" and len(args) == 4:
        return server.xinfo_consumers(args[2], args[3])
    raise ResponseError(f"unknown subcommand or wrong number of arguments for '{sub}'")


def _config(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) == 3 and args[1].upper() == "GET":
        return server.config_get(args[2])
    raise ResponseError("only CONFIG GET is modelled")


_COMMANDS = {
    "XADD": _xadd,
    "XTRIM": _xtrim,
    "XDEL": lambda s, a: s.xdel(a[1], *a[2:]),
    "XLEN": lambda s, a: s.xlen(a[1]),
    "XRANGE": _xrange,
    "XGROUP": _xgroup,
    "XREADGROUP": _xreadgroup,
    "XACK": _xack,
    "XPENDING": _xpending,
    "XCLAIM": _xclaim,
    "XAUTOCLAIM": _xautoclaim,
    "XINFO": _xinfo,
    "EXISTS": lambda s, a: s.exists(*a[1:]),
    "CONFIG": _config,
}


def execute(server: RedisStreamsServer, args: list[str]) -> Any:
    """The raw reply of one command (raises ResponseError or WouldBlock)."""
    if not args:
        raise ResponseError("empty command")
    handler = _COMMANDS.get(args[0].upper())
    if handler is None:
        raise ResponseError(f"unknown command '{args[0]}'")
    if len(args) < 2:
        raise _arity(args[0])
    return handler(server, args)


def run(server: RedisStreamsServer, args: list[str]) -> Generator[Any, Any, Any]:
    """`execute` inside a SimPy process, where a blocking XREADGROUP waits for entries."""
    try:
        return execute(server, args)
    except WouldBlock:
        options = _xreadgroup_options(args)
        return (yield from server.xreadgroup_wait(**options))
