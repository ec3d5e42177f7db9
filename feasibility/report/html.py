"""HTML pieces of the report: escaped tables, chart slots, and the offline Vega runtime.

The page loads nothing from the network. Vega, Vega-Lite and vega-embed come from
``vl_convert.javascript_bundle()`` and are inlined once; every chart's spec sits in its
own ``<script type="application/json">`` block and is embedded by its own ``vegaEmbed``
call (SVG renderer, so marks are DOM elements). A small status script records, per
chart, whether it rendered and how many marks it drew, plus any script error, into
``<pre id="render-status">`` so a headless browser test can read it from the DOM.
"""

from __future__ import annotations

import functools
import html
import json
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import altair as alt


def esc(value: Any) -> str:
    """HTML-escape any value (None -> empty)."""
    return "" if value is None else html.escape(str(value))


def _cache_file() -> Path | None:
    import vl_convert as vlc

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    key = (
        f"{vlc.get_vega_version()}-{vlc.get_vega_embed_version()}-{vlc.get_vegalite_versions()[-1]}"
    )
    return Path(base) / "feasibility" / f"vega-bundle-{key}.js"


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (~1 MB). Bundling takes seconds, so the
    result is kept in memory and in the user's cache directory, keyed by the versions."""
    import vl_convert as vlc

    cache = _cache_file()
    try:
        if cache is not None and cache.is_file():
            return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    # the stub makes ``snippet`` required; at run time it defaults to the snippet that
    # assigns vegaEmbed, vegaLite and vega to globals, which the page needs
    bundle = vlc.javascript_bundle()  # type: ignore[call-arg]
    text = bundle.replace("</script", "<\\/script")
    try:
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, cache)
    except OSError:  # a read-only home is fine: just no cache
        pass
    return text


def stylesheet() -> str:
    return resources.files("feasibility.report").joinpath("style.css").read_text(encoding="utf-8")


def spec_json(chart: alt.TopLevelMixin) -> str:
    """The chart's Vega-Lite spec as JSON safe inside a <script> element.

    ``<``, ``>`` and ``&`` (and the JavaScript line separators) are written as ``\\u``
    escapes, so no registry or protocol string can close the element, open a comment
    (``<!--``) or start markup: JSON.parse reads the same text back. Schema validation is
    skipped here for speed: every chart function's output is validated against the
    Vega-Lite schema in the chart tests."""
    spec = chart.to_dict(validate=False)
    return json_for_script(spec)


_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_for_script(value: Any) -> str:
    """``value`` as JSON that is inert inside ``<script type="application/json">``."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, rep in _SCRIPT_ESCAPES.items():
        text = text.replace(ch, rep)
    return text


def chart_slot(chart_id: str, chart: alt.TopLevelMixin, caption: str = "") -> str:
    """A chart's container, its JSON spec, and an optional caption."""
    cap = f'<p class="note">{esc(caption)}</p>' if caption else ""
    return (
        f'<div class="chart" id="chart-{esc(chart_id)}" data-chart="{esc(chart_id)}"></div>'
        f'<script type="application/json" id="spec-{esc(chart_id)}">{spec_json(chart)}</script>'
        f"{cap}"
    )


EMBED_SCRIPT = """
(function () {
  var status = {errors: [], charts: {}};
  function save() {
    var el = document.getElementById('render-status');
    if (el) { el.textContent = JSON.stringify(status); }
  }
  window.addEventListener('error', function (e) { status.errors.push(String(e.message)); save(); });
  var consoleError = console.error;
  console.error = function () {
    status.errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    save();
    return consoleError.apply(console, arguments);
  };
  window.addEventListener('unhandledrejection', function (e) {
    status.errors.push('unhandled: ' + String(e.reason)); save();
  });
  var slots = document.querySelectorAll('div.chart[data-chart]');
  var pending = [];
  slots.forEach(function (slot) {
    (function (id) {
      var spec = JSON.parse(document.getElementById('spec-' + id).textContent);
      status.charts[id] = {rendered: false, marks: 0};
      pending.push(
        vegaEmbed('#chart-' + id, spec, {renderer: 'svg', actions: false})
          .then(function (res) {
            var marks = slot.querySelectorAll('g.role-mark > *').length;
            status.charts[id] = {rendered: true, marks: marks};
            save();
          })
          .catch(function (err) {
            status.charts[id] = {rendered: false, marks: 0, error: String(err)};
            status.errors.push(id + ': ' + String(err));
            save();
          })
      );
    })(slot.getAttribute('data-chart'));
  });
  Promise.all(pending).then(function () { status.done = true; save(); });
  // printing: open the folded lists so the paper copy is complete
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  });
  save();
})();
"""


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str, str]],
    *,
    hidden: Callable[[dict[str, Any], str], bool] | None = None,
    hidden_label: str = "hidden",
) -> str:
    """An HTML table. ``columns`` are (key, header, kind) with kind in
    ``text``/``num``/``pct``/``src``/``rule``/``html``; a None in a num/pct column means
    hidden (as does ``hidden(row, key)`` returning true) and prints ``hidden_label``
    ("≤10"), or "—" for a percentage."""
    head = "".join(
        f'<th class="num">{esc(title)}</th>' if kind in ("num", "pct") else f"<th>{esc(title)}</th>"
        for _, title, kind in columns
    )
    body = []
    for row in rows:
        cells = []
        for key, _, kind in columns:
            v = row.get(key)
            is_hidden = (hidden is not None and hidden(row, key)) or (
                kind in ("num", "pct") and v is None
            )
            if is_hidden:
                label = "—" if kind == "pct" else hidden_label
                cells.append(f'<td class="num hidden-cell">{esc(label)}</td>')
            elif kind == "num":
                cells.append(f'<td class="num">{"" if v is None else f"{v:,}"}</td>')
            elif kind == "pct":
                cells.append(f'<td class="num">{"" if v is None else f"{v:.1f}%"}</td>')
            elif kind == "html":
                cells.append(f"<td>{v or ''}</td>")
            elif kind in ("src", "rule"):
                cells.append(f'<td class="{kind}">{esc(v)}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
