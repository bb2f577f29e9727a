"""`vecbench rag run`: bad retrieval input (and an unreachable server alone) is one line and exit
2, before any work; a failed cell is exit 1 (0 with --allow-failures) with its reason summarized."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_error


def _beir(root: Path, docs: list[dict]) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "shock"}) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("1\ta\t1\n1\tghost\t1\n", encoding="utf-8")
    return root


def _config(tmp_path: Path, retrieval: str, docs: list[dict] | None = None) -> Path:
    _beir(tmp_path / "beir", docs or [{"_id": "a", "text": "shock wave"}, {"_id": "b", "text": "wing"}])
    path = tmp_path / "rag.yaml"
    path.write_text(
        "dataset: {path: beir}\nchunkers: [whole]\nembedders: [{name: hashing, params: {dim: 64}}]\n"
        f"stores: [bruteforce]\nk: [1]\nk_chunks: 2\nretrieval: {retrieval}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("retrieval", "needle"),
    [
        ("[dense, bm99]", "unknown retrieval mode 'bm99'"),
        ("[{mode: hybrid, fusion: weighted, alpha: 1.5}]", "must be a number in [0, 1], got 1.5"),
        ("[{mode: hybrid, fusion: weighted, alpha: [0.2, -1]}]", "got -1"),
        ("[{mode: hybrid, fusion: max}]", "unknown fusion 'max'"),
        # hybrid on a store without text support and no client-side fallback chosen
        ("[dense, {mode: hybrid}]", "bruteforce has no native hybrid search"),
        ("[{mode: hybrid, where: far}]", "unknown hybrid_where 'far'"),
    ],
)
def test_bad_retrieval_is_one_line(vb, tmp_path, retrieval, needle):
    proc = vb("rag", "run", str(_config(tmp_path, retrieval)), "--out", "o.jsonl")
    one_line_error(proc, needle)
    assert not (tmp_path / "o.jsonl").exists()


def test_corpus_without_text_is_one_line(vb, tmp_path):
    path = _config(tmp_path, "[sparse]", docs=[{"_id": "a", "text": ""}, {"_id": "b", "title": " "}])
    proc = vb("rag", "run", str(path), "--out", "o.jsonl")
    one_line_error(proc, "none of its 2 documents has text")
    assert not (tmp_path / "o.jsonl").exists()


def test_unknown_documents_in_qrels_are_counted_and_reported(vb, tmp_path):
    pytest.importorskip("bm25s")
    proc = vb("rag", "run", str(_config(tmp_path, "[sparse, dense]")), "--out", "o.jsonl", check=True)
    assert "2 cell(s), 0 failed" in proc.stdout
    assert "note: 1 of 2 judgments name documents not in the corpus" in proc.stdout
    rec = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert rec["counts"]["qrels_unknown_docs"] == 1


def test_help_names_the_default(vb):
    out = vb("rag", "run", "--help", check=True).stdout
    assert "with no CONFIG, the embedded default" in out and "--html" in out


DOWN = {"VECBENCH_PG_DSN": "postgresql://vecbench:vecbench@127.0.0.1:1/vecbench"}  # nothing listens


def _stores_config(tmp_path: Path, stores: str) -> Path:
    path = _config(tmp_path, "[dense]")
    path.write_text(path.read_text().replace("stores: [bruteforce]", f"stores: {stores}"), encoding="utf-8")
    return path


def test_a_failed_cell_exits_1_and_is_summarized(vb, tmp_path):
    pytest.importorskip("psycopg")
    path = _stores_config(tmp_path, "[bruteforce, pgvector]")
    proc = vb("rag", "run", str(path), "--out", "o.jsonl", extra_env=DOWN)
    assert proc.returncode == 1, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "pgvector unreachable, its cells will fail" in warning[0]
    assert "2 cell(s), 1 failed" in proc.stdout
    summary = [line for line in proc.stdout.splitlines() if line.startswith("  failed x")]
    assert len(summary) == 1 and "StoreError: cannot connect to PostgreSQL" in summary[0]
    again = vb("rag", "run", str(path), "--out", "p.jsonl", "--allow-failures", extra_env=DOWN)
    assert again.returncode == 0, again.stderr


def test_an_unreachable_server_alone_is_bad_input(vb, tmp_path):
    pytest.importorskip("psycopg")
    proc = vb("rag", "run", str(_stores_config(tmp_path, "[pgvector]")), "--out", "o.jsonl", extra_env=DOWN)
    one_line_error(proc, "pgvector", "vecbench services up pgvector")
    assert not (tmp_path / "o.jsonl").exists()
