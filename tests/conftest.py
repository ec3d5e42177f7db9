"""Shared pytest configuration. Area-specific fixtures live in tests/_<area>_helpers.py."""

from __future__ import annotations

import os

# Keep GX and tqdm quiet and offline in tests.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
