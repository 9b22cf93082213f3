"""Online backup of the registry while it is in use.

SQLite: the SQLite backup API copies the database in one step under a read snapshot, so writers in other
windows or processes carry on (WAL) and the copy is one consistent moment. The copy is written beside the
target, checked (`PRAGMA integrity_check` and the audit trail's hash chain) and only then renamed into
place, so a failed or interrupted backup never leaves a half-written file under the chosen name.
PostgreSQL: `pg_dump --format=custom` (restore with `pg_restore --clean --dbname URL FILE`).

The desktop calls `backup_registry(ctx, path)` from its menu; the CLI is `registry-app backup --out FILE`.
`restore_registry(FILE, PATH)` (`registry-app restore`) checks a backup and copies it into a new registry file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from registry_app.domain import Setting
from registry_app.domain.vocab import Role
from registry_app.services.audit import HEAD_KEY, AuditRecord, verify_registry
from registry_app.services.context import ServiceContext, changing
from registry_app.services.errors import ConflictError, StorageError, ValidationError
from registry_app.services.outputs import output_target, publish, temporary_beside

# Who may take a copy of every record (patients' references included): the people responsible for the data.
BACKUP_ROLES: tuple[str, ...] = (Role.ADMIN, Role.MEDICAL_DIRECTOR)


@dataclass(frozen=True)
class BackupCheck:
    """What a backup file holds and whether it is sound."""

    integrity: str  # "ok", or SQLite's first complaint
    audit_ok: bool
    audit_entries: int
    audit_message: str
    head: str | None = None  # the file's own audit head (SEQ:HASH), to keep as an anchor

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and self.audit_ok


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    sha256: str
    check: BackupCheck | None  # None for a pg_dump archive (checked by pg_restore --list)

    def describe(self) -> str:
        text = f"backup written to {self.path} ({self.size_bytes:,} bytes, SHA-256 {self.sha256})"
        if self.check is not None:
            text += f"; integrity {self.check.integrity}; {self.check.audit_message}"
        return text


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sqlite_file(path: str | Path) -> BackupCheck:
    """Integrity check and audit-trail verification of an SQLite registry file (a backup or a restored copy),
    read-only: the file is not changed."""
    # immutable: SQLite neither writes nor creates anything beside the file (no -wal, -shm or journal), so a
    # backup checked or inspected stays byte for byte the file whose SHA-256 was recorded.
    uri = f"file:{Path(path).resolve()}?mode=ro&immutable=1"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            integrity = str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
            with Session(bind=conn) as session:
                result = verify_registry(session)
                head = session.execute(select(Setting.value).where(Setting.key == HEAD_KEY)).scalar_one_or_none()
    except DBAPIError as error:
        return BackupCheck(f"unreadable: {error.orig}", False, 0, "audit trail not checked")
    finally:
        engine.dispose()
    return BackupCheck(integrity, result.ok, result.entries_checked, result.describe(), head)


def _sqlite_backup(source: Path, target: Path, replace: bool) -> BackupCheck:
    with temporary_beside(target) as partial:
        try:
            with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(partial) as dst:
                src.backup(dst)  # pages=-1: the whole database in one step, one consistent snapshot
                dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            src.close()
            dst.close()
        except sqlite3.OperationalError as error:
            raise StorageError(
                f"the backup could not be written to {target}: {error}; nothing was left behind"
            ) from error
        check = check_sqlite_file(partial)
        if check.integrity != "ok":
            raise StorageError(
                f"the backup copy failed its integrity check ({check.integrity}); {target} was not written"
            )
        publish(partial, target, replace)  # flushed to disk, then renamed into place
        return check


def _pg_dump(url: str, target: Path, replace: bool) -> None:
    with temporary_beside(target) as partial:
        _run_pg_dump(url, partial)
        publish(partial, target, replace)


def _run_pg_dump(url: str, target: Path) -> None:
    program = shutil.which("pg_dump")
    if program is None:
        raise StorageError(
            "pg_dump was not found: install the PostgreSQL client tools, or run "
            f"`pg_dump --format=custom --file {target} DBNAME` on the server"
        )
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    query = parsed.query
    host = query.get("host") or parsed.host
    args = [program, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={parsed.database}"]
    if host:
        args.append(f"--host={host if isinstance(host, str) else host[0]}")
    port = query.get("port") or parsed.port
    if port:
        args.append(f"--port={port if not isinstance(port, tuple) else port[0]}")
    if parsed.username:
        args.append(f"--username={parsed.username}")
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        first = (done.stderr.strip().splitlines() or ["pg_dump failed"])[0]
        raise StorageError(f"the backup failed: {first}")


@changing("back up the registry", BACKUP_ROLES)
def backup_registry(ctx: ServiceContext, out: str | Path, replace: bool = False) -> BackupResult:
    """Copy the whole registry, while it is in use, to `out` (an existing file only with `replace`); the
    backup is recorded in the audit trail with the file's SHA-256."""
    target = output_target(out, replace=replace)
    check: BackupCheck | None = None
    if ctx.db.is_sqlite:
        source = make_url(ctx.db.url).database
        if not source or source == ":memory:":
            raise ValidationError("an in-memory registry cannot be backed up", field="database")
        if Path(source).resolve() == target:
            raise ValidationError("the backup would overwrite the registry itself: choose another file", field="out")
        check = _sqlite_backup(Path(source), target, replace)
    else:
        _pg_dump(ctx.db.url, target, replace)
    result = BackupResult(target, target.stat().st_size, _sha256(target), check)
    with ctx.db.write() as session:
        after = {"file": str(target), "bytes": result.size_bytes, "sha256": result.sha256}
        if check is not None:
            after |= {"integrity": check.integrity, "audit_entries": check.audit_entries}
        ctx.audit(session, AuditRecord("back up registry", "registry", None, before={}, after=after))
    return result


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    source_sha256: str
    revision: str | None  # the backup's schema revision (the restored registry is migrated to the current one)
    check: BackupCheck  # of the restored copy

    def describe(self) -> str:
        return (
            f"restored into {self.path} from a backup with SHA-256 {self.source_sha256} (schema "
            f"{self.revision}); integrity {self.check.integrity}; {self.check.audit_message}"
        )


