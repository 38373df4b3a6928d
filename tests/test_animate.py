"""Animations: the streaming GIF writer's frames decode to what was drawn; frame plans."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

import sim
from sim.viz import animate
from sim.viz.animate import MAX_FRAMES, SIGNATURE, AnimationError, plan_frames, write_animation
from sim.viz.gifwriter import StreamingGifWriter, fixed_palette
from sim.viz.playback import build_playback
from tests.helpers import scenario_from


def _decoded(path: Path) -> list[np.ndarray]:
    """Every frame as a viewer shows it (composited over the previous ones), as RGB."""
    frames = []
    with Image.open(path) as image:
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")).copy())
    return frames


def test_streamed_gif_frames_are_the_drawn_frames(tmp_path: Path) -> None:
    # A square moving over a still background: each frame holds only what changed, yet every
    # decoded frame must equal the figure as drawn (mapped onto the palette).
    palette = fixed_palette(["#1b4f72", "#b03a2e"])
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 1)
    ax.axis("off")
    square = ax.add_patch(Rectangle((0, 0.2), 1, 0.6, color="#b03a2e"))
    out = tmp_path / "moving.gif"
    writer = StreamingGifWriter(fps=5, palette=palette, comment=SIGNATURE)
    expected = []
    with writer.saving(fig, str(out), dpi=50):
        for x in (0, 2, 2, 5, 8):  # a repeated frame too: nothing changed
            square.set_x(x)
            writer.grab_frame()
            rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
            quantized = Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)
            expected.append(np.asarray(quantized.convert("RGB")))
    plt.close(fig)
    frames = _decoded(out)
    assert len(frames) == 5 == writer.frames
    for drawn, shown in zip(expected, frames, strict=True):
        assert np.array_equal(drawn, shown)
    assert not np.array_equal(frames[0], frames[-1])
    assert SIGNATURE.encode() in out.read_bytes()[:200]
    with Image.open(out) as image:
        assert image.info["duration"] == 200  # 5 frames a second


def test_write_animation_plays_the_window_frame_by_frame(tmp_path: Path) -> None:
    results = sim.run(
        scenario_from(duration=20.0, producers=[{"name": "p", "to": "q", "rate": 4.0}]),
        trace=True,
    )
    playback = build_playback(results, 5.0, 9.0)
    out = tmp_path / "run.gif"
    count = write_animation([playback], out, speed=2.0)
    assert count == len(plan_frames(5.0, 9.0, ".gif", 2.0)) == 21  # 4 s at 2x, 10 frames/s
    frames = _decoded(out)
    assert len(frames) == count
    assert frames[0].shape[1] == 640
    changed = sum(not np.array_equal(a, b) for a, b in pairwise(frames))
    assert changed >= count // 2  # dots and the clock move


def test_frame_plans_refuse_what_cannot_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AnimationError, match=r"\.gif, \.mp4 or \.html"):
        plan_frames(0, 10, ".avi")
    with pytest.raises(AnimationError, match="positive"):
        plan_frames(0, 10, ".gif", speed=0)
    with pytest.raises(AnimationError, match=f"more than {MAX_FRAMES}") as error:
        plan_frames(0, 600, ".gif", speed=1)
    suggested = float(str(error.value).split("choose --speed ")[1].split()[0])
    assert len(plan_frames(0, 600, ".gif", suggested)) <= MAX_FRAMES
    monkeypatch.setattr(animate, "ffmpeg_available", lambda: False)
    with pytest.raises(AnimationError, match="ffmpeg"):
        plan_frames(0, 10, ".mp4")
    assert len(plan_frames(0, 10, ".gif")) > 1  # GIFs need no ffmpeg
