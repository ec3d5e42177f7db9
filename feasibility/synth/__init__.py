"""Synthetic myeloma registry: the eight contract tables, realistic and reproducible.

``generate_registry(n_patients, seed, out_dir, format="parquet", defects="realistic")``
writes a registry whose distributions follow published figures (``sources.md``) and
whose planted data-quality defects are listed row by row in ``_defects.csv``.
"""

from __future__ import annotations

from feasibility.synth.defects import DEFECT_CLASSES, rates_for
from feasibility.synth.defects import LEVELS as DEFECT_LEVELS
from feasibility.synth.generate import DEFECTS_FILE, MANIFEST_FILE, SynthError, generate_registry
from feasibility.synth.targets import TARGETS

__all__ = [
    "DEFECT_CLASSES",
    "DEFECT_LEVELS",
    "DEFECTS_FILE",
    "MANIFEST_FILE",
    "SynthError",
    "TARGETS",
    "generate_registry",
    "rates_for",
]
