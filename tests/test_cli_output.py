"""mqsim never deletes what it did not write: --out folders, replications, interrupted writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim import outdir
from sim.cli import app
from tests.test_cli import SHORT, scenario_file

runner = CliRunner()
FAST = {**SHORT, "duration": "60s"}

# Each command that writes a results folder, with the arguments after the scenario.
COMMANDS = {
    "run": ["run"],
    "seeds": ["run", "--seeds", "2", "--workers", "1"],
    "sweep": ["sweep", "--set", "consumers.0.replicas=1,2", "--seeds", "1", "--workers", "1"],
}


def invoke(command: str, scenario: Path, out: Path | str | None = None):  # type: ignore[no-untyped-def]
    first, *rest = COMMANDS[command]
    args = [first, str(scenario), *rest]
    if out is not None:
        args += ["--out", str(out)]
    return runner.invoke(app, args)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_user_file_in_the_folder_survives_and_the_command_refuses(
    tmp_path: Path, command: str
) -> None:
    path = scenario_file(tmp_path, FAST)
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes")
    (out / "sub" / "data.csv").write_text("1,2")
    result = invoke(command, path, out)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "did not write" in lines[0]
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "sub" / "data.csv").read_text() == "1,2"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", path.name]  # nothing staged


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_user_file_added_to_mqsims_own_folder_survives(tmp_path: Path, command: str) -> None:
    path = scenario_file(tmp_path, FAST)
    out = tmp_path / "results"
    assert invoke(command, path, out).exit_code == 0
    assert (out / outdir.MARKER).is_file()
    (out / "notes.txt").write_text("mine")
    result = invoke(command, path, out)
    assert result.exit_code == 2
    assert "notes.txt" in result.output
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_mqsims_own_folder_and_an_empty_one_are_replaced(tmp_path: Path, command: str) -> None:
    path = scenario_file(tmp_path, FAST)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(command, path, empty).exit_code == 0
    first = json.loads((empty / outdir.MARKER).read_text())["files"]
    assert first and all((empty / f).is_file() for f in first)
    result = invoke(command, path, empty)  # again: mqsim's own folder is replaced whole
    assert result.exit_code == 0, result.output
    assert json.loads((empty / outdir.MARKER).read_text())["files"] == first


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("where", [".", ".."])
def test_the_current_directory_and_its_parent_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, where: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = scenario_file(work, FAST)
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = invoke(command, Path(path.name), where)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{where}: ") and "directory" in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_file_as_out_is_refused(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, FAST)
    target = tmp_path / "out"
    target.write_text("a file")
    result = invoke("run", path, target)
    assert result.exit_code == 2 and "not a folder" in result.output
    assert target.read_text() == "a file"


def test_replications_and_single_runs_do_not_erase_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scenario_file(tmp_path, FAST)
    monkeypatch.chdir(tmp_path)
    assert invoke("run", path).exit_code == 0
    single = tmp_path / "results" / "short"
    charts = sorted(p.name for p in single.iterdir())
    assert "summary.json" in charts and "latency_cdf.png" in charts
    assert invoke("seeds", path).exit_code == 0
    assert invoke("sweep", path).exit_code == 0
    assert sorted(p.name for p in single.iterdir()) == charts
    assert (tmp_path / "results" / "short-seeds" / "replications.csv").is_file()
    assert (tmp_path / "results" / "short-sweep" / "aggregate.csv").is_file()


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_an_interrupted_write_leaves_the_previous_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: type[BaseException]
) -> None:
    path = scenario_file(tmp_path, FAST)
    out = tmp_path / "out"
    assert invoke("run", path, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import sim.results

    def broken(self: object, folder: Path) -> Path:
        (Path(folder) / "summary.json").write_text("{half")
        raise failure("mid-write")

    monkeypatch.setattr(sim.results.Results, "to_dir", broken)
    result = invoke("run", path, out)
    assert result.exit_code != 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", path.name]  # no staging left


def test_a_failed_swap_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    outdir.replace_folder(out, lambda staging: (staging / "a.txt").write_text("old"))
    real_replace = outdir.os.replace
    calls = []

    def second_rename_fails(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the new folder moving in
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(outdir.os, "replace", second_rename_fails)
    with pytest.raises(OSError):
        outdir.replace_folder(out, lambda staging: (staging / "a.txt").write_text("new"))
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
