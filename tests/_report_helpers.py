"""Helpers for the report tests: a small random registry written as real CSV files,
loaded with the real loader and screened with the real engine; headless Chromium runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

INDEX = dt.date(2024, 6, 30)


def _days(rng: np.random.Generator, lo: int, hi: int, n: int) -> list[dt.date]:
    return [INDEX - dt.timedelta(days=int(x)) for x in rng.integers(lo, hi, n)]


def write_registry(out: Path, n: int = 600, seed: int = 7) -> Path:
    """A plausible myeloma registry: most patients have myeloma and a prior line; labs
    are recent for most, missing for some; a few exclusions. CSV, one file per table."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = [f"P{i:05d}" for i in range(n)]
    births = [dt.date(1935, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 365 * 45, n)]
    pl.DataFrame(
        {
            "patient_id": ids,
            "sex": rng.choice(["F", "M", "U"], n, p=[0.44, 0.55, 0.01]).tolist(),
            "birth_date": births,
            "race": rng.choice(
                ["White", "Black", "Asian", "Other", None], n, p=[0.62, 0.2, 0.08, 0.04, 0.06]
            ).tolist(),
            "ethnicity": rng.choice(
                ["Not Hispanic", "Hispanic", None], n, p=[0.82, 0.13, 0.05]
            ).tolist(),
            "site": rng.choice(
                ["North", "South", "East", "West"], n, p=[0.35, 0.3, 0.25, 0.1]
            ).tolist(),
            "death_date": [
                INDEX - dt.timedelta(days=30) if x < 0.04 else None for x in rng.random(n)
            ],
        }
    ).write_csv(out / "patients.csv")
    has_mm = rng.random(n) < 0.93
    dx = pl.DataFrame(
        {
            "patient_id": [i for i, m in zip(ids, has_mm, strict=True) if m],
            "code": rng.choice(["C90.00", "C9001", "c90.10", "C90.2"], int(has_mm.sum())).tolist(),
            "diagnosed_on": _days(rng, 400, 2000, int(has_mm.sum())),
        }
    )
    extra_n = n // 12
    extra = pl.DataFrame(
        {
            "patient_id": rng.choice(ids, extra_n).tolist(),
            "code": rng.choice(["C50.9", "I48.0", "B18.1", "K90.0", "C44.9"], extra_n).tolist(),
            "diagnosed_on": _days(rng, 0, 300, extra_n),
        }
    )
    pl.concat([dx, extra]).write_csv(out / "diagnoses.csv")
    treated = rng.random(n) < 0.9
    pl.DataFrame(
        {
            "patient_id": [i for i, t in zip(ids, treated, strict=True) if t],
            "line_number": [1] * int(treated.sum()),
            "regimen": ["VRd"] * int(treated.sum()),
            "start_date": _days(rng, 200, 900, int(treated.sum())),
            "end_date": _days(rng, 30, 199, int(treated.sum())),
            "investigational": (rng.random(int(treated.sum())) < 0.03).tolist(),
        }
    ).write_csv(out / "therapies.csv")
    les = rng.random(n) < 0.75
    k = int(les.sum())
    pl.DataFrame(
        {
            "patient_id": [i for i, m in zip(ids, les, strict=True) if m],
            "imaged_on": _days(rng, 0, 120, k),
            "site": ["soft tissue"] * k,
            "longest_diameter_cm": np.round(rng.uniform(0.5, 6, k), 1).tolist(),
            "bone_contiguous": (rng.random(k) < 0.3).tolist(),
        }
    ).write_csv(out / "lesions.csv")
    rows = []
    tests = {
        "creatinine": (1.1, 0.5, "mg/dL"),
        "weight": (75, 15, "kg"),
        "anc": (2500, 1200, "/mm3"),
        "platelets": (150000, 60000, "/mm3"),
        "hemoglobin": (10.5, 1.8, "g/dL"),
        "qtc": (440, 25, "ms"),
        "plasma_cells_pct": (3, 4, "%"),
    }
    for test, (mu, sd, unit) in tests.items():
        have = rng.random(n) < 0.93
        m = int(have.sum())
        vals = np.abs(rng.normal(mu, sd, m))
        rows.append(
            pl.DataFrame(
                {
                    "patient_id": [i for i, h in zip(ids, have, strict=True) if h],
                    "test": [test] * m,
                    "value": np.round(vals, 2).tolist(),
                    "unit": [unit] * m,
                    "measured_on": _days(rng, 0, 33, m),
                }
            )
        )
    pl.concat(rows).write_csv(out / "measurements.csv")
    arows = []
    for item, choices, p in (
        ("childbearing_potential", ["no", "yes"], [0.9, 0.1]),
        ("pregnancy_test", ["negative", "positive"], [0.97, 0.03]),
        ("ecog", ["0", "1", "2", "3"], [0.3, 0.4, 0.2, 0.1]),
        ("neuropathy_grade", ["0", "1", "2", "3"], [0.5, 0.3, 0.15, 0.05]),
        ("neuropathy_pain", ["no", "yes"], [0.7, 0.3]),
        ("diarrhea_grade", ["0", "1", "2"], [0.8, 0.15, 0.05]),
    ):
        have = rng.random(n) < 0.95
        m = int(have.sum())
        arows.append(
            pl.DataFrame(
                {
                    "patient_id": [i for i, h in zip(ids, have, strict=True) if h],
                    "item": [item] * m,
                    "value": rng.choice(choices, m, p=p).tolist(),
                    "assessed_on": _days(rng, 0, 7 if item == "pregnancy_test" else 32, m),
                }
            )
        )
    pl.concat(arows).write_csv(out / "assessments.csv")
    med_n = n // 15
    pl.DataFrame(
        {
            "patient_id": rng.choice(ids, med_n).tolist(),
            "drug": rng.choice(["Ciprofloxacin", "aspirin", "St Johns Wort"], med_n).tolist(),
            "route": [None] * med_n,
            "start_date": _days(rng, 5, 60, med_n),
            "end_date": [None] * med_n,
        },
        schema_overrides={"route": pl.String, "end_date": pl.Date},
    ).write_csv(out / "medications.csv")
    proc_n = n // 20
    pl.DataFrame(
        {
            "patient_id": rng.choice(ids, proc_n).tolist(),
            "category": rng.choice(["major_surgery", "radiotherapy", "other"], proc_n).tolist(),
            "performed_on": _days(rng, 0, 60, proc_n),
        }
    ).write_csv(out / "procedures.csv")
    return out


