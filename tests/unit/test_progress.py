"""The progress model and its plain view: cell n of N, phases, ETA from finished cells."""

from __future__ import annotations

import io

import pytest

from vecbench.util.progress import NULL, Progress, RunState, format_duration


def test_format_duration() -> None:
    assert format_duration(None) == "?"
    assert format_duration(0.4) == "0:00"
    assert format_duration(65) == "1:05"
    assert format_duration(3 * 3600 + 62) == "3:01:02"


def test_eta_is_mean_finished_cell_times_cells_left() -> None:
    st = RunState(total=10)
    assert st.eta_s() is None  # nothing finished yet: no guess
    st.done, st.busy_s = 4, 8.0
    assert st.eta_s(now=st.mark) == pytest.approx(2.0 * 6)
    # counts down while the next cell runs, but not below the 5 cells not yet started
    assert st.eta_s(now=st.mark + 1.5) == pytest.approx(2.0 * 6 - 1.5)
    assert st.eta_s(now=st.mark + 60) == pytest.approx(2.0 * 5)
    st.done = 10
    assert st.eta_s() == 0


def test_cell_text_for_groups_and_between_them() -> None:
    st = RunState(total=12)
    assert st.cell_text() == "12 cells"
    st.group = 3
    assert st.cell_text() == "cells 1-3/12"
    st.done, st.group_done = 1, 1
    assert st.cell_text() == "cells 2-3/12"
    st.done, st.group_done = 2, 2
    assert st.cell_text() == "cell 3/12"
    st.done, st.group_done = 3, 3
    assert st.cell_text() == "3/12 cells done"  # the group's last record is written, group still open
    st.group, st.group_done = 0, 0
    assert st.cell_text() == "3/12 cells done"


def test_status_line_says_cell_times_phase_and_label() -> None:
    st = RunState(total=4, group=2, label="faiss hnsw m=16", phase="ingest hnsw", phase_total=600, unit="vec")
    st.phase_done = 300
    line = st.status_line()
    assert line.startswith("cells 1-2/4 · 0:00 elapsed, ETA ? · ingest hnsw 300/600 vec · faiss hnsw m=16")


def _plain() -> tuple[Progress, io.StringIO]:
    buf = io.StringIO()
    return Progress(mode="plain", stream=buf), buf


def test_plain_view_writes_one_line_per_event_without_escapes() -> None:
    progress, buf = _plain()
    with progress:
        progress.begin(3)
        with progress.task("ground truth", total=100, unit="vec") as bar:
            bar.advance(100)
        with progress.cells("faiss hnsw m=16", count=2):
            with progress.task("ingest hnsw", total=600, unit="vec"):
                pass
            progress.cell_done()
            progress.cell_done(ok=False)
        with progress.cells("faiss flat"):
            progress.cell_done()
    lines = [line.split("] ", 1)[1] for line in buf.getvalue().splitlines()]
    assert lines[0] == "3 cell(s) to run"
    assert lines[1] == "ground truth: 100 vec"
    assert lines[2] == "cells 1-2/3 faiss hnsw m=16"
    assert lines[3] == "  ingest hnsw: 600 vec"
    assert lines[4].startswith("cell 1/3 done in ") and ", ETA " in lines[4]
    assert lines[5].startswith("cell 2/3 failed in ")
    assert lines[6] == "cell 3/3 faiss flat"
    assert lines[7].startswith("cell 3/3 done in ") and "ETA" not in lines[7]
    assert "\x1b" not in buf.getvalue() and "\r" not in buf.getvalue()


def test_phases_nest_and_restore_the_outer_one() -> None:
    progress, _ = _plain()
    with progress.task("search", total=10, unit="q") as outer:
        outer.advance(4)
        with progress.task("load test c=2"):
            assert progress.state.phase == "load test c=2"
        assert (progress.state.phase, progress.state.phase_done) == ("search", 4)


def test_skipped_cells_leave_the_total() -> None:
    progress, buf = _plain()
    progress.begin(5)
    progress.skip(2)
    progress.skip(0)
    assert progress.state.total == 3
    progress.close()
    assert buf.getvalue().splitlines()[1].endswith("] 2 cell(s) already complete: skipped (3 to run)")
    assert len(buf.getvalue().splitlines()) == 2


def test_off_reports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setenv("VECBENCH_PROGRESS", "0")
    progress = Progress(stream=buf)
    assert progress.mode == "off"
    progress.begin(2)
    with progress.cells("x", 2), progress.task("ingest", total=3) as bar:
        bar.advance(3)
        progress.cell_done()
    progress.close()
    assert buf.getvalue() == "" and progress.state.done == 0
    assert NULL.mode == "off"


def test_mode_follows_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECBENCH_PROGRESS", raising=False)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress(stream=io.StringIO()).mode == "plain"
    assert Progress(stream=Tty()).mode == "live"
    assert Progress(enabled=False, stream=Tty()).mode == "off"
