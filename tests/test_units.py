from __future__ import annotations

import pytest

from sim.units import format_duration, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30us", 30e-6),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("1.5min", 90.0),
        ("1h", 3600.0),
        ("2", 2.0),
        (0.5, 0.5),
        ("1e3ms", 1.0),
        (" 10 s ", 10.0),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("100/s", 100.0), ("6000/min", 100.0), ("0.9/s", 0.9), ("1/250ms", 4.0), (3, 3.0)],
)
def test_rates(text: str | float, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512B", 512), ("1KiB", 1024), ("1MB", 1_000_000), ("2MiB", 2 * 1024**2), (64, 64)],
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("parse", "text", "fragment"),
    [
        (parse_duration, "5 parsecs", "unknown duration unit 'parsecs'"),
        (parse_duration, "-1s", "non-negative"),
        (parse_duration, "fast", "expected a duration"),
        (parse_duration, True, "expected a duration"),
        (parse_rate, "100", "expected a rate"),
        (parse_rate, "100/0s", "zero duration"),
        (parse_rate, "100/fortnight", "unknown duration unit"),
        (parse_size, "1KB2", "expected a size"),
        (parse_size, "3 bits", "unknown size unit 'bits'"),
    ],
)
def test_bad_values_say_what_was_expected(parse, text, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=fragment):
        parse(text)


def test_format_duration_picks_a_readable_unit() -> None:
    assert format_duration(0.0123) == "12.3ms"
    assert format_duration(5400) == "1.5h"
    assert format_duration(0) == "0s"
