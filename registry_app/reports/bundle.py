"""The inspection bundle: one ZIP with the compliance report, the exports, the audit trail, the result of the
audit-trail check, and a manifest of every file's SHA-256 (manifest.json, and SHA256SUMS for `sha256sum -c`).

The audit trail is also there as JSON Lines (audit/audit-trail.jsonl: every field each entry's hash covers,
nulls kept), with a standard-library script (verify_audit.py, from resources/) that checks the chain, each
fully shown entry's hash and the head the manifest names (`python3 -I verify_audit.py BUNDLE.zip`).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..packaged import resource_files
from .data import ComplianceData
from .exports import Table, file_sha256, write_csv, write_xlsx

REPORT_NAME = "compliance-report.pdf"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"
VERIFY_NAME = "audit/audit-verify.txt"
TRAIL_LINES_NAME = "audit/audit-trail.jsonl"
VERIFIER_NAME = "verify_audit.py"


@dataclass(frozen=True)
class BundleFile:
    name: str
    sha256: str
    size_bytes: int
    rows: int | None = None


def _member_name(kind: str, fmt: str) -> str:
    return f"audit/audit-trail.{fmt}" if kind == "audit" else f"exports/{kind}.{fmt}"


def _write_exports(root: Path, tables: Mapping[str, Table]) -> list[tuple[str, Path, int | None]]:
    written: list[tuple[str, Path, int | None]] = []
    for kind, table in tables.items():
        for fmt in ("csv", "xlsx"):
            target = root / f"{kind}.{fmt}"
            rows = write_csv(target, table) if fmt == "csv" else write_xlsx(target, [table])
            written.append((_member_name(kind, fmt), target, rows))
    return written


def _write_trail_lines(target: Path, table: Table) -> int:
    """The audit table as JSON Lines: one object per entry with the columns' names, nulls kept (CSV cannot
    tell a null from an empty text, and the hash can)."""
    names = [column.name for column in table.columns]
    with target.open("w", encoding="utf-8", newline="\n") as out:
        for row in table.rows:
            out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")
    return len(table.rows)


def write_bundle(
    path: str | Path,
    content: ComplianceData,
    tables: Mapping[str, Table],
    verify_text: str,
    verify_ok: bool,
    audit_head: str,
) -> list[BundleFile]:
    """Write the ZIP at `path`; returns the files it holds (the manifest's own entries excluded)."""
    from .compliance_pdf import write_compliance_pdf

    files: list[BundleFile] = []
    with tempfile.TemporaryDirectory(prefix="registry-bundle-") as scratch:
        root = Path(scratch)
        written: list[tuple[str, Path, int | None]] = []
        report = root / "report.pdf"
        # The exports are written on a second thread while Qt lays out and paints the report: Qt's long C++
        # calls release the GIL, so the two overlap on a machine with two cores.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-exports") as pool:
            exports = pool.submit(_write_exports, root, tables)
            write_compliance_pdf(report, content)
            written.append((REPORT_NAME, report, None))
            written.extend(exports.result())
        verify = root / "verify.txt"
        verify.write_text(
            f"{'OK' if verify_ok else 'BROKEN'}: {verify_text}\nchecked at {content.generated_at:%Y-%m-%d %H:%M:%S} "
            f"UTC by {content.generated_by}\n",
            encoding="utf-8",
        )
        written.append((VERIFY_NAME, verify, None))
        if "audit" in tables:
            lines = root / "audit-trail.jsonl"
            written.append((TRAIL_LINES_NAME, lines, _write_trail_lines(lines, tables["audit"])))
            verifier = root / VERIFIER_NAME
            verifier.write_bytes(resource_files().joinpath(VERIFIER_NAME).read_bytes())
            written.append((VERIFIER_NAME, verifier, None))
        for name, source, rows in written:
            files.append(BundleFile(name, file_sha256(source), source.stat().st_size, rows))
        manifest = {
            "bundle": "inspection bundle",
            "clinic": content.clinic,
            "site": content.site_code,
            "jurisdiction": content.jurisdiction,
            "period": content.period.as_json(),
            "generated_by": content.generated_by,
            "generated_at": content.generated_at.isoformat(timespec="seconds") + "Z",
            "registry_version": content.registry_version,
            "patient_references": content.patient_refs,
            "audit_trail": {"ok": verify_ok, "result": verify_text},
            # The trail's last entry when the bundle was made (SEQ:HASH): keep it to check a later trail against.
            "audit_head": audit_head,
            "files": [
                {
                    "name": f.name,
                    "sha256": f.sha256,
                    "bytes": f.size_bytes,
                    **({"rows": f.rows} if f.rows is not None else {}),
                }
                for f in files
            ],
        }
        sums = "".join(f"{f.sha256}  {f.name}\n" for f in files)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, source, _rows in written:
                # PDF and XLSX are compressed already: storing them saves time and nothing else.
                kind = zipfile.ZIP_DEFLATED if name.endswith((".csv", ".txt", ".jsonl", ".py")) else zipfile.ZIP_STORED
                archive.write(source, name, compress_type=kind)
            archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            archive.writestr(SUMS_NAME, sums)
    return files
