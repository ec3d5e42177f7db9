"""Notebook conveniences: charts that show in JupyterLab and survive an offline HTML export.

JupyterLab's bundled Vega-Lite extension stops at v5, and ``nbconvert`` HTML has no Vega
runtime (its templates pull scripts from CDNs). The ``feasibility`` renderer emits a static
SVG plus the Vega-Lite 6 spec, so every frontend and every export shows the SVG and a
frontend that knows Vega-Lite 6 can redraw it interactively. :func:`export_notebook_html` writes an export with no code cells and no
script loaded from the network.

Disclosure: a notebook is the analyst's working view (exact counts, inside the data
environment). An export is for sharing, so by default :func:`export_notebook_html` keeps
only the cells tagged ``share`` (whose numbers the notebook passed through
:class:`feasibility.disclosure.Policy`); exporting everything is possible and stamps
every page "internal use — not for sharing".
"""

from __future__ import annotations

import re
from pathlib import Path

import altair as alt

_RENDERER = "feasibility"
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>|"
    r"<script\b[^>]*type=[\"']module[\"'][^>]*>.*?https?://.*?</script>",
    re.IGNORECASE | re.DOTALL,
)


def _renderer(spec: dict, **metadata) -> tuple[dict, dict]:
    from altair.vegalite.v6.display import svg_renderer

    # Altair 6 names its mimetype "application/vnd.vegalite.v6.json", which nbformat rejects
    # as a JSON payload; the "+json" spelling is valid and lets a frontend that knows
    # Vega-Lite 6 render it interactively. Everyone else shows the SVG.
    bundle = {"application/vnd.vegalite.v6+json": spec, "text/plain": "<altair chart>"}
    bundle.update(svg_renderer(spec, **metadata))
    return bundle, {}


def use_offline_renderer() -> None:
    """Make Altair display charts as a static SVG plus the Vega-Lite spec (safe offline and in exports)."""
    if _RENDERER not in alt.renderers.names():
        alt.renderers.register(_RENDERER, _renderer)
    alt.renderers.enable(_RENDERER)


SHARE_TAG = "share"


def _stamp(html: str, notice: str) -> str:
    banner = (
        '<div id="internal-banner" style="background:#8b0000;color:#fff;padding:8px 14px;'
        f"font:bold 14px sans-serif\">{notice.upper()}: exact counts, from the analyst's "
        "working notebook. Do not share.</div>"
    )
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, html, count=1)


def export_notebook_html(
    notebook: str | Path,
    out: str | Path,
    *,
    no_input: bool = True,
    shared_only: bool = True,
) -> Path:
    """Export an executed notebook to one HTML file a reader without Python can open offline.

    With ``shared_only`` (default) only the cells tagged ``share`` are exported: the ones
    whose numbers went through the disclosure policy. ``shared_only=False`` exports every
    cell and stamps the page "internal use — not for sharing". Code cells are hidden when
    ``no_input`` (as ``jupyter nbconvert --no-input``), and every ``<script>`` the template
    would load from the internet (require.js, MathJax, Mermaid) is removed: the page is
    static, charts are the SVGs the ``feasibility`` renderer stored.
    """
    import nbformat
    from nbconvert import HTMLExporter

    from feasibility.disclosure import INTERNAL_NOTICE

    nb = nbformat.read(str(notebook), as_version=4)
    if shared_only:
        nb.cells = [c for c in nb.cells if SHARE_TAG in c.get("metadata", {}).get("tags", [])]
    exporter = HTMLExporter(
        template_name="lab", exclude_input=no_input, exclude_input_prompt=no_input
    )
    exporter.exclude_output_prompt = no_input
    html, _ = exporter.from_notebook_node(nb)
    html = _REMOTE_SCRIPT.sub("", html)
    if not shared_only:
        html = _stamp(html, INTERNAL_NOTICE)
    out = Path(out)
    out.write_text(html, encoding="utf-8")
    return out