def screen_registry(path: Path, index: dt.date = INDEX):
    """Load with the real loader and screen with the real engine."""
    from feasibility.engine import screen
    from feasibility.protocol import load_protocol
    from feasibility.registry import load_registry

    registry = load_registry(path)
    protocol = load_protocol("pomalidomide-ixazomib-dex")
    return registry, protocol, screen(registry, protocol, index)


# --------------------------------------------------------------------------- browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--virtual-time-budget=20000",
    "--run-all-compositor-stages-before-draw",
]


#: Set to a browser executable to use it instead of the one found on PATH.
BROWSER_ENV = "FEASIBILITY_CHROMIUM"
#: Chromium-family executables tried on PATH, in order.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: What to run when none is found (Debian's package; CI installs it in .ci/run).
INSTALL_HINT = "sudo apt-get update && sudo apt-get install -y chromium"
#: Start of the skip reason; conftest.py repeats such skips in a banner at the end of the run.
NOT_RUN = "BROWSER TEST NOT RUN"


def in_ci() -> bool:
    """True when the CI variable is set to anything but an empty/false value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_browser() -> str | None:
    """The headless browser to use: $FEASIBILITY_CHROMIUM, else the first of
    BROWSER_NAMES on PATH, else None."""
    override = os.environ.get(BROWSER_ENV, "").strip()
    if override:
        return shutil.which(override) or (override if Path(override).is_file() else None)
    for name in BROWSER_NAMES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def chromium() -> str:
    """The browser executable. Without one, the calling test is skipped with a reason
    that names the install command (and conftest.py prints a banner) -- except under CI
    (CI=true), where a missing browser fails the test: CI must run it."""
    import pytest

    exe = find_browser()
    if exe:
        return exe
    where = (
        f"${BROWSER_ENV}={os.environ[BROWSER_ENV]!r} is not an executable"
        if os.environ.get(BROWSER_ENV, "").strip()
        else f"none of {', '.join(BROWSER_NAMES)} is on PATH"
    )
    if in_ci():
        pytest.fail(
            f"no headless browser under CI ({where}); .ci/run installs it: {INSTALL_HINT}",
            pytrace=False,
        )
    pytest.skip(
        f"{NOT_RUN}: no headless browser ({where}). Install one with `{INSTALL_HINT}` "
        f"(or set {BROWSER_ENV}=/path/to/chrome) and run the tests again."
    )


#: Seconds one Chromium run may take before it counts as hung, and how many runs to try.
#: Headless Chromium occasionally hangs on a page it has rendered before (seen once in CI:
#: a --screenshot run of a report whose --dump-dom had just finished); a hang is the
#: browser's, not the report's, so it is killed with its whole process group and tried
#: again with a fresh profile. Any run that finishes is the one whose output is checked.
CHROMIUM_TIMEOUT = 120
CHROMIUM_ATTEMPTS = 3


def run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium with ``CHROMIUM_FLAGS`` and ``args`` (HOME and a fresh profile
    under ``tmp``); a run that hangs past ``CHROMIUM_TIMEOUT`` is killed with its child
    processes and tried again, up to ``CHROMIUM_ATTEMPTS`` runs in all."""
    exe = chromium()
    env = dict(os.environ, HOME=str(tmp))
    hung: list[str] = []
    for attempt in range(1, CHROMIUM_ATTEMPTS + 1):
        profile = Path(tempfile.mkdtemp(prefix=f"chromium-profile-{attempt}-", dir=tmp))
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: a hang is killed whole
        )
        try:
            out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            hung.append(f"run {attempt}: {(err or '').strip().splitlines()[-3:]}")
            continue
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    raise AssertionError(
        f"headless Chromium hung {CHROMIUM_ATTEMPTS} times (over {CHROMIUM_TIMEOUT} s each) "
        f"on {args[-1]}: " + "; ".join(hung)
    )


