"""docs/stores.md's parameter reference says what the stores declare."""

from __future__ import annotations

import re

from store_params import PAGE, render, section

from vecbench.registry import store_class, store_names


def test_the_parameter_table_matches_the_registry() -> None:
    assert section(PAGE.read_text(encoding="utf-8")) == render(), (
        "docs/stores.md's parameter table is out of date: run .venv/bin/python tests/docs/store_params.py"
    )


def test_every_store_and_index_type_has_a_row() -> None:
    text = section(PAGE.read_text(encoding="utf-8"))
    for name in store_names():
        for index_type in store_class(name).info.index_types:
            assert re.search(rf"^\| `{re.escape(name)}` \| {re.escape(index_type)} \|", text, re.M), (
                name,
                index_type,
            )
