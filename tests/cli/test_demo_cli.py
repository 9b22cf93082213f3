"""`registry-app demo` on a new registry creates the documented demo accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_app.cli import main
from registry_app.db.engine import sqlite_url_for
from tests.helpers import sqlite_only


@sqlite_only("creates its own SQLite file")
def test_demo_on_a_new_registry_prints_demo_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url_for(tmp_path / "new.sqlite3")
    assert main(["--database", url, "demo", "--lots", "40"]) == 0
    out = capsys.readouterr().out
    assert "DEMO ACCOUNTS" in out and "director-demo" in out and "medical_director" in out
    monkeypatch.setenv("REGISTRY_USER", "inspector")
    monkeypatch.setenv("REGISTRY_PASSWORD", "inspector-demo")
    assert main(["--database", url, "flags", "--code", "USE-RECALLED"]) == 0
    assert "USE-RECALLED" in capsys.readouterr().out
    assert main(["--database", url, "demo", "--lots", "40"]) == 3  # the inspector may not generate demo data


@sqlite_only("creates its own SQLite file")
def test_demo_bad_lot_count_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_url_for(tmp_path / "x.sqlite3")
    assert main(["--database", url, "demo", "--lots", "zero"]) == 2
    assert main(["--database", url, "demo", "--lots", "5"]) == 2
    assert "give between 40 and" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite3").exists(), "no registry, and so no demo accounts, for a refused count"
