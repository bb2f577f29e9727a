"""The documentation's links hold: every relative link and image points to a file that
exists (and an ``#anchor`` to a heading there), and the README links every docs page."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import REPO, anchors, doc_pages, links

# Pages other branches are writing; linked from the README already. Remove each name once
# its page is merged.
PENDING: frozenset[str] = frozenset()


def _resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return (page.parent / path).resolve() if path else page, anchor


def _is_external(target: str) -> bool:
    return target.startswith(("http://", "https://", "mailto:"))


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_an_existing_file_and_heading(page: Path) -> None:
    broken = []
    for line, target in links(page):
        if _is_external(target):
            continue
        path, anchor = _resolve(page, target)
        name = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
        if not path.is_relative_to(REPO):
            broken.append(f"line {line}: {target} leaves the repository")
        elif not path.exists():
            if name not in PENDING:
                broken.append(f"line {line}: {target}: no file {name}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"line {line}: {target}: no heading #{anchor} in {name}")
    assert not broken, f"{page.relative_to(REPO)}:\n" + "\n".join(broken)


def test_the_readme_links_every_docs_page() -> None:
    readme = REPO / "README.md"
    linked = {_resolve(readme, t)[0] for _, t in links(readme) if not _is_external(t)}
    pages = sorted((REPO / "docs").glob("*.md"))
    assert pages, "no docs/*.md pages"
    missing = [p.relative_to(REPO).as_posix() for p in pages if p.resolve() not in linked]
    assert not missing, f"README.md's Documentation list lacks {missing}"


def test_pending_pages_are_still_pending() -> None:
    # Once a pending page is merged its allowance must go, so its links get checked again.
    merged = sorted(name for name in PENDING if (REPO / name).exists())
    assert not merged, f"remove {merged} from PENDING in {__file__}"


def test_link_and_anchor_reading(tmp_path: Path) -> None:
    # The reader itself: code spans and blocks hold no links; anchors follow GitHub's rules.
    from doc_blocks import slug

    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` title: yes\n\nSee [a](a.md#x) and `[not](b.md)`.\n\n"
        "```md\n[not](c.md)\n# not a heading\n```\n\n![img](i.png)\n",
        encoding="utf-8",
    )
    assert links(page) == [(3, "a.md#x"), (10, "i.png")]
    assert anchors(page) == {"a-code-title-yes"}
    assert slug("Runbooks (streaming: inserts, deletes, replaces)") == (
        "runbooks-streaming-inserts-deletes-replaces"
    )
