"""Registry loader: read a registry directory (contract section 1) into typed, normalised
polars LazyFrames, stopping with a :class:`~feasibility.errors.RegistryError` on structural
problems and setting aside (never guessing) values outside the contract's vocabularies.

Interface: ``docs/ARCHITECTURE.md``, section "Registry loader".
"""

from __future__ import annotations

from ._loader import Registry, load_registry

__all__ = ["Registry", "load_registry"]
