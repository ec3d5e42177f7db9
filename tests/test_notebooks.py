"""The analyst notebooks run clean top to bottom on data_samples/, are committed without
outputs, and export to an HTML page that needs no network and still shows the charts."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from feasibility.notebook import export_notebook_html

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_two_notebooks():
    names = [p.name for p in ALL]
    assert any("pomalidomide" in n for n in names)
    assert any("protocol" in n for n in names)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, tuple[nbformat.NotebookNode, Path]]:
    out = {}
    for path in ALL:
        work = tmp_path_factory.mktemp(path.stem)
        os.environ["FEASIBILITY_OUT"] = str(work / "out")
        nb = nbformat.read(str(path), as_version=4)
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        )
        client.execute()  # raises CellExecutionError on the first failing cell
        executed_path = work / path.name
        nbformat.write(nb, str(executed_path))
        out[path.stem] = (nb, work)
    os.environ.pop("FEASIBILITY_OUT", None)
    return out


@pytest.mark.slow
def test_notebooks_run_clean(executed):
    for _name, (nb, _work) in executed.items():
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            assert all(o.get("output_type") != "error" for o in cell.outputs)
            # quiet: no progress bars, warnings or logging noise from GX, polars or altair
            stderr = [o for o in cell.outputs if o.get("name") == "stderr"]
            assert not stderr, (cell.source[:80], [o["text"][:200] for o in stderr])


@pytest.mark.slow
def test_main_notebook_writes_the_report(executed):
    _nb, work = executed["01_pomalidomide_ixazomib_dex"]
    report = work / "out" / "report.html"
    assert report.is_file() and report.stat().st_size > 100_000
    assert (work / "out" / "funnel.csv").is_file()


@pytest.mark.slow
def test_charts_stored_as_svg_and_vega_lite(executed):
    nb, _work = executed["01_pomalidomide_ixazomib_dex"]
    bundles = [
        o["data"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") in ("display_data", "execute_result")
    ]
    charts = [b for b in bundles if "application/vnd.vegalite.v6+json" in b]
    assert len(charts) >= 6
    assert all("image/svg+xml" in b and "<svg" in b["image/svg+xml"] for b in charts)


@pytest.mark.slow
def test_export_keeps_only_shared_cells_through_the_policy(executed, tmp_path):
    nb, work = executed["01_pomalidomide_ixazomib_dex"]
    path = work / "01_pomalidomide_ixazomib_dex.ipynb"
    html = export_notebook_html(path, tmp_path / "shared.html").read_text()
    assert "The attrition funnel at each relapse, as shared" in html
    assert "Load the registry" not in html  # the working cells stay behind
    assert "≤10" in html and "internal-banner" not in html
    shared = [c for c in nb.cells if "share" in c.metadata.get("tags", [])]
    assert shared and all(
        o.get("output_type") != "error" for c in shared for o in c.get("outputs", [])
    )
    # every count in the shared table is 0 or a multiple of 5 above 10
    for c in shared:
        for o in c.get("outputs", []):
            text = o.get("data", {}).get("text/plain", "")
            for row in re.findall(
                r"│ (\d+)\s+┆ [^┆]+┆ (\d+|null)\s+┆ (\d+|null)\s+┆ (\d+|null)", text
            ):
                for v in row[1:]:
                    assert v == "null" or int(v) == 0 or (int(v) > 10 and int(v) % 5 == 0), row


@pytest.mark.slow
def test_funnel_legend_clear_of_labels(executed):
    nb, _work = executed["01_pomalidomide_ixazomib_dex"]
    svgs = [
        o["data"]["image/svg+xml"]
        for c in nb.cells
        if c.cell_type == "code" and "funnel_chart(funnel)" in c.source
        for o in c.outputs
        if "image/svg+xml" in o.get("data", {})
    ]
    assert svgs
    svg = svgs[0]
    # the legend sits above the plot: its entries' y is above every bar label's y
    legend = re.search(
        r'class="mark-group role-legend".*?translate\((-?[\d.]+),(-?[\d.]+)\)', svg, re.S
    )
    assert legend, "no legend"
    assert "5,000 (100.0%)" in svg


@pytest.mark.slow
def test_offline_html_export(executed, tmp_path):
    for name, (_nb, work) in executed.items():
        html_path = export_notebook_html(
            work / f"{name}.ipynb", tmp_path / f"{name}.html", shared_only=False
        )
        html = html_path.read_text()
        assert "INTERNAL USE — NOT FOR SHARING" in html
        # charts survive as static SVG (inline, or as a data: image)
        assert html.count("<svg") + html.count("data:image/svg+xml") >= 2
        assert not re.search(r"<script[^>]+src=[\"']https?://", html)
        assert "import feasibility as fz" not in html  # --no-input: code hidden
