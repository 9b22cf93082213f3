"""Characterization results of a lot: added with their method and source, voided with a reason (never deleted)."""

from datetime import date
from typing import Any

from registry_app.domain import (
    CharacterizationResult,
    Document,
    utcnow,
)
from registry_app.domain.vocab import (
    MARKERS,
    PARAMETER_SPEC,
    MeasuredBy,
)
from registry_app.importers import cells
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.clock import site_today
from registry_app.services.context import STAFF, ServiceContext, changing
from registry_app.services.errors import ConflictError, FieldError, NotFound, ValidationError, required_reason
from registry_app.services.lots.receiving import find_lot

_PARAMETER = cells.vocabulary(tuple(PARAMETER_SPEC), "characterization parameter")
_MEASURED_BY = cells.vocabulary(MeasuredBy, "result source")
_MARKER = cells.vocabulary(MARKERS, "marker")


@changing("record characterization results", STAFF)
def add_characterization_result(
    ctx: ServiceContext,
    lot_id: int,
    parameter: str,
    *,
    value: Any = None,
    result: str | None = None,
    method: str | None = None,
    marker: str | None = None,
    measured_by: str | None = None,
    document_id: int | None = None,
    source_ref: str | None = None,
    laboratory: str | None = None,
    tested_on: date | None = None,
) -> int:
    """Record one measured parameter of a lot: a number in the parameter's unit, or a qualitative result;
    optionally the laboratory that measured it and the date of the test (from the certificate)."""
    errors: list[FieldError] = []
    laboratory = laboratory.strip() if laboratory and laboratory.strip() else None
    if laboratory is not None and len(laboratory) > 200:
        errors.append(FieldError("laboratory", "at most 200 characters fit"))
    if tested_on is not None and (not isinstance(tested_on, date) or tested_on > site_today(ctx)):
        errors.append(
            FieldError(
                "tested_on",
                f"{tested_on} is in the future" if isinstance(tested_on, date) else "give the date of the test",
            )
        )
    try:
        parameter = _PARAMETER(str(parameter).strip())
    except cells.CellError as error:
        raise ValidationError([FieldError("parameter", str(error))]) from None
    unit, methods, results = PARAMETER_SPEC[parameter]
    row: dict[str, Any] = {"parameter": parameter, "unit": unit}
    if unit is not None:
        text = cells.cell_text(value)
        if not text:
            errors.append(FieldError("value", f"give the {parameter.replace('_', ' ')} in {unit}"))
        else:
            try:
                row["value"] = cells.parse_non_negative(text)
            except cells.CellError as error:
                errors.append(FieldError("value", str(error)))
    else:
        try:
            row["result"] = cells.vocabulary(sorted(results), "result")(str(result or "").strip())
        except cells.CellError as error:
            errors.append(FieldError("result", str(error) if result else f"choose one of {', '.join(sorted(results))}"))
    for key, raw, parse in (
        ("method", method, cells.vocabulary(sorted(methods), f"{parameter} method")),
        ("measured_by", measured_by, _MEASURED_BY),
        ("marker", marker, _MARKER),
    ):
        if raw:
            try:
                row[key] = parse(str(raw).strip())
            except cells.CellError as error:
                errors.append(FieldError(key, str(error)))
    if parameter == "marker" and not marker:
        errors.append(FieldError("marker", "name the marker"))
    if parameter != "marker" and marker:
        errors.append(FieldError("marker", "only marker results name a marker"))
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        find_lot(session, ctx, lot_id)
        if document_id is not None and session.get(Document, document_id) is None:
            raise ValidationError([FieldError("document_id", f"no document {document_id}")])
        item = CharacterizationResult(
            lot_id=lot_id,
            document_id=document_id,
            source_ref=source_ref.strip() if source_ref else None,
            laboratory=laboratory,
            tested_on=tested_on,
            recorded_at=utcnow(),
            **row,
        )
        session.add(item)
        session.flush()
        ctx.audit(session, AuditRecord("add characterization result", "lot", lot_id, before={}, after=snapshot(item)))
        return item.id


@changing("void characterization results", STAFF)
def void_characterization_result(ctx: ServiceContext, result_id: int, reason: str) -> None:
    """Void a result entered in error (it stays on record, marked void, with the reason)."""
    why = required_reason(reason)
    with ctx.db.write() as session:
        item = session.get(CharacterizationResult, result_id)
        if item is None:
            raise NotFound(f"no characterization result with id {result_id}")
        site_scope.check_lot_id(session, ctx, item.lot_id, f"no characterization result with id {result_id}")
        if item.voided_at is not None:
            raise ConflictError(f"result {result_id} was already voided")
        item.voided_at, item.void_reason = utcnow(), why
        ctx.audit(
            session,
            AuditRecord(
                "void characterization result",
                "lot",
                item.lot_id,
                before={"result_id": item.id, "voided_at": None},
                after={"result_id": item.id, "voided_at": item.voided_at, "void_reason": why},
                reason=why,
            ),
        )
