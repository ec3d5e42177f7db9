"""Load the data-quality suites into GX suites and plain check records.

The JSON files are GX Core 1.x suites, reviewed in ``expectations/`` and shipped inside the
package as ``feasibility/quality/suites/*.json`` (both written by ``expectations/_build.py``;
a test keeps them identical), so an installed ``feasibility`` validates without the source
tree. Each expectation's ``meta`` names the project's check id, Kahn category, severity,
the fields its failing rows affect, tolerance and rationale (see ``expectations/_build.py``);
which protocol criteria read those fields is worked out at run time
(:mod:`feasibility.quality.links`). :class:`Check` is the runner's view of one expectation:
which frame it runs on, its row condition, and the GX expectation to run *without* the
condition (the runner filters rows on the polars side, once per condition).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the suites are read from: the package copy (override with FEASIBILITY_EXPECTATIONS).
SUITE_DIR = Path(
    os.environ.get("FEASIBILITY_EXPECTATIONS", Path(__file__).resolve().parent / "suites")
)

CATEGORIES = ("conformance", "completeness", "plausibility")
SEVERITIES = ("error", "warning", "info")
FRAMES = ("rows", "schema", "inventory", "patient_window")
META_KEYS = ("affects", "category", "check", "field", "frame", "rationale", "severity", "title")


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as the runner and the summary see it."""

    suite: str
    check: str
    type: str
    kwargs: dict[str, Any]
    field: str
    category: str
    severity: str
    affects: tuple[tuple[str, str, str | None], ...]
    rationale: str
    frame: str
    condition: tuple[str, str] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def table(self) -> str:
        """The registry table the check is about (for the inventory suite: the table named)."""
        return self.field if self.suite == "registry" else self.suite

    @property
    def column(self) -> str | None:
        """The column GX reads (may be derived, e.g. ``value_canonical``)."""
        return self.kwargs.get("column")

    @property
    def title(self) -> str:
        """The readable name of a finding of this check."""
        return str(self.meta.get("title") or self.check)

    @property
    def condition_text(self) -> str:
        return f"{self.condition[0]} == {self.condition[1]!r}" if self.condition else ""

    def config(self) -> dict[str, Any]:
        """GX expectation configuration without the row condition (applied by the runner)."""
        kwargs = {
            k: v for k, v in self.kwargs.items() if k not in ("row_condition", "condition_parser")
        }
        return {"type": self.type, "kwargs": kwargs, "meta": {"check": self.check}}


def suite_files(directory: Path | None = None) -> dict[str, Path]:
    """Suite name -> JSON file, for every ``*.json`` in the suite directory."""
    root = Path(directory) if directory else SUITE_DIR
    return {p.stem: p for p in sorted(root.glob("*.json"))}


def load_suite_json(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The raw JSON dict of one suite."""
    path = suite_files(directory).get(name)
    if path is None:
        raise FileNotFoundError(f"no data-quality suite {name!r} in {directory or SUITE_DIR}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_gx_suite(name: str, directory: Path | None = None):
    """The suite as a ``great_expectations.ExpectationSuite``."""
    from feasibility.quality.gxrun import gx

    return gx.ExpectationSuite(**load_suite_json(name, directory))


def _condition(raw: Any) -> tuple[str, str] | None:
    if raw is None:
        return None
    if (
        isinstance(raw, dict)
        and raw.get("type") == "comparison"
        and raw.get("operator") == "=="
        and isinstance(raw.get("column"), dict)
    ):
        return raw["column"]["name"], raw["parameter"]
    raise ValueError(f"unsupported row_condition in a data-quality suite: {raw!r}")


def load_checks(directory: Path | None = None) -> list[Check]:
    """Every expectation of every suite as a :class:`Check`, suites in file-name order."""
    out: list[Check] = []
    for name in suite_files(directory):
        for exp in load_suite_json(name, directory)["expectations"]:
            meta = exp.get("meta") or {}
            missing = [k for k in META_KEYS if k not in meta]
            if missing:
                raise ValueError(f"suite {name}: expectation {exp['type']} lacks meta {missing}")
            out.append(
                Check(
                    suite=name,
                    check=meta["check"],
                    type=exp["type"],
                    kwargs=dict(exp["kwargs"]),
                    field=meta["field"],
                    category=meta["category"],
                    severity=meta["severity"],
                    affects=tuple((t, c, sel) for t, c, sel in meta["affects"]),
                    rationale=meta["rationale"],
                    frame=meta["frame"],
                    condition=_condition(exp["kwargs"].get("row_condition")),
                    meta=meta,
                )
            )
    return out
