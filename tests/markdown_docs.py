"""The project's Markdown documentation as data: its pages, their fenced snippets, their links and
headings. Used by tests/test_docs_snippets.py and tests/test_readme_tables.py.

The conventions a snippet follows (README.md, "Documentation conventions", says them to
readers):
- every code block is fenced and names its language: `python`, `sh` (or `bash`), `console`
  (`$ ` commands, each followed by lines of its output), `yaml` (a scenario), or `text`
  (anything that is not run: a synopsis, an identity, a diagram);
- a `python`, `sh`, `bash` or `console` snippet that must not run starts with the line
  `# not run: <why>`;
- a `yaml` snippet is a whole scenario, or a fragment of one that starts with the line
  `# fragment of scenarios/<file>.yaml` (its top-level keys replace that scenario's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

from tests.helpers import ROOT

__all__ = [
    "LANGUAGES",
    "RUNNABLE",
    "Page",
    "Snippet",
    "console_steps",
    "pages",
    "slug",
    "snippets",
]

RUNNABLE = frozenset({"python", "sh", "bash", "console"})
LANGUAGES = RUNNABLE | {"yaml", "text"}
NOT_RUN = re.compile(r"^#\s*not run:\s*(?P<why>.*\S)\s*$")
FRAGMENT = re.compile(r"^#\s*fragment of (?P<base>\S+\.yaml)\b")
_HTML_SRC = re.compile(r"""<img\b[^>]*\bsrc=["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class Snippet:
    path: Path  # the page
    line: int  # 1-based line of the opening fence
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0] if self.text.strip() else ""

    @property
    def not_run(self) -> str | None:
        """The reason given for not running it, or None."""
        found = NOT_RUN.match(self.first_line)
        return found["why"] if found else None

    @property
    def fragment_of(self) -> str | None:
        """For a YAML fragment: the scenario file (relative to the repository) it belongs to."""
        found = FRAGMENT.match(self.first_line)
        return found["base"] if found else None


@dataclass(frozen=True)
class Page:
    path: Path
    fences: tuple[Snippet, ...]
    indented_blocks: tuple[int, ...]  # lines of code blocks made by indentation, not fences
    links: tuple[str, ...]  # every link and image target, as written
    anchors: frozenset[str]  # the headings' GitHub anchors

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _page(path: Path) -> Page:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = parser.parse(path.read_text(encoding="utf-8"))
    fences: list[Snippet] = []
    indented: list[int] = []
    links: list[str] = []
    anchors: set[str] = set()
    seen: dict[str, int] = {}  # heading anchors so far: a repeated one gets -1, -2...
    for i, token in enumerate(tokens):
        line = token.map[0] + 1 if token.map else 0
        if token.type == "fence":
            language = token.info.split()[0] if token.info.strip() else ""
            fences.append(Snippet(path, line, language, token.content))
        elif token.type == "code_block":
            indented.append(line)
        elif token.type in ("html_block", "html_inline"):
            links.extend(_HTML_SRC.findall(token.content))
        elif token.type == "heading_open":
            base = slug(tokens[i + 1].content)
            count = seen.get(base, -1) + 1
            seen[base] = count
            anchors.add(f"{base}-{count}" if count else base)
        if token.type == "inline" and token.children:
            for child in token.children:
                if child.type == "link_open":
                    links.append(str(child.attrs.get("href", "")))
                elif child.type == "image":
                    links.append(str(child.attrs.get("src", "")))
                elif child.type == "html_inline":
                    links.extend(_HTML_SRC.findall(child.content))
    return Page(path, tuple(fences), tuple(indented), tuple(links), frozenset(anchors))


@cache
def pages() -> tuple[Page, ...]:
    """README.md and every page under docs/."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return tuple(_page(path) for path in paths)


def snippets(*languages: str) -> list[Snippet]:
    """Every fenced snippet of the documentation in one of `languages`."""
    return [s for page in pages() for s in page.fences if s.language in languages]


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """A console snippet's commands (`$ ...`, with `\\` continuation lines), each with the
    output lines shown under it."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command += "\n" + lines[i]
            steps.append((command, []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
        i += 1
    return steps
