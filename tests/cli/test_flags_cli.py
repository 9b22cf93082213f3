"""`registry-app flags` and `registry-app demo` in-process: formats, filters, exit codes."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import Lot, Product
from registry_app.rules import COMPLIANCE_CODES, Flag
from registry_app.services import Actor, ServiceContext
from registry_app.services import flags as flag_service

from ..conftest import PASSWORDS, ROLES


def template_users_actor(name: str) -> Actor:
    """Enough of the template user for reading (services check the role; reads need no user id)."""
    return Actor(None, name, ROLES[name])


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
    assert set(items[0]) == {
        "code",
        "severity",
        "subject_type",
        "subject_id",
        "product_name",
        "lot_number",
        "message",
        "waived",
    }


def test_filters_and_csv(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--database",
        demo_registry,
        "flags",
        "--format",
        "csv",
        "--min-severity",
        "critical",
        "--code",
        "USE-RECALLED",
        "--code",
        "UNDOC-COA",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["code"] for r in rows} == {"USE-RECALLED"}
    assert main(["--database", demo_registry, "flags", "--code", "UNDOC-COA"]) == 0
    table = capsys.readouterr().out
    assert "UNDOC-COA" in table and "USE-RECALLED" not in table


def test_usage_and_sign_in_errors(
    demo_registry: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--database", demo_registry, "flags", "--min-severity", "urgent"]) == 2
    monkeypatch.setenv("REGISTRY_PASSWORD", "wrong-password")
    assert main(["--database", demo_registry, "flags"]) == 3
    assert "Traceback" not in capsys.readouterr().err


def _key(item: dict[str, object]) -> tuple[object, ...]:
    return tuple(item[name] for name in ("code", "subject_type", "subject_id", "message", "waived"))


def test_streamed_json_is_every_flag_of_the_desktop(
    demo_registry: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks far smaller than the registry (so many chunk boundaries): the same flags as list_flags."""
    monkeypatch.setattr(flag_service, "STREAM_CHUNK", 7)
    assert main(["--database", demo_registry, "flags", "--format", "json", "--min-severity", "medium"]) == 0
    streamed = json.loads(capsys.readouterr().out)
    ctx = ServiceContext(Database(demo_registry), template_users_actor("pharmacist"))
    expected = [f.as_json() for f in flag_service.list_flags(ctx, min_severity="medium")]
    assert streamed and sorted(map(_key, streamed)) == sorted(map(_key, expected))
    assert main(["--database", demo_registry, "flags", "--format", "json", "--code", "UNDOC-NOTHING"]) == 2
    assert (
        main(
            [
                "--database",
                demo_registry,
                "flags",
                "--format",
                "json",
                "--code",
                "REG-361-CLAIM",
                "--code",
                "USE-OVERDRAWN",
                "--min-severity",
                "critical",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == []


def test_json_is_written_as_each_flag_comes(monkeypatch: pytest.MonkeyPatch, demo_registry: str) -> None:
    """Constant memory: each element is written before the next flag is produced, and the peak of allocated
    memory is the same for 5,000 and 50,000 flags (nothing accumulates the list or the string)."""
    sample = flag_service.list_flags(ServiceContext(Database(demo_registry), template_users_actor("pharmacist")))[0]

    class Sink(io.TextIOBase):
        def __init__(self) -> None:
            self.chars, self.tail = 0, ""

        def write(self, text: str) -> int:
            self.chars += len(text)
            self.tail = (self.tail + text)[-200:]
            return len(text)

    def peak_for(count: int) -> int:
        sink = Sink()
        late = 0  # flags produced before the previous one was written

        def produced(ctx: object, **_: object) -> Iterator[Flag]:
            nonlocal late
            seen = -1
            for _ in range(count):
                late += sink.chars <= seen
                seen = sink.chars
                yield sample

        monkeypatch.setattr(flag_service, "iter_flags", produced)
        monkeypatch.setattr("sys.stdout", sink)
        tracemalloc.start()
        try:
            assert main(["--database", demo_registry, "flags", "--format", "json"]) == 0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert late == 0 and sink.tail.endswith("}\n]\n")
        return peak

    small, large = peak_for(5_000), peak_for(50_000)
    # 45,000 more flags of ~300 characters: 13 MB if accumulated; allow noise from imports and caches.
    assert large - small < 500_000, f"peak {small} -> {large} bytes: the output was accumulated"


def test_summary_matches_the_dashboard(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", demo_registry, "flags", "--summary", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    counts = flag_service.count_flags(ServiceContext(Database(demo_registry), template_users_actor("pharmacist")))
    assert {s: c["open"] for s, c in summary["by_severity"].items()} == counts.by_severity
    assert {code: c["open"] for code, c in summary["by_code"].items() if c["open"]} == counts.by_code
    assert (summary["open"], summary["waived"]) == (counts.total, counts.waived)
    assert main(["--database", demo_registry, "flags", "--summary"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"{counts.total} open flags, {counts.waived} waived"
    assert main(["--database", demo_registry, "flags", "--summary", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["name"]: int(r["open"]) for r in rows if r["group"] == "severity"} == counts.by_severity


def test_the_flags_of_one_lot(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = ServiceContext(Database(demo_registry), template_users_actor("pharmacist"))
    everything = flag_service.list_flags(ctx)
    lot_flag = next(f for f in everything if f.subject_type == "administration")
    with ctx.db.read() as session:
        lot_id, product_id, product = session.execute(
            select(Lot.id, Lot.product_id, Product.name).join(Product).where(Lot.id == lot_flag.lot_id)
        ).one()
    expected = [
        f.as_json()
        for f in everything
        if f.lot_id == lot_id or (f.subject_type == "product" and f.product_id == product_id)
    ]
    args = [
        "--database",
        demo_registry,
        "flags",
        "--lot",
        lot_flag.lot_number,
        "--product",
        product,
        "--format",
        "json",
    ]
    assert main(args) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(map(_key, found)) == sorted(map(_key, expected))
    assert {f["subject_type"] for f in found} >= {"administration"}
    assert main([*args, "--summary"]) == 0
    assert json.loads(capsys.readouterr().out)["open"] == sum(1 for f in expected if not f["waived"])
    assert main(["--database", demo_registry, "flags", "--lot", "NOPE-404"]) == 1
    assert main(["--database", demo_registry, "flags", "--product", product]) == 2
    assert "no lot NOPE-404" in capsys.readouterr().err


def test_rebuild_is_for_an_admin_and_changes_nothing_on_a_current_table(
    demo_registry: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database", demo_registry, "flags", "--rebuild"]) != 0  # the pharmacist may not
    capsys.readouterr()
    monkeypatch.setenv("REGISTRY_USER", "admin")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["admin"])
    assert main(["--database", demo_registry, "flags", "--rebuild", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["raised"] == 0 and result["closed"] == 0 and result["open"] > 45
