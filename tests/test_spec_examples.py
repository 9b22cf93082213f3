"""The example import files under tests/fixtures/formats are the spec's own (shared/formats).

The spec folder sits beside the repository on the developers' machines but not in a fresh clone, so the
copies are checked against the SHA-256 sums the spec files had when they were copied, and, where the spec
folder is present, the spec files against those same sums (a changed spec must be copied again)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .helpers import FORMAT_EXAMPLES

SHARED_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "formats"
SPEC_SHA256 = {
    "administrations-example.csv": "3b788865ee2a592547e6fd5e7b78308ece9669d583209609946ae5e4c83c9a62",
    "lots-example.csv": "ff57e7494f25131b52ebedf6d6e79cdd23a6f906dd9740ff1d5e159a6c650f46",
}


def _sums(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def test_fixture_examples_are_the_spec_files_as_copied() -> None:
    assert _sums(FORMAT_EXAMPLES) == SPEC_SHA256
    # In a fresh clone there is no spec folder beside it: the sums are then the whole check.
    if SHARED_FORMATS.is_dir():
        assert _sums(SHARED_FORMATS) == SPEC_SHA256, "the spec's examples changed: copy them again"
