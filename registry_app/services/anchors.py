"""The last verified head of each registry's audit trail, kept outside the registry (issue 17).

Someone who can write the database can cut the trail short or rewrite it and recompute every hash and the
head; only a head kept elsewhere shows it. After each successful `audit verify` (and each sign-in on the
desktop that finds the trail extending it) the head is written to `audit-anchors.json` in the user's data
directory (platformdirs; REGISTRY_ANCHOR_DIR overrides it), keyed by the registry's file or server URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from registry_app.domain import AuditEntry, Setting
from registry_app.services.audit import HEAD_KEY

ENV_ANCHOR_DIR = "REGISTRY_ANCHOR_DIR"
FILE_NAME = "audit-anchors.json"


def anchor_path() -> Path:
    override = os.environ.get(ENV_ANCHOR_DIR)
    if override:
        return Path(override) / FILE_NAME
    from platformdirs import user_data_dir

    return Path(user_data_dir("registry-app", appauthor=False)) / FILE_NAME


def registry_key(url: str) -> str:
    """The registry as this computer names it: a SQLite file by its resolved path, a server by its URL
    without the password."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        return "sqlite:" + str(Path(parsed.database).expanduser().resolve())
    return parsed.render_as_string(hide_password=True)


def _load() -> dict[str, str]:
    try:
        data = json.loads(anchor_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def kept_anchor(url: str) -> tuple[int, str] | None:
    value = _load().get(registry_key(url))
    try:
        seq, digest = str(value).split(":")
        return int(seq), digest
    except ValueError:
        return None


def keep_anchor(url: str, seq: int, digest: str) -> None:
    """Remember a verified head; a head that does not extend the kept one (fewer entries) is not kept."""
    kept = kept_anchor(url)
    if kept is not None and kept[0] > seq:
        return
    data = _load()
    data[registry_key(url)] = f"{seq}:{digest}"
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".anchors-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
    os.replace(temporary, path)


def anchor_problem(session: Any, anchor: tuple[int, str]) -> str | None:
    """Why the trail does not extend `anchor` (entry SEQ with HASH), or None when it does. Cheap: two reads."""
    seq, digest = anchor
    stored = session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq)).scalar_one_or_none()
    head = session.execute(select(Setting.value).where(Setting.key == HEAD_KEY)).scalar_one_or_none()
    if stored is None:
        return (
            f"the audit trail no longer holds entry {seq}, the head verified earlier on this computer "
            f"({seq}:{digest[:12]}...); its head is now {head}: the trail was cut short or replaced"
        )
    if stored != digest:
        return (
            f"audit entry {seq} is not the one verified earlier on this computer ({seq}:{digest[:12]}...): "
            "the trail was rewritten from there on"
        )
    return None


def check_kept(db: Any) -> str | None:
    """The desktop's check at sign-in: does the trail still extend the head kept for this registry?"""
    kept = kept_anchor(db.url)
    if kept is None:
        return None
    with db.read() as session:
        return anchor_problem(session, kept)


def trail_warning(ctx: Any) -> str | None:
    """The service behind the desktop's warning at sign-in: why the registry's trail no longer extends the head
    verified earlier on this computer, or None (also when none was kept yet). Read-only, any signed-in role."""
    from registry_app.domain.vocab import Role

    ctx.require(tuple(Role), "check the audit trail")
    return check_kept(ctx.db)
