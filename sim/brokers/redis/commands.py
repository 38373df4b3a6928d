"""Raw stream commands (["XADD", "s", "MAXLEN", "~", "10", "*", "f", "v"]) parsed into calls of
RedisStreamsServer's methods, with redis-server 7.0's argument rules and error order: the
command table's arity (src/commands.c, checked by processCommand before the command runs),
then each command's own parsing in src/t_stream.c."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.brokers.redis.server import (
    ResponseError,
    _integer,
    interval,
    parse_add_id,
    parse_id,
)

if TYPE_CHECKING:
    from sim.brokers.redis.server import RedisStreamsServer

__all__ = ["WouldBlock", "execute", "run"]

_SYNTAX = "syntax error"


class WouldBlock(Exception):
    """A blocking read found nothing: only a SimPy process can wait for it."""


def _arity(name: str) -> ResponseError:
    """commandCheckArity: the command's full name as the command table spells it."""
    return ResponseError(f"wrong number of arguments for '{name.lower()}' command")


def _check_arity(args: list[str], arity: int, name: str) -> None:
    """A positive arity is exact, a negative one a minimum (the command table's rule)."""
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise _arity(name)


def _subcommand_syntax(args: list[str]) -> ResponseError:
    """addReplySubcommandSyntaxError: the subcommand as the client typed it."""
    return ResponseError(
        f"unknown subcommand or wrong number of arguments for '{args[1][:128]}'. "
        f"Try {args[0].upper()} HELP."
    )


def _subcommand(args: list[str], arities: dict[str, int]) -> str:
    """A container command's subcommand, upper-cased, after its own arity check
    (commandCheckExistence, commandCheckArity with the full name `xgroup|create`)."""
    sub = args[1].upper()
    if sub not in arities:
        raise ResponseError(f"unknown subcommand '{args[1][:128]}'. Try {args[0].upper()} HELP.")
    _check_arity(args, arities[sub], f"{args[0]}|{sub}")
    return sub


def _help(command: str, lines: list[str]) -> list[str]:
    """addReplyHelp: a header, the subcommands' lines, and HELP itself."""
    return [
        f"{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        *lines,
        "HELP",
        "    Prints this help.",
    ]


def _add_or_trim_options(args: list[str], xadd: bool) -> tuple[dict[str, Any], int]:
    """streamParseAddOrTrimArgsOrReply from argument 2: [NOMKSTREAM] [MAXLEN|MINID [=|~]
    threshold] [LIMIT n] in any order, errors in argument order; for XADD the first other
    word is the id. Returns (trim_spec's arguments and `nomkstream`, the id's position)."""
    options: dict[str, Any] = {
        "maxlen": None,
        "minid": None,
        "approximate": False,
        "limit": None,
        "nomkstream": False,
    }
    strategy = False
    at = 2
    while at < len(args):
        more = len(args) - 1 - at
        word = args[at].upper()
        if xadd and args[at] == "*":  # the fast path for the common automatic id
            break
        if word in ("MAXLEN", "MINID") and more:
            if strategy:
                raise ResponseError(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible"
                )
            approximate = False
            if more >= 2 and args[at + 1] in ("~", "="):
                approximate = args[at + 1] == "~"
                at += 1
            if word == "MAXLEN":
                options["maxlen"] = _integer(args[at + 1])
                if options["maxlen"] < 0:
                    raise ResponseError("The MAXLEN argument must be >= 0.")
            else:
                parse_id(args[at + 1])
                options["minid"] = args[at + 1]
            options["approximate"] = approximate
            strategy = True
            at += 1
        elif word == "LIMIT" and more:
            options["limit"] = _integer(args[at + 1])
            if options["limit"] < 0:
                raise ResponseError("The LIMIT argument must be >= 0.")
            at += 1
        elif xadd and word == "NOMKSTREAM":
            options["nomkstream"] = True
        elif xadd:
            parse_add_id(args[at])  # a syntax error or the id
            break
        else:
            raise ResponseError(_SYNTAX)
        at += 1
    return options, at


def _xadd(server: RedisStreamsServer, args: list[str]) -> Any:
    _check_arity(args, -5, "XADD")
    options, at = _add_or_trim_options(args, xadd=True)
    nomkstream = options.pop("nomkstream")
    trim = server.trim_spec(**options)
    fields = args[at + 1 :]
    if len(fields) < 2 or len(fields) % 2:
        raise _arity("XADD")
    return server.xadd_parsed(args[1], fields, parse_add_id(args[at]), trim, nomkstream)


def _xtrim(server: RedisStreamsServer, args: list[str]) -> Any:
    _check_arity(args, -4, "XTRIM")
    options, _ = _add_or_trim_options(args, xadd=False)
    del options["nomkstream"]
    trim = server.trim_spec(**options, required=True)
    assert trim is not None
    return server.xtrim_parsed(args[1], trim)


def _range(server: RedisStreamsServer, args: list[str], reverse: bool) -> Any:
    """XRANGE key start end / XREVRANGE key end start, [COUNT n] any number of times (the last
    wins; 0 or less answers nil); the ids are parsed first, the key looked up last."""
    _check_arity(args, -4, "XREVRANGE" if reverse else "XRANGE")
    low, high = (args[3], args[2]) if reverse else (args[2], args[3])
    start, end = interval(low, high)
    count = None
    at = 4
    while at < len(args):
        if args[at].upper() == "COUNT" and at + 1 < len(args):
            count = _integer(args[at + 1])
            at += 2
        else:
            raise ResponseError(_SYNTAX)
    return server.range_reply(args[1], start, end, count, reverse)


def _xdel(server: RedisStreamsServer, args: list[str]) -> Any:
    _check_arity(args, -3, "XDEL")
    return server.xdel(args[1], *args[2:])


