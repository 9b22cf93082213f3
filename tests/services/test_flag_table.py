"""The persisted flags: built with the registry, kept by every change, rebuilt to the same, read with SQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from registry_app.domain import AuditEntry, FlagRecord, Setting
from registry_app.rules import evaluate_flags, table
from registry_app.rules.table_read import stored_flags
from registry_app.services import ServiceContext, imports
from registry_app.services.demo import generate as demo
from registry_app.services.errors import PermissionDenied
from registry_app.services.flag_table import rebuild_flags

from ..helpers import FORMAT_EXAMPLES
from ..rules import builders as b

TODAY = date(2026, 6, 1)


def table_differences(ctx: ServiceContext, today: date = TODAY) -> tuple[list[object], list[object]]:
    """(flags the table lacks, flags it has that the rules do not raise), field for field, facts included."""
    with ctx.db.read() as session:
        where = table.site_jurisdiction(session)
        assert where is not None and table.built_for(session) == where.upper()
        fresh = evaluate_flags(session, where, today)
        stored = stored_flags(session, today)
    key = lambda f: (f.code, f.subject_type, f.subject_id)  # noqa: E731
    expected = {key(f): (f, f.facts, f.waiver and f.waiver["id"]) for f in fresh}
    found = {key(f): (f, f.facts, f.waiver and f.waiver["id"]) for f in stored}
    return (
        [v for k, v in expected.items() if found.get(k) != v],
        [v for k, v in found.items() if expected.get(k) != v],
    )


def test_the_demo_registry_is_built_with_its_flags(admin: ServiceContext) -> None:
    demo.generate_demo(admin, lots=60, seed=7, today=TODAY)
    assert table_differences(admin) == ([], [])
    with admin.db.read() as session:
        assert session.execute(select(func.count()).select_from(FlagRecord)).scalar_one() > 60


def test_a_rebuild_of_a_current_table_changes_nothing_and_is_audited(admin: ServiceContext) -> None:
    demo.generate_demo(admin, lots=40, seed=3, today=TODAY)
    result = rebuild_flags(admin)
    assert (result.raised, result.closed) == (0, 0) and result.open > 0
    with admin.db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
    assert entry.action == "rebuild flags"


def test_a_rebuild_restores_a_damaged_table_to_what_the_rules_raise(admin: ServiceContext) -> None:
    demo.generate_demo(admin, lots=40, seed=5, today=TODAY)
    with admin.db.write() as session:
        some = session.execute(select(FlagRecord.id).order_by(FlagRecord.id).limit(3)).scalars().all()
        session.execute(update(FlagRecord).where(FlagRecord.id.in_(some)).values(closed_at=func.now()))
        session.execute(
            update(FlagRecord).where(FlagRecord.id == some[0] + 10).values(message="tampered", waiver_id=None)
        )
    assert table_differences(admin) != ([], [])
    result = rebuild_flags(admin)
    assert result.raised == 3
    assert table_differences(admin) == ([], [])


def test_the_first_change_after_the_migration_builds_the_table(pharmacist: ServiceContext) -> None:
    with pharmacist.db.read() as session:
        assert table.built_for(session) is None
    with pharmacist.db.write() as session:
        b.lot(session, b.product(session, with_manufacturer=False), coa_ref=None)
    with pharmacist.db.read() as session:
        assert session.get(Setting, table.TABLE_KEY).value == "US"
        codes = set(session.execute(select(FlagRecord.code)).scalars())
    assert {"UNDOC-MANUFACTURER", "UNDOC-COA"} <= codes
    assert table_differences(pharmacist) == ([], [])


@pytest.mark.parametrize("who", ["pharmacist", "inspector"])
def test_only_an_admin_or_a_director_rebuilds(who: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PermissionDenied):
        rebuild_flags(request.getfixturevalue(who))


def test_rebuild_is_allowed_to_a_director(director: ServiceContext) -> None:
    assert rebuild_flags(director).raised == 0


def test_imports_of_lots_and_administrations_keep_the_table_current(pharmacist: ServiceContext) -> None:
    with pharmacist.db.write() as session:
        b.lot(session, b.product(session), coa_ref=None)  # a table built before the imports
    lots = imports.import_lots(pharmacist, FORMAT_EXAMPLES / "lots-example.csv")
    assert lots.ok and lots.created, lots.error_lines()
    assert table_differences(pharmacist) == ([], [])
    uses = imports.import_administrations(pharmacist, FORMAT_EXAMPLES / "administrations-example.csv")
    assert uses.ok and uses.created, uses.error_lines()
    assert table_differences(pharmacist) == ([], [])
    with pharmacist.db.read() as session:
        kinds = set(session.execute(select(FlagRecord.subject_type).where(FlagRecord.closed_at.is_(None))).scalars())
    assert {"lot", "administration"} <= kinds


def test_the_readers_answer_from_the_table_what_evaluating_answered(
    admin: ServiceContext, inspector: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_app.services import flags

    demo.generate_demo(admin, lots=60, seed=7, today=TODAY)
    with inspector.db.read() as session:
        lot_id = session.execute(select(FlagRecord.lot_id).where(FlagRecord.subject_type == "administration")).scalar()
        product_id = session.execute(select(FlagRecord.product_id).where(FlagRecord.lot_id == lot_id)).scalar()
        assert flags.table_answers(session, inspector)  # the first answers below are the table's

    def answers() -> list[object]:
        return [
            flags.list_flags(inspector, today=TODAY),
            flags.list_flags(inspector, min_severity="high", codes=["UNDOC-COA", "USE-RECALLED"], today=TODAY),
            flags.list_flags(inspector, include_waived=False, today=TODAY),
            flags.count_flags(inspector, today=TODAY),
            flags.count_flags(inspector, today=TODAY, include_waived=True),
            flags.flag_summary(inspector, today=TODAY).as_json(),
            flags.flag_summary(inspector, min_severity="critical", today=TODAY).as_json(),
            flags.flags_for_lot(inspector, lot_id, today=TODAY),
            flags.flags_for_subject(inspector, "lot", lot_id, TODAY),
            sorted(flags.flags_for_product(inspector, product_id, TODAY), key=lambda f: (f.code, f.subject_id)),
            sorted(flags.iter_flags(inspector, today=TODAY), key=lambda f: (f.code, f.subject_type, f.subject_id)),
        ]

    stored = answers()
    monkeypatch.setattr(flags, "table_answers", lambda *_: False)
    evaluated = answers()
    for found, expected in zip(stored, evaluated, strict=True):
        assert found == expected
    assert stored[0] and stored[7]


def test_a_change_of_jurisdiction_rebuilds_the_table_for_the_new_one(admin: ServiceContext) -> None:
    from registry_app.services import sites

    demo.generate_demo(admin, lots=40, seed=9, today=TODAY)
    with admin.db.read() as session:
        before = set(session.execute(select(FlagRecord.message).where(FlagRecord.closed_at.is_(None))).scalars())
    sites.set_site(admin, "EU")
    with admin.db.read() as session:
        assert table.built_for(session) == "EU"
        after = set(session.execute(select(FlagRecord.message).where(FlagRecord.closed_at.is_(None))).scalars())
    assert before != after and any(" in EU" in message for message in after)
    assert table_differences(admin) == ([], [])
