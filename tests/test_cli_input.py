"""Bad input and edge cases on the command line: one clear line and exit status 2, never a
traceback; runs where nothing is processed show no `nan`; --version; help text."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib.figure
import matplotlib.text
import pytest
import typer
from typer.testing import CliRunner

import sim
from sim.cli import app
from tests.helpers import ROOT, cli_env, scenario_from
from tests.test_cli import SHORT, scenario_file

runner = CliRunner()
FAST = {**SHORT, "duration": "30s"}


def one_line_refusal(result: Any, out: Path, *expected: str) -> str:
    """Exit status 2, a single line on stderr holding `expected`, no traceback, no folder."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(text in lines[0] for text in expected), lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    return lines[0]


# ----- seeds -----


@pytest.mark.parametrize("seed", [-5, 1.5, "seven"])
def test_a_bad_seed_in_the_file_fails_validate(tmp_path: Path, seed: object) -> None:
    path = scenario_file(tmp_path, {**FAST, "seed": seed})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"{path}: seed: must be an integer of 0 or more, got {seed!r}")


def test_seed_zero_and_large_seeds_are_valid() -> None:
    for seed in (0, 2**70):
        assert scenario_from(seed=seed).seed == seed


def test_sim_run_and_overrides_refuse_a_negative_seed() -> None:
    scenario = scenario_from(duration=10.0)
    with pytest.raises(sim.ScenarioError, match=r"^seed: must be an integer of 0 or more"):
        sim.run(scenario, seed=-1)
    with pytest.raises(sim.ScenarioError, match=r"seed: must be an integer of 0 or more"):
        scenario.override({"seed": -5})
    with pytest.raises(sim.ScenarioError, match=r"seed: must be an integer of 0 or more"):
        sim.run_variants(scenario, seed=-2)


