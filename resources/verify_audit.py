"""Check an inspection bundle's audit trail with nothing but Python's standard library.

    python3 -I verify_audit.py BUNDLE.zip          (or the folder the bundle was unpacked into)

Shipped inside every inspection bundle by the Exosome & PN lot registry; it imports nothing from the registry,
so an inspector can read all of it. It checks:

- every file the manifest lists is in the bundle with the SHA-256 the manifest gives;
- the audit trail (audit/audit-trail.jsonl, one JSON object per entry) is a chain: entries numbered 1, 2, 3...
  with no gap, each entry's prev_hash equal to the previous entry's entry_hash (64 zeros for the first);
- each entry shown in full ("content": "full") hashes to its entry_hash: SHA-256 of the UTF-8 of the JSON
  object of its fields seq, occurred_at, user_id, username, action, entity_type, entity_id, before, after,
  reason, prev_hash and, when not null, records (json.dumps with sorted keys, default separators, non-ASCII
  kept). Entries whose patient references were pseudonymised or whose free text was withheld cannot be
  recomputed from what the bundle shows; their hashes still link the chain;
- the last entry is the head the manifest names ("audit_head": "SEQ:HASH").

Exit status 0 when everything holds, 1 naming the first problem, 2 when the bundle cannot be read. Compare the
head it prints with one kept elsewhere (a backup's or an earlier bundle's) to know the trail was not rewritten.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

GENESIS = "0" * 64
MANIFEST = "manifest.json"
TRAIL = "audit/audit-trail.jsonl"
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "user_id",
    "username",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "prev_hash",
)


class Bundle:
    """The bundle's members, from a ZIP file or an unpacked folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive = zipfile.ZipFile(path) if path.is_file() else None

    def read(self, name: str) -> bytes:
        if self.archive is not None:
            return self.archive.read(name)
        return (self.path / name).read_bytes()

    def lines(self, name: str) -> Iterator[bytes]:
        if self.archive is not None:
            with self.archive.open(name) as handle:
                yield from handle
            return
        with (self.path / name).open("rb") as handle:
            yield from handle


def canonical(entry: dict) -> str:
    fields = {name: entry[name] for name in HASHED_FIELDS}
    if entry.get("records") is not None:
        fields["records"] = entry["records"]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def check(bundle: Bundle) -> tuple[list[str], str]:
    """The problems found (empty: all holds), and what was checked."""
    manifest = json.loads(bundle.read(MANIFEST))
    for listed in manifest.get("files", []):
        try:
            data = bundle.read(listed["name"])
        except (KeyError, OSError):
            return [f"{listed['name']} is listed in the manifest but missing from the bundle"], ""
        if hashlib.sha256(data).hexdigest() != listed["sha256"]:
            return [f"{listed['name']} does not match the SHA-256 the manifest gives (the file was changed)"], ""
    expected_seq, prev, full, partial = 1, GENESIS, 0, 0
    for number, line in enumerate(bundle.lines(TRAIL), start=1):
        try:
            entry = json.loads(line)
            seq, entry_hash = entry["seq"], entry["entry_hash"]
        except (ValueError, KeyError, TypeError):
            return [f"line {number} of {TRAIL} is not an audit entry"], ""
        if seq != expected_seq:
            return [f"entry {expected_seq}: expected here, found entry {seq} (an entry was removed or moved)"], ""
        if entry.get("prev_hash") != prev:
            return [f"entry {seq}: its prev_hash does not match entry {seq - 1}'s hash (the chain is broken)"], ""
        if entry.get("content") == "full":
            if hashlib.sha256(canonical(entry).encode("utf-8")).hexdigest() != entry_hash:
                return [f"entry {seq}: its content does not match its hash (the entry was altered)"], ""
            full += 1
        else:
            partial += 1
        prev, expected_seq = entry_hash, expected_seq + 1
    last = expected_seq - 1
    head = f"{last}:{prev}"
    named = manifest.get("audit_head")
    if named != head:
        return [f"the trail ends at {head}, but the manifest names the head {named} (entries were cut or added)"], ""
    summary = (
        f"audit trail chained: {last} entries, head {head}; {full} recomputed from their content, "
        f"{partial} linked by hash only (pseudonymised or withheld)"
    )
    return [], summary


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        problems, summary = check(Bundle(Path(argv[1])))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        print(f"cannot read the bundle {argv[1]}: {error}", file=sys.stderr)
        return 2
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}")
        return 1
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