def _backup_revision(path: Path) -> str | None:
    """The backup's schema revision, read-only; a revision this version does not know is refused."""
    from registry_app.db.migrate import DatabaseTooNew, check_not_newer, current_revision

    uri = f"file:{path.resolve()}?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        check_not_newer(engine)
        return current_revision(engine)
    except DatabaseTooNew as error:
        raise ValidationError(f"{path}: {error}", field="from") from error
    finally:
        engine.dispose()


def restore_registry(source: str | Path, target: str | Path) -> RestoreResult:
    """Check a backup (SQLite integrity, the audit trail's hash chain, a schema revision this version knows),
    then restore it into a NEW registry file `target`, never over an existing file (an open registry included):
    copied beside the target and renamed into place only when complete, migrated to the current schema, and
    the restore recorded in the restored registry's audit trail.

    No one signs in: the target does not exist yet, and signing in to the backup would change it. Restoring is
    a file operation for whoever holds the backup file, as copying it is. PostgreSQL archives (pg_dump) are
    restored with `pg_restore --dbname URL FILE` into an empty database."""
    from registry_app.db import open_database
    from registry_app.db.engine import sqlite_url_for
    from registry_app.services.context import ServiceContext

    backup_path = Path(source).expanduser()
    if not backup_path.is_file():
        raise ValidationError(
            f"{backup_path} is not a backup file (it does not exist, or is not a regular file)", field="from"
        )
    with backup_path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ValidationError(
                f"{backup_path} is not an SQLite backup (a PostgreSQL archive is restored with "
                "pg_restore --dbname URL FILE into an empty database)",
                field="from",
            )
    final = output_target(target, replace=False)
    if final == backup_path.resolve():
        raise ValidationError("the target is the backup itself: choose a new file", field="to")
    check = check_sqlite_file(backup_path)
    if check.integrity != "ok":
        raise ValidationError(f"{backup_path} failed its integrity check: {check.integrity}", field="from")
    if not check.audit_ok:
        raise ValidationError(f"{backup_path}: {check.audit_message}", field="from")
    revision = _backup_revision(backup_path)
    if revision is None:
        raise ValidationError(f"{backup_path} holds no registry (no schema revision)", field="from")
    source_sha256 = _sha256(backup_path)
    with temporary_beside(final) as partial:
        uri = f"file:{backup_path.resolve()}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True) as src, sqlite3.connect(partial) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
            src.close()
            dst.close()
        except sqlite3.Error as error:
            raise StorageError(
                f"the restore could not be written to {final}: {error}; nothing was left behind"
            ) from error
        publish(partial, final, replace=False)
    # Opening migrates an older backup to the current schema; the restore is the restored trail's next entry.
    database = open_database(sqlite_url_for(final))
    try:
        ctx = ServiceContext(database)
        with database.write() as session:
            ctx.audit(
                session,
                AuditRecord(
                    "restore registry",
                    "registry",
                    None,
                    before={},
                    after={
                        "from": str(backup_path.resolve()),
                        "sha256": source_sha256,
                        "schema_revision": revision,
                        "audit_entries": check.audit_entries,
                    },
                ),
            )
    finally:
        database.dispose()
    restored = check_sqlite_file(final)
    if not restored.ok:  # should not happen: the copy was checked; say so rather than hand over a bad registry
        raise ConflictError(f"the restored registry {final} failed its check: {restored.audit_message}")
    return RestoreResult(final, source_sha256, revision, restored)
