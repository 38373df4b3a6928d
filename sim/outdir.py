"""Results folders that mqsim owns: checked before a run, filled in a staging folder, swapped in.

mqsim replaces a folder only when it wrote that folder itself. Every folder it writes holds a
marker, `.mqsim-results`, listing the files it wrote there. An existing folder may be replaced
only if it is empty, or if it has the marker and holds nothing but the files the marker lists:
a file a user added (notes, a subfolder) makes the folder theirs, and the command refuses with
one line rather than delete it. The current directory and its parents are never replaced.

A single file (an animation) carries its own mark instead: a signature the writer puts in it
(a GIF comment, a page's generator tag, an MP4's metadata). An existing file is replaced only
if it holds that signature; the new file is written beside it under a temporary name and
renamed over it in one step, so there is never half a file under the name.

The swap is two renames in the folder's parent (the old folder aside, the new one in), then
the old one is deleted: a crash or Ctrl-C at any point before the swap leaves the previous
results untouched, and the staging folder is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["MARKER", "OutputError", "check_file", "check_output", "replace_file", "replace_folder"]

MARKER = ".mqsim-results"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# What `mkdir` would have made: rwx for all, less the process's umask.
_FOLDER_MODE = 0o777 & ~_umask()


class OutputError(ValueError):
    """A results folder mqsim must not write to, said in one line naming the folder."""


def _written_files(folder: Path) -> set[str] | None:
    """The files the marker says mqsim wrote in `folder` (None without a readable marker)."""
    try:
        listed = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = listed.get("files") if isinstance(listed, dict) else None
    return set(files) if isinstance(files, list) else None


def _contents(folder: Path) -> set[str]:
    """Every file and folder under `folder`, as relative POSIX paths (folders too)."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        for name in dirs + files:
            found.add((base / name).as_posix())
    return found - {MARKER}


def _folders_of(files: set[str]) -> set[str]:
    """The folders that hold the listed files (their parents, at every level)."""
    return {p.as_posix() for f in files for p in Path(f).parents if p != Path(".")}


def check_output(out: Path) -> None:
    """Raise OutputError unless mqsim may (re)place the folder `out`. Touches nothing."""
    resolved = out.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        where = "the current directory" if resolved == here else "a parent of the current directory"
        raise OutputError(
            f"{out}: is {where}; mqsim writes results into a folder of their own, "
            "e.g. --out results/run1"
        )
    if not out.exists():
        if out.is_symlink():
            raise OutputError(f"{out}: is a broken symbolic link; choose another folder")
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another name")
    contents = _contents(out)
    if not contents and not (out / MARKER).exists():
        return  # an empty folder: nothing of anyone's is lost
    written = _written_files(out)
    if written is None:
        raise OutputError(
            f"{out}: holds files that mqsim did not write (no {MARKER} marker); "
            "choose a new or empty folder"
        )
    foreign = sorted(contents - written - _folders_of(written))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(
            f"{out}: holds files that mqsim did not write ({shown}); move them or choose "
            "another folder"
        )


def replace_folder(out: Path, write: Callable[[Path], object]) -> None:
    """Fill a staging folder with `write(staging)`, mark it, then swap it in for `out`.

    Checks `out` first (OutputError, nothing touched) and again just before the swap, in case
    a user put a file there while the run was going.
    """
    check_output(out)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=parent))
    staging.chmod(_FOLDER_MODE)  # mkdtemp makes it private (0700): results are for reading
    aside: Path | None = None
    try:
        write(staging)
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        marker = {"written_by": "mqsim", "files": files}
        (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        check_output(out)
        if out.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=parent))
            os.replace(out, aside / "previous")  # the old results, out of the way in one rename
        os.replace(staging, out)
    except BaseException:
        if aside is not None and (aside / "previous").exists() and not out.exists():
            os.replace(aside / "previous", out)  # the swap failed half-way: put the old back
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
        if aside is not None:
            shutil.rmtree(aside)


# Where a file's signature may be: a GIF's comment and a page's head are at the start, an MP4's
# metadata with its index (at the start with +faststart, else at the end).
_SIGNATURE_HEAD = 1 << 20
_SIGNATURE_TAIL = 1 << 16


def _signed(path: Path, signature: bytes) -> bool:
    with path.open("rb") as handle:
        if signature in handle.read(_SIGNATURE_HEAD):
            return True
        size = path.stat().st_size
        handle.seek(max(0, size - _SIGNATURE_TAIL))
        return signature in handle.read()


def check_file(out: Path, signature: bytes) -> None:
    """Raise OutputError unless mqsim may (re)place the file `out`. Touches nothing."""
    if out.is_symlink():
        raise OutputError(f"{out}: is a symbolic link; choose another name")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; give the name of a file to write")
    if out.exists() and not _signed(out, signature):
        raise OutputError(
            f"{out}: exists and was not written by mqsim; choose another name or remove it"
        )


def replace_file(out: Path, write: Callable[[Path], object], signature: bytes) -> None:
    """Write `write(temporary)` beside `out` (same suffix), then rename it over `out`.

    Checks `out` first and again just before the rename; the temporary file is removed if
    anything fails, Ctrl-C included.
    """
    check_file(out, signature)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{out.stem}-new-", suffix=out.suffix, dir=parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
        check_file(out, signature)
        os.replace(temporary, out)
    finally:
        if temporary.exists():
            temporary.unlink()
