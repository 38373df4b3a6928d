"""`mqsim animate` and `mqsim report`: every scenario, bad input, and files mqsim owns."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim.viz.animate as animate_module
import sim.viz.playback as playback_module
import sim.viz.report as report_module
from sim.cli import app
from sim.outdir import MARKER
from sim.scenario import load_scenario
from sim.viz.animate import SIGNATURE
from tests.helpers import ROOT

runner = CliRunner()
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _short_window(path: Path) -> list[str]:
    """Two seconds after the warm-up: enough to draw, short enough to stay fast."""
    warmup = load_scenario(path).warmup
    return ["--from", f"{warmup:g}s", "--to", f"{warmup + 2:g}s"]


def _mqsim(*args: str | Path) -> object:
    return runner.invoke(app, [str(a) for a in args])


def _quick_charts(draw: object, path: Path) -> list[object]:
    """Stands in for drawing a chart (the catalog still chooses them): drawing every chart of
    every scenario is `mqsim demo`'s job, and would make this sweep slow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    return []


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_animate_and_report_work_on_every_scenario(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "_write_chart", _quick_charts)
    gif = tmp_path / f"{path.stem}.gif"
    done = _mqsim("animate", path, *_short_window(path), "--speed", "2", "--out", gif)
    assert done.exit_code == 0, done.output
    assert gif.stat().st_size > 1000 and gif.read_bytes()[:6] == b"GIF89a"
    folder = tmp_path / "report"
    done = _mqsim("report", path, *_short_window(path), "--out", folder)
    assert done.exit_code == 0, done.output
    page = (folder / "index.html").read_text(encoding="utf-8")
    for element in ('id="play"', 'id="clock"', 'id="scrub"'):
        assert element in page
    data = json.loads(re.search(r'id="playback-data">(.*?)</script>', page, re.S).group(1))
    variants = load_scenario(path).variant_scenarios() or {"": None}
    assert len(data) == len(variants)  # one stage per variant, on one clock
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images and all((folder / src).is_file() for src in images)


def test_report_is_self_contained(tmp_path: Path) -> None:
    folder = tmp_path / "poison"
    path = ROOT / "scenarios" / "poison_message.yaml"
    assert _mqsim("report", path, "--to", "2min", "--out", folder).exit_code == 0
    page = (folder / "index.html").read_text(encoding="utf-8")
    # Nothing fetched: no script, style or image from elsewhere, no URL at all in attributes.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page
    assert json.loads((folder / MARKER).read_text())["written_by"] == "mqsim"
    assert "delivery-limit-3" in page and "default-3.10" in page  # variants side by side
    # A cursor over every chart drawn against simulated time, e.g. the queue depth.
    cursors = re.findall(
        r"<figure class=\"chart\" data-axes='([^']+)'><div class=\"chart-image\">"
        r"<img src=\"([^\"]+)\"",
        page,
    )
    assert any("queue_depth" in src for _, src in cursors)
    for axes, _ in cursors:
        for box in json.loads(axes.replace("&quot;", '"')):
            assert 0 <= box["left"] < box["right"] <= 1 and 0 <= box["top"] < box["bottom"] <= 1
            assert box["t0"] <= 0 < 30 <= box["t1"] + 1e-6


