"""The repository stands alone: no file points at documents outside it (docs/ restates what the code relies
on, citing public sources)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The working notes this project was started from lived in a folder beside the checkout; none of it ships,
# so no file may name it. The needles are assembled here so that this file does not name it either.
_NOTES = "sha" + "red"
OUTSIDE = (f"../{_NOTES}", f"{_NOTES}/reference", f"{_NOTES}/design")


def test_no_tracked_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    found = []
    for name in tracked:
        path = ROOT / name
        if name == "tests/test_stands_alone.py" or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert found == []
