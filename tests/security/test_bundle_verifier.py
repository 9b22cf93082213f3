"""The inspection bundle carries its audit trail with everything a re-check needs, and a standard-library script
(verify_audit.py) that checks it: run here as an inspector would, `python3 -I verify_audit.py BUNDLE`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from registry_app.services import ServiceContext, audit, reports
from registry_app.services.audit import AuditRecord, append
from registry_app.services.demo import generate as demo

pytestmark = pytest.mark.qt  # the bundle holds a PDF

TODAY = date(2026, 6, 30)
START, END = date(2025, 1, 1), date(2026, 6, 30)
TRAIL = "audit/audit-trail.jsonl"


@pytest.fixture
def bundle(admin: ServiceContext, inspector: ServiceContext, tmp_path: Path) -> tuple[Path, reports.OutputResult]:
    demo.generate_demo(admin, lots=40, seed=5, today=TODAY)
    with admin.db.write() as session:  # an entry naming a patient: the inspector's bundle shows a pseudonym
        append(session, None, "system", AuditRecord("note", "administration", 1, after={"patient_ref": "PT-0042"}))
    result = reports.bundle(inspector, START, END, tmp_path / "bundle.zip", today=TODAY)
    return tmp_path, result


def _run(script: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(script), str(target)], capture_output=True, text=True, timeout=120, check=False
    )


def _script(folder: Path, archive: Path) -> Path:
    script = folder / "verify_audit.py"
    with zipfile.ZipFile(archive) as opened:
        script.write_bytes(opened.read("verify_audit.py"))
    return script


def _rewrite(source: Path, target: Path, trail: list[str], fix_manifest: bool = True) -> None:
    """A copy of the bundle with its trail replaced (and the manifest's hash of it updated, as an attacker would)."""
    text = "".join(line + "\n" for line in trail).encode()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read("manifest.json"))
        for item in old.infolist():
            if item.filename == TRAIL:
                new.writestr(TRAIL, text)
            elif item.filename != "manifest.json":
                new.writestr(item, old.read(item.filename))
        if fix_manifest:
            for listed in manifest["files"]:
                if listed["name"] == TRAIL:
                    listed["sha256"] = hashlib.sha256(text).hexdigest()
        new.writestr("manifest.json", json.dumps(manifest))


def _trail(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as opened:
        return opened.read(TRAIL).decode().splitlines()


def test_the_bundle_verifies_with_its_own_script(
    bundle: tuple[Path, reports.OutputResult], inspector: ServiceContext
) -> None:
    folder, result = bundle
    script = _script(folder, result.path)
    with zipfile.ZipFile(result.path) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        opened.extractall(folder / "unpacked")
    head = result.audit_head
    assert manifest["audit_head"] == head and len(head.split(":")[1]) == 64
    with inspector.db.read() as session:
        assert audit.head_text(session).split(":")[0] == str(int(head.split(":")[0]) + 1)  # the bundle's own entry
    entries = [json.loads(line) for line in _trail(result.path)]
    assert f"{entries[-1]['seq']}:{entries[-1]['entry_hash']}" == head
    # Everything the hash covers is there in canonical form, and pseudonymised entries say so.
    assert {"occurred_at", "user_id", "records", "prev_hash", "entry_hash", "content"} <= entries[0].keys()
    assert any(e["content"] == "withheld" for e in entries) and any(e["content"] == "full" for e in entries)
    assert not any("PT-0042" in line for line in _trail(result.path))
    for target in (result.path, folder / "unpacked"):
        run = _run(script, target)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"head {head}" in run.stdout and "linked by hash only" in run.stdout


def test_an_altered_entry_is_named(bundle: tuple[Path, reports.OutputResult]) -> None:
    folder, result = bundle
    lines = _trail(result.path)
    entries = [json.loads(line) for line in lines]
    victim = next(e for e in entries if e["content"] == "full" and e["after"])
    victim["after"] = victim["after"].replace("}", ', "x": 1}', 1)
    lines[victim["seq"] - 1] = json.dumps(victim, ensure_ascii=False)
    tampered = folder / "tampered.zip"
    _rewrite(result.path, tampered, lines)
    run = _run(_script(folder, result.path), tampered)
    assert run.returncode == 1
    assert f"entry {victim['seq']}: its content does not match its hash" in run.stdout


def test_a_removed_entry_and_a_cut_trail_are_named(bundle: tuple[Path, reports.OutputResult]) -> None:
    folder, result = bundle
    lines = _trail(result.path)
    script = _script(folder, result.path)
    _rewrite(result.path, folder / "gap.zip", lines[:2] + lines[3:])
    run = _run(script, folder / "gap.zip")
    assert run.returncode == 1 and "entry 3: expected here, found entry 4" in run.stdout
    _rewrite(result.path, folder / "cut.zip", lines[:-1])
    run = _run(script, folder / "cut.zip")
    assert run.returncode == 1 and "but the manifest names the head" in run.stdout
    _rewrite(result.path, folder / "unfixed.zip", lines[:-1], fix_manifest=False)
    run = _run(script, folder / "unfixed.zip")
    assert run.returncode == 1 and f"{TRAIL} does not match the SHA-256 the manifest gives" in run.stdout


def test_an_unreadable_bundle_exits_2(tmp_path: Path) -> None:
    from registry_app.packaged import resource_files

    script = tmp_path / "verify_audit.py"
    script.write_bytes(resource_files().joinpath("verify_audit.py").read_bytes())
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    run = _run(script, tmp_path / "junk.zip")
    assert run.returncode == 2 and "cannot read the bundle" in run.stderr
