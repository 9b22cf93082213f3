"""The read-only queries behind the desktop: search, filters, SQL sorts, keyset paging, badges, the lot record."""

from __future__ import annotations

import pytest

from registry_app.domain.vocab import SEVERITY_RANK
from registry_app.services import PermissionDenied, ServiceContext
from registry_app.services.queries.lot_record import (
    NO_STATUS,
    audit_list,
    dashboard_figures,
    lot_detail,
    products_list,
    suppliers_list,
)
from registry_app.services.queries.lots_page import SORT_KEYS, LotQuery, count_lots, lot_page, lot_rows

from ..rules import builders as b
from ..ui.ui_data import seed


def _numbers(ctx: ServiceContext, query: LotQuery) -> list[str]:
    return [row.lot_number for row in lot_page(ctx, query).rows]


def test_search_matches_product_manufacturer_supplier_and_lot_number_prefix(pharmacist: ServiceContext) -> None:
    seed(pharmacist.db)
    assert sorted(_numbers(pharmacist, LotQuery(text="plinest"))) == ["PLN24-0001", "PLN24-0002"]
    assert sorted(_numbers(pharmacist, LotQuery(text="exocell"))) == ["EXO23-0007", "EXO24-0100"]
    assert _numbers(pharmacist, LotQuery(text="grey")) == ["EXO24-0100"]
    assert _numbers(pharmacist, LotQuery(text="pln24-0002")) == ["PLN24-0002"]
    assert _numbers(pharmacist, LotQuery(text="exo24 exocell")) == ["EXO24-0100"]
    assert _numbers(pharmacist, LotQuery(text="%")) == []
    assert count_lots(pharmacist, LotQuery(text="plinest")) == 2


def test_filters_status_type_expiring(pharmacist: ServiceContext) -> None:
    seed(pharmacist.db)
    assert _numbers(pharmacist, LotQuery(statuses=("quarantine",))) == ["EXO24-0100"]
    assert _numbers(pharmacist, LotQuery(statuses=("expired",))) == ["EXO23-0007"]
    released = _numbers(pharmacist, LotQuery(statuses=("released",)))
    assert sorted(released) == ["PLN24-0001", "PLN24-0002"], "an expired lot is not shown as released"
    assert sorted(_numbers(pharmacist, LotQuery(product_type="exosome"))) == ["EXO23-0007", "EXO24-0100"]
    assert _numbers(pharmacist, LotQuery(expiring=True)) == ["PLN24-0002"]
    rows = lot_page(pharmacist, LotQuery(statuses=("expired",))).rows
    assert rows[0].status == "expired"


@pytest.mark.parametrize("sort", SORT_KEYS)
def test_every_sort_pages_through_every_lot_once_in_order(pharmacist: ServiceContext, sort: str) -> None:
    seed(pharmacist.db, extra_lots=23)
    for descending in (False, True):
        query = LotQuery(sort=sort, descending=descending)
        seen, cursor = [], None
        while True:
            page = lot_page(pharmacist, query, after=cursor, limit=5, badges=False)
            seen.extend(page.rows)
            cursor = page.cursor
            if not page.has_more:
                break
        assert len(seen) == 27 and len({r.id for r in seen}) == 27
        keys = {
            "product": lambda r: r.product.lower(),
            "type": lambda r: r.product_type,
            "lot_number": lambda r: r.lot_number,
            "manufacturer": lambda r: (r.manufacturer or "").lower(),
            "supplier": lambda r: (r.supplier is not None, (r.supplier or "").lower()),
            "status": lambda r: r.status if r.status != "expired" else "released",
            "expiry": lambda r: (r.expiry_date is not None, r.expiry_date),
            "received": lambda r: r.received_date,
            "on_hand": lambda r: r.on_hand,
        }
        values = [keys[sort](r) for r in seen]
        assert values == sorted(values, reverse=descending), (sort, descending)


def _expected_worst(ctx: ServiceContext, lot_id: int, product_id: int) -> tuple[str | None, int]:
    """The worst open flag of the lot and its product, straight from the flag engine."""
    from datetime import date

    from registry_app.rules import evaluate_flags

    with ctx.db.read() as session:
        found = evaluate_flags(session, "US", date.today(), subject_type="lot", subject_ids=[lot_id])
        found += evaluate_flags(session, "US", date.today(), subject_type="product", subject_ids=[product_id])
    open_flags = [f for f in found if not f.waived]
    return (max(open_flags, key=lambda f: f.rank).severity if open_flags else None), len(open_flags)


