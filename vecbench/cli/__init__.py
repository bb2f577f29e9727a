"""The ``vecbench`` command line.

Every command turns a VecbenchError (and a missing or unreadable file) into one line on
stderr and exit code 2; ``--debug`` shows the traceback instead, and lets third-party
progress bars and warnings through (``vecbench.util.quiet``). Command modules are
imported only when their command runs, so ``vecbench --help`` stays light.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vecbench._version import __version__

EXIT_USAGE = 2

# command name -> (module, help)
_COMMANDS = {
    "run": ("vecbench.cli.run", "benchmark stores on data sets (no arguments: the embedded default)"),
    "datasets": ("vecbench.cli.datasets", "list, describe, fetch and verify data sets"),
    "stores": ("vecbench.cli.stores", "list registered stores, their extras, index types and metrics"),
    "report": ("vecbench.cli.report", "print a results file as a table"),
    "compare": (
        "vecbench.cli.compare",
        "compare two results files cell by cell: is each difference significant?",
    ),
    "load": (
        "vecbench.cli.load",
        "long load checks: soak (client and server RSS, open files, errors over minutes)",
    ),
    "services": ("vecbench.cli.services", "start/stop real engines locally, without Docker"),
    "chunk": ("vecbench.cli.chunk", "print a text file's chunks with offsets (inspect a chunker)"),
    "rag": (
        "vecbench.cli.rag",
        "retrieval harness: chunkers x embedders x stores (x rerankers) on a BEIR set",
    ),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vecbench",
        description="Benchmark vector stores for RAG: recall, latency and cost, with provenance.",
    )
    parser.add_argument("--version", action="version", version=f"vecbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in _COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        cmd.set_defaults(_module=module)
        _add_arguments(name, cmd)
    return parser


def _add_arguments(name: str, cmd: argparse.ArgumentParser) -> None:
    # Arguments are declared here (not in the command modules) so that --help
    # imports no command module.
    from vecbench.cli import _args

    getattr(_args, name)(cmd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    debug = bool(getattr(args, "debug", False))
    from vecbench.util.quiet import quiet_third_party

    quiet_third_party(debug)
    try:
        module = importlib.import_module(args._module)
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("vecbench: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: one line, no traceback
        if debug:
            raise
        return _report_error(exc)


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args``, except that ``vecbench chunk FILE --chunker NAME KEY=VALUE ...``
    keeps the chunker's parameters: argparse takes every positional before the option, so
    those after it would come back unrecognized. Bad arguments: one line, exit 2."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "command", None) == "chunk" and all(_is_assignment(e) for e in extra):
            args.params = [*args.params, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _is_assignment(arg: str) -> bool:
    return "=" in arg and not arg.startswith("-")


def _report_error(exc: BaseException) -> int:
    from vecbench.errors import VecbenchError

    message = str(exc) or type(exc).__name__
    if isinstance(exc, VecbenchError):
        sys.stderr.write(f"vecbench: error: {message}\n")
        return EXIT_USAGE
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"vecbench: error: {exc.strerror or message}{where}\n")
        return EXIT_USAGE
    sys.stderr.write(f"vecbench: internal error: {type(exc).__name__}: {message} (rerun with --debug)\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
