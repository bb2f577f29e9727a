"""Read a text-retrieval collection in BEIR layout: corpus, queries and graded qrels.

    corpus.jsonl       {"_id", "title", "text"} per line
    queries.jsonl      {"_id", "text"} per line
    qrels/<split>.tsv  query-id, corpus-id, score (header line optional)

Any of the three may be gzipped instead (``corpus.jsonl.gz``); the checksum is of the
decompressed bytes, so a set reads the same, checksum included, either way.

Nothing is dropped silently: queries without a positive judgment, judgments naming a
document or query that is not in the files, and empty documents are counted in
``RagDataset.counts`` (and end up in every result record).

    ds = load_beir("/data/cranfield")
    ds.counts.queries_without_qrels, ds.qrels["1"]  # {'184': 1, '29': 1, ...}

A standard BEIR set fetched with ``vecbench datasets fetch NAME`` is named ``beir:NAME``
(``beir:cqadupstack/android`` for one forum of cqadupstack): it resolves to the unpacked
folder in the cache, and its qrels split defaults to the one BEIR evaluates on (test;
dev for msmarco). Nothing is downloaded here: an unfetched set is a DatasetError naming
the fetch command. A set shipped with vecbench (``beir:cranfield``) resolves to its
folder in the package and needs no fetch.

    ds = load_beir("beir:scifact")
    ds = load_beir("beir:cranfield")   # packaged: 1,400 documents, 225 queries
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from vecbench.errors import ConfigError, DatasetError, EmptyDatasetError, UnknownNameError

if TYPE_CHECKING:
    from vecbench.datasets.catalog import Manifest

__all__ = [
    "Document",
    "Span",
    "DatasetCounts",
    "RagDataset",
    "load_beir",
    "BEIR_PREFIX",
    "is_beir_name",
    "beir_manifest",
    "resolve_beir",
]

BEIR_PREFIX = "beir:"
"""Marks a data set given by manifest name rather than by folder: ``beir:scifact``."""

TitleMode = Literal["auto", "prepend", "ignore"]


@dataclass(frozen=True)
class Document:
    """One document as indexed: ``text`` is what chunkers see and offsets refer to."""

    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of document ``doc_id``."""

    doc_id: str
    start: int
    end: int


@dataclass
class DatasetCounts:
    """What the loader saw, including everything that cannot take part in evaluation."""

    docs: int = 0
    empty_docs: int = 0
    queries: int = 0
    queries_evaluated: int = 0
    queries_without_qrels: int = 0
    qrels: int = 0
    qrels_unknown_docs: int = 0
    qrels_unknown_queries: int = 0
    qrels_not_relevant: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class RagDataset:
    """Documents, queries and graded judgments (``qrels[qid][doc_id] = grade``; > 0 relevant).

    ``spans[qid]`` are the relevant character spans per query: the whole of every relevant
    document for a plain BEIR set, the original documents' spans after concatenation.
    Judgments naming unknown documents stay in ``qrels`` (they count against recall and
    nDCG, as in trec_eval) and are counted.
    """

    name: str
    docs: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    spans: dict[str, list[tuple[Span, int]]]
    counts: DatasetCounts
    checksum: str
    params: dict[str, Any] = field(default_factory=dict)

    def evaluated_queries(self) -> list[str]:
        """Query ids with at least one positive judgment, in file order."""
        return [q for q in self.queries if any(g > 0 for g in self.qrels.get(q, {}).values())]

    def describe(self) -> dict[str, Any]:
        """The record's ``dataset`` section."""
        return {
            "name": self.name,
            "checksum": self.checksum,
            "params": dict(self.params),
            **self.counts.as_dict(),
        }


