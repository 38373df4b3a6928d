"""Every snippet of README.md and docs/ does what the page says: each Python, shell and console
snippet runs (in a temporary folder holding a copy of the repository's scenarios, with `mqsim`
and `.venv/bin/mqsim` running this checkout's `sim.cli.main()` in a process of its own, forked
from one that imported the CLI once: tests/mqsim_forkserver.py), a console snippet's output is
what the command prints, each YAML snippet validates as a scenario (or, marked as a fragment,
inside the scenario it names), and every relative link and image points at a file that exists.

The conventions (tests/markdown_docs.py): code blocks are fenced and name their language; a
snippet that must not run starts with `# not run: <why>`, and there are few of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import matplotlib
import pytest
import yaml

from sim.scenario import Scenario
from tests.helpers import ROOT
from tests.markdown_docs import LANGUAGES, RUNNABLE, Snippet, console_steps, pages, snippets

matplotlib.use("Agg")

# Snippets that may not run (`# not run: ...`): `make demo` and `make test` (minutes, and they
# would run this test again), and a skeleton with placeholder names (docs/adding-a-broker.md).
# Raise this only with a reason.
MAX_NOT_RUN = 3
COMMAND_TIMEOUT = 300.0


def _param(snippet: Snippet) -> Any:
    return pytest.param(snippet, id=snippet.where)


def _runnable() -> list[Any]:
    return [_param(s) for s in snippets(*RUNNABLE) if s.not_run is None]


# ----- the conventions -----
def test_every_code_block_is_fenced_and_names_a_known_language() -> None:
    problems = []
    for page in pages():
        problems += [f"{page.name}:{line}: an indented code block" for line in page.indented_blocks]
        problems += [
            f"{s.where}: ```{s.language or ''} is none of {sorted(LANGUAGES)}"
            for s in page.fences
            if s.language not in LANGUAGES
        ]
    assert not problems, "\n".join(problems)


def test_text_blocks_hold_no_command_or_code_that_should_run() -> None:
    """`text` is for synopses (`mqsim run SCENARIO [--seed N]`), identities and diagrams; a
    real command or Python belongs in a snippet that runs."""
    problems = []
    for snippet in snippets("text"):
        for line in snippet.text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("$ ", ">>> ", "import ", "from sim")):
                problems.append(f"{snippet.where}: {stripped}")
            elif stripped.startswith("mqsim ") and not re.search(r"\b[A-Z]{3,}\b|\[", stripped):
                problems.append(f"{snippet.where}: {stripped} (a command, not a synopsis)")
    assert not problems, "\n".join(problems)


def test_snippets_that_do_not_run_are_few_and_say_why() -> None:
    marked = [s for s in snippets(*LANGUAGES) if s.not_run is not None]
    assert all(s.language in RUNNABLE for s in marked), [s.where for s in marked]
    assert all(len(s.not_run or "") >= 15 for s in marked), [(s.where, s.not_run) for s in marked]
    assert len(marked) <= MAX_NOT_RUN, [s.where for s in marked]
    # The pages have runnable snippets of every kind: the test checks something.
    for language in ("python", "sh", "console", "yaml"):
        assert snippets(language), language


def test_every_page_is_reachable_from_the_readme() -> None:
    linked: set[Path] = set()
    for page in pages():
        for target in page.links:
            resolved = _resolve(page.path, target)
            if resolved is not None:
                linked.add(resolved)
    orphans = [p.name for p in pages() if p.path != ROOT / "README.md" and p.path not in linked]
    assert not orphans, orphans


# ----- links -----
def _resolve(page: Path, target: str) -> Path | None:
    """The file a relative link points at (None for a web address or an anchor of the page)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#") or not target:
        return None
    path = unquote(target.split("#", 1)[0])
    return (page.parent / path).resolve()


def test_every_relative_link_and_image_exists() -> None:
    by_path = {p.path.resolve(): p for p in pages()}
    missing = []
    for page in pages():
        for target in page.links:
            resolved = _resolve(page.path, target)
            anchor = target.split("#", 1)[1] if "#" in target else None
            if resolved is not None and not resolved.exists():
                missing.append(f"{page.name}: {target} (no such file)")
                continue
            if anchor is None:
                continue
            linked = page if resolved is None else by_path.get(resolved)
            if linked is not None and anchor not in linked.anchors:
                missing.append(f"{page.name}: {target} (no heading with that anchor)")
    assert not missing, "\n".join(missing)


# ----- YAML: scenarios and fragments of scenarios -----
@pytest.mark.parametrize("snippet", [_param(s) for s in snippets("yaml")])
def test_yaml_snippet_is_a_valid_scenario(snippet: Snippet) -> None:
    data = yaml.safe_load(snippet.text)
    assert isinstance(data, dict), f"{snippet.where}: not a mapping"
    base = snippet.fragment_of
    if base is not None:
        scenario_file = ROOT / base
        assert scenario_file.is_file(), f"{snippet.where}: no scenario {base}"
        raw = yaml.safe_load(scenario_file.read_text(encoding="utf-8"))
        unknown = set(data) - set(Scenario.model_fields)
        assert not unknown, f"{snippet.where}: not scenario keys: {sorted(unknown)}"
        raw.update(data)
        data = raw
    else:  # a whole scenario named as a file of scenarios/ is that file, as it is
        same_name = ROOT / "scenarios" / f"{data.get('name')}.yaml"
        if same_name.is_file():
            assert data == yaml.safe_load(same_name.read_text(encoding="utf-8")), (
                f"{snippet.where}: differs from {same_name.relative_to(ROOT)}"
            )
    scenario = Scenario.from_dict(data, snippet.where)  # a ScenarioError fails the test
    scenario.variant_scenarios()  # and each variant validates too


