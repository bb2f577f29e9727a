"""BEIR manifests: fetch (md5, resume, safe unzip) from a local HTTP server, and use by name.

Nothing here touches the internet: zips are built in the test and served from 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import stat
import zipfile
from pathlib import Path

import pytest

from vecbench.datasets import catalog
from vecbench.datasets.catalog import Manifest, get_manifest, list_manifests, parse_manifest
from vecbench.datasets.checksums import file_md5, file_sha256
from vecbench.datasets.fetch import FETCH_RECORD, fetch, verify_fetched
from vecbench.errors import ChecksumMismatchError, ConfigError, DatasetError, UnknownNameError
from vecbench.rag.beir import beir_manifest, load_beir, resolve_beir
from vecbench.rag.config import load_rag_config

CORPUS = [
    {"_id": "d1", "title": "Wings", "text": "lift of wings"},
    {"_id": "d2", "title": "", "text": "boundary layer " * 2000},  # compressible bulk for resume tests
    {"_id": "d3", "title": "Heat", "text": "heat transfer"},
]
QUERIES = [
    {"_id": "q1", "text": "wing lift"},
    {"_id": "q2", "text": "layer"},
    {"_id": "q3", "text": "train only"},
]
QRELS = {
    "test": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n",
    "dev": "query-id\tcorpus-id\tscore\nq3\td3\t1\n",
}


def beir_zip(name: str = "tiny", extra: dict[str, bytes] | None = None, symlink: str | None = None) -> bytes:
    """A BEIR zip as upstream packs them: one top folder named after the set."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}/corpus.jsonl", "".join(json.dumps(d) + "\n" for d in CORPUS))
        zf.writestr(f"{name}/queries.jsonl", "".join(json.dumps(q) + "\n" for q in QUERIES))
        for split, text in QRELS.items():
            zf.writestr(f"{name}/qrels/{split}.tsv", text)
        for member, data in (extra or {}).items():
            zf.writestr(member, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


pytestmark = pytest.mark.usefixtures("vb_cache")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def manifest(url: str, md5_hex: str | None, name: str = "tiny", **extra) -> Manifest:
    return Manifest(
        name=name, url=url, format="beir-zip", md5=md5_hex, docs=3, queries=2, split="test", **extra
    )


def beir_folder(cache: Path) -> Path:
    return cache / "datasets" / "beir"


def leftovers(cache: Path) -> list[str]:
    folder = beir_folder(cache)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def tiny_manifests(tmp_path, monkeypatch, file_server):
    """A manifest folder holding one BEIR set, 'tiny', served by the local server."""
    data = beir_zip()
    url = file_server.serve("/tiny.zip", data)
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "beir.yaml").write_text(
        "datasets:\n"
        "  - name: tiny\n"
        f"    url: {url}\n"
        f"    md5: {md5(data)}\n"
        "    docs: 3\n    queries: 2\n    split: test\n    format: beir-zip\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(catalog, "manifest_dir", lambda: folder)
    return data


# --------------------------------------------------------------------------- fetch


def test_fetch_checks_md5_unpacks_atomically_and_loads(file_server, opener, vb_cache):
    data = beir_zip()
    path = fetch(manifest(file_server.serve("/tiny.zip", data), md5(data)), opener=opener)
    assert path == beir_folder(vb_cache) / "tiny"
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == [
        FETCH_RECORD,
        "corpus.jsonl",
        "qrels/dev.tsv",
        "qrels/test.tsv",
        "queries.jsonl",
    ]
    assert leftovers(vb_cache) == ["tiny"]  # no zip, part or temporary folder left
    record = json.loads((path / FETCH_RECORD).read_text())
    assert record["status"] == "verified" and record["md5"] == md5(data) and record["size"] == len(data)
    assert record["files"]["qrels/test.tsv"]["sha256"] == hashlib.sha256(QRELS["test"].encode()).hexdigest()

    ds = load_beir(path)
    assert (ds.counts.docs, ds.counts.queries, ds.counts.queries_evaluated) == (3, 3, 2)
    assert ds.qrels["q2"] == {"d2": 2}

    # Present: returned without a second request.
    assert fetch(manifest(file_server.base + "/tiny.zip", md5(data)), opener=opener) == path
    assert file_server.requests == [("/tiny.zip", None)]
    assert verify_fetched(manifest(file_server.base + "/tiny.zip", md5(data)))["ok"] is True


def test_md5_mismatch_raises_and_leaves_nothing(file_server, opener, vb_cache):
    url = file_server.serve("/tiny.zip", beir_zip())
    with pytest.raises(ChecksumMismatchError, match="md5"):
        fetch(manifest(url, "0" * 32), opener=opener)
    assert leftovers(vb_cache) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"extra": {"tiny/../../evil.txt": b"x"}},
        {"extra": {"/tmp/evil-absolute.txt": b"x"}},
        {"extra": {"tiny\\..\\..\\evil.txt": b"x"}},
        {"symlink": "tiny/link"},
    ],
    ids=["dotdot", "absolute", "backslash", "symlink"],
)
def test_unsafe_archive_is_refused_before_writing(file_server, opener, tmp_path, vb_cache, bad):
    data = beir_zip(**bad)
    with pytest.raises(DatasetError, match="refusing member"):
        fetch(manifest(file_server.serve("/tiny.zip", data), md5(data)), opener=opener)
    assert leftovers(vb_cache) == []
    assert not (vb_cache / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_archive_without_beir_layout_is_refused(file_server, opener, vb_cache):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny/corpus.jsonl", json.dumps(CORPUS[0]) + "\n")
    data = buf.getvalue()
    with pytest.raises(DatasetError, match=r"qrels/test\.tsv"):
        fetch(manifest(file_server.serve("/tiny.zip", data), md5(data)), opener=opener)
    assert leftovers(vb_cache) == []


def test_resume_sends_range_and_still_checks_md5(file_server, opener, vb_cache):
    data = beir_zip()
    url = file_server.serve("/tiny.zip", data)
    folder = beir_folder(vb_cache)
    folder.mkdir(parents=True)
    cut = len(data) // 2
    (folder / "tiny.zip.part").write_bytes(data[:cut])
    path = fetch(manifest(url, md5(data)), opener=opener)
    assert file_server.requests == [("/tiny.zip", f"bytes={cut}-")]
    assert load_beir(path).counts.docs == 3


def test_kept_archive_is_reused_when_it_checks_out(file_server, opener, vb_cache):
    data = beir_zip()
    folder = beir_folder(vb_cache)
    folder.mkdir(parents=True)
    (folder / "tiny.zip").write_bytes(data)  # as left by a fetch whose unpacking failed
    path = fetch(manifest(file_server.base + "/tiny.zip", md5(data)), opener=opener)
    assert file_server.requests == [] and load_beir(path).counts.docs == 3
    assert leftovers(vb_cache) == ["tiny"]


def test_unverified_prints_and_records_digests(file_server, opener, tmp_path, capsys):
    data = beir_zip()
    path = fetch(manifest(file_server.serve("/tiny.zip", data), None), opener=opener)
    record = json.loads((path / FETCH_RECORD).read_text())
    assert record["status"] == "unverified" and record["md5"] == md5(data)
    err = capsys.readouterr().err
    assert md5(data) in err and hashlib.sha256(data).hexdigest() in err


def test_verify_fetched_reports_changed_and_missing_files(file_server, opener, tmp_path):
    data = beir_zip()
    m = manifest(file_server.serve("/tiny.zip", data), md5(data))
    path = fetch(m, opener=opener)
    (path / "qrels" / "test.tsv").write_text("q1\td3\t1\n")
    (path / "queries.jsonl").unlink()
    report = verify_fetched(m)
    assert report["ok"] is False
    assert report["changed"] == ["qrels/test.tsv"] and report["missing"] == ["queries.jsonl"]


# --------------------------------------------------------------------------- names


def test_use_by_name_needs_fetch_then_resolves(tiny_manifests, opener, tmp_path):
    with pytest.raises(DatasetError, match="vecbench datasets fetch tiny"):
        load_beir("beir:tiny")
    cfg = load_rag_config(
        {"dataset": "beir:tiny", "chunkers": ["whole"], "embedders": ["hashing"], "stores": ["bruteforce"]}
    )
    assert cfg.dataset.path == "beir:tiny" and cfg.dataset.split == "test"  # checked, not yet resolved
    assert not catalog.is_cached("tiny")

    path = fetch("tiny", opener=opener)
    assert catalog.is_cached("tiny") and catalog.cached_path("tiny") == path
    assert resolve_beir("beir:tiny") == path
    ds = load_beir("beir:tiny")
    assert ds.name == "tiny" and ds.params["split"] == "test" and ds.counts.queries_evaluated == 2
    assert load_beir("beir:tiny", split="dev").evaluated_queries() == ["q3"]


def test_rag_run_by_name(tiny_manifests, opener):
    from vecbench.rag.run import run_rag

    config = {
        "dataset": "beir:tiny",
        "chunkers": ["whole"],
        "embedders": [{"name": "hashing", "params": {"dim": 64}}],
        "stores": ["bruteforce"],
        "k": [1, 2],
        "k_chunks": 3,
    }
    with pytest.raises(DatasetError, match="vecbench datasets fetch tiny"):
        run_rag(config)  # never downloads on its own
    fetch("tiny", opener=opener)
    (record,) = run_rag(config)
    assert record["status"] == "ok", record["error"]
    assert record["dataset"]["name"] == "tiny" and record["dataset"]["path"] == "beir:tiny"
    assert record["dataset"]["params"]["split"] == "test"


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as info:
        fetch("no-such-set")
    assert "scifact" in info.value.valid and "sift-128-euclidean" in info.value.valid
    with pytest.raises(UnknownNameError) as info:
        beir_manifest("beir:no-such-set")
    assert "scifact" in info.value.valid and "sift-128-euclidean" not in info.value.valid
    with pytest.raises(UnknownNameError):
        load_rag_config(
            {
                "dataset": "beir:sift-128-euclidean",
                "chunkers": ["whole"],
                "embedders": ["hashing"],
                "stores": ["bruteforce"],
            }
        )


def test_sub_collections_are_named_explicitly():
    with pytest.raises(ConfigError, match="beir:cqadupstack/android"):
        beir_manifest("beir:cqadupstack")
    with pytest.raises(UnknownNameError):
        beir_manifest("beir:cqadupstack/cooking")
    with pytest.raises(ConfigError, match="no sub-collections"):
        beir_manifest("beir:scifact/android")
    assert beir_manifest("beir:cqadupstack/tex")[1] == "tex"
    with pytest.raises(DatasetError, match="vecbench datasets fetch cqadupstack"):
        resolve_beir("beir:cqadupstack/tex")


def test_msmarco_defaults_to_its_dev_split():
    cfg = load_rag_config(
        {"dataset": "beir:msmarco", "chunkers": ["whole"], "embedders": ["hashing"], "stores": ["bruteforce"]}
    )
    assert cfg.dataset.split == "dev"
    cfg = load_rag_config(
        {
            "dataset": {"path": "beir:msmarco", "split": "test"},
            "chunkers": ["whole"],
            "embedders": ["hashing"],
            "stores": ["bruteforce"],
        }
    )
    assert cfg.dataset.split == "test"


# --------------------------------------------------------------------------- manifests

BEIR_BASE = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/"


def test_every_beir_entry_validates():
    path = catalog.manifest_dir() / "beir.yaml"
    entries = parse_manifest(path.read_text(encoding="utf-8"), source=str(path))
    names = {m.name for m in entries}
    assert {"scifact", "nfcorpus", "fiqa", "arguana", "scidocs", "trec-covid"} <= names
    for m in entries:
        assert m.format == "beir-zip" and m.kind == "text/beir" and m.is_beir
        assert m.url == f"{BEIR_BASE}{m.name}.zip"  # https, BEIR's own download location
        assert m.md5 is None or re.fullmatch(r"[0-9a-f]{32}", m.md5)
        assert m.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", m.sha256)
        assert m.docs and m.queries and m.docs > 0 and m.queries > 0
        assert m.split == ("dev" if m.name == "msmarco" else "test")
        assert m.approx_size_mb and m.approx_size_mb > 0
        assert m.dim is None and m.metric is None
    # The md5 BEIR's README publishes for scifact.zip.
    assert get_manifest("scifact").md5 == "5f7d1de60b170fc8027bb7898e2efca1"
    assert len(get_manifest("cqadupstack").subsets) == 12
    # Both manifest files load together, without a name in two of them.
    kinds = {m.kind for m in list_manifests()}
    assert kinds == {"vector", "text/beir"}


def test_malformed_beir_entries_are_config_errors():
    base = "datasets:\n  - name: t\n    url: https://x/t.zip\n    docs: 3\n    queries: 2\n    format: beir-zip\n"
    with pytest.raises(ConfigError, match=r"missing key\(s\) \['split'\]"):
        parse_manifest(base)
    ok = base + "    split: test\n"
    assert parse_manifest(ok)[0].split == "test"
    with pytest.raises(ConfigError, match="md5 must be 32"):
        parse_manifest(ok + "    md5: abc\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['dim'\]"):
        parse_manifest(ok + "    dim: 3\n")
    with pytest.raises(ConfigError, match="format must be one of"):
        parse_manifest(ok.replace("beir-zip", "tarball"))


def test_md5_is_a_recorded_digest_too(tmp_path, vb_cache):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_md5(path) == "900150983cd24fb0d6963f7d28e17f72"
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    (entry,) = (vb_cache / "checksums").glob("*.json")
    assert {"md5", "sha256"} <= set(json.loads(entry.read_text()))


# --------------------------------------------------------------------------- CLI


def test_cli_list_info_verify(tiny_manifests, opener, capsys):
    from vecbench.cli import main

    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"tiny\s+│\s+text/beir", listed)
    assert main(["datasets", "info", "tiny"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fetched"] is False and info["fetch_command"] == "vecbench datasets fetch tiny"
    fetch("tiny", opener=opener)
    assert main(["datasets", "info", "beir:tiny"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fetched"] is True and info["fetch"]["status"] == "verified"
    assert main(["datasets", "verify", "tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


# --------------------------------------------------------------------------- packaged sets

CRANFIELD_SHA256 = "554b4496d651b8603e0d248e1bee91fdfa02b52206cfce3a3068c1aa1d71980d"


def _no_network(request, timeout=None):
    raise AssertionError(f"a packaged set must not be fetched: {request.full_url}")


def test_cranfield_ships_with_vecbench_and_loads_by_name(tmp_path):
    m = get_manifest("cranfield")
    assert m.packaged and m.is_beir and m.kind == "text/beir" and m.url == ""
    assert m.folder == catalog.manifest_dir() / "cranfield"
    assert m.sha256 == CRANFIELD_SHA256
    ds = load_beir("beir:cranfield")
    c = ds.counts
    assert (c.docs, c.queries, c.qrels, c.queries_evaluated, c.empty_docs) == (1400, 225, 1612, 225, 2)
    assert (m.docs, m.queries) == (c.docs, c.queries_evaluated)
    assert ds.name == "cranfield" and ds.params["split"] == "test"
    assert ds.checksum == m.sha256  # the bytes as read, the same as the uncompressed original
    # Used in place: the (empty) cache is neither needed nor touched.
    assert resolve_beir("beir:cranfield") == m.folder and catalog.is_cached("cranfield")
    assert fetch("cranfield", opener=_no_network) == m.folder
    assert not (tmp_path / "cache").exists()
    report = verify_fetched("cranfield")
    assert report["ok"] is True and report["status"] == "packaged" and report["sha256"] == m.sha256


def test_cranfield_by_name_in_a_retrieval_config():
    cfg = load_rag_config(
        {
            "dataset": "beir:cranfield",
            "chunkers": ["whole"],
            "embedders": ["hashing"],
            "stores": ["bruteforce"],
        }
    )
    assert cfg.dataset.path == "beir:cranfield" and cfg.dataset.split == "test"
    with pytest.raises(ConfigError, match="no sub-collections"):
        beir_manifest("beir:cranfield/part")


def test_packaged_folder_is_relative_to_its_manifest(tmp_path):
    folder = tmp_path / "manifests"
    (folder / "mini" / "qrels").mkdir(parents=True)
    (folder / "mini" / "corpus.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps(d) + "\n" for d in CORPUS).encode(), mtime=0)
    )
    (folder / "mini" / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (folder / "mini" / "qrels" / "test.tsv").write_text(QRELS["test"])
    checksum = load_beir(folder / "mini").checksum
    entry = "datasets:\n  - name: mini\n    path: mini\n    sha256: {}\n    docs: 3\n    queries: 2\n"
    entry += "    split: test\n    format: beir-packaged\n"
    (folder / "packaged.yaml").write_text(entry.format(checksum))
    (m,) = list_manifests(folder)
    assert m.packaged and m.folder == folder / "mini" and m.local_path(tmp_path / "elsewhere") == m.folder
    assert verify_fetched(m)["ok"] is True
    (stale,) = parse_manifest(entry.format("f" * 64), base=folder)
    report = verify_fetched(stale)
    assert report["ok"] is False and report["changed"] and report["sha256"] == checksum


def test_malformed_packaged_entries_are_config_errors():
    ok = (
        "datasets:\n  - name: p\n    path: p\n    sha256: " + "a" * 64 + "\n"
        "    docs: 3\n    queries: 2\n    split: test\n    format: beir-packaged\n"
    )
    assert parse_manifest(ok, base=Path("/somewhere"))[0].folder == Path("/somewhere/p")
    with pytest.raises(ConfigError, match="relative to the manifest"):
        parse_manifest(ok.replace("path: p", "path: /abs/p"))
    with pytest.raises(ConfigError, match="relative to the manifest"):
        parse_manifest(ok.replace("path: p", "path: ../p"))
    with pytest.raises(ConfigError, match="pins its sha256"):
        parse_manifest(ok.replace("a" * 64, "null"))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['url'\]"):
        parse_manifest(ok + "    url: https://x/p.zip\n")
    with pytest.raises(ConfigError, match=r"missing key\(s\) \['path'\]"):
        parse_manifest(ok.replace("    path: p\n", ""))


def test_cli_shows_cranfield_as_packaged(capsys):
    from vecbench.cli import main

    assert main(["datasets", "list"]) == 0
    assert re.search(r"cranfield\s+│\s+text/beir.*│\s+packaged\s+│", capsys.readouterr().out)
    assert main(["datasets", "info", "cranfield"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["packaged"] is True and info["use_as"] == "beir:cranfield" and "fetch_command" not in info
    assert main(["datasets", "fetch", "beir:cranfield"]) == 0
    assert capsys.readouterr().out.strip() == str(get_manifest("cranfield").folder)
