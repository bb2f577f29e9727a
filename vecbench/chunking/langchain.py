"""Any LangChain ``TextSplitter`` as a vecbench chunker.

LangChain splitters return strings only, so the offsets of wrapped splitters are
*reconstructed*, not tracked: each chunk is looked up in the text scanning forward from the
previous chunk's start. That is robust where LangChain's own ``add_start_index`` is not
(it searches from a guessed position, which strip and separator handling can overshoot, and
then records ``-1``), but in repetitive text a chunk may be placed at an earlier identical
occurrence than the one it came from. Prefer a native chunker (``RecursiveChunker``) when
offsets matter. A chunk that is not a substring of the text at all (a splitter that re-joins
pieces with a separator that was not there) raises ``ChunkAlignmentError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vecbench.chunking.base import Chunk
from vecbench.errors import ConfigError, MissingDependencyError, VecbenchError

__all__ = ["ChunkAlignmentError", "LangChainChunker"]


class ChunkAlignmentError(VecbenchError, ValueError):
    """A wrapped splitter returned a chunk that does not occur in the text after the previous one."""


class LangChainChunker:
    """Wrap a LangChain text splitter (an object with ``split_text(text) -> list[str]``).

    ``splitter`` is the splitter object, or the name of a class in
    ``langchain_text_splitters`` built with ``splitter_params`` (so configs can name one).
    Offsets are reconstructed (see the module docstring); each chunk's ``meta`` says so.

    >>> from langchain_text_splitters import CharacterTextSplitter  # doctest: +SKIP
    >>> chunker = LangChainChunker(CharacterTextSplitter(chunk_size=20, chunk_overlap=0))  # doctest: +SKIP
    >>> chunker.chunk("first part\\n\\nsecond part")[1].start  # doctest: +SKIP
    12
    """

    name = "langchain"

    def __init__(self, splitter: object | str, splitter_params: Mapping[str, Any] | None = None) -> None:
        if isinstance(splitter, str):
            splitter = _build(splitter, dict(splitter_params or {}))
        elif splitter_params:
            raise ConfigError("splitter_params are only used when splitter is a class name")
        if not callable(getattr(splitter, "split_text", None)):
            raise ConfigError(f"{type(splitter).__name__} has no split_text(text) method")
        self.splitter = splitter

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"splitter": type(self.splitter).__name__}
        for attr in ("chunk_size", "chunk_overlap", "separators", "keep_separator", "strip_whitespace"):
            value = getattr(self.splitter, f"_{attr}", None)
            if value is not None:
                params[attr] = value
        length_function = getattr(self.splitter, "_length_function", len)
        params["unit"] = "chars" if length_function is len else "custom"
        params["offsets"] = "reconstructed"
        return params

    def chunk(self, text: str) -> list[Chunk]:
        if not isinstance(text, str):
            raise ConfigError(f"text must be a str, got {type(text).__name__}")
        if not text:
            return []
        pieces = self.splitter.split_text(text)  # type: ignore[attr-defined]
        # In characters, a chunk starts no earlier than the previous end minus the overlap;
        # try there first so repeated text is not matched too early. Other length units give
        # no such bound.
        overlap = getattr(self.splitter, "_chunk_overlap", None)
        char_overlap = overlap if getattr(self.splitter, "_length_function", None) is len else None

        chunks: list[Chunk] = []
        prev_start, prev_end = -1, 0
        for piece in pieces:
            if not piece:
                continue
            start = -1
            if chunks and isinstance(char_overlap, int):
                start = text.find(piece, max(prev_start + 1, prev_end - char_overlap))
            if start < 0:
                start = text.find(piece, prev_start + 1)
            if start < 0 and prev_start >= 0:
                start = text.find(piece, prev_start)
            if start < 0:
                raise ChunkAlignmentError(
                    f"chunk {len(chunks)} of {type(self.splitter).__name__} ({piece[:40]!r}...) does not "
                    "occur in the text after the previous chunk; the splitter changes the text"
                )
            end = start + len(piece)
            chunks.append(Chunk(piece, start, end, {"offsets": "reconstructed"}))
            prev_start, prev_end = start, end
        return chunks


def _build(class_name: str, params: dict[str, Any]) -> object:
    try:
        import langchain_text_splitters
    except ImportError as err:
        raise MissingDependencyError("langchain-text-splitters", "langchain") from err
    cls = getattr(langchain_text_splitters, class_name, None)
    if not isinstance(cls, type):
        raise ConfigError(f"langchain_text_splitters has no splitter class {class_name!r}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"cannot build {class_name}({params}): {err}") from err