# ----- running Python and shell snippets -----
FORKSERVER = Path(__file__).with_name("mqsim_forkserver.py")


@pytest.fixture(scope="session")
def mqsim_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A server that has imported the CLI once and runs each `mqsim` command in a forked child
    (tests/mqsim_forkserver.py): the snippets run about twenty commands, and a fresh Python
    would spend seconds importing before each."""
    socket_path = tmp_path_factory.mktemp("mqsim") / "mqsim.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.mqsim_forkserver", "serve", str(socket_path)],
        cwd=ROOT,
        env=_env(ROOT),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready", "the mqsim fork server did not start"
        yield socket_path
    finally:
        server.kill()
        server.wait()


@pytest.fixture
def workdir(tmp_path: Path, mqsim_socket: Path) -> Path:
    """A checkout-like folder: scenarios/ (a copy), ../shared (the golden data beside the
    repository), `mqsim` on PATH and `.venv/bin/mqsim`, both running this checkout's code (in
    a child of the fork server)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scenarios", repo / "scenarios")
    shared = ROOT.parent / "shared"
    if shared.exists():
        (tmp_path / "shared").symlink_to(shared)
    shim = f'#!/bin/sh\nexec "{sys.executable}" -I -S "{FORKSERVER}" "{mqsim_socket}" "$@"\n'
    python = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'
    for folder, name, text in (
        (tmp_path / "bin", "mqsim", shim),
        (tmp_path / "bin", "python", python),
        (repo / ".venv" / "bin", "mqsim", shim),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return repo


def _env(workdir: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PATH": f"{workdir.parent / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": path,
        "COLUMNS": "80",  # the width the console snippets were recorded at
        "MPLBACKEND": "Agg",
        "NO_COLOR": "1",
    }


def _bash(command: str, workdir: Path, where: str) -> str:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", command],
        cwd=workdir,
        env=_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{where}: exit status {done.returncode}\n{done.stdout[-3000:]}"
    return done.stdout


def _normal(line: str) -> str:
    return " ".join(line.split())


def assert_output_shown(expected: list[str], output: str, where: str) -> None:
    """Each shown line appears in the output, in this order (whitespace runs compared as one
    space); a line `...` stands for lines left out, and `...` inside a line for any text."""
    actual = [_normal(line) for line in output.splitlines()]
    position = 0
    for line in expected:
        want = _normal(line)
        if want in ("", "..."):
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")) + "$")
        for k in range(position, len(actual)):
            if pattern.match(actual[k]):
                position = k + 1
                break
        else:
            raise AssertionError(f"{where}: this line is not in the output: {line!r}\n{output}")


@pytest.mark.parametrize("snippet", _runnable())
def test_snippet_runs(snippet: Snippet, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if snippet.language == "python":
        monkeypatch.chdir(workdir)
        monkeypatch.setenv("COLUMNS", "80")
        monkeypatch.syspath_prepend(str(ROOT))
        code = compile(snippet.text, snippet.where, "exec")
        try:
            exec(code, {"__name__": "__main__"})
        finally:
            import matplotlib.pyplot as plt

            plt.close("all")
    elif snippet.language == "console":
        steps = console_steps(snippet.text)
        assert steps, f"{snippet.where}: no command"
        for command, shown in steps:
            output = _bash(command, workdir, snippet.where)
            assert_output_shown(shown, output, f"{snippet.where}: $ {command}")
    else:
        _bash(snippet.text, workdir, snippet.where)


def test_the_output_check_fails_on_a_number_that_is_not_printed() -> None:
    output = "│ latency_mean │ 9.534 │ ± 0.7165 │\nresults in results/mm1/\n"
    assert_output_shown(["│ latency_mean │ 9.534 │ ± 0.7165 │", "..."], output, "x")
    assert_output_shown(["results in ...", ""], output, "x")
    with pytest.raises(AssertionError):
        assert_output_shown(["│ latency_mean │ 9.535 │ ± 0.7165 │"], output, "x")
    with pytest.raises(AssertionError):  # in order
        assert_output_shown(["results in results/mm1/", "│ latency_mean │ ..."], output, "x")


def test_the_fork_served_mqsim_does_what_a_fresh_one_does(workdir: Path) -> None:
    """The shim's command (tests/mqsim_forkserver.py) and `python -m sim.cli`: the same stdout,
    stderr and exit status, in the caller's folder, with the caller's environment."""
    (workdir / "bad.yaml").write_text("name: bad\nduration: 1min\n", encoding="utf-8")
    commands = ["validate scenarios/mm1.yaml bad.yaml", "list --dir scenarios"]
    for command in commands:
        seen = []
        for mqsim in ("mqsim", f'"{sys.executable}" -m sim.cli'):
            done = subprocess.run(
                ["bash", "-c", f"{mqsim} {command}"],
                cwd=workdir,
                env={**_env(workdir), "COLUMNS": "100"},
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
            seen.append((done.returncode, done.stdout, done.stderr))
        assert seen[0] == seen[1], command
    assert seen[0][0] == 0 and "mm1" in seen[0][1]  # `list` found the scenarios in the cwd
