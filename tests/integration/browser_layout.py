"""Headless Chromium for the report tests: a screenshot of the first screen, and a layout check
that runs inside the page and writes what it measured into the DOM (read back with --dump-dom).

The check measures, at 1280x800: the page's scroll width against the window's (and again with
every collapsed section opened), every plot's
box, every plotly legend/label/tick/title element's box against its figure's box, and where
the first Pareto plot sits. Skips, with the reason, when no Chromium binary is found
(``scripts/install-engines.sh`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 800
MIN_PLOT = (480, 320)  # a readable plot, in CSS pixels

# Runs once the page has loaded and its figures were fitted to their boxes.
_CHECK = """
<script>
window.addEventListener("load", function () { setTimeout(function () {
  var out = {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, plots: []};
  var parts = ".legend, .legendtext, .xtick text, .ytick text, .g-xtitle, .g-ytitle, .gtitle, .annotation";
  document.querySelectorAll(".vb-plot").forEach(function (el) {
    var box = el.querySelector(".js-plotly-plot") || el;
    var r = box.getBoundingClientRect();
    var item = {kind: el.tagName === "IMG" ? "img" : "plotly", id: box.id || "",
                section: (el.closest("[data-section]") || {dataset: {}}).dataset.section || "",
                top: r.top + window.scrollY, left: r.left, width: r.width, height: r.height,
                drawn: el.tagName === "IMG" ? el.naturalWidth > 0 : !!box.querySelector(".main-svg"),
                traces: box.querySelectorAll(".scatterlayer .trace").length, outside: []};
    box.querySelectorAll(parts).forEach(function (t) {
      var b = t.getBoundingClientRect();
      if (b.width === 0 && b.height === 0) return;
      if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1) {
        item.outside.push((t.getAttribute("class") || t.tagName) + " '" + (t.textContent || "").slice(0, 40) + "'");
      }
    });
    out.plots.push(item);
  });
  // the first screen's tables fit their box (no scrolling inside them)
  out.answerTablesClipped = Array.prototype.filter.call(
    document.querySelectorAll(".answer .best .scroll"),
    function (b) { return b.scrollWidth > b.clientWidth + 1; }).length;
  // every collapsed table opened: each scrolls inside its own box, never the page
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  out.scrollWidthOpen = document.documentElement.scrollWidth;
  out.details = document.querySelectorAll("details").length;
  var pre = document.createElement("pre");
  pre.id = "vb-layout-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 500); });
</script>
"""


def browser() -> str:
    found = os.environ.get("VECBENCH_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        pytest.skip(
            f"no Chromium binary ({', '.join(BROWSERS)}) on PATH; scripts/install-engines.sh installs one"
        )
    return found


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium offline (every host lookup fails, every proxy goes nowhere)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        *([] if any(a.startswith("--window-size=") for a in args) else [f"--window-size={WIDTH},{HEIGHT}"]),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


def first_screen(page: Path, tmp_path: Path, name: str = "first-screen.png") -> Path:
    """A screenshot of the page's first screen (1280x800), saved under ``tmp_path``."""
    shot = tmp_path / name
    chromium(tmp_path, "--virtual-time-budget=10000", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000
    return shot


def measure(page: Path, tmp_path: Path) -> dict[str, Any]:
    """Run the layout check in a copy of ``page`` and return what it measured.

    The copy's policy also allows the check's own inline script (a static page allows none).
    """
    text = page.read_text(encoding="utf-8")
    text = re.sub(
        r"default-src 'none';([^\"]*?)(; script-src 'unsafe-inline')?\"", _allow_scripts, text, count=1
    )
    probe = tmp_path / f"{page.stem}-layout-check.html"
    probe.write_text(text.replace("</body>", _CHECK + "</body>", 1), encoding="utf-8")
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'<pre id="vb-layout-check">(.*?)</pre>', dom, re.S)
    assert found, "the layout check did not run in the page"
    return json.loads(html.unescape(found.group(1)))


def _allow_scripts(m: re.Match[str]) -> str:
    return f"default-src 'none';{m.group(1)}; script-src 'unsafe-inline'\""


def assert_layout(result: dict[str, Any], *, min_plots: int = 1) -> None:
    """No horizontal overflow, every plot drawn and readable, nothing outside its figure,
    and the first plot (the first Pareto front) wholly within the first screen."""
    assert result["scrollWidth"] <= result["innerWidth"], (
        f"the page scrolls sideways: {result['scrollWidth']} > {result['innerWidth']} px"
    )
    assert result["scrollWidthOpen"] <= result["innerWidth"], (
        f"with its {result['details']} collapsed sections open, the page scrolls sideways: "
        f"{result['scrollWidthOpen']} > {result['innerWidth']} px"
    )
    assert result["answerTablesClipped"] == 0, "a first-screen table is cut: it scrolls inside its box"
    plots = result["plots"]
    assert len(plots) >= min_plots, f"{len(plots)} plot(s), expected at least {min_plots}"
    for p in plots:
        where = f"{p['kind']} plot {p['id']} at y={p['top']:.0f}"
        assert p["drawn"], f"{where} was not drawn"
        assert p["width"] >= MIN_PLOT[0] and p["height"] >= MIN_PLOT[1], (
            f"{where} is {p['width']:.0f}x{p['height']:.0f} px, under {MIN_PLOT[0]}x{MIN_PLOT[1]}"
        )
        assert not p["outside"], f"{where}: outside its figure: {p['outside'][:5]}"
        if p["kind"] == "plotly":
            assert p["traces"] >= 1, f"{where} has no trace"
    first = plots[0]
    assert first["top"] < HEIGHT and first["top"] + first["height"] <= HEIGHT, (
        f"the first plot spans y={first['top']:.0f}..{first['top'] + first['height']:.0f}, "
        f"not within the first screen (0..{HEIGHT})"
    )