def test_rows_carry_flag_badges_and_severity_filter(pharmacist: ServiceContext) -> None:
    ids = seed(pharmacist.db)
    rows = {r.id: r for r in lot_rows(pharmacist, [ids["quarantine"], ids["released"]])}
    assert list(rows) == [ids["quarantine"], ids["released"]]
    for key, product in (("quarantine", "exo"), ("released", "pn")):
        row = rows[ids[key]]
        assert (row.worst_severity, row.open_flags) == _expected_worst(pharmacist, ids[key], ids[product])
    for severity in ("critical", "high", "medium", "low"):
        shown = lot_page(pharmacist, LotQuery(min_severity=severity)).rows
        assert all(
            r.worst_severity is not None and SEVERITY_RANK[r.worst_severity] >= SEVERITY_RANK[severity] for r in shown
        )
        everyone = lot_page(pharmacist, LotQuery()).rows
        expected = {
            r.id for r in everyone if r.worst_severity and SEVERITY_RANK[r.worst_severity] >= SEVERITY_RANK[severity]
        }
        assert {r.id for r in shown} == expected
        assert count_lots(pharmacist, LotQuery(min_severity=severity)) == len(expected)


def test_lot_detail_reads_results_against_specification(pharmacist: ServiceContext) -> None:
    ids = seed(pharmacist.db)
    detail = lot_detail(pharmacist, ids["quarantine"])
    by_parameter = {r.parameter: r for r in detail.results}
    assert by_parameter["endotoxin"].in_spec is False and "0.5" in by_parameter["endotoxin"].specification
    assert by_parameter["size_mode"].in_spec is True
    assert by_parameter["sterility"].in_spec is True
    assert detail.source["biological_source"] == "msc_umbilical_cord" and detail.source["human_derived"] is True
    assert detail.regulatory[0]["status"] == "hctp_361_claim" and detail.regulatory[0]["current"]
    assert all(f["subject_type"] in ("lot", "product", "administration") for f in detail.flags)
    assert detail.fields["lot_number"] == "EXO24-0100"


def test_dashboard_and_lists(pharmacist: ServiceContext) -> None:
    seed(pharmacist.db)
    figures = dashboard_figures(pharmacist)
    assert figures.quarantine == 1 and figures.expiring == 1 and figures.lots == 4
    assert figures.products_by_status == {"device_registered": 1, "hctp_361_claim": 1}
    assert sum(figures.flags_by_code.values()) == sum(figures.flags_by_severity.values())
    assert [p["name"] for p in products_list(pharmacist)] == ["ExoSkin UC-MSC Vial", "Plinest"]
    assert {s["name"]: s["lots"] for s in suppliers_list(pharmacist)} == {"ClinicDirect": 2, "Grey Import Co": 1}
    with pharmacist.db.write() as session:
        b.product(session, status=None, name="Unlabelled Exo")
    assert dashboard_figures(pharmacist).products_by_status[NO_STATUS] == 1
    assert {p["name"]: p["regulatory_status"] for p in products_list(pharmacist)}["Unlabelled Exo"] == NO_STATUS
    entries = audit_list(pharmacist, limit=2)
    assert len(entries) == 2 and entries[0]["seq"] > entries[1]["seq"]


def test_reading_needs_a_signed_in_user(registry: ServiceContext) -> None:
    with pytest.raises(PermissionDenied):
        lot_page(registry, LotQuery())


def test_expired_stock_counts_what_the_alert_raises(admin: ServiceContext) -> None:
    """The dashboard's "expired stock" card and the lots filter find exactly the ALERT-EXPIRED-STOCK lots."""
    from registry_app.services.demo.generate import generate_demo
    from registry_app.services.flags import list_alerts
    from registry_app.services.queries.lot_record import dashboard_figures
    from registry_app.services.queries.lots_page import LotQuery, count_lots

    generate_demo(admin, lots=300, seed=7)
    alerts = {f.subject_id for f in list_alerts(admin) if f.code == "ALERT-EXPIRED-STOCK"}
    assert alerts, "the demo holds expired lots with stock"
    assert dashboard_figures(admin).expired_stock == len(alerts)
    assert count_lots(admin, LotQuery(expired_stock=True)) == len(alerts)
