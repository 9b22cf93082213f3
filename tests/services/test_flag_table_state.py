"""The persisted flags under any sequence of changes (issue 22): after each step, the open flags of the table
equal a full evaluation of the rules, flag for flag (facts and waivers included), on today and on a day when
every adverse event is overdue. Runs on SQLite, and on PostgreSQL with `-m db` (REGISTRY_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from registry_app.domain import FlagRecord
from registry_app.services import ServiceContext, adverse_events, flags, products, recalls
from registry_app.services.administrations import Override, amend_administration, record_administration
from registry_app.services.administrations import void_administration as void_use
from registry_app.services.errors import RegistryError
from registry_app.services.lots import lifecycle, receiving, results

from ..conftest import PASSWORDS
from .test_flag_table import table_differences
from .use_data import entry, make_product

TODAY = date.today()
SERIALS = count(1)
OVERRIDE = Override("accepted by the director for the test", PASSWORDS["director"])
ROUTES = ("topical_intact", "intradermal", "topical_post_microneedling")
STATUSES = ("cosmetic", "device_registered", "research_use_only", "investigational", "unknown")


class FlagTableMachine(RuleBasedStateMachine):
    """Changes made through the services, as the desktop makes them; refusals (guard rails, conflicts) are
    part of the game: a refused change must leave the table as it was, like the records."""

    lots = Bundle("lots")
    uses = Bundle("uses")

    def __init__(self, ctx: ServiceContext, product_ids: list[int]) -> None:
        super().__init__()
        self.ctx = ctx
        self.product_ids = product_ids

    def _attempt(self, change: object) -> object:
        try:
            return change()  # type: ignore[operator]
        except RegistryError:
            return None

    @rule(target=lots, product=st.integers(0, 2), coa=st.booleans(), expiry_days=st.sampled_from([-400, 5, 400]))
    def receive(self, product: int, coa: bool, expiry_days: int) -> int:
        # Numbers never reused: the registry outlives each example (and hypothesis replays them).
        details = {
            "lot_number": f"ST-{next(SERIALS)}",
            "quantity_received": 5,
            "expiry_date": TODAY + timedelta(days=expiry_days),
            "coa_ref": "COA-1" if coa else None,
            "received_date": TODAY - timedelta(days=30),
        }
        return receiving.receive_lot(self.ctx, self.product_ids[product], details).lot_id

    @rule(lot=lots, sterile=st.booleans(), endotoxin=st.sampled_from([0.1, 0.5, 2]))
    def result(self, lot: int, sterile: bool, endotoxin: float) -> None:
        self._attempt(
            lambda: results.add_characterization_result(
                self.ctx, lot, "sterility", result="pass" if sterile else "fail"
            )
        )
        self._attempt(lambda: results.add_characterization_result(self.ctx, lot, "endotoxin", value=endotoxin))

    @rule(lot=lots)
    def release(self, lot: int) -> None:
        self._attempt(
            lambda: lifecycle.release_lot(
                self.ctx,
                lot,
                PASSWORDS["director"],
                acknowledged=[f.code for f in lifecycle.findings_to_acknowledge(self.ctx, lot)],
            )
        )

    @rule(
        target=uses,
        lot=lots,
        route=st.sampled_from(ROUTES),
        patient=st.sampled_from(["PT-1", None]),
        quantity=st.sampled_from([1, 4]),
    )
    def administer(self, lot: int, route: str, patient: str | None, quantity: int) -> int:
        given = entry(lot, route=route, patient_ref=patient, quantity=quantity)
        found = self._attempt(lambda: record_administration(self.ctx, given, confirm=True, override=OVERRIDE))
        return getattr(found, "administration_id", 0) or 0

    @rule(lot=lots)
    def recall(self, lot: int) -> None:
        self._attempt(lambda: recalls.recall_lot(self.ctx, lot, "supplier notice", PASSWORDS["director"]))

    @rule(use=uses)
    def notify(self, use: int) -> None:
        self._attempt(lambda: recalls.mark_patient_notified(self.ctx, use, TODAY, "phone"))

    @rule(use=uses, patient=st.sampled_from(["PT-2", ""]), route=st.sampled_from(ROUTES))
    def amend(self, use: int, patient: str, route: str) -> None:
        self._attempt(
            lambda: amend_administration(self.ctx, use, {"patient_ref": patient or None, "route": route}, "typo")
        )

    @rule(use=uses)
    def void(self, use: int) -> None:
        self._attempt(lambda: void_use(self.ctx, use, "entered twice"))

    @rule(use=uses)
    def adverse_event(self, use: int) -> None:
        self._attempt(lambda: adverse_events.record_adverse_event(self.ctx, use, "erythema"))

    @rule(product=st.integers(0, 2), status=st.sampled_from(STATUSES))
    def set_status(self, product: int, status: str) -> None:
        self._attempt(
            lambda: products.set_regulatory_status(self.ctx, self.product_ids[product], status, reference=None)
        )

    @rule(pick=st.integers(0, 10_000))
    def waive(self, pick: int) -> None:
        with self.ctx.db.read() as session:
            open_flags = session.execute(
                select(FlagRecord.code, FlagRecord.subject_type, FlagRecord.subject_id)
                .where(FlagRecord.closed_at.is_(None), FlagRecord.waiver_id.is_(None))
                .order_by(FlagRecord.id)
            ).all()
        if open_flags:
            code, kind, subject = open_flags[pick % len(open_flags)]
            self._attempt(
                lambda: flags.waive_flag(self.ctx, code, kind, subject, "accepted", PASSWORDS["director"], TODAY)
            )

    @rule(pick=st.integers(0, 10_000))
    def revoke(self, pick: int) -> None:
        with self.ctx.db.read() as session:
            waived = session.execute(
                select(FlagRecord.waiver_id)
                .where(FlagRecord.closed_at.is_(None), FlagRecord.waiver_id.is_not(None))
                .order_by(FlagRecord.id)
            ).scalars()
            ids = sorted(set(waived))
        if ids:
            self._attempt(lambda: flags.revoke_waiver(self.ctx, ids[pick % len(ids)], "reconsidered"))

    @invariant()
    def table_equals_the_rules(self) -> None:
        for day in (TODAY, TODAY + timedelta(days=40)):
            assert table_differences(self.ctx, day) == ([], [])


def test_the_table_equals_a_full_evaluation_after_any_changes(director: ServiceContext) -> None:
    product_ids = [
        make_product(director.db, "Rosa Vesicle Serum", routes=("topical_intact", "topical_post_microneedling")),
        make_product(director.db, "Salmon PN", product_type="polynucleotide", status="cosmetic", reference=None),
        make_product(director.db, "Cord EV", status=None, routes=("intradermal",)),
    ]
    run_state_machine_as_test(
        lambda: FlagTableMachine(director, product_ids),
        settings=settings(
            max_examples=10,
            stateful_step_count=16,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with director.db.read() as session:
        history = session.execute(select(FlagRecord).where(FlagRecord.closed_at.is_not(None)).limit(1)).first()
    assert history is not None  # some flag was closed along the way: the test exercised closing, not only raising
