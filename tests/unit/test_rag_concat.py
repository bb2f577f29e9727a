import pytest
from test_rag_beir import write_beir

from vecbench.errors import ConfigError
from vecbench.rag.beir import load_beir
from vecbench.rag.concat import concat_documents


@pytest.fixture
def ds(tmp_path):
    corpus = [{"_id": f"d{i}", "title": "", "text": f"document {i} " + "x" * i} for i in range(7)]
    corpus.append({"_id": "empty", "title": "", "text": ""})
    queries = [{"_id": "q1", "text": "a"}, {"_id": "q2", "text": "b"}]
    return load_beir(
        write_beir(tmp_path, corpus, queries, ["q1\td1\t1", "q1\td2\t2", "q1\tghost\t1", "q2\td5\t0"])
    )


def test_spans_are_exact_and_cover_every_doc(ds):
    long_ds, where = concat_documents(ds, docs_per_doc=3, seed=7)
    assert sorted(where.origin) == sorted(ds.docs)
    for doc_id, span in where.origin.items():
        assert long_ds.docs[span.doc_id].text[span.start : span.end] == ds.docs[doc_id].text
    assert [len(m) for m in where.members.values()] == [3, 3, 2]
    for long_id, members in where.members.items():
        assert long_ds.docs[long_id].text == "\n\n".join(ds.docs[m].text for m in members)


def test_seeded_and_qrels_moved(ds):
    a, wa = concat_documents(ds, 3, seed=1)
    b, wb = concat_documents(ds, 3, seed=1)
    c, wc = concat_documents(ds, 3, seed=2)
    assert wa == wb and a.checksum == b.checksum and a.checksum != c.checksum
    assert wa.members != wc.members
    l1, l2 = wa.origin["d1"].doc_id, wa.origin["d2"].doc_id
    expect = {"ghost": 1}
    expect[l1] = max(expect.get(l1, 0), 1)
    expect[l2] = max(expect.get(l2, 0), 2)
    assert a.qrels["q1"] == expect
    assert sorted((s.doc_id, s.start, s.end, g) for s, g in a.spans["q1"]) == sorted(
        [
            (*[wa.origin["d1"].doc_id, wa.origin["d1"].start, wa.origin["d1"].end], 1),
            (*[wa.origin["d2"].doc_id, wa.origin["d2"].start, wa.origin["d2"].end], 2),
        ]
    )
    assert "q2" not in a.spans  # grade 0 is not relevant
    assert a.counts.qrels_unknown_docs == 1 and a.counts.empty_docs == 1 and a.counts.docs == 3
    assert a.params["concat"] == {"docs_per_doc": 3, "seed": 1, "separator": "\n\n"}


def test_bad_params(ds):
    with pytest.raises(ConfigError):
        concat_documents(ds, 0)
