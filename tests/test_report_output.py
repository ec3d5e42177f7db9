"""The output folder of screen, validate and report: a file as --out is refused before
any work, a second run into a locked --out is refused, stale owned files are removed,
an interrupted run leaves the previous outputs whole."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest
from _report_helpers import write_registry

from feasibility.cli import main
from feasibility.commands import _output
from feasibility.errors import FeasibilityError


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    return write_registry(tmp_path_factory.mktemp("reg") / "reg", n=80, seed=2)


def _report(reg, out, *extra) -> int:
    args = ["report", "--data", str(reg), "--index-date", "2024-06-30", "--out", str(out)]
    return main([*args, "--quiet", *extra])


@pytest.mark.parametrize("command", ["report", "screen", "validate"])
def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, command) -> None:
    target = tmp_path / "out.txt"
    target.write_text("keep me", encoding="utf-8")
    # the registry does not even exist: the --out check comes first
    args = [command, "--data", str(tmp_path / "nothing"), "--out", str(target), "--quiet"]
    if command != "validate":
        args += ["--index-date", "2024-06-30"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err
    assert target.read_text(encoding="utf-8") == "keep me"


def test_stale_owned_files_are_removed(reg, tmp_path) -> None:
    out = tmp_path / "out"
    assert _report(reg, out) == 0
    assert (out / "data_quality.csv").exists()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert _report(reg, out, "--no-validation") == 0
    assert not (out / "data_quality.csv").exists()  # not written by this run: removed
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"  # not ours: kept
    assert (out / "report.html").exists() and (out / "funnel.csv").exists()
    assert not list(out.glob(".report-*"))


def test_locked_out_is_refused(reg, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / _output.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(FeasibilityError, match="another feasibility run"):
            with _output.output_dir(out, "report"):
                pass
        assert _report(reg, out) == 2
        assert not (out / "report.html").exists()
    finally:
        os.close(fd)
    assert _report(reg, out) == 0  # released: the next run proceeds


def test_error_inside_leaves_previous_outputs(tmp_path) -> None:
    out = tmp_path / "out"
    with _output.output_dir(out, "report") as tmp:
        (tmp / "report.html").write_text("old", encoding="utf-8")
        (tmp / "funnel.csv").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with _output.output_dir(out, "report") as tmp:
            (tmp / "funnel.csv").write_text("new", encoding="utf-8")
            raise RuntimeError("killed half way")
    assert (out / "funnel.csv").read_text(encoding="utf-8") == "old"
    assert (out / "report.html").read_text(encoding="utf-8") == "old"
    assert not list(out.glob(".report-*"))


def test_sigterm_mid_run_leaves_previous_outputs(tmp_path) -> None:
    out = tmp_path / "out"
    with _output.output_dir(out, "report") as tmp:
        (tmp / "report.html").write_text("old", encoding="utf-8")
    code = (
        "import time, sys\n"
        "from feasibility.commands._output import output_dir\n"
        f"with output_dir({str(out)!r}, 'report') as tmp:\n"
        "    (tmp / 'funnel.csv').write_text('new')\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "    (tmp / 'report.html').write_text('new')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert (out / "report.html").read_text(encoding="utf-8") == "old"
    assert not (out / "funnel.csv").exists()
    assert not list(out.glob(".report-*"))
