"""Text chunkers: every one returns ``Chunk(text, start, end, meta)`` with exact offsets.

Built in: ``recursive`` (LangChain-equivalent separator hierarchy), ``fixed`` (chars or
tokens, with overlap), ``sentence``, ``discourse`` (merges nucleus-satellite units), ``nsp``
(merges adjacent segments whose continuation score passes a threshold). Third-party
chunkers register under the entry-point group ``vecbench.chunkers``.
"""

from vecbench.chunking.base import Chunk, Chunker, SizeUnit, Tokenizer

__all__ = ["Chunk", "Chunker", "SizeUnit", "Tokenizer"]