def render_in_chromium(html: Path, tmp: Path, screenshot: Path | None = None) -> dict:
    """Open ``html`` in headless Chromium with networking off; return the page's render
    status (charts rendered, marks drawn, script errors) and Chromium's console log."""
    dom = run_chromium(["--dump-dom", html.resolve().as_uri()], tmp)
    m = re.search(r'<pre id="render-status">(.*?)</pre>', dom.stdout, re.DOTALL)
    status = json.loads(_unescape(m.group(1))) if m and m.group(1).strip() else {}
    status["console"] = dom.stderr
    if screenshot is not None:
        run_chromium(
            [
                f"--screenshot={screenshot}",
                "--window-size=1280,4200",
                "--hide-scrollbars",
                html.resolve().as_uri(),
            ],
            tmp,
        )
    return status


def dump_dom(html: Path, tmp: Path) -> str:
    """The DOM of ``html`` after its scripts ran in headless Chromium (networking off)."""
    return run_chromium(["--dump-dom", html.resolve().as_uri()], tmp).stdout


def _unescape(text: str) -> str:
    import html as _html

    return _html.unescape(text)


def remote_references(html_text: str) -> list[str]:
    """``src``/``href`` attributes and CSS url()/@import pointing at the network."""
    refs = re.findall(
        r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(https?:)?//[^"'\s>]*""",
        html_text,
        re.I,
    )
    refs += re.findall(
        r"""@import\s+url\(\s*["']?https?://|url\(\s*["']?https?://""", html_text, re.I
    )
    return refs
