"""Documents attached to a product or a lot: certificates of analysis, regulatory certificates,
donor-eligibility records, IFUs. Stored with SHA-256, size, media type, uploader and time, and never
overwritten: a new version is a new document that supersedes the old one.

A file is read only when it is a regular file within the size limit, judged from os.stat before the first byte
(a FIFO or a device would block or never end, a 3 GB scan must not be read whole to be refused), and read in
chunks that are hashed as they come, with the limit enforced again while reading (the file may grow)."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry_app.domain import Document, Product, User, utcnow
from registry_app.domain.vocab import DocumentKind
from registry_app.importers import cells
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.context import READERS, STAFF, ServiceContext, changing
from registry_app.services.errors import FieldError, NotFound, ValidationError

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
READ_CHUNK = 1024 * 1024
_KIND = cells.vocabulary(DocumentKind, "document kind")


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    kind: str
    product_id: int | None
    lot_id: int | None
    file_name: str | None
    media_type: str | None
    size_bytes: int | None
    sha256: str | None
    reference: str | None
    supersedes_id: int | None
    superseded_by_id: int | None
    uploaded_by: str | None
    uploaded_at: datetime

    @property
    def has_content(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True)
class NewDocument:
    """A document checked and ready to store (check_document), not yet written."""

    kind: str
    product_id: int | None
    lot_id: int | None
    file_name: str | None
    media_type: str | None
    content: bytes | None
    reference: str | None
    supersedes_id: int | None
    sha256: str | None = None  # of `content`, when it was hashed while read


def _too_large(size: int) -> FieldError:
    return FieldError(
        "file", f"is {size / 1_048_576:,.1f} MB; at most {MAX_DOCUMENT_BYTES // 1_048_576} MB can be stored"
    )


def read_document_file(path: Path, errors: list[FieldError]) -> tuple[bytes, str] | None:
    """The file's bytes and SHA-256, or None with the problem added to `errors`."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            errors.append(FieldError("file", f"{path} is not a regular file (a directory, FIFO or device)"))
            return None
        if info.st_size > MAX_DOCUMENT_BYTES:
            errors.append(_too_large(info.st_size))
            return None
        # O_NONBLOCK: a path swapped for a FIFO after the stat does not block the open; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                errors.append(FieldError("file", f"{path} is not a regular file (a directory, FIFO or device)"))
                return None
            digest, chunks, size = hashlib.sha256(), [], 0
            while chunk := file.read(READ_CHUNK):
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:  # grew after the stat
                    errors.append(_too_large(size))
                    return None
                digest.update(chunk)
                chunks.append(chunk)
    except OSError as error:
        errors.append(FieldError("file", f"{path}: {error.strerror or error}"))
        return None
    return b"".join(chunks), digest.hexdigest()


def check_document(
    kind: str,
    *,
    product_id: int | None = None,
    lot_id: int | None = None,
    path: str | Path | None = None,
    content: bytes | None = None,
    file_name: str | None = None,
    media_type: str | None = None,
    reference: str | None = None,
    supersedes_id: int | None = None,
) -> NewDocument:
    """Everything about a document that can be checked before the transaction (kind, subject, file, size);
    a ValidationError lists each problem. Services that store a document with other records use this and
    store_document inside their own transaction."""
    errors: list[FieldError] = []
    try:
        kind = _KIND(str(kind).strip())
    except cells.CellError as error:
        errors.append(FieldError("kind", str(error)))
    if (product_id is None) == (lot_id is None) and supersedes_id is None:
        errors.append(FieldError("subject", "attach the document to one product or one lot"))
    digest = None
    if path is not None:
        path = Path(path)
        read = read_document_file(path, errors)
        if read is not None:
            content, digest = read
        file_name = file_name or path.name
    elif content is not None and len(content) > MAX_DOCUMENT_BYTES:
        errors.append(_too_large(len(content)))
    reference = reference.strip() if reference and reference.strip() else None
    if reference is not None and len(reference) > 200:
        errors.append(FieldError("reference", "at most 200 characters fit"))
    if content is None and reference is None and path is None:
        errors.append(FieldError("file", "choose a file or give a document reference"))
    if errors:
        raise ValidationError(errors)
    if content is not None and not media_type:
        media_type = mimetypes.guess_type(file_name or "")[0] or "application/octet-stream"
    return NewDocument(kind, product_id, lot_id, file_name, media_type, content, reference, supersedes_id, digest)


