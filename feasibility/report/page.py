"""The report page: the sections' HTML inside one self-contained document (style, the
offline Vega runtime, the table of contents, the internal-use banner)."""

from __future__ import annotations

from collections.abc import Sequence

from feasibility import citation
from feasibility.report import html as H
from feasibility.report.data import ReportData

#: Table of contents: (section id, link text), in page order; a link shows only when its
#: section is on the page.
NAV = [
    ("summary", "Summary"),
    ("protocol", "Protocol"),
    ("funnel", "Funnel"),
    ("consort", "Flow"),
    ("impact", "Impact"),
    ("cohort", "Cohort"),
    ("thresholds", "Thresholds"),
    ("quality", "Data quality"),
    ("omop", "OMOP source"),
    ("provenance", "Provenance"),
    ("method", "Method"),
]


def render_page(d: ReportData, parts: Sequence[str]) -> str:
    """The whole HTML document around the sections' HTML ``parts``."""
    protocol, pol, now, info = d.protocol, d.policy, d.now, d.info
    title = f"Feasibility report: {getattr(protocol, 'title', '') or protocol.id}"
    banner = (
        f'<div class="banner-internal" id="internal-banner">{H.esc(pol.notice.upper())}: '
        "this report can show exact counts from 1 to 10. Do not share.</div>"
        if pol.internal
        else ""
    )
    present = {p.split('id="', 1)[1].split('"', 1)[0] for p in parts if 'id="' in p}
    nav = "".join(f'<a href="#{sid}">{H.esc(name)}</a>' for sid, name in NAV if sid in present)
    meta = (
        f"Protocol <strong>{H.esc(protocol.id)}</strong> "
        f"(file sha256 {H.esc(citation.fingerprint(protocol)) or '—'}) · generated "
        f"{now.strftime('%Y-%m-%d %H:%M')} UTC · registry {H.esc(info.fingerprint[:12]) or '—'}"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{H.esc(title)}</title>
<style>{H.stylesheet()}</style>
</head>
<body data-suppression="{"on" if pol.enabled else "off"}" data-disclosure="{pol.method}" data-threshold="{pol.threshold}" data-internal="{"yes" if pol.internal else "no"}">
{banner}
<header class="top"><h1>{H.esc(title)}</h1><div class="meta">{meta}</div></header>
<nav class="toc">{nav}</nav>
<main>
{"".join(parts)}
</main>
<pre id="render-status"></pre>
<script>{H.vega_bundle()}</script>
<script>{H.EMBED_SCRIPT}</script>
</body>
</html>
"""