def _open(path: Path) -> IO[bytes]:
    """``path`` for reading bytes, decompressed when it ends in .gz."""
    try:
        if path.suffix == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _member(root: Path, rel: str) -> Path:
    """``root/rel``, or ``root/rel.gz`` when only the gzipped file is there."""
    plain = root / rel
    packed = root / f"{rel}.gz"
    return packed if not plain.is_file() and packed.is_file() else plain


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) for each non-blank line; bad bytes raise DatasetError."""
    with _open(path) as f:
        try:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DatasetError(
                        f"{path}:{lineno}: not UTF-8 (byte {exc.start}: {exc.reason})"
                    ) from None
                if line.strip():
                    yield lineno, line
        except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated .gz
            raise DatasetError(f"cannot read {path}: {exc}") from exc


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _lines(path):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}:{lineno}: not JSON: {exc}") from None
        if not isinstance(obj, dict) or "_id" not in obj:
            raise DatasetError(f'{path}:{lineno}: expected an object with an "_id"')
        text = obj.get("text", "")
        if not isinstance(text, str) or not isinstance(obj.get("title", ""), str):
            raise DatasetError(f'{path}:{lineno}: "text" and "title" must be strings')
        yield lineno, obj


def _doc_text(title: str, text: str, mode: TitleMode) -> str:
    title = title.strip()
    if mode == "ignore" or not title:
        return text
    if mode == "auto" and text.lstrip().startswith(title):
        return text  # already leads with its title (Cranfield does)
    return f"{title}\n\n{text}" if text else title


def _sha256(paths: list[Path]) -> str:
    """Of the files' bytes as read (decompressed), one after the other."""
    h = hashlib.sha256()
    for p in paths:
        with _open(p) as f:
            try:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetError(f"cannot read {p}: {exc}") from exc
    return h.hexdigest()


def is_beir_name(path: object) -> bool:
    """Whether ``path`` names a manifest BEIR set (``beir:NAME``) rather than a folder."""
    return isinstance(path, str) and path.startswith(BEIR_PREFIX)


def beir_manifest(spec: str) -> tuple[Manifest, str | None]:
    """The manifest and sub-collection named by ``beir:NAME`` or ``beir:NAME/SUBSET``.

    UnknownNameError (listing the BEIR sets) for a name no manifest has; ConfigError when
    a set with sub-collections is named without one, or the other way round. Reads only
    the manifests, never the network or the cache.
    """
    from vecbench.datasets.catalog import list_manifests

    body = spec[len(BEIR_PREFIX) :] if spec.startswith(BEIR_PREFIX) else spec
    name, _, subset = body.partition("/")
    sets = {m.name: m for m in list_manifests() if m.is_beir}
    if name not in sets:
        raise UnknownNameError("BEIR data set", name, sets)
    manifest = sets[name]
    if manifest.subsets and not subset:
        raise ConfigError(
            f"{spec}: {name} is {len(manifest.subsets)} collections; name one, "
            f"like {BEIR_PREFIX}{name}/{manifest.subsets[0]} (one of {', '.join(manifest.subsets)})"
        )
    if subset and subset not in manifest.subsets:
        if not manifest.subsets:
            raise ConfigError(f"{spec}: {name} has no sub-collections; write {BEIR_PREFIX}{name}")
        raise UnknownNameError(f"{name} sub-collection", subset, manifest.subsets)
    return manifest, subset or None


def resolve_beir(spec: str) -> Path:
    """The local folder of ``beir:NAME`` (``$VECBENCH_CACHE/datasets/beir/NAME``, or the
    package's own folder for a packaged set); a DatasetError saying to run ``vecbench
    datasets fetch NAME`` when it is not there."""
    from vecbench.util.paths import cache_dir

    manifest, subset = beir_manifest(spec)
    root = manifest.local_path(cache_dir())
    if manifest.packaged and not root.is_dir():
        raise DatasetError(
            f"packaged data set {manifest.name!r} is missing from the installation (looked for "
            f"{root}); reinstall vecbench"
        )
    if not root.is_dir():
        raise DatasetError(
            f"BEIR data set {manifest.name!r} is not fetched (looked for {root}); "
            f"run `vecbench datasets fetch {manifest.name}` (runs never download)"
        )
    return root / subset if subset else root


