"""Runbook files: parsing with line numbers, the mapping form, validation against a data set,
the capability check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vecbench.config import Settings
from vecbench.errors import CapabilityError, ConfigError
from vecbench.registry import store_class
from vecbench.workloads.runbook import Runbook, Step, load_runbook, parse_runbook

EXAMPLE = Path(__file__).resolve().parents[2] / "benchmarks" / "runbooks" / "churn-20k.yaml"

GOOD = """\
name: small          # a comment
steps:
  - insert: {start: 0, end: 100}
  - wait: ready
  - search
  - delete: {start: 0, end: 40}
  - replace: {start: 40, end: 60, from: 150}
  - replace: {start: 60, end: 80}
  - wait: 0.25
  - wait: {seconds: 1}
  - search: {}
"""


def test_parses_every_operation_with_its_line():
    rb = parse_runbook(GOOD, "rb.yaml")
    assert rb.name == "small" and rb.source == "rb.yaml"
    assert [s.op for s in rb.steps] == [
        "insert", "wait", "search", "delete", "replace", "replace", "wait", "wait", "search",
    ]  # fmt: skip
    assert [s.where for s in rb.steps] == [f"rb.yaml line {n}" for n in range(3, 12)]
    insert, ready, _, delete, moved, same, pause, pause2, _ = rb.steps
    assert (insert.start, insert.end, insert.count) == (0, 100, 100)
    assert ready.seconds is None and pause.seconds == 0.25 and pause2.seconds == 1.0
    assert (delete.start, delete.end) == (0, 40)
    assert moved.source == 150 and same.source is None
    assert rb.search_steps == 2 and rb.deletes == (delete,)
    assert moved.describe() == "replace 40..60 from 150" and same.describe() == "replace 60..80"


def test_mapping_form_round_trips_and_checksum_ignores_layout():
    rb = parse_runbook(GOOD, "rb.yaml")
    again = Runbook.from_mapping(rb.as_dict())
    assert [s.as_dict() for s in again.steps] == [s.as_dict() for s in rb.steps]
    assert again.checksum == rb.checksum and again.name == "small"
    relaid = parse_runbook(
        "# other comments\n" + GOOD.replace("{start: 0, end: 100}", "{end: 100, start: 0}")
    )
    assert relaid.checksum == rb.checksum
    moved = parse_runbook(GOOD.replace("end: 40}", "end: 41}"))
    assert moved.checksum != rb.checksum
    assert rb.identity() == {"runbook": {"name": "small", "checksum": rb.checksum}}


def test_a_bare_list_of_steps_is_a_runbook_named_after_its_file():
    rb = parse_runbook("- insert: {start: 0, end: 5}\n- search\n", "dir/stream.yaml")
    assert rb.name == "stream" and len(rb.steps) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - insert: {start: 0, end: 10}\n  - serch\n", "rb.yaml line 3: unknown operation 'serch'"),
        (
            "steps:\n  - insert: {start: 0, end: 10}\n    search: {}\n",
            "rb.yaml line 2: a step is one operation",
        ),
        (
            "steps:\n  - search\n  - insert: {start: 5, end: 5}\n",
            "rb.yaml line 3: insert: end (5) must be greater",
        ),
        (
            "steps:\n  - search\n  - delete: {start: -1, end: 5}\n",
            "rb.yaml line 3: delete: start must be a non-negative",
        ),
        ("steps:\n  - search\n  - delete: {start: 0}\n", "rb.yaml line 3: delete: 'end' is required"),
        (
            "steps:\n  - search\n  - delete: {start: 0, end: 2.5}\n",
            "rb.yaml line 3: delete: end must be a non-negative",
        ),
        (
            "steps:\n  - search\n  - insert: {start: 0, end: 9, from: 3}\n",
            "rb.yaml line 3: insert: unknown key(s) from",
        ),
        ("steps:\n  - search\n  - insert: [0, 9]\n", "rb.yaml line 3: insert: expected {start, end}"),
        ("steps:\n  - search: {k: 5}\n", "rb.yaml line 2: search takes no arguments"),
        ("steps:\n  - search\n  - wait\n", "rb.yaml line 3: wait: expected 'ready' or a number"),
        ("steps:\n  - search\n  - wait: -1\n", "rb.yaml line 3: wait: seconds must be in"),
        ("steps:\n  - search\n  - wait: {secs: 1}\n", "rb.yaml line 3: wait: expected 'ready'"),
        ("steps:\n  - search\n  - 42\n", "rb.yaml line 3: expected a step"),
        ("name: x\nsteps: [\n  search,\n", "rb.yaml line 4:"),
        ("name: x\nstep:\n  - search\n", "rb.yaml line 2: unknown key 'step'"),
        ("name: x\n", "rb.yaml line 1: 'steps' is required"),
        ("steps: search\n", "rb.yaml line 1: steps must be a list"),
        ("steps:\n  - insert: {start: 0, end: 10}\n", "rb.yaml: the runbook has no search step"),
        ("steps: []\n", "rb.yaml: the runbook has no steps"),
        ("", "rb.yaml: the runbook is empty"),
        ("name: ''\nsteps: [search]\n", "rb.yaml line 1: name must be a non-empty string"),
    ],
)
def test_malformed_runbooks_name_the_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_runbook(text, "rb.yaml")
    assert str(info.value).startswith(message), str(info.value)


def test_the_mapping_form_names_the_step_index():
    with pytest.raises(ConfigError, match=r"runbook: steps\[1\]: unknown operation 'drop'"):
        Runbook.from_mapping({"steps": [{"insert": {"start": 0, "end": 3}}, "drop"]})
    with pytest.raises(ConfigError, match="unknown key.*bogus"):
        Runbook.from_mapping({"steps": ["search"], "bogus": 1})


def test_load_runbook_reads_files_relative_to_a_base(tmp_path):
    (tmp_path / "rb.yaml").write_text(GOOD)
    assert load_runbook("rb.yaml", base=tmp_path).name == "small"
    with pytest.raises(ConfigError, match="cannot read runbook .*nope.yaml"):
        load_runbook(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="runbook must be"):
        load_runbook(3.5)
    rb = load_runbook({"steps": [{"insert": {"start": 0, "end": 3}}, "search"]})
    assert load_runbook(rb) is rb


def test_check_plays_the_steps_and_returns_live_counts():
    rb = parse_runbook(GOOD, "rb.yaml")
    assert rb.check(200) == [100, 100, 100, 60, 60, 60, 60, 60, 60]


@pytest.mark.parametrize(
    ("steps", "n", "message"),
    [
        (
            ["  - insert: {start: 0, end: 300}"],
            200,
            "line 2: insert 0..300: end 300 is beyond the data set's 200",
        ),
        (
            ["  - insert: {start: 0, end: 100}", "  - delete: {start: 90, end: 110}"],
            200,
            "line 3: delete 90..110: 10 id(s) never inserted (first 100)",
        ),
        (
            [
                "  - insert: {start: 0, end: 100}",
                "  - delete: {start: 0, end: 10}",
                "  - delete: {start: 5, end: 20}",
            ],
            200,
            "line 4: delete 5..20: 5 id(s) deleted earlier (first 5)",
        ),
        (
            ["  - insert: {start: 0, end: 10}", "  - delete: {start: 0, end: 50}"],
            200,
            "line 3: delete 0..50: deletes 50 ids, but only 10 are live",
        ),
        (
            ["  - insert: {start: 0, end: 10}", "  - insert: {start: 5, end: 15}"],
            200,
            "line 3: insert 5..15: 5 id(s) already live (first 5); use replace",
        ),
        (
            ["  - insert: {start: 0, end: 10}", "  - replace: {start: 0, end: 10, from: 195}"],
            200,
            "line 3: replace 0..10 from 195 (from): end 205 is beyond",
        ),
        (
            ["  - insert: {start: 0, end: 10}", "  - replace: {start: 5, end: 15}"],
            200,
            "line 3: replace 5..15: 5 id(s) never inserted",
        ),
        (
            ["  - insert: {start: 0, end: 10}", "  - delete: {start: 0, end: 10}"],
            200,
            "line 4: search with no live",
        ),
    ],
)
def test_check_refuses_what_the_data_set_cannot_play(steps, n, message):
    rb = parse_runbook("steps:\n" + "\n".join([*steps, "  - search"]) + "\n", "rb.yaml")
    with pytest.raises(ConfigError) as info:
        rb.check(n)
    assert str(info.value).startswith(f"rb.yaml {message}"), str(info.value)


def test_deleted_ids_can_be_inserted_again():
    rb = Runbook.from_mapping(
        {"steps": [{"insert": {"start": 0, "end": 10}}, {"delete": {"start": 0, "end": 10}},
                   {"insert": {"start": 0, "end": 10}}, "search"]}
    )  # fmt: skip
    assert rb.check(10) == [10, 0, 10, 10]


class _CannotDelete:
    """A class with the Store methods but no ``delete``: what a store without Deletable looks like."""

    def search(self, query, k):  # pragma: no cover - never called
        return np.empty(0, dtype=np.int64)


def test_deletes_need_a_deletable_store_replaces_do_not():
    deleting = parse_runbook(GOOD, "rb.yaml")
    with pytest.raises(
        CapabilityError, match=r"runbook 'small' \(rb.yaml line 6: delete\) needs .*Deletable"
    ):
        deleting.require_store(_CannotDelete)
    replacing = Runbook.from_mapping(
        {"steps": [{"insert": {"start": 0, "end": 5}}, {"replace": {"start": 0, "end": 5}}, "search"]}
    )
    replacing.require_store(_CannotDelete)  # upsert replaces: part of every store's contract
    for name in ("bruteforce", "faiss"):
        deleting.require_store(store_class(name))


def test_the_shipped_example_is_valid_for_20k_vectors():
    rb = load_runbook(EXAMPLE)
    assert {s.op for s in rb.steps} == {"insert", "delete", "replace", "search", "wait"}
    counts = rb.check(20_000)
    assert min(c for c, s in zip(counts, rb.steps, strict=True) if s.op == "search") > 0
    with pytest.raises(ConfigError, match="beyond the data set's 10000"):
        rb.check(10_000)


def test_settings_take_a_runbook_and_refuse_combinations(tmp_path):
    (tmp_path / "rb.yaml").write_text(GOOD)
    s = Settings.from_mapping({"runbook": "rb.yaml"}, source="sweep.yaml", base=tmp_path)
    assert isinstance(s.runbook, Runbook) and s.runbook.name == "small"
    again = Settings.from_mapping(s.as_dict())
    assert again.runbook.checksum == s.runbook.checksum
    assert Settings().runbook is None and "runbook" not in Settings().as_dict()
    with pytest.raises(ConfigError, match="cannot be combined with filters"):
        Settings(runbook=s.runbook, filters=[{"label": "label_1"}])
    with pytest.raises(ConfigError, match="cannot be combined with filters, selectivities"):
        Settings(runbook=s.runbook, selectivities=[0.5])
    with pytest.raises(ConfigError, match="or a load test"):
        Settings(runbook=s.runbook, load={"concurrency": [1]})
    with pytest.raises(ConfigError, match=r"^.*rb2.yaml line 1: unknown key 'stepz'"):
        (tmp_path / "rb2.yaml").write_text("stepz: []\n")
        Settings.from_mapping({"runbook": "rb2.yaml"}, source="sweep.yaml", base=tmp_path)


def test_a_step_is_a_plain_value():
    step = Step("delete", 0, 5, where="x line 2")
    assert step.as_dict() == {"delete": {"start": 0, "end": 5}} and step.count == 5
    assert Step("wait", seconds=2.0).as_dict() == {"wait": {"seconds": 2.0}}
    assert Step("search").count == 0
