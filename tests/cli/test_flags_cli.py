"""`registry-app flags` and `registry-app demo` in-process: formats, filters, exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from registry_app.cli import main
from registry_app.rules import COMPLIANCE_CODES

from ..conftest import PASSWORDS


@pytest.fixture
def demo_registry(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    # Only an admin generates demo data; the tests then read the flags as the pharmacist.
    monkeypatch.setenv("REGISTRY_USER", "admin")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["admin"])
    assert main(["--database", database_url, "demo", "--lots", "45", "--seed", "3"]) == 0
    monkeypatch.setenv("REGISTRY_USER", "pharmacist")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["pharmacist"])
    out = capsys.readouterr().out
    assert "45 lots" in out and "DEMO ACCOUNTS" not in out
    return database_url


def test_json_lists_every_rule(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", demo_registry, "flags", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert set(COMPLIANCE_CODES) <= {i["code"] for i in items}
    assert set(items[0]) == {"code", "severity", "subject_type", "subject_id", "product_name", "lot_number",
                             "message", "waived"}


def test_filters_and_csv(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database", demo_registry, "flags", "--format", "csv", "--min-severity", "critical",
            "--code", "USE-RECALLED", "--code", "UNDOC-COA"]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["code"] for r in rows} == {"USE-RECALLED"}
    assert main(["--database", demo_registry, "flags", "--code", "UNDOC-COA"]) == 0
    table = capsys.readouterr().out
    assert "UNDOC-COA" in table and "USE-RECALLED" not in table


def test_usage_and_sign_in_errors(demo_registry: str, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--database", demo_registry, "flags", "--min-severity", "urgent"]) == 2
    monkeypatch.setenv("REGISTRY_PASSWORD", "wrong-password")
    assert main(["--database", demo_registry, "flags"]) == 3
    assert "Traceback" not in capsys.readouterr().err