def load_beir(
    path: str | Path,
    split: str | None = None,
    *,
    title: TitleMode = "auto",
    max_queries: int | None = None,
) -> RagDataset:
    """Load a BEIR directory, or a fetched set named ``beir:NAME``; ``split`` picks
    ``qrels/<split>.tsv`` (default: test, or the set's own evaluation split for a name);
    ``title`` says whether a document's title is put before its text ("auto": unless the
    text already starts with it)."""
    name: str | None = None
    if is_beir_name(path):
        spec = str(path)
        manifest, _ = beir_manifest(spec)
        root = resolve_beir(spec)
        name = spec[len(BEIR_PREFIX) :]
        split = split or manifest.split or "test"
    else:
        root = Path(path)
        split = split or "test"
    if title not in ("auto", "prepend", "ignore"):
        raise DatasetError(f"title must be auto, prepend or ignore, got {title!r}")
    corpus_path, queries_path, qrels_path = (
        _member(root, "corpus.jsonl"),
        _member(root, "queries.jsonl"),
        _member(root, f"qrels/{split}.tsv"),
    )
    for p in (corpus_path, queries_path, qrels_path):
        if not p.is_file():
            raise DatasetError(f"BEIR data set {root}: missing {p.relative_to(root)} (or {p.name}.gz)")
    counts = DatasetCounts()
    docs = _read_corpus(corpus_path, title, counts)
    queries = _read_queries(queries_path)
    qrels = _read_qrels(qrels_path, queries, docs, counts)
    if max_queries is not None:
        queries = dict(list(queries.items())[:max_queries])
    counts.queries = len(queries)
    ds = RagDataset(
        name=name or root.name,
        docs=docs,
        queries=queries,
        qrels=qrels,
        spans=whole_document_spans(docs, qrels),
        counts=counts,
        checksum=_sha256([corpus_path, queries_path, qrels_path]),
        params={"split": split, "title": title, **({"max_queries": max_queries} if max_queries else {})},
    )
    counts.queries_evaluated = len(ds.evaluated_queries())
    counts.queries_without_qrels = counts.queries - counts.queries_evaluated
    return ds


def _read_corpus(path: Path, title: TitleMode, counts: DatasetCounts) -> dict[str, Document]:
    docs: dict[str, Document] = {}
    for lineno, obj in _jsonl(path):
        doc_id = str(obj["_id"])
        if doc_id in docs:
            raise DatasetError(f"{path}:{lineno}: duplicate document id {doc_id!r}")
        doc = Document(
            doc_id, _doc_text(obj.get("title", ""), obj.get("text", ""), title), obj.get("title", "")
        )
        docs[doc_id] = doc
        if not doc.text.strip():
            counts.empty_docs += 1
    if not docs:
        raise EmptyDatasetError(f"{path}: no documents")
    counts.docs = len(docs)
    return docs


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for lineno, obj in _jsonl(path):
        qid = str(obj["_id"])
        if qid in queries:
            raise DatasetError(f"{path}:{lineno}: duplicate query id {qid!r}")
        queries[qid] = obj.get("text", "")
    if not queries:
        raise EmptyDatasetError(f"{path}: no queries")
    return queries


def _read_qrels(
    path: Path, queries: Mapping[str, str], docs: Mapping[str, Document], counts: DatasetCounts
) -> dict[str, dict[str, int]]:
    """Judgments by query; those naming unknown queries or documents are kept and counted."""
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in _lines(path):
        parts = line.rstrip("\r\n").split("\t")
        if lineno == 1 and parts[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue  # header
        if len(parts) != 3:
            raise DatasetError(f"{path}:{lineno}: expected query-id<TAB>corpus-id<TAB>score")
        qid, doc_id, score_text = (p.strip() for p in parts)
        try:
            grade = int(float(score_text))
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: score {score_text!r} is not a number") from None
        counts.qrels += 1
        counts.qrels_unknown_queries += qid not in queries
        counts.qrels_unknown_docs += doc_id not in docs
        counts.qrels_not_relevant += grade <= 0
        qrels.setdefault(qid, {})[doc_id] = grade
    return qrels


def whole_document_spans(
    docs: Mapping[str, Document], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, list[tuple[Span, int]]]:
    """Each relevant (and known) document as one span covering its whole text, with its grade."""
    return {
        qid: [(Span(d, 0, len(docs[d].text)), g) for d, g in judged.items() if g > 0 and d in docs]
        for qid, judged in qrels.items()
    }
