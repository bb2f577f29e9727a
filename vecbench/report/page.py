"""The page shell shared by ``vecbench report`` and ``vecbench compare --html``: CSS, the
Content-Security-Policy, plotly.js inlined once, and figures as divs.

Nothing is fetched: CSS and scripts are inline, images are data URIs, and the policy
forbids every other source. An interactive page carries plotly.js (about 4.6 MB) once;
a static page (``interactive=False``, for mail) carries no script at all.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

__all__ = ["CSS", "csp", "shell", "figure_div", "img"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 2px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #ddd}
h3{font-size:15px;margin:16px 0 6px}.meta{color:#555;margin:0 0 4px;font-size:12.5px}nav{font-size:13px}nav a{margin-right:12px}
.scroll{overflow:auto;max-width:100%;max-height:70vh}table{border-collapse:collapse;margin:6px 0 14px;font-size:12.5px}
th,td{border:1px solid #d0d0d0;padding:3px 7px;vertical-align:top;text-align:left;white-space:nowrap}
td.wrap{white-space:normal;min-width:240px}td.params{white-space:normal;min-width:120px;max-width:260px}
th{background:#eef1f5;position:sticky;top:0}tbody tr:nth-child(even){background:#f8f9fb}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ci{color:#777;font-size:11px}.ok{color:#176f2c}.bad{color:#b00020;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots img{max-width:100%;border:1px solid #e3e3e3;background:#fff}
.answer{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin:8px 0 18px}
.answer .fig-slot{flex:1 1 530px;min-width:480px;max-width:100%}.answer .best{flex:1 1 650px;min-width:0}
.answer .best table{font-size:12px}.answer .best td,.answer .best th{padding:2px 5px}.answer td.params{max-width:160px;min-width:90px}
.answer .best h3{margin-top:4px}.answer img{width:100%;height:auto;border:1px solid #e3e3e3}
.fig{border:1px solid #e3e3e3;background:#fff;min-width:0}.plots>.wide{flex:1 1 100%;max-width:100%}
details{margin:3px 0}summary{cursor:pointer}details>summary{font-weight:600}details.rec>summary{font-weight:400}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:11.5px}
.none{color:#777;font-style:italic}caption{text-align:left;color:#555;font-size:12px;caption-side:bottom}
"""
_ids = itertools.count(1)
# the mode bar keeps save-as-PNG, zoom, pan and reset: fewer icons, clear of the title
_NO_BUTTONS = [
    *("lasso2d", "select2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "toggleSpikelines"),
    *("hoverClosestCartesian", "hoverCompareCartesian", "sendDataToCloud"),
]
# A figure drawn while the page is still arriving takes the width its box had then (a flex
# row without its second item yet); once everything is laid out, each is fitted to its box.
_RESIZE = (
    '<script type="text/javascript">window.addEventListener("load",function(){'
    'document.querySelectorAll(".js-plotly-plot").forEach(function(d){Plotly.Plots.resize(d);});});'
    "</script>"
)


def csp(interactive: bool) -> str:
    """The page's policy: inline styles, data: images, and inline scripts only when interactive."""
    script = "; script-src 'unsafe-inline'" if interactive else ""
    return f"default-src 'none'; img-src data:; style-src 'unsafe-inline'{script}"


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def figure_div(fig: Any, *, height: int, css_class: str = "fig") -> str:
    """A plotly figure as a div and its drawing call (plotly.js itself comes once, in ``shell``)."""
    div_id = f"vb-fig-{next(_ids)}"
    inner = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        default_height=f"{height}px",
        config={"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": _NO_BUTTONS},
    )
    return f'<div class="{css_class} vb-plot">{inner}</div>'


def img(uri: str | None, alt: str) -> str:
    """A PNG data URI as an <img> ("" when there is no image)."""
    return f'<img src="{html.escape(uri)}" alt="{html.escape(alt)}" class="vb-plot">' if uri else ""


def shell(title: str, top: str, body: str, *, interactive: bool) -> str:
    """The whole page: head (CSS, policy, plotly.js when interactive), the title, ``top``
    (meta lines, notices, navigation) and ``body`` (already escaped HTML)."""
    # once per page, and only when a figure needs it
    script = _plotly_js() if interactive and "plotly-graph-div" in body else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp(interactive)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>{script}</head><body>"
        f"<h1>{html.escape(title)}</h1>{top}{body}{_RESIZE if script else ''}</body></html>\n"
    )
