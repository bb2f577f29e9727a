"""The HTML report: ``write_html(records, "report.html")`` writes one self-contained page.

matplotlib (``vecbench[report]``) is imported only when a page with plots is drawn.
"""

from __future__ import annotations

from vecbench.report.html import render_html, write_html

__all__ = ["render_html", "write_html"]
