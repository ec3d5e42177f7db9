"""The data-quality suites ship inside the installed package: a wheel built from the
source tree, installed into a fresh virtual environment outside it, validates the sample
registry (``feasibility validate``) with the suites it carries."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples" / "registry"

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = _run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)]
    )
    if build.returncode != 0 and "Could not find a version" in build.stderr + build.stdout:
        pytest.skip("no package index to fetch the build backend from")
    assert build.returncode == 0, build.stderr[-2000:]
    (path,) = out.glob("feasibility-*.whl")
    return path


def test_the_wheel_carries_every_reviewed_suite(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in sorted((ROOT / "expectations").glob("*.json")):
        assert f"feasibility/quality/suites/{suite.name}" in names, suite.name


def test_installed_wheel_validates_outside_the_source_tree(wheel, tmp_path):
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # dependencies from the running environment (a plain path: its .pth files, such as an
    # editable install of this repository, are not processed); the package from the wheel
    (site / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ]
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FEASIBILITY_EXPECTATIONS")
    }
    where = _run(
        [
            str(python),
            "-c",
            "import feasibility, feasibility.quality.suites as s; "
            "print(feasibility.__file__); print(s.SUITE_DIR)",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    module, suites = where.stdout.split()
    assert module.startswith(str(site)) and suites.startswith(str(site)), where.stdout
    out = tmp_path / "quality"
    done = _run(
        [
            str(python),
            "-c",
            "import sys; from feasibility.cli import main; sys.exit(main(sys.argv[1:]))",
            "validate",
            "--data",
            str(SAMPLE),
            "--out",
            str(out),
            "--protocol",
            "isatuximab-pomalidomide-dex",
            "--index-date",
            "2024-06-30",
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = pl.read_csv(out / "validation_summary.csv", infer_schema_length=None)
    assert summary.height > 100
    assert summary.filter(pl.col("status") == "not_evaluated").height == 0
    mi = summary.filter(pl.col("check") == "diagnoses.code.not_null").row(0, named=True)
    assert "myocardial_infarction" in mi["criteria"]
    for name in ("criterion_readiness.csv", "coverage_by_month.csv"):
        assert (out / name).stat().st_size > 0, name
