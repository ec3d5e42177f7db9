"""feasibility: how many registry patients would qualify for a trial, why the others don't,
and how far the data can be trusted."""

from __future__ import annotations

__version__ = "0.1.0"

from feasibility.errors import FeasibilityError, ProtocolError, RegistryError  # noqa: E402

__all__ = ["__version__", "FeasibilityError", "ProtocolError", "RegistryError"]
