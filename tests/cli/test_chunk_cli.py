"""``vecbench chunk``: chunker parameters after ``--chunker NAME``, as the docs write them."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_line_error

TEXT = "One sentence about vectors. " * 12 + "\n\n" + "Another paragraph follows here. " * 6


@pytest.mark.parametrize(
    "args",
    [
        ["notes.txt", "--chunker", "recursive", "chunk_size=80", "chunk_overlap=10", "--json"],
        ["notes.txt", "chunk_size=80", "chunk_overlap=10", "--chunker", "recursive", "--json"],
    ],
    ids=["params-after-option", "params-before-option"],
)
def test_chunker_parameters_are_kept_wherever_they_stand(vb, tmp_path, args):
    (tmp_path / "notes.txt").write_text(TEXT, encoding="utf-8")
    proc = vb("chunk", *args, check=True)
    chunks = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(chunks) > 3  # chunk_size=80 reached the chunker (its default is far larger)
    for c in chunks:
        assert c["end"] - c["start"] <= 80
        assert TEXT[c["start"] : c["end"]] == c["text"]


def test_a_stray_word_after_the_options_is_still_refused(vb, tmp_path):
    (tmp_path / "notes.txt").write_text(TEXT, encoding="utf-8")
    one_line_error(
        vb("chunk", "notes.txt", "--chunker", "recursive", "stray"), "unrecognized arguments: stray"
    )
    one_line_error(vb("chunk", "notes.txt", "--bogus", "x=1"), "unrecognized arguments: --bogus")
