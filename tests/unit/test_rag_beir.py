import gzip
import json

import pytest

from vecbench.errors import DatasetError
from vecbench.rag.beir import load_beir


def write_beir(root, corpus, queries, qrels_lines, header=True):
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    text = ("query-id\tcorpus-id\tscore\n" if header else "") + "".join(line + "\n" for line in qrels_lines)
    (root / "qrels" / "test.tsv").write_text(text, encoding="utf-8")
    return root


CORPUS = [
    {"_id": "d1", "title": "Wings", "text": "lift of wings"},
    {"_id": "d2", "title": "", "text": "boundary layer"},
    {"_id": "d3", "title": "Empty", "text": ""},
    {"_id": "d4", "title": "", "text": "   "},
]
QUERIES = [{"_id": "q1", "text": "wing lift"}, {"_id": "q2", "text": "layer"}, {"_id": "q3", "text": "none"}]


def test_loads_graded_qrels_and_counts_everything(tmp_path):
    root = write_beir(
        tmp_path, CORPUS, QUERIES, ["q1\td1\t2", "q1\td2\t1", "q1\tghost\t1", "q2\td2\t0", "qx\td1\t1"]
    )
    ds = load_beir(root)
    assert ds.qrels["q1"] == {"d1": 2, "d2": 1, "ghost": 1}
    c = ds.counts
    assert (c.docs, c.empty_docs, c.queries, c.qrels) == (4, 1, 3, 5)
    # d3 has a title so is not empty under title=auto; d4 is blank
    assert c.qrels_unknown_docs == 1 and c.qrels_unknown_queries == 1 and c.qrels_not_relevant == 1
    assert ds.evaluated_queries() == ["q1"]
    assert c.queries_without_qrels == 2 and c.queries_evaluated == 1
    assert ds.docs["d1"].text == "Wings\n\nlift of wings"
    # relevant spans: whole known relevant documents with their grade
    assert sorted((s.doc_id, s.start, s.end, g) for s, g in ds.spans["q1"]) == [
        ("d1", 0, len(ds.docs["d1"].text), 2),
        ("d2", 0, len("boundary layer"), 1),
    ]
    assert len(ds.checksum) == 64


def test_title_modes(tmp_path):
    corpus = [{"_id": "a", "title": "Lift", "text": "Lift of wings"}, {"_id": "b", "title": "T", "text": "x"}]
    root = write_beir(tmp_path, corpus, QUERIES[:1], ["q1\ta\t1"], header=False)
    assert load_beir(root).docs["a"].text == "Lift of wings"  # auto: already leads with it
    assert load_beir(root, title="prepend").docs["a"].text == "Lift\n\nLift of wings"
    assert load_beir(root, title="ignore").docs["b"].text == "x"
    assert load_beir(root, title="ignore").counts.qrels == 1  # no header line: first line is data


def test_non_utf8_names_file_and_line(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    with open(root / "corpus.jsonl", "ab") as f:
        f.write(b'{"_id": "d9", "text": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:5: not UTF-8"):
        load_beir(root)


def test_non_utf8_qrels(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    (root / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xff1\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:2: not UTF-8"):
        load_beir(root)


@pytest.mark.parametrize(
    "corpus_line, message",
    [
        ("{not json", "not JSON"),
        ('{"text": "no id"}', '"_id"'),
        ('{"_id": "d1", "text": "dup"}', "duplicate"),
    ],
)
def test_bad_corpus_lines(tmp_path, corpus_line, message):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as f:
        f.write(corpus_line + "\n")
    with pytest.raises(DatasetError, match=message):
        load_beir(root)


def test_bad_qrels_and_missing_files(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1"])
    with pytest.raises(DatasetError, match=r"test\.tsv:2: expected"):
        load_beir(root)
    write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\thigh"])
    with pytest.raises(DatasetError, match="not a number"):
        load_beir(root)
    with pytest.raises(DatasetError, match="missing qrels/dev.tsv"):
        load_beir(root, split="dev")


def _gzip_in_place(path):
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    path.unlink()


def test_gzipped_files_read_the_same_with_the_same_checksum(tmp_path):
    plain = write_beir(tmp_path / "plain", CORPUS, QUERIES, ["q1\td1\t2", "q2\td2\t1"])
    packed = write_beir(tmp_path / "packed", CORPUS, QUERIES, ["q1\td1\t2", "q2\td2\t1"])
    for rel in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        _gzip_in_place(packed / rel)
    assert not (packed / "corpus.jsonl").exists() and (packed / "corpus.jsonl.gz").is_file()
    a, b = load_beir(plain), load_beir(packed)
    assert a.docs == b.docs and a.queries == b.queries and a.qrels == b.qrels
    assert a.counts == b.counts and a.checksum == b.checksum  # of the bytes as read


def test_plain_file_wins_over_its_gzipped_twin(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    (root / "queries.jsonl.gz").write_bytes(gzip.compress(b'{"_id": "other", "text": "x"}\n'))
    assert list(load_beir(root).queries) == ["q1", "q2", "q3"]


def test_damaged_gzip_is_a_dataset_error_naming_the_file(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    data = gzip.compress((root / "corpus.jsonl").read_bytes())
    (root / "corpus.jsonl").unlink()
    (root / "corpus.jsonl.gz").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(DatasetError, match=r"corpus\.jsonl\.gz"):
        load_beir(root)
    (root / "corpus.jsonl.gz").write_bytes(b"not gzip at all\n")
    with pytest.raises(DatasetError, match=r"corpus\.jsonl\.gz"):
        load_beir(root)


def test_missing_file_names_both_spellings(tmp_path):
    root = write_beir(tmp_path, CORPUS, QUERIES, ["q1\td1\t1"])
    (root / "queries.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"missing queries\.jsonl \(or queries\.jsonl\.gz\)"):
        load_beir(root)
