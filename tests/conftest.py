"""Shared pytest configuration. Area-specific fixtures live in tests/_<area>_helpers.py."""

from __future__ import annotations

import os

# Keep GX and tqdm quiet and offline in tests.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

#: Kept equal to tests/_report_helpers.NOT_RUN (not imported: conftest stays light).
BROWSER_NOT_RUN = "BROWSER TEST NOT RUN"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """A test that needs a browser and found none is skipped (outside CI) with the
    install command in its reason; repeat those reasons in a banner at the very end of
    the run so a green run without the browser test cannot pass unnoticed."""
    reasons = []
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(rep, "longrepr", None)
        text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
        text = str(text or "")
        if BROWSER_NOT_RUN in text:
            reasons.append((rep.nodeid, text.removeprefix("Skipped: ")))
    if not reasons:
        return
    tr = terminalreporter
    tr.section(f"{BROWSER_NOT_RUN} ({len(reasons)} test)", sep="!", red=True, bold=True)
    for nodeid, text in reasons:
        tr.write_line(f"{nodeid}: {text}", red=True)
    tr.write_line(
        "The report was NOT checked in a real browser. Install one and run the tests again "
        "(CI, with CI=true, fails instead of skipping).",
        red=True,
        bold=True,
    )
