"""How ``vecbench.util.progress.Progress`` draws: a status line redrawn in place on a
terminal (``LiveView``, with rich), or one plain line per event elsewhere (``PlainView``)."""

from __future__ import annotations

from typing import Any, TextIO

from vecbench.util.progress import RunState, format_duration

__all__ = ["LiveView", "PlainView", "make_view"]


def make_view(mode: str, state: RunState, stream: TextIO) -> Any:
    return LiveView(state, stream) if mode == "live" else PlainView(state, stream)


class _Line:
    """The live line, rebuilt from the state at every refresh."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self.state.status_line(), no_wrap=True, overflow="ellipsis", style="bold")


class LiveView:
    """One status line on the terminal, redrawn a few times a second and at every event;
    erased when closed. Lines printed meanwhile (notes, warnings) go above it."""

    def __init__(self, state: RunState, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=stream, highlight=False)
        self._live = Live(
            _Line(state), console=console, refresh_per_second=4, transient=True, redirect_stdout=True
        )
        self._live.start()

    def event(self, kind: str) -> None:
        self._live.refresh()

    def close(self) -> None:
        self._live.stop()


class PlainView:
    """One line per event, no escape codes: ``[0:04] cell 1/12 done in 1.2 s, ETA 0:44``."""

    def __init__(self, state: RunState, stream: TextIO) -> None:
        self.state, self.stream = state, stream

    def event(self, kind: str) -> None:
        st = self.state
        if kind == "begin":
            text = f"{st.total} cell(s) to run"
        elif kind == "skip":
            text = f"{st.skipped} cell(s) already complete: skipped ({st.total} to run)"
        elif kind == "cells":
            text = f"{st.cell_text()} {st.label}"
        elif kind == "phase":
            size = f": {st.phase_total:,.0f} {st.unit}".rstrip() if st.phase_total else ""
            text = f"  {st.phase}{size}" if st.label else f"{st.phase}{size}"
        elif kind in ("done", "failed"):
            text = f"cell {st.done}/{st.total} {'done' if kind == 'done' else 'failed'} in {st.last_s:.1f} s"
            if st.done < st.total:
                text += f", ETA {format_duration(st.eta_s())}"
        else:
            return
        self.stream.write(f"[{format_duration(st.elapsed_s())}] {text}\n")
        self.stream.flush()

    def close(self) -> None:
        pass
