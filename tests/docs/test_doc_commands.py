"""The commands the documentation shows work.

- Every block marked ``<!-- vecbench:run -->`` is run, command by command, as a user would
  (a real ``vecbench`` process, in a scratch folder per page, with the page's
  ``<!-- vecbench:file NAME -->`` blocks written there first), and must exit 0. A block whose
  ``needs=`` names an unset ``VECBENCH_*`` variable or a module that does not import is
  skipped (``scripts/test.sh`` sets the variables of the engines it starts).
- Every ``vecbench ...`` line of any shell block, run or not, parses with the command line's
  own parser: a renamed or removed flag fails here, not in a reader's terminal.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import REPO, SHELL_LANGS, Block, blocks, commands, doc_pages, vecbench_argv

from vecbench.cli import build_parser, parse_args

pytestmark = pytest.mark.usefixtures("vb_cache")

RUNNABLE_PAGES = [p for p in doc_pages() if any(b.directive == "run" for b in blocks(p))]


def _unmet(block: Block) -> list[str]:
    unmet = []
    for need in block.needs():
        if need.startswith("VECBENCH_"):
            if not os.environ.get(need):
                unmet.append(f"{need} not set")
        elif importlib.util.find_spec(need) is None:
            unmet.append(f"module {need} not installed")
    return unmet


def _run(argv: list[str], cwd: Path, where: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vecbench", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VECBENCH_PROGRESS": "0"},
    )
    shown = "vecbench " + shlex.join(argv)
    assert proc.returncode == 0, f"{where}: `{shown}` exited {proc.returncode}:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_marked_commands_run(page: Path, tmp_path: Path) -> None:
    page_blocks = blocks(page)
    for block in page_blocks:
        if block.directive == "file":
            (tmp_path / block.argument).write_text(block.text + "\n", encoding="utf-8")
    ran, skipped = 0, []
    for block in (b for b in page_blocks if b.directive == "run"):
        assert block.lang in SHELL_LANGS, f"{block.where}: vecbench:run on a {block.lang!r} block"
        unmet = _unmet(block)
        if unmet:
            skipped.append(f"{block.where}: {', '.join(unmet)}")
            continue
        for command in commands(block):
            argv = vecbench_argv(command)
            assert argv is not None, f"{block.where}: a runnable block runs vecbench only: {command}"
            _run(argv, tmp_path, block.where)
            ran += 1
    if not ran:
        pytest.skip("; ".join(skipped))


def _shell_commands() -> list[tuple[str, str]]:
    found = []
    for page in doc_pages():
        for block in blocks(page):
            if block.lang in SHELL_LANGS:
                found += [(block.where, c) for c in commands(block) if vecbench_argv(c) is not None]
    return found


SHOWN = _shell_commands()


@pytest.mark.parametrize(("where", "command"), SHOWN, ids=[w for w, _ in SHOWN])
def test_every_shown_vecbench_command_parses(where: str, command: str, capsys) -> None:
    argv = vecbench_argv(command)
    assert argv is not None
    try:
        parse_args(build_parser(), argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `{command}` does not parse (exit {exc.code}): {capsys.readouterr().err}")


def test_the_docs_show_runnable_commands() -> None:
    # The convention is in use: the cheap commands of the main pages are marked and found.
    marked = {p.name for p in RUNNABLE_PAGES}
    assert {"config.md", "stores.md", "workloads.md", "datasets.md", "rag.md"} <= marked
    assert len(SHOWN) >= 50


def test_block_reading(tmp_path: Path) -> None:
    # Continuations joined, comments and console output dropped, directives and needs read.
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- vecbench:run needs=VECBENCH_X,faiss -->\n"
        "```console\n$ vecbench run -s faiss \\\n    --out a.jsonl   # a comment\noutput line\n$ # only a comment\n```\n\n"
        "<!-- vecbench:file a.yaml -->\n\n```yaml\nk: 10\n```\n\n```sh\nbash scripts/demo.sh\n```\n",
        encoding="utf-8",
    )
    run, file, plain = blocks(page)
    assert (run.directive, run.lang, run.needs()) == ("run", "console", ["VECBENCH_X", "faiss"])
    assert commands(run) == ["vecbench run -s faiss      --out a.jsonl   # a comment"]
    assert vecbench_argv(commands(run)[0]) == ["run", "-s", "faiss", "--out", "a.jsonl"]
    assert (file.directive, file.argument, file.text) == ("file", "a.yaml", "k: 10")
    assert plain.directive is None and vecbench_argv(commands(plain)[0]) is None
