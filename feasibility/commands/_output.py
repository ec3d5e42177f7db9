"""One output directory per command run, written all at once or not at all.

``screen``, ``validate`` and ``report`` write through :func:`output_dir`:

* an ``--out`` that exists and is not a directory is refused by :func:`check_out`,
  called before any work;
* a lock (``OUT/.feasibility.lock``, ``flock``: released by the kernel if the process
  dies) lets one run at a time write into OUT; a second run is refused at once;
* files are written into a temporary folder inside OUT and moved into place at the end
  with SIGINT/SIGTERM held back, so an interrupted run leaves the previous outputs whole;
* files the command owns (its known outputs, and whatever its previous run recorded in
  ``OUT/.feasibility-<command>.json``) that this run did not write are removed, so no
  stale table (a data_quality.csv from a run with validation) sits beside new ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from feasibility.errors import FeasibilityError

#: The files each command may write (stale ones are removed when not rewritten).
OWNED: dict[str, tuple[str, ...]] = {
    "screen": ("patient_status.csv", "funnel.csv", "impact.csv", "evidence.parquet"),
    "validate": (
        "validation_summary.csv",
        "validation_failing_rows.csv",
        "criterion_readiness.csv",
        "coverage_by_month.csv",
        "omop_conformance.csv",
    ),
    "report": (
        "report.html",
        "funnel.csv",
        "impact.csv",
        "cohort.csv",
        "cohort_comparison.csv",
        "thresholds.csv",
        "data_quality.csv",
        "criterion_readiness.csv",
        "quality_by_criterion.csv",
        "coverage_by_month.csv",
    ),
}
LOCK_NAME = ".feasibility.lock"


def check_out(out: str | Path) -> Path:
    """Refuse an ``--out`` that exists and is not a directory (call before any work)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise FeasibilityError(f"--out {path} is a file, not a directory; choose a folder")
    return path


def _manifest(out: Path, command: str) -> Path:
    return out / f".feasibility-{command}.json"


def _previous(out: Path, command: str) -> set[str]:
    try:
        names = json.loads(_manifest(out, command).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    # only plain file names directly in OUT: a manifest never points elsewhere
    return {n for n in names if isinstance(n, str) and n == Path(n).name and not n.startswith(".")}


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FeasibilityError(
                f"another feasibility run is writing to {out}; wait for it or choose another --out"
            ) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM while files move into place (delivered afterwards)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit (so the temporary folder is cleaned up)."""

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        raise SystemExit(128 + signum)

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def output_dir(out: str | Path, command: str) -> Iterator[Path]:
    """Lock ``out``, yield a temporary folder to write into, then move its files into
    ``out`` and remove the command's stale files. On an error nothing in ``out`` changes."""
    out = check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out), _sigterm_as_exit():
        tmp = Path(tempfile.mkdtemp(prefix=f".{command}-", dir=out))
        try:
            yield tmp
            written = sorted(p.name for p in tmp.iterdir() if p.is_file())
            owned = set(OWNED.get(command, ())) | _previous(out, command)
            # report.html (or the first file) last: a reader never sees it beside old tables
            written.sort(key=lambda n: n == "report.html")
            with _signals_held():
                for name in sorted(owned - set(written)):
                    with contextlib.suppress(FileNotFoundError):
                        (out / name).unlink()
                for name in written:
                    os.replace(tmp / name, out / name)
                _manifest(out, command).write_text(json.dumps(written), encoding="utf-8")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