def _xsetid(server: RedisStreamsServer, args: list[str]) -> Any:
    """XSETID key id [ENTRIESADDED n] [MAXDELETEDID id], options checked in argument order
    before the key is looked up (xsetidCommand)."""
    _check_arity(args, -3, "XSETID")
    last_id = parse_id(args[2])
    entries_added, max_deleted = None, None
    at = 3
    while at < len(args):
        more = len(args) - 1 - at
        word = args[at].upper()
        if word == "ENTRIESADDED" and more:
            entries_added = _integer(args[at + 1])
            if entries_added < 0:
                raise ResponseError("entries_added must be positive")
        elif word == "MAXDELETEDID" and more:
            if last_id < parse_id(args[at + 1]):
                raise ResponseError(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
            max_deleted = args[at + 1]
        else:
            raise ResponseError(_SYNTAX)
        at += 2
    return server.xsetid(args[1], args[2], entries_added, max_deleted)


# src/commands.c: XGROUP's subcommands and their arities.
_XGROUP = {
    "CREATE": -5,
    "CREATECONSUMER": 5,
    "DELCONSUMER": 5,
    "DESTROY": 4,
    "HELP": 2,
    "SETID": -5,
}
_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


def _xgroup(server: RedisStreamsServer, args: list[str]) -> Any:
    """xgroupCommand: CREATE / SETID options first (MKSTREAM for CREATE only, ENTRIESREAD n),
    then the key (and for SETID, CREATECONSUMER and DELCONSUMER the group), then the
    subcommand's own argument count and its id."""
    sub = _subcommand(args, _XGROUP)
    if sub == "HELP":
        return _help("XGROUP", _XGROUP_HELP)
    mkstream, entries_read = False, None
    at = 5
    while at < len(args):
        word = args[at].upper()
        if sub == "CREATE" and word == "MKSTREAM":
            mkstream, at = True, at + 1
        elif sub in ("CREATE", "SETID") and word == "ENTRIESREAD" and at + 1 < len(args):
            entries_read = _integer(args[at + 1])
            if entries_read < -1:
                raise ResponseError("value for ENTRIESREAD must be positive or -1")
            at += 2
        else:
            raise _subcommand_syntax(args)
    key, group = args[2], args[3]
    if not mkstream:  # the key (and group) before the argument count
        if sub in ("SETID", "CREATECONSUMER", "DELCONSUMER"):
            server.group_of(key, group)
        else:
            server.xgroup_stream(key)
    if sub == "CREATE":
        if len(args) > 8:
            raise _subcommand_syntax(args)
        return server.xgroup_create(key, group, args[4], mkstream, entries_read)
    if sub == "SETID":
        if len(args) not in (5, 7):
            raise _subcommand_syntax(args)
        return server.xgroup_setid(key, group, args[4], entries_read)
    if sub == "DESTROY":
        return server.xgroup_destroy(key, group)
    if sub == "CREATECONSUMER":
        return server.xgroup_createconsumer(key, group, args[4])
    return server.xgroup_delconsumer(key, group, args[4])


# src/commands.c: XINFO's subcommands and their arities.
_XINFO = {"CONSUMERS": 4, "GROUPS": 3, "HELP": 2, "STREAM": -3}
_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


def _xinfo(server: RedisStreamsServer, args: list[str]) -> Any:
    """xinfoCommand: the key is looked up before the subcommand's options are read."""
    sub = _subcommand(args, _XINFO)
    if sub == "HELP":
        return _help("XINFO", _XINFO_HELP)
    if sub == "GROUPS":
        return server.xinfo_groups(args[2])
    if sub == "CONSUMERS":
        return server.xinfo_consumers(args[2], args[3])
    if args[2] not in server.streams:  # the key before the options
        raise ResponseError("no such key")
    options = [word.upper() for word in args[3:]]
    if not options:
        return server.xinfo_stream(args[2])
    if len(options) not in (1, 3) or options[0] != "FULL":
        raise _subcommand_syntax(args)
    count = 10
    if len(options) == 3:
        if options[1] != "COUNT":
            raise _subcommand_syntax(args)
        count = _integer(args[5])
    return server.xinfo_stream(args[2], full=True, count=count)


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


def _config(server: RedisStreamsServer, args: list[str]) -> Any:
    if len(args) == 3 and args[1].upper() == "GET":
        return server.config_get(args[2])
    raise ResponseError("only CONFIG GET is modelled")


def _xlen(server: RedisStreamsServer, args: list[str]) -> Any:
    _check_arity(args, 2, "XLEN")
    return server.xlen(args[1])


_COMMANDS = {
    "XADD": _xadd,
    "XTRIM": _xtrim,
    "XDEL": _xdel,
    "XSETID": _xsetid,
    "XLEN": _xlen,
    "XRANGE": lambda s, a: _range(s, a, reverse=False),
    "XREVRANGE": lambda s, a: _range(s, a, reverse=True),
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
    if handler is None:  # commandCheckExistence's wording
        shown = ""
        for arg in args[1:]:
            if len(shown) >= 128:
                break
            shown += f"'{arg[: 128 - len(shown)]}' "
        raise ResponseError(f"unknown command '{args[0][:128]}', with args beginning with: {shown}")
    if len(args) < 2:  # every stream command (and container) takes at least one argument
        raise _arity(args[0])
    return handler(server, args)


def run(server: RedisStreamsServer, args: list[str]) -> Generator[Any, Any, Any]:
    """`execute` inside a SimPy process, where a blocking XREADGROUP waits for entries."""
    try:
        return execute(server, args)
    except WouldBlock:
        options = _xreadgroup_options(args)
        return (yield from server.xreadgroup_wait(**options))
