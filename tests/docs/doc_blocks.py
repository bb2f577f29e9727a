"""Reading the documentation's fenced blocks and links (no tests here).

Conventions (docs/development.md, "The documentation"):

- ``<!-- vecbench:run -->`` right before a ``sh``/``bash``/``console`` block: every command in
  it is run by ``test_doc_commands.py`` and must exit 0. ``needs=A,B`` in the comment names
  ``VECBENCH_*`` variables that must be set and modules that must import, else it is skipped.
- ``<!-- vecbench:file NAME -->`` right before any block: the block is written to ``NAME`` in
  the page's scratch folder before the page's commands run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = frozenset({"sh", "bash", "console", "shell"})
_FENCE = re.compile(r"^(```+)\s*([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*vecbench:(run|file)\b(.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    directive: str | None  # "run", "file" or None
    argument: str  # what follows the directive: "needs=..." or a file name

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    def needs(self) -> list[str]:
        found = re.search(r"needs=(\S+)", self.argument)
        return found.group(1).split(",") if found else []


def doc_pages() -> list[Path]:
    """README.md and every docs/*.md page."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, with the vecbench directive right before it, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, lang = opening.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), len(lines))
        directive, argument = _directive_before(lines, i)
        out.append(Block(page, i + 1, lang, "\n".join(lines[i + 1 : end]), directive, argument))
        i = end + 1
    return out


def _directive_before(lines: list[str], fence_index: int) -> tuple[str | None, str]:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    found = _DIRECTIVE.match(lines[j].strip()) if j >= 0 else None
    return (found.group(1), found.group(2).strip()) if found else (None, "")


def commands(block: Block) -> list[str]:
    """A shell block's commands: continuation lines joined, a console prompt (``$ ``) and
    comment-only lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        line = raw.rstrip()
        if block.lang == "console" and not pending:
            if not line.startswith("$ "):
                continue  # output shown after a command
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append(line)
    return out


def vecbench_argv(command: str) -> list[str] | None:
    """The arguments after ``vecbench`` when the command runs vecbench itself, else None."""
    words = shlex.split(command, comments=True)
    if not words or words[0] != "vecbench":
        return None
    return words[1:]


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`[^`]*`")


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link and image outside code."""
    out: list[tuple[int, str]] = []
    in_fence: str | None = None
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and (in_fence is None or line.strip() == in_fence):
            in_fence = fence.group(1) if in_fence is None else None
            continue
        if in_fence is None:
            out += [(n, m.group(1)) for m in _LINK.finditer(_CODE_SPAN.sub("", line))]
    return out


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings (outside code blocks)."""
    found: set[str] = set()
    in_fence: str | None = None
    for line in page.read_text(encoding="utf-8").splitlines():
        fence = _FENCE.match(line)
        if fence and (in_fence is None or line.strip() == in_fence):
            in_fence = fence.group(1) if in_fence is None else None
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line) if in_fence is None else None
        if heading:
            found.add(slug(heading.group(1)))
    return found


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
