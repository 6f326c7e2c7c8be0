"""Where the checkout is, for tests that read its samples/, schemas/ and mappings/ as files. The package
itself never asks (gateway.bundled finds the shipped defaults)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