def store_document(ctx: ServiceContext, session: Session, new: NewDocument) -> int:
    """Write a checked document and its audit entry in the caller's transaction."""
    product_id, lot_id, supersedes_id, content = new.product_id, new.lot_id, new.supersedes_id, new.content
    if supersedes_id is not None:
        previous = session.get(Document, supersedes_id)
        if previous is None:
            raise NotFound(f"no document with id {supersedes_id}")
        later = session.execute(select(Document.id).where(Document.supersedes_id == supersedes_id)).scalar()
        if later is not None:
            raise ValidationError(
                [
                    FieldError(
                        "supersedes_id",
                        f"document {supersedes_id} was already replaced by document {later}: add a version of that one",
                    )
                ]
            )
        if product_id is None and lot_id is None:
            product_id, lot_id = previous.product_id, previous.lot_id
        elif (product_id, lot_id) != (previous.product_id, previous.lot_id):
            raise ValidationError([FieldError("supersedes_id", "a new version belongs to the same product or lot")])
    if product_id is not None and session.get(Product, product_id) is None:
        raise NotFound(f"no product with id {product_id}")
    if lot_id is not None:
        site_scope.visible_lot(session, ctx, lot_id)  # another site's lot is "no lot" too
    document = Document(
        kind=new.kind,
        product_id=product_id,
        lot_id=lot_id,
        file_name=new.file_name,
        media_type=new.media_type,
        size_bytes=len(content) if content is not None else None,
        sha256=(new.sha256 or hashlib.sha256(content).hexdigest()) if content is not None else None,
        content=content,
        reference=new.reference,
        supersedes_id=supersedes_id,
        uploaded_by_id=ctx.actor.user_id if ctx.actor else None,
        uploaded_at=utcnow(),
    )
    session.add(document)
    session.flush()
    ctx.audit(session, AuditRecord("attach document", "document", document.id, before={}, after=snapshot(document)))
    return document.id


@changing("attach documents", STAFF)
def attach_document(
    ctx: ServiceContext,
    kind: str,
    *,
    product_id: int | None = None,
    lot_id: int | None = None,
    path: str | Path | None = None,
    content: bytes | None = None,
    file_name: str | None = None,
    media_type: str | None = None,
    reference: str | None = None,
    supersedes_id: int | None = None,
) -> int:
    """Attach a file (`path`, or `content` with `file_name`) and/or a reference (a document number) to a
    product or a lot. With `supersedes_id` the new document is the next version of that one (same subject)."""
    new = check_document(
        kind,
        product_id=product_id,
        lot_id=lot_id,
        path=path,
        content=content,
        file_name=file_name,
        media_type=media_type,
        reference=reference,
        supersedes_id=supersedes_id,
    )
    with ctx.db.write() as session:
        return store_document(ctx, session, new)


def _infos(ctx: ServiceContext, *conditions: ColumnElement[bool]) -> list[DocumentInfo]:
    if (visible := site_scope.lot_ids(ctx)) is not None:
        # A user of one site sees the shared catalogue's documents and their own site's lots'.
        conditions = (*conditions, or_(Document.lot_id.is_(None), Document.lot_id.in_(visible)))
    with ctx.db.read() as session:
        documents = session.execute(select(Document).where(*conditions).order_by(Document.id)).scalars().all()
        ids = [d.id for d in documents]
        successors = (
            dict(
                session.execute(
                    select(Document.supersedes_id, Document.id).where(Document.supersedes_id.in_(ids))
                ).all()
            )
            if ids
            else {}
        )
        users = dict(session.execute(select(User.id, User.username)).all())
        return [
            DocumentInfo(
                id=d.id,
                kind=d.kind,
                product_id=d.product_id,
                lot_id=d.lot_id,
                file_name=d.file_name,
                media_type=d.media_type,
                size_bytes=d.size_bytes,
                sha256=d.sha256,
                reference=d.reference,
                supersedes_id=d.supersedes_id,
                superseded_by_id=successors.get(d.id),
                uploaded_by=users.get(d.uploaded_by_id) if d.uploaded_by_id else None,
                uploaded_at=d.uploaded_at,
            )
            for d in documents
        ]


def list_documents(
    ctx: ServiceContext, product_id: int | None = None, lot_id: int | None = None, include_superseded: bool = False
) -> list[DocumentInfo]:
    """The documents of a product or lot, oldest first; only current versions unless asked."""
    ctx.require(READERS, "view documents")
    conditions = []
    if product_id is not None:
        conditions.append(Document.product_id == product_id)
    if lot_id is not None:
        conditions.append(Document.lot_id == lot_id)
    found = _infos(ctx, *conditions)
    return found if include_superseded else [d for d in found if d.superseded_by_id is None]


def get_document(ctx: ServiceContext, document_id: int) -> DocumentInfo:
    ctx.require(READERS, "view documents")
    found = _infos(ctx, Document.id == document_id)
    if not found:
        raise NotFound(f"no document with id {document_id}")
    return found[0]


def read_document_content(ctx: ServiceContext, document_id: int) -> bytes:
    """The stored file, checked against its SHA-256 (a mismatch means the stored copy was altered)."""
    ctx.require(READERS, "read documents")
    with ctx.db.read() as session:
        row = session.execute(
            select(Document.content, Document.sha256, Document.lot_id).where(Document.id == document_id)
        ).first()
        if row is not None:
            site_scope.check_lot_id(session, ctx, row.lot_id, f"no document with id {document_id}")
    if row is None:
        raise NotFound(f"no document with id {document_id}")
    content, digest, _ = row
    if content is None:
        raise NotFound(f"document {document_id} is a reference only; no file is stored")
    if hashlib.sha256(content).hexdigest() != digest:
        raise ValidationError(
            [FieldError("content", f"document {document_id} does not match its SHA-256: the stored copy was altered")]
        )
    return bytes(content)
