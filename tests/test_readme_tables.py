"""The README's tables and its first run say what the code does.

- The feature table is the specs' own: each capability per registered broker, a reason (from
  `BrokerSpec.cannot`) wherever one cannot; a broker that registers, or a new `cannot`, changes
  the expected table (`python -m tests.test_readme_tables` prints it).
- The measures table has a column per registered broker, and every measure it lists exists on
  each broker it claims it for (a short run at the broker's ideal settings).
- The Quick start's first run (replications of scenarios/mm1.yaml) shows a confidence interval
  of the mean latency that holds queueing theory's value; tests/test_docs_snippets.py checks the
  shown output is what the command prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

import sim
from sim.brokers.base import BrokerSpec
from sim.brokers.registry import SPECS
from sim.scenario import Scenario
from tests.helpers import ROOT
from tests.markdown_docs import console_steps, snippets
from tests.test_broker_contract import ideal

README = ROOT / "README.md"

# Capabilities of the broker contract, each with its key in `BrokerSpec.cannot`.
CAPABILITIES: list[tuple[str, str]] = [
    ("M/M/1 at its ideal settings", "mm1"),
    ("M/M/c: competing consumers on one source", "mmc"),
    ("consumer faults: crash, down, slow, error", "consumer faults"),
    ("crash of a broker node", "node crash"),
    ("services publish and consume through it", "services"),
    ("consumer rate limits", "rate limits"),
]
STRATEGY_ORDER = ["at-most-once", "at-least-once", "idempotent", "transactional"]


def _block(name: str) -> list[str]:
    """The README's lines between `<!-- name: ... -->` and `<!-- /name -->`."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)<!-- /{name} -->", text, re.DOTALL)
    assert found, f"README.md has no <!-- {name}: ... --> block"
    return [line for line in found[1].splitlines() if line.strip()]


def _strategies() -> list[str]:
    every = set().union(*(spec.strategies for spec in SPECS.values()))
    return [s for s in STRATEGY_ORDER if s in every] + sorted(every - set(STRATEGY_ORDER))


def expected_feature_table() -> list[str]:
    specs = list(SPECS.values())
    notes: list[str] = []

    def no(spec: BrokerSpec, key: str, default: str) -> str:
        notes.append(f"{spec.title}: {spec.cannot.get(key, default)}")
        return f"no ({len(notes)})"

    rows: list[tuple[str, Callable[[BrokerSpec], str]]] = []
    for label, key in CAPABILITIES:

        def cell(spec: BrokerSpec, key: str = key) -> str:
            lacks = key in spec.cannot or (key == "mm1" and spec.ideal is None)
            return no(spec, key, "its spec declares no ideal settings") if lacks else "✓"

        rows.append((label, cell))
    for strategy in _strategies():
        rows.append(
            (f"guarantee `{strategy}`", lambda s, st=strategy: "✓" if st in s.strategies else "—")
        )
    # "—" is kept for a strategy of another system: a broker without a driver says "no".
    rows.append(
        (
            "`mqsim omb` driver",
            lambda s: "✓" if s.omb is not None else no(s, "omb", "its spec declares no OMB driver"),
        )
    )

    lines = [
        "| | " + " | ".join(s.title for s in specs) + " |",
        "|---" * (len(specs) + 1) + "|",
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(s) for s in specs) + " |")
    lines += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    return lines


def test_every_reason_a_spec_gives_has_a_row() -> None:
    keys = {key for _, key in CAPABILITIES}
    for spec in SPECS.values():
        assert set(spec.cannot) <= keys, (spec.type, set(spec.cannot) - keys)


def test_the_feature_table_is_the_specs() -> None:
    expected = expected_feature_table()
    assert _block("features") == expected, "README's feature table should be:\n" + "\n".join(
        expected
    )


# ----- the measures table -----
def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def _ideal_run(broker_type: str) -> sim.Results:
    data = ideal(broker_type, rate=5.0, service="exp(100ms)", duration=30.0, warmup=5.0)
    return sim.run(Scenario.from_dict(data))


def _has(results: sim.Results, measure: str, kind: str) -> bool:
    if kind == "summary":
        return all(key.strip("` ") in results.summary for key in measure.split(","))
    name = measure.strip("`").split(".<", 1)[0]  # ready.<source> -> the series kind "ready"
    return bool(results.columns_of(name))


def test_the_measures_table_covers_every_broker_and_each_measure_exists() -> None:
    lines = _block("measures")
    header = _cells(lines[0])
    assert header[:3] == ["measure", "kind", "what it counts"]
    titles = header[3:]
    assert titles == [spec.title for spec in SPECS.values()], "one column per registered broker"
    types = list(SPECS)
    for line in lines[2:]:
        measure, kind, meaning, *per_broker = _cells(line)
        assert kind in ("time series", "summary"), line
        assert meaning and len(per_broker) == len(types), line
        for broker_type, cell in zip(types, per_broker, strict=True):
            claimed = cell != "—"
            assert claimed == _has(_ideal_run(broker_type), measure, kind), (measure, broker_type)


# ----- the first run -----
def _first_run() -> Any:
    for snippet in snippets("console"):
        if snippet.path != README:
            continue
        for command, shown in console_steps(snippet.text):
            if "mqsim run scenarios/mm1.yaml --seeds" in command:
                return command, shown
    pytest.fail("README.md shows no `mqsim run scenarios/mm1.yaml --seeds N` run")


def test_the_readme_is_a_way_in_not_the_reference() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 400


def test_the_readme_starts_with_make_demo_and_make_test() -> None:
    first = snippets("sh", "bash", "console", "python")[0]
    assert first.path == README
    commands = [
        line.split("#", 1)[0].strip()
        for line in first.text.splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert commands[:2] == ["make demo", "make test"]


def test_the_first_runs_interval_holds_the_theoretical_mean() -> None:
    command, shown = _first_run()
    scenario = sim.load_scenario(ROOT / "scenarios" / "mm1.yaml")
    lam = scenario.producers[0].rate
    mu = 1 / scenario.consumers[0].service_time.mean
    theory = 1 / (mu - lam)  # M/M/1 mean time in system
    row = next(line for line in shown if "latency_mean" in line)
    number = r"([0-9.]+)"
    found = re.search(rf"latency_mean\s*│\s*{number}\s*│.*\[{number}, {number}\]", row)
    assert found, row
    mean, low, high = (float(found[i]) for i in (1, 2, 3))
    assert low <= theory <= high, (low, theory, high)
    assert low <= mean <= high
    backlog = next(line for line in shown if "mean_backlog" in line)
    found = re.search(rf"\[{number}, {number}\]", backlog)
    assert found, backlog
    assert float(found[1]) <= lam * theory <= float(found[2])  # L = lambda W
    seeds = int(re.search(r"--seeds (\d+)", command)[1])  # type: ignore[index]
    assert row.split("│")[-2].strip() == str(seeds)  # every run counted
    text = README.read_text(encoding="utf-8")
    # The README states the values it is checked on.
    assert f"1/(μ − λ) = {theory:g} s" in text and f"λ/(μ − λ) = {lam * theory:g}" in text


if __name__ == "__main__":
    print("\n".join(expected_feature_table()))