class NoRuns(Executor):
    """An executor that fails the test if anything is submitted to it."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run was started despite a bad seed")


def test_replicate_and_sweep_refuse_a_negative_seed_before_running() -> None:
    scenario = scenario_from(duration=10.0)
    with pytest.raises(sim.ScenarioError, match=r"seeds: must be an integer of 0 or more, got -3"):
        sim.replicate(scenario, seeds=[4, -3], executor=NoRuns())
    with pytest.raises(sim.ScenarioError, match=r"seeds: must be an integer of 0 or more"):
        sim.sweep(scenario, {"consumers.0.replicas": [1, 2]}, seeds=[-1], executor=NoRuns())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--seed", "-1"], "--seed: must be an integer of 0 or more, got -1"),
        (["run", "--seed", "-1", "--seeds", "2"], "--seed: must be an integer of 0 or more"),
        (["run", "--set", "seed=-5"], "seed: must be an integer of 0 or more, got -5"),
        (["run", "--seeds", "0"], "--seeds: must be at least 1, got 0"),
        (["run", "--seeds", "2", "--workers", "0"], "--workers: must be at least 1, got 0"),
        (
            ["sweep", "--set", "seed=-5", "--set", "consumers.0.replicas=1,2"],
            "seed: must be an integer of 0 or more, got -5",
        ),
        (["sweep", "--set", "consumers.0.replicas=1,2", "--seeds", "0"], "--seeds: must be"),
    ],
)
def test_bad_seeds_on_the_command_line_are_one_line_exit_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    path = scenario_file(tmp_path, FAST)
    out = tmp_path / "out"
    command, *rest = args
    result = runner.invoke(app, [command, str(path), *rest, "--out", str(out)])
    one_line_refusal(result, out, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_negative_seed_in_a_real_process_prints_one_line(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, FAST)
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--seed", "-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env(),
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "--seed: must be an integer of 0 or more, got -1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no results/ folder


# ----- nothing processed: never a nan -----


def zero_load(name: str) -> list[str]:
    """--set arguments that silence every producer and client of a shipped scenario."""
    raw = sim.load_scenario(ROOT / "scenarios" / name).raw
    settings = [f"producers.{i}.rate=0/s" for i in range(len(raw.get("producers", [])))]
    settings += [f"clients.{i}.rate=0/s" for i in range(len(raw.get("clients", [])))]
    return [arg for setting in settings for arg in ("--set", setting)]


@pytest.fixture
def chart_texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """Every text of every figure saved, read after drawing (titles, axis labels, tick labels,
    legends, annotations, captions): {file name: texts}."""
    texts: dict[str, list[str]] = {}
    real = matplotlib.figure.Figure.savefig

    def savefig(self: matplotlib.figure.Figure, fname: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(self, fname, *args, **kwargs)  # draws: tick labels get their text here
        found = [t.get_text() for t in self.findobj(matplotlib.text.Text)]
        texts[Path(str(fname)).name + f" ({len(texts)})"] = found
        return result

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    yield texts


NAN = re.compile("nan", re.IGNORECASE)


@pytest.mark.parametrize(
    "name",
    ["mm1.yaml", "scalability.yaml", "kafka_scaling.yaml", "exactly_once.yaml", "coupling.yaml"],
)
def test_nothing_processed_shows_no_nan_anywhere(
    tmp_path: Path, chart_texts: dict[str, list[str]], name: str
) -> None:
    out = tmp_path / "out"
    args = ["run", str(ROOT / "scenarios" / name), *zero_load(name), "--out", str(out)]
    result = runner.invoke(app, args, env={"COLUMNS": "120"}, terminal_width=120)
    assert result.exit_code == 0, result.output
    summaries = list(out.rglob("summary.json"))
    assert summaries and all('"processed": 0' in p.read_text() for p in summaries)
    assert not NAN.search(result.stdout), result.stdout
    assert "no messages were processed" in result.stdout
    assert chart_texts and len(chart_texts) == len(list(out.rglob("*.png")))
    for chart, texts in chart_texts.items():
        assert texts, chart
        bad = [t for t in texts if NAN.search(t)]
        assert not bad, f"{chart}: {bad}"
    latency = [t for c, ts in chart_texts.items() if "latency_cdf" in c for t in ts]
    assert any("No messages were processed" in t for t in latency)


def test_replications_and_sweeps_of_nothing_show_no_nan(
    tmp_path: Path, chart_texts: dict[str, list[str]]
) -> None:
    path = scenario_file(tmp_path, {**FAST, "producers": [{**FAST["producers"][0], "rate": 0}]})
    seeds = ["run", str(path), "--seeds", "2", "--workers", "1", "--out", str(tmp_path / "r")]
    sweep = ["sweep", str(path), "--set", "consumers.0.replicas=1,2", "--seeds", "2"]
    sweep += ["--workers", "1", "--out", str(tmp_path / "s")]
    for args in (seeds, sweep):
        result = runner.invoke(app, args, env={"COLUMNS": "120"})
        assert result.exit_code == 0, result.output
        assert "latency_mean" in result.stdout
        assert not NAN.search(result.stdout), result.stdout
    (texts,) = chart_texts.values()  # the sweep's chart
    assert not [t for t in texts if NAN.search(t)]


# ----- folders of scenarios -----


@pytest.mark.parametrize("command", ["list", "demo"])
def test_a_missing_scenario_folder_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nonexistent"
    result = runner.invoke(app, [command, "--dir", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"{missing}: no such folder; give the folder of scenarios with --dir"
    ]
    afile = scenario_file(tmp_path, FAST)
    result = runner.invoke(app, [command, "--dir", str(afile)])
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"{afile}: not a folder; give the folder of scenarios with --dir"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [afile.name]


def test_a_folder_without_scenarios_is_said_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a scenario")
    listed = runner.invoke(app, ["list", "--dir", str(empty)])
    assert listed.exit_code == 0  # a true answer: there are none
    assert listed.stdout == f"{empty}: no scenario files (*.yaml, *.yml) in this folder\n"
    demo = runner.invoke(app, ["demo", "--dir", str(empty), "--figures", str(tmp_path / "f")])
    assert demo.exit_code == 2  # nothing to run is a mistake
    assert demo.stderr == f"{empty}: no scenario files (*.yaml, *.yml) in this folder\n"
    assert not (tmp_path / "f").exists()


# ----- --version and help -----


def test_version_comes_from_the_installed_package() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"mqsim {version('mqsim')}\n"


COMMANDS = [[], ["run"], ["sweep"], ["validate"], ["list"], ["demo"]]
# typer's type labels (<bool>, <path>, <int range>, <list[Path]>) and its {argument} in usage.
PLACEHOLDER = re.compile(r"<[a-z][^>]*>|\{[a-z_]+\}|\[x[<>]=")


def help_text(command: list[str], width: int) -> str:
    result = runner.invoke(
        app, [*command, "--help"], env={"COLUMNS": str(width)}, terminal_width=width
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mqsim")
def test_help_has_no_placeholders_and_fits(command: list[str], width: int) -> None:
    text = help_text(command, width)
    assert not PLACEHOLDER.findall(text), PLACEHOLDER.findall(text)
    assert max(len(line) for line in text.splitlines()) <= width
    if command:
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert usage.split()[-1] in ("[OPTIONS]", "SCENARIO", "SCENARIOS...")


def prose_paragraphs(command: str) -> list[list[str]]:
    """The help of `command` after its usage line: runs of non-blank lines outside the panels,
    except the indented examples."""
    blocks: list[list[str]] = [[]]
    for line in help_text([command], width=80).splitlines():
        if "─" in line or "│" in line:
            break  # the options panels: typer lays those out itself
        if not line.strip() or line.startswith("   "):
            blocks.append([])
        elif "Usage:" not in line:
            blocks[-1].append(line.strip())
    return [b for b in blocks if b]


@pytest.mark.parametrize("command", ["run", "sweep", "validate", "list", "demo"])
def test_help_paragraphs_reflow_to_the_width_and_examples_keep_their_lines(command: str) -> None:
    paragraphs = prose_paragraphs(command)
    assert paragraphs
    room = 80 - 2  # rich pads the help one column each side
    for lines in paragraphs:
        for line, following in itertools.pairwise(lines):
            # Wrapped by the terminal, not by the docstring: the next word did not fit.
            assert len(line) + 1 + len(following.split()[0]) > room, (line, following)
    wide = help_text([command], width=120)
    examples = [
        line.strip() for line in (app_command_help(command)).splitlines() if "mqsim " in line
    ]
    assert examples
    for example in examples:
        assert any(line.strip() == example for line in wide.splitlines()), example


def app_command_help(name: str) -> str:
    """The help text typer was given for a command."""
    (info,) = [c for c in app.registered_commands if c.name == name]
    return str(info.help)


def test_long_examples_continue_as_shell_lines() -> None:
    text = help_text(["sweep"], 80)
    lines = [line.rstrip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.endswith("\\"))
    assert lines[start].strip().startswith("mqsim sweep")
    assert lines[start + 1].strip().startswith("--set")


def every_command() -> list[list[str]]:
    group = typer.main.get_command(app)
    return [[]] + [[name] for name in sorted(group.commands)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", every_command(), ids=lambda c: " ".join(c) or "mqsim")
def test_help_loses_no_bracketed_text_to_markup(command: list[str]) -> None:
    # rich takes an unescaped "[default: ...]" for markup and drops it, leaving "playback ."
    text = " ".join(help_text(command, width=200).split())
    lost = re.search(r".{0,40}\w [.,;](?:\s|$)", text)
    assert lost is None, lost.group(0)