def test_a_minute_at_100_per_second_makes_a_light_report(tmp_path: Path) -> None:
    scenario = tmp_path / "busy.yaml"
    scenario.write_text(
        "name: busy\nseed: 3\nduration: 60s\n"
        "broker: {type: rabbitmq, queues: [{name: jobs, durable: true}]}\n"
        "producers: [{name: web, to: jobs, rate: 100/s}]\n"
        "consumers: [{name: worker, from: jobs, replicas: 4, service_time: exp(30ms)}]\n"
    )
    folder = tmp_path / "report"
    assert _mqsim("report", scenario, "--out", folder).exit_code == 0
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size <= 10 * 2**20
    page = (folder / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="playback-data">(.*?)</script>', page, re.S).group(1))
    assert len(data[0]["moves"]["start"]) > 6000 * 0.9 * 2  # every message, two moves or more


def test_a_window_with_too_many_rows_names_one_that_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playback_module, "MAX_TRACE_ROWS", 300)
    path = ROOT / "scenarios" / "work_queue.yaml"
    out = tmp_path / "w.html"
    done = _mqsim("animate", path, "--from", "60s", "--to", "200s", "--out", out)
    assert done.exit_code == 2
    line = done.output.strip()
    assert "\n" not in line and "more than 300" in line
    window = re.search(r"--from (\S+) --to (\S+)", line)
    assert window is not None
    done = _mqsim("animate", path, "--from", window[1], "--to", window[2], "--out", out)
    assert done.exit_code == 0, done.output
    assert not out.with_suffix(".gif").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--variant", "nope"], "no variant 'nope' (known: fair-prefetch-1"),
        (["--from", "20s", "--to", "10s"], "--from must be before --to"),
        (["--to", "soon"], "--to"),
        (["--to", "30s"], "after the warm-up (1min)"),
        (["--speed", "-1"], "positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    out = tmp_path / "x.gif"
    done = _mqsim("animate", ROOT / "scenarios" / "work_queue.yaml", *args, "--out", out)
    assert done.exit_code == 2
    assert says in done.output and done.output.count("\n") == 1
    assert not out.exists()


def test_mp4_without_ffmpeg_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(animate_module, "ffmpeg_available", lambda: False)
    done = _mqsim("animate", ROOT / "scenarios" / "mm1k.yaml", "--out", tmp_path / "a.mp4")
    assert done.exit_code == 2 and "ffmpeg" in done.output


def test_mp4_plays_every_planned_frame_and_is_signed(tmp_path: Path) -> None:
    # `make test` installs ffmpeg (the Makefile's ffmpeg target), so this runs everywhere.
    assert animate_module.ffmpeg_available(), "ffmpeg missing: run `make ffmpeg`"
    out = tmp_path / "a.mp4"
    path = ROOT / "scenarios" / "mm1k.yaml"
    window = _short_window(path)
    done = _mqsim("animate", path, *window, "--speed", "1", "--out", out)
    assert done.exit_code == 0, done.output
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames:format_tags=comment",
            "-of",
            "json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    [stream] = info["streams"]
    start, end = (float(w.removesuffix("s")) for w in window[1::2])
    planned = animate_module.plan_frames(start, end, ".mp4", 1.0)
    assert stream["codec_name"] == "h264" and int(stream["nb_read_frames"]) == len(planned)
    assert info["format"]["tags"]["comment"] == SIGNATURE  # so mqsim may replace it later
    assert _mqsim("animate", path, *window, "--speed", "2", "--out", out).exit_code == 0


def test_animate_replaces_only_its_own_files_and_never_half_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / "scenarios" / "crash_redelivery.yaml"
    theirs = tmp_path / "theirs.gif"
    theirs.write_bytes(b"GIF89a not ours")
    done = _mqsim("animate", path, "--to", "4s", "--out", theirs)
    assert done.exit_code == 2 and "not written by mqsim" in done.output
    assert theirs.read_bytes() == b"GIF89a not ours"
    ours = tmp_path / "ours.html"
    assert _mqsim("animate", path, "--to", "4s", "--out", ours).exit_code == 0
    first = ours.read_text(encoding="utf-8")
    assert f'content="{SIGNATURE}"' in first
    assert _mqsim("animate", path, "--to", "6s", "--out", ours).exit_code == 0  # replaced
    assert ours.read_text(encoding="utf-8") != first

    def broken(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(animate_module, "write_animation", broken)
    gif = tmp_path / "ours.gif"
    done = _mqsim("animate", path, "--to", "4s", "--out", gif)
    assert done.exit_code == 130 and "nothing written" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.html", "theirs.gif"]
