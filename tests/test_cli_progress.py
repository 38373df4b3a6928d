"""Progress of a single run from wall-clock time, and Ctrl-C: one line naming the simulated
time, exit status 130, the previous results untouched."""

from __future__ import annotations

import io
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import sim
import sim.cli
from sim.kernel import RunInterrupted
from tests.helpers import ROOT, cli_env
from tests.test_cli import SHORT, scenario_file

runner = CliRunner()
MM1 = ROOT / "scenarios" / "mm1.yaml"


def test_a_run_with_progress_is_the_same_run() -> None:
    scenario = sim.load_scenario(MM1).override({"duration": "3h"})
    fractions: list[float] = []
    watched = sim.run(scenario, progress=fractions.append)
    plain = sim.run(scenario)
    assert watched.summary_json() == plain.summary_json()
    assert watched.timeseries.equals(plain.timeseries)
    assert len(fractions) > 2
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


class Enough(Exception):
    """Raised by a progress callback to end a run the test has seen enough of."""


def test_progress_comes_from_wall_time_however_long_the_simulated_run() -> None:
    # 100000 simulated hours: one percent of it is 1000 h, minutes of wall time.
    scenario = sim.load_scenario(MM1).override({"duration": "100000h"})
    calls: list[tuple[float, float]] = []
    started = time.monotonic()

    def record(fraction: float) -> None:
        calls.append((time.monotonic(), fraction))
        if calls[-1][0] - started > 3.0:
            raise Enough

    with pytest.raises(Enough):
        sim.run(scenario, progress=record)
    assert calls[0][0] - started < 1.0  # the first report comes at once
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(calls)]
    assert max(gaps) < 1.0  # then at least once a second
    assert 0 < calls[-1][1] < 0.01  # it is far from done: the bar moved anyway


def test_the_bar_shows_simulated_time_and_an_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(sim.cli, "stderr", Console(file=screen, force_terminal=True, width=100))
    clock = iter([0.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    monkeypatch.setattr(sim.cli.time, "monotonic", lambda: next(clock, 5.0))
    with sim.cli._progress_bar("mm1", 3600.0) as update:
        update(0.5)
        update(0.75)
    shown = screen.getvalue()
    assert "mm1" in shown and "t=45min of 1h" in shown and "ETA" in shown


def test_no_bar_in_the_first_second(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(sim.cli, "stderr", Console(file=screen, force_terminal=True, width=100))
    with sim.cli._progress_bar("quick", 60.0) as update:
        update(1.0)
    assert screen.getvalue() == ""


# The CLI in a real process, with a hook that says when the simulation itself is under way.
STARTS_RUNNING = """
import sys
import sim.cli
import sim.kernel

real = sim.kernel._advance


def announced(env, until, progress):
    print("running", file=sys.stderr, flush=True)
    real(env, until, progress)


sim.kernel._advance = announced
sys.argv[0] = "mqsim"
sim.cli.main()
"""


def test_ctrl_c_during_a_run_says_when_and_keeps_the_previous_results(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, SHORT)
    out = tmp_path / "out"
    assert runner.invoke(sim.cli.app, ["run", str(path), "--out", str(out)]).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["run", str(path), "--duration", "100000h", "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-c", STARTS_RUNNING, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        cwd=tmp_path,
        env=cli_env(),
    )
    try:
        assert process.stderr.readline() == "running\n"
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C signals the terminal's foreground group
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    match = re.fullmatch(r"interrupted at t=([\d.e+]+)(us|ms|s|min|h); nothing written", lines[0])
    assert match, lines[0]
    assert float(match.group(1)) > 0
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", path.name]  # nothing staged


def test_ctrl_c_in_a_variant_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = dict(SHORT, duration="20s", variants={"first": {}, "second": {}})
    path = scenario_file(tmp_path, data)
    real = sim.cli.run_scenario

    def second_interrupted(scenario: sim.Scenario, **kwargs: object) -> sim.Results:
        if scenario.variant == "second":
            raise RunInterrupted(at=12.5)
        return real(scenario, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.cli, "run_scenario", second_interrupted)
    out = tmp_path / "out"
    result = runner.invoke(sim.cli.app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 130
    assert result.stderr == "interrupted at t=12.5s in variant 'second'; nothing written\n"
    assert not out.exists()


def test_ctrl_c_during_a_demo_says_what_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    scenario_file(folder, dict(SHORT, name="a", duration="20s"), "a.yaml")
    scenario_file(folder, dict(SHORT, name="b", duration="20s"), "b.yaml")
    real = sim.cli.run_scenario

    def b_interrupted(scenario: sim.Scenario, **kwargs: object) -> sim.Results:
        if scenario.name == "b":
            raise RunInterrupted(at=3.0)
        return real(scenario, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.cli, "run_scenario", b_interrupted)
    figures = tmp_path / "figures"
    args = ["demo", "--dir", str(folder), "--figures", str(figures)]
    result = runner.invoke(sim.cli.app, args)
    assert result.exit_code == 130
    assert result.stderr == (
        f"interrupted in b at t=3s; the charts of the 1 scenarios before it are in {figures}/\n"
    )
    assert any(p.name.startswith("a_") for p in figures.iterdir())
    assert not any(p.name.startswith("b_") for p in figures.iterdir())
