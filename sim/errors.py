"""ScenarioError: one line naming the file, the field path and what was expected (a leaf: every
room raises it, the scenario loader and the command line report it)."""

from __future__ import annotations

__all__ = ["ScenarioError", "format_path"]


def format_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """('consumers', 0, 'service_time') -> 'consumers[0].service_time'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class ScenarioError(ValueError):
    """A scenario that cannot be used, said in one line: `file: path: what was expected`."""

    def __init__(self, message: str, path: str = "", source: str = "") -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.message) if part)

    def with_source(self, source: str) -> ScenarioError:
        return ScenarioError(self.message, self.path, source)
