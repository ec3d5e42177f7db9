"""The main notebook runs on an OMOP CDM database (Synthea27Nj) as on a native registry."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
DATA = ROOT / "tests" / "data" / "omop_synthea27nj"


@pytest.mark.slow
def test_main_notebook_runs_on_omop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEASIBILITY_DATA", str(DATA))
    monkeypatch.setenv("FEASIBILITY_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(str(ROOT / "notebooks" / "01_pomalidomide_ixazomib_dex.ipynb"), 4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )  # fmt: skip
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs
        if o.get("output_type") == "error"
    ]  # fmt: skip
    assert not errors
    assert (tmp_path / "out" / "report.html").exists()
    # the report says why the OMOP database lacks lines of therapy
    assert "therapies absent" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
