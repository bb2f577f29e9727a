"""Native hybrid search in Weaviate: the chunk text as a searchable TEXT property (Weaviate's
own BM25 inverted index) and the ``hybrid`` query with the vector vecbench provides.

The property (``CollectionSpec.full_text``; Weaviate lower-cases its first letter) is
tokenized ``word`` (lower-cased alphanumeric words; no stemming) and searchable, not
filterable; the collection's BM25 is Weaviate's default (k1 1.2, b 0.75, English stopword
preset). A query is ``hybrid(query=text, vector=q, target_vector=..., query_properties=[the
property], limit=k, alpha=..., fusion_type=...)``:

- ``rrf`` -> ``fusion_type=RANKED`` (rankedFusion: ``weight / (60 + rank)`` per list; the
  constant is fixed at 60 in Weaviate, so ``rrf_k`` must be 60), ``alpha=0.5``: both lists
  weigh the same, which orders as unweighted reciprocal-rank fusion;
- ``weighted`` -> ``fusion_type=RELATIVE_SCORE`` (relativeScoreFusion: each list's scores
  min-max normalised, ``alpha * vector + (1 - alpha) * keyword``): the client's
  ``weighted_fusion`` run by the server.

How many candidates each side contributes before fusing is Weaviate's choice (not ``k``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _weaviate_filters as wf
from . import _weaviate_support as ws

RRF_K = 60
METHODS = {
    "rrf": "Weaviate hybrid query, fusion_type rankedFusion (constant 60, alpha 0.5), "
    "BM25 over a word-tokenized TEXT property + the vector index",
    "weighted": "Weaviate hybrid query, fusion_type relativeScoreFusion (min-max per list, "
    "alpha the vector weight), BM25 over a word-tokenized TEXT property + the vector index",
}


def text_property_name(attributes: Mapping[str, str], full_text: str) -> str:
    """The property holding the text (its name checked against the attributes' names)."""
    return wf.property_names({**attributes, full_text: "keyword"})[full_text]


def text_property(wvc: Any, name: str) -> Any:
    """The client's ``Property`` for the searchable text."""
    return wvc.Property(
        name=name,
        data_type=wvc.DataType.TEXT,
        tokenization=wvc.Tokenization.WORD,
        index_searchable=True,
        index_filterable=False,
    )


def hybrid_kwargs(
    fusion_types: Any, text: str, vector: list[float], k: int, fusion: str, alpha: float | None, prop: str
) -> dict[str, Any]:
    """The keyword arguments of ``collection.query.hybrid`` (``fusion_types``: the client's
    ``HybridFusion``)."""
    ranked = fusion == "rrf"
    return {
        "query": text,
        "vector": vector,
        "query_properties": [prop],
        "limit": k,
        "alpha": 0.5 if ranked else float(alpha or 0.0),
        "fusion_type": fusion_types.RANKED if ranked else fusion_types.RELATIVE_SCORE,
        "return_properties": [],
    }


def search_hybrid(
    coll: Any,
    call: Any,
    target: str,
    spec: Any,
    query: NDArray[np.float32],
    text: str,
    k: int,
    fusion: str,
    alpha: float | None,
) -> NDArray[np.int64]:
    """One hybrid query on ``coll`` (``call``: the store's error wrapper, ``target``: the
    named vector, ``spec``: the collection's); ids best first, -1 padded."""
    from weaviate.classes.query import HybridFusion

    prop = text_property_name(spec.attributes, str(spec.full_text))
    kwargs = hybrid_kwargs(HybridFusion, text, query.tolist(), k, fusion, alpha, prop)
    out = np.full(k, -1, dtype=np.int64)
    res = call("hybrid search", coll.query.hybrid, target_vector=target, **kwargs)
    ws.uuids_to_ids((o.uuid for o in res.objects), out)
    return out
