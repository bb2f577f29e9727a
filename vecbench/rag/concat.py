"""Long documents made by concatenating corpus documents, each original kept as a known span.

Short-abstract collections (Cranfield) say little about chunking: every document fits one
chunk. Concatenating documents (in a seeded random order) makes long documents where a
chunker must find the boundaries, and the original documents' spans make exact span-level
relevance: a query's relevant text is the span of each relevant original document.

    long_ds, where = concat_documents(ds, docs_per_doc=8, seed=0)
    where.origin["184"]  # Span(doc_id="concat-023", start=5120, end=6004)
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from vecbench.errors import ConfigError
from vecbench.rag.beir import DatasetCounts, Document, RagDataset, Span
from vecbench.util.validation import is_int

__all__ = ["ConcatMap", "concat_documents", "SEPARATOR"]

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ConcatMap:
    """Where each original document ended up: ``origin[doc_id] = Span(long_doc_id, start, end)``."""

    origin: dict[str, Span]
    members: dict[str, list[str]]


def concat_documents(
    ds: RagDataset, docs_per_doc: int, seed: int = 0, separator: str = SEPARATOR
) -> tuple[RagDataset, ConcatMap]:
    """A new data set of documents made of ``docs_per_doc`` originals each (the last may have
    fewer), joined by ``separator``, in an order shuffled with ``seed``.

    Judgments move to the long documents (grade: the highest among the members); relevant
    spans are the relevant originals' spans, with their own grades. Judgments naming unknown
    documents stay as they were (counted, never retrievable).
    """
    if not is_int(docs_per_doc) or docs_per_doc < 1:
        raise ConfigError(f"concat docs_per_doc must be a positive integer, got {docs_per_doc!r}")
    if not is_int(seed):
        raise ConfigError(f"concat seed must be an integer, got {seed!r}")
    order = list(ds.docs)
    random.Random(seed).shuffle(order)
    docs: dict[str, Document] = {}
    origin: dict[str, Span] = {}
    members: dict[str, list[str]] = {}
    width = len(str(max(0, (len(order) - 1) // docs_per_doc)))
    for g, i in enumerate(range(0, len(order), docs_per_doc)):
        long_id = f"concat-{g:0{width}d}"
        group = order[i : i + docs_per_doc]
        parts: list[str] = []
        pos = 0
        for j, doc_id in enumerate(group):
            if j:
                parts.append(separator)
                pos += len(separator)
            text = ds.docs[doc_id].text
            origin[doc_id] = Span(long_id, pos, pos + len(text))
            parts.append(text)
            pos += len(text)
        docs[long_id] = Document(long_id, "".join(parts))
        members[long_id] = group

    qrels: dict[str, dict[str, int]] = {}
    spans: dict[str, list[tuple[Span, int]]] = {}
    for qid, judged in ds.qrels.items():
        out: dict[str, int] = {}
        for doc_id, grade in judged.items():
            target = origin[doc_id].doc_id if doc_id in origin else doc_id
            out[target] = max(out.get(target, grade), grade)
            if grade > 0 and doc_id in origin:
                spans.setdefault(qid, []).append((origin[doc_id], grade))
        qrels[qid] = out

    counts = DatasetCounts(**ds.counts.as_dict())
    counts.docs = len(docs)
    params = {**ds.params, "concat": {"docs_per_doc": docs_per_doc, "seed": seed, "separator": separator}}
    checksum = hashlib.sha256(
        f"{ds.checksum}|concat|{docs_per_doc}|{seed}|{separator!r}".encode()
    ).hexdigest()
    new = RagDataset(
        name=f"{ds.name}-concat{docs_per_doc}",
        docs=docs,
        queries=dict(ds.queries),
        qrels=qrels,
        spans=spans,
        counts=counts,
        checksum=checksum,
        params=params,
    )
    return new, ConcatMap(origin, members)
