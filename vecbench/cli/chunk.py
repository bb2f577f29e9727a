"""``vecbench chunk FILE --chunker NAME [KEY=VALUE ...]``: print a file's chunks with their
offsets (and, for the discourse and NSP chunkers, what joined each chunk)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vecbench.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a UTF-8 text file")
    p.add_argument(
        "--chunker",
        default="recursive",
        metavar="NAME",
        help="recursive (default), fixed, sentence, discourse, nsp, or an entry point",
    )
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="chunker parameters, e.g. chunk_size=500")
    p.add_argument("--json", action="store_true", help="one JSON object per chunk")
    p.add_argument("--width", type=int, default=80, metavar="N", help="characters of each chunk to show")


def main(args: argparse.Namespace) -> int:
    from vecbench.cli._common import parse_assignment
    from vecbench.rag.components import resolve_chunker

    path = Path(args.file)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}: {exc.reason})") from exc
    params = dict(parse_assignment(p, grid=False) for p in args.params)
    chunker = resolve_chunker(args.chunker, params)
    chunks = chunker.chunk(text)
    for i, c in enumerate(chunks):
        if args.json:
            print(
                json.dumps(
                    {"i": i, "start": c.start, "end": c.end, "text": c.text, "meta": c.meta}, default=str
                )
            )
            continue
        shown = c.text.replace("\n", "\\n")
        if len(shown) > args.width:
            shown = shown[: args.width - 1] + "…"
        extra = ""
        if c.meta.get("relations"):
            extra = f"  relations={','.join(c.meta['relations'])}"
        elif c.meta.get("join_scores"):
            extra = "  scores=" + ",".join(f"{s:.2f}" for s in c.meta["join_scores"])
        print(f"[{i}] {c.start}-{c.end} ({c.end - c.start} chars){extra}  {shown}")
    if not args.json:
        print(f"{len(chunks)} chunk(s) from {len(text)} chars with {chunker.name} {chunker.params}")
    return 0
