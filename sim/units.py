"""Durations, rates and sizes: parsed from the plain strings scenario files use, and formatted back.

Simulated time is in seconds, rates in events per second, sizes in bytes. Every parser also takes a
bare number, read in the base unit, so the Python API can pass floats directly.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "format_duration",
    "format_rate",
    "format_size",
    "parse_duration",
    "parse_rate",
    "parse_size",
]

DURATION_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ]*)\s*$")


def _split(text: str, what: str) -> tuple[float, str]:
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"expected a {what}, got {text!r}")
    return float(match.group(1)), match.group(2)


def _finite_non_negative(value: float, text: object, what: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a non-negative {what}, got {text!r}")
    return value


def parse_duration(value: str | float) -> float:
    """`250ms` -> 0.25; a bare number is seconds. Units: ns, us, ms, s, min, h, d."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '250ms', got {value!r}")
    if isinstance(value, int | float):
        return _finite_non_negative(float(value), value, "duration")
    number, unit = _split(str(value), "duration such as '250ms' or '2s'")
    if unit == "":
        unit = "s"
    if unit not in DURATION_UNITS:
        known = ", ".join(DURATION_UNITS)
        raise ValueError(f"unknown duration unit {unit!r} in {value!r} (known: {known})")
    return _finite_non_negative(number * DURATION_UNITS[unit], value, "duration")


def parse_rate(value: str | float) -> float:
    """`100/s` -> 100.0, `6000/min` -> 100.0; `1/250ms` -> 4.0; a bare number is per second."""
    if isinstance(value, bool):
        raise ValueError(f"expected a rate such as '100/s', got {value!r}")
    if isinstance(value, int | float):
        return _finite_non_negative(float(value), value, "rate")
    text = str(value)
    if "/" not in text:
        raise ValueError(f"expected a rate such as '100/s' or '6000/min', got {text!r}")
    count_text, per_text = text.split("/", 1)
    count, count_unit = _split(count_text, "rate such as '100/s'")
    if count_unit:
        raise ValueError(f"expected a rate such as '100/s', got {text!r}")
    per_text = per_text.strip()
    per = parse_duration(per_text if per_text[:1].isdigit() else f"1{per_text}")
    if per <= 0:
        raise ValueError(f"rate {text!r} divides by a zero duration")
    return _finite_non_negative(count / per, value, "rate")


def parse_size(value: str | int | float) -> int:
    """`1KiB` -> 1024, `1MB` -> 1_000_000; a bare number is bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as '1KiB', got {value!r}")
    if isinstance(value, int | float):
        return int(_finite_non_negative(float(value), value, "size"))
    number, unit = _split(str(value), "size such as '512B' or '1KiB'")
    if unit == "":
        unit = "B"
    if unit not in SIZE_UNITS:
        known = ", ".join(SIZE_UNITS)
        raise ValueError(f"unknown size unit {unit!r} in {value!r} (known: {known})")
    return round(_finite_non_negative(number * SIZE_UNITS[unit], value, "size"))


def format_duration(seconds: float) -> str:
    """A short human form: 0.0123 -> '12.3ms', 5400 -> '1.5h'."""
    if seconds == 0:
        return "0s"
    magnitude = abs(seconds)
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if magnitude >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds / 1e-9:.3g}ns"


def format_rate(per_second: float) -> str:
    return f"{per_second:.4g}/s"


def format_size(size: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size:.0f}B"
