"""Synthetic myeloma registry: the eight contract tables, realistic and reproducible.

``generate_registry(n_patients, seed, out_dir, format="parquet", defects="realistic",
setting="population")`` writes a registry drawn from a simulated disease course
(``lines.py``, ``state.py``) observed as care records it (``visits.py``), whose
distributions follow the figures in ``targets.py`` and ``sources.md`` and whose planted
data-quality defects are listed row by row in ``_defects.csv``.
"""

from __future__ import annotations

from feasibility.synth.defects import DEFECT_CLASSES, rates_for
from feasibility.synth.defects import LEVELS as DEFECT_LEVELS
from feasibility.synth.generate import DEFECTS_FILE, MANIFEST_FILE, SynthError, generate_registry
from feasibility.synth.settings import SETTINGS
from feasibility.synth.targets import TARGETS

__all__ = [
    "DEFECT_CLASSES",
    "DEFECT_LEVELS",
    "DEFECTS_FILE",
    "MANIFEST_FILE",
    "SETTINGS",
    "SynthError",
    "TARGETS",
    "generate_registry",
    "rates_for",
]
