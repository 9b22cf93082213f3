"""Documents: stored with SHA-256, never overwritten, versions supersede."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry_app.services import ServiceContext, ValidationError, products
from registry_app.services.lots import documents


def test_attach_version_and_read(pharmacist: ServiceContext, inspector: ServiceContext, tmp_path: Path) -> None:
    product_id = products.create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    first = tmp_path / "COA-CX-1.pdf"
    first.write_bytes(b"%PDF-1.4 first")
    doc_id = documents.attach_document(pharmacist, "coa", product_id=product_id, path=first)
    info = documents.get_document(inspector, doc_id)
    assert info.sha256 == hashlib.sha256(b"%PDF-1.4 first").hexdigest() and info.size_bytes == 14
    assert info.media_type == "application/pdf" and info.uploaded_by == "pharmacist"
    second = documents.attach_document(
        pharmacist, "coa", content=b"%PDF-1.4 second", file_name="v2.pdf", supersedes_id=doc_id
    )
    assert documents.read_document_content(inspector, doc_id) == b"%PDF-1.4 first"
    assert [d.id for d in documents.list_documents(inspector, product_id=product_id)] == [second]
    history = documents.list_documents(inspector, product_id=product_id, include_superseded=True)
    assert [(d.id, d.superseded_by_id) for d in history] == [(doc_id, second), (second, None)]
    with pytest.raises(ValidationError, match="already replaced"):
        documents.attach_document(pharmacist, "coa", content=b"x", file_name="x.pdf", supersedes_id=doc_id)
    ref = documents.attach_document(pharmacist, "donor_eligibility", product_id=product_id, reference="DE-2406-118")
    assert documents.get_document(inspector, ref).has_content is False


def test_attach_needs_a_subject_and_content(pharmacist: ServiceContext) -> None:
    with pytest.raises(ValidationError) as error:
        documents.attach_document(pharmacist, "leaflet")
    assert {e.field for e in error.value.errors} == {"kind", "subject", "file"}
