"""Every reading service that takes a record's id or number, asked by a user of one site about another site's
record (issue 23): answered as about a record that does not exist, or with nothing, never with the record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import Administration
from registry_app.services import (
    Actor,
    NotFound,
    ServiceContext,
    ValidationError,
    administrations,
    adverse_events,
    recalls,
)
from registry_app.services import flags as flag_service
from registry_app.services.lots import characterization, documents, excursions, lifecycle, receiving
from registry_app.services.queries import lot_record

from .test_site_scope import _signed_in, two_sites  # noqa: F401  (the fixture)

Read = Callable[[ServiceContext], Any]


@pytest.fixture
def main_records(db: Database, two_sites: dict[str, int], template_users: dict[str, Actor]) -> dict[str, int]:  # noqa: F811
    """The main site's lot with an administration, an adverse event, an excursion and a document."""
    group = ServiceContext(db, template_users["pharmacist"], site_code="main")
    lot_id = two_sites["main"]
    with db.read() as session:
        given = session.execute(select(Administration.id).where(Administration.lot_id == lot_id)).scalar_one()
    event = adverse_events.record_adverse_event(group, given, "erythema", onset_date=date.today())
    excursion = excursions.record_excursion(group, lot_id, datetime.now() - timedelta(hours=2), reading_c=12.0)
    document = documents.attach_document(group, "coa", lot_id=lot_id, content=b"%PDF-1.4 main", file_name="coa.pdf")
    return {"lot": lot_id, "administration": given, "event": int(event), "excursion": int(excursion), "doc": document}


READS: dict[str, Callable[[dict[str, int]], Read]] = {
    "get_lot": lambda ids: lambda ctx: receiving.get_lot(ctx, ids["lot"]),
    "lot_detail": lambda ids: lambda ctx: lot_record.lot_detail(ctx, ids["lot"]),
    "characterization_sheet": lambda ids: lambda ctx: characterization.characterization_sheet(ctx, ids["lot"]),
    "findings_to_acknowledge": lambda ids: lambda ctx: lifecycle.findings_to_acknowledge(ctx, ids["lot"]),
    "list_excursions": lambda ids: lambda ctx: excursions.list_excursions(ctx, ids["lot"]),
    "flags_for_subject(lot)": lambda ids: lambda ctx: flag_service.flags_for_subject(ctx, "lot", ids["lot"]),
    "flags_for_subject(administration)": lambda ids: (
        lambda ctx: flag_service.flags_for_subject(ctx, "administration", ids["administration"])
    ),
    "flags_for_lot": lambda ids: lambda ctx: flag_service.flags_for_lot(ctx, ids["lot"]),
    "lot_scores": lambda ids: lambda ctx: flag_service.lot_scores(ctx, [ids["lot"]]),
    "trace_lot": lambda ids: lambda ctx: recalls.trace_lot(ctx, ids["lot"]),
    "find_lot": lambda ids: lambda ctx: recalls.find_lot(ctx, "RV-MAIN"),
    "lots_for_patient": lambda ids: lambda ctx: recalls.lots_for_patient(ctx, "PT-M001"),
    "get_administration": lambda ids: lambda ctx: administrations.get_administration(ctx, ids["administration"]),
    "administration_history": lambda ids: (
        lambda ctx: administrations.administration_history(ctx, ids["administration"])
    ),
    "get_adverse_event": lambda ids: lambda ctx: adverse_events.get_adverse_event(ctx, ids["event"]),
    "list_adverse_events": lambda ids: (
        lambda ctx: adverse_events.list_adverse_events(ctx, administration_id=ids["administration"])
    ),
    "get_document": lambda ids: lambda ctx: documents.get_document(ctx, ids["doc"]),
    "read_document_content": lambda ids: lambda ctx: documents.read_document_content(ctx, ids["doc"]),
    "document_content": lambda ids: lambda ctx: lot_record.document_content(ctx, ids["doc"]),
}


def _nothing(found: Any) -> bool:
    return found is None or (hasattr(found, "__len__") and len(found) == 0)


@pytest.mark.parametrize("name", sorted(READS))
def test_another_sites_record_reads_as_missing(name: str, db: Database, main_records: dict[str, int]) -> None:
    read = READS[name](main_records)
    group = _signed_in(db, "main", "director", "director-password")
    assert not _nothing(read(group)), f"{name}: the group's director reads main's record (the case is real)"
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    try:
        found = read(kim)
    except (NotFound, ValidationError):
        return
    assert _nothing(found), f"{name} showed main's record to a pharmacist of BUSAN: {found!r}"


def test_completeness_figures_count_the_users_site(db: Database, two_sites: dict[str, int]) -> None:  # noqa: F811
    from registry_app.services.queries.lot_record import dashboard_figures

    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    group = _signed_in(db, "main", "director", "director-password")
    assert sum(a.lots for a in flag_service.product_scores(kim)) == 1
    assert sum(a.lots for a in flag_service.supplier_scores(kim)) == 1
    assert sum(a.lots for a in flag_service.product_scores(group)) == 2
    assert sum(dashboard_figures(kim).completeness.values()) == 1
    assert sum(dashboard_figures(group).completeness.values()) == 2


def _readers_taking_only_the_context() -> list[tuple[str, Callable[[ServiceContext], Any]]]:
    """Every public service function that needs nothing but the context and changes nothing: the lists."""
    import importlib
    import inspect
    import pkgutil

    from registry_app import services

    found = {}
    for module_info in pkgutil.walk_packages(services.__path__, f"{services.__name__}."):
        module = importlib.import_module(module_info.name)
        for name, function in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(function) or function.__module__ != module.__name__:
                continue
            parameters = list(inspect.signature(function).parameters.values())
            if not parameters or parameters[0].name != "ctx":
                continue
            required = [p for p in parameters[1:] if p.default is inspect.Parameter.empty and p.kind != p.VAR_KEYWORD]
            if not required and f"{module.__name__.rsplit('.', 1)[-1]}.{name}" not in services.CHANGING_SERVICES:
                found[f"{module.__name__}.{name}"] = function
    return sorted(found.items())


SKIPPED_LISTS = {
    # Writes a file or reads the audit trail's whole chain: covered by test_site_scope's exports and the bundle test.
    "registry_app.services.backup.backup_registry",
}


def test_no_list_shows_another_sites_lot_or_patient(
    db: Database,
    main_records: dict[str, int],
) -> None:
    kim = _signed_in(db, "BUSAN", "kim", "kim-password-long")
    readers = [(name, read) for name, read in _readers_taking_only_the_context() if name not in SKIPPED_LISTS]
    assert len(readers) >= 10
    leaks = []
    for name, read in readers:
        try:
            shown = repr(read(kim))
        except (NotFound, ValidationError, PermissionError):
            continue
        except Exception as error:
            if "RV-MAIN" in str(error) or "PT-M001" in str(error):
                leaks.append(f"{name} (in its error)")
            continue
        if "RV-MAIN" in shown or "PT-M001" in shown:
            leaks.append(name)
    assert not leaks, f"main's lot or patient shown to a pharmacist of BUSAN by: {leaks}"
