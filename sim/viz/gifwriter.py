"""A matplotlib movie writer that streams an animated GIF to its file, one frame at a time.

matplotlib's PillowWriter keeps every frame in memory until the end; a long playback would
need hundreds of megabytes. This writer has Pillow encode each frame as it comes (on one fixed
palette, only the rectangle that changed since the previous frame, unchanged pixels in it
transparent) and appends that frame's blocks to the file: memory stays at two frames.

The file is assembled from Pillow's own single-frame GIFs, following the GIF89a specification
(https://www.w3.org/Graphics/GIF/spec-gif89a.txt): a header and logical screen descriptor
(section 18), the NETSCAPE2.0 application extension that makes viewers loop, then per frame a
graphic control extension (section 23: delay, disposal, transparency), an image descriptor
(section 20) with a local colour table (section 21) and the LZW image data (section 22), and
the trailer (section 27).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from matplotlib.animation import AbstractMovieWriter
from matplotlib.colors import to_rgb
from PIL import Image

__all__ = ["StreamingGifWriter", "fixed_palette"]

_TRANSPARENT = 255  # the palette index kept for "unchanged since the previous frame"


def fixed_palette(colors: list[str]) -> Image.Image:
    """A "P" image holding a palette of `colors`, their tints towards white, and greys: every
    frame is mapped onto it, so frames can be compared pixel by pixel."""
    entries: list[tuple[int, int, int]] = []
    for color in colors:
        r, g, b = to_rgb(color)
        for mix in (0.0, 0.35, 0.65, 0.85):
            entries.append(
                tuple(round(255 * (c + (1 - c) * mix)) for c in (r, g, b))  # type: ignore[misc]
            )
    entries.extend((v, v, v) for v in range(0, 256, 17))
    unique = list(dict.fromkeys(entries))[:_TRANSPARENT]
    flat = [c for entry in unique for c in entry]
    flat += flat[-3:] * (256 - len(unique))
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat)
    return palette


def _blocks(data: bytes) -> tuple[bytes, bytes]:
    """From a single-frame GIF: its colour table, and its image descriptor's LZW data
    (the code size byte and every sub-block up to the terminator)."""
    flags = data[10]
    table_size = 3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0
    table = data[13 : 13 + table_size]
    at = 13 + table_size
    while at < len(data):
        introducer = data[at]
        if introducer == 0x21:  # an extension: label, then sub-blocks
            at += 2
            while data[at]:
                at += data[at] + 1
            at += 1
        elif introducer == 0x2C:  # the image descriptor
            local = data[at + 9]
            at += 10
            if local & 0x80:  # a local table replaces the global one
                size = 3 * 2 ** ((local & 0x07) + 1)
                table = data[at : at + size]
                at += size
            begin = at
            at += 1  # LZW minimum code size
            while data[at]:
                at += data[at] + 1
            return table, data[begin : at + 1]
        else:
            break
    raise ValueError("Pillow wrote a GIF without an image")


class StreamingGifWriter(AbstractMovieWriter):
    """Write an animated GIF frame by frame (see the module docstring)."""

    def __init__(
        self, fps: float = 10, palette: Image.Image | None = None, comment: str = ""
    ) -> None:
        super().__init__(fps=round(fps))
        self._comment = comment.encode("ascii")[:255]
        self._palette = palette or fixed_palette(["#1b4f72", "#b03a2e", "#1e8449", "#b9770e"])
        self._delay = max(2, round(100 / fps))  # hundredths of a second
        self._file: BinaryIO | None = None
        self._previous: np.ndarray | None = None
        self.frames = 0

    def setup(self, fig: Any, outfile: str | Path, dpi: float | None = None) -> None:
        super().setup(fig, outfile, dpi)
        self._file = open(outfile, "wb")  # noqa: SIM115  # closed in finish()
        width, height = self.frame_size
        self._file.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))
        # NETSCAPE2.0: loop forever.
        self._file.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
        if self._comment:  # a comment extension (section 24): who wrote the file
            self._file.write(b"\x21\xfe" + bytes([len(self._comment)]) + self._comment + b"\x00")

    def grab_frame(self, redraw: bool = True, **savefig_kwargs: Any) -> None:
        """Append the figure as it is now; `redraw=False` when the caller has drawn it
        (blitting), else the whole figure is drawn first."""
        assert self._file is not None, "setup() first"
        if redraw:
            self.fig.set_dpi(self.dpi)
            self.fig.canvas.draw()
        rgba = np.asarray(self.fig.canvas.buffer_rgba())
        image = Image.fromarray(rgba[..., :3]).quantize(
            palette=self._palette, dither=Image.Dither.NONE
        )
        pixels = np.asarray(image)
        left, top = 0, 0
        transparent = False
        if self._previous is not None and self._previous.shape == pixels.shape:
            changed = pixels != self._previous
            if not changed.any():
                changed[0, 0] = True  # a frame must hold a pixel: keep the timing
            rows = np.flatnonzero(changed.any(axis=1))
            cols = np.flatnonzero(changed.any(axis=0))
            top, left = int(rows[0]), int(cols[0])
            bottom, right = int(rows[-1]) + 1, int(cols[-1]) + 1
            crop = pixels[top:bottom, left:right].copy()
            crop[~changed[top:bottom, left:right]] = _TRANSPARENT
            transparent = True
        else:
            crop = pixels
        self._previous = pixels
        part = Image.fromarray(crop, mode="P")
        part.putpalette(self._palette.getpalette() or [])
        buffer = io.BytesIO()
        options = {"transparency": _TRANSPARENT} if transparent else {}
        part.save(buffer, "GIF", optimize=False, interlace=False, **options)
        table, lzw = _blocks(buffer.getvalue())
        size_bits = max(0, (len(table) // 3).bit_length() - 2)
        # Graphic control: disposal 1 (leave the frame in place), transparency flag, delay.
        packed = (1 << 2) | (1 if transparent else 0)
        self._file.write(
            struct.pack("<BBBBHBB", 0x21, 0xF9, 4, packed, self._delay, _TRANSPARENT, 0)
        )
        height, width = crop.shape
        self._file.write(struct.pack("<BHHHHB", 0x2C, left, top, width, height, 0x80 | size_bits))
        self._file.write(table)
        self._file.write(lzw)
        self.frames += 1

    def finish(self) -> None:
        if self._file is not None:
            self._file.write(b"\x3b")
            self._file.close()
            self._file = None
