"""The compliance PDF read back with poppler: text of each page (pdftotext) and the page count (pdfinfo)."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest

from registry_app.reports.compliance_pdf import write_compliance_pdf
from registry_app.reports.data import (
    AdministrationSummary,
    AdverseEventRow,
    ComplianceData,
    FlagRow,
    Period,
    RecallRow,
    ReportLotRow,
)

pytestmark = pytest.mark.qt  # QPdfWriter


def _lot(index: int) -> ReportLotRow:
    return ReportLotRow(
        index,
        f"LT-{index:04d}",
        "Rose Exo Serum",
        "exosome",
        "Maker Co",
        "Supplier Ltd",
        "plant",
        "released",
        date(2024, 2, 1),
        date(2025, 2, 1),
        None,
        10.0,
        3.0,
        0.0,
        7.0,
        4.5,
        True,
        None,
        index % 2 == 0,
        None,
        "cosmetic",
        "MoCRA-1",
        None,
        None,
        80.0,
    )


def _data(lots: int) -> ComplianceData:
    flags = [
        FlagRow(
            "UNDOC-COA",
            "high",
            "No certificate of analysis",
            "lot",
            1,
            "Rose Exo Serum",
            "LT-0001",
            "No certificate of analysis for lot LT-0001.",
        ),
        FlagRow(
            "REG-COSMETIC-INJECTED",
            "critical",
            "Cosmetic product injected",
            "administration",
            7,
            "Rose Exo Serum",
            "LT-0003",
            "Injected although cosmetic.",
            waived=True,
            waived_by="Dana Director",
            waived_at=datetime(2024, 3, 1, 10, 0),
            waiver_reason="trial protocol approved",
        ),
    ]
    return ComplianceData(
        clinic="Seoul Skin Clinic",
        site_code="main",
        jurisdiction="KR",
        period=Period(date(2024, 1, 1), date(2024, 6, 30)),
        generated_by="Ian Inspector (inspector)",
        generated_at=datetime(2024, 7, 1, 8, 0),
        registry_version="9.9.9",
        audit_status="audit trail intact: 42 entries, hash chain verified",
        audit_ok=True,
        patient_refs="pseudonyms",
        lots=[_lot(i) for i in range(1, lots + 1)],
        flags=flags,
        administrations=[AdministrationSummary("Rose Exo Serum", "topical_post_microneedling", 12, 12.0, 9)],
        per_month=[("2024-01", 5), ("2024-02", 7)],
        recalls=[RecallRow(3, "Rose Exo Serum", "LT-0003", date(2024, 4, 2), "sterility failure", 4, 3, 1)],
        adverse_events=[
            AdverseEventRow(
                1,
                date(2024, 3, 3),
                datetime(2024, 3, 4),
                "erythema",
                "mild",
                "Rose Exo Serum",
                "LT-0003",
                "P-0123456789",
                "not_reported",
                None,
                None,
            )
        ],
        products_in_scope=1,
        patients=9,
    )


def _pages(path: Path, layout: bool = True) -> list[str]:
    options = ["-layout"] if layout else []
    text = subprocess.run(["pdftotext", *options, str(path), "-"], check=True, capture_output=True, text=True).stdout
    # NFKC undoes the typographic ligatures (fi, fl) the PDF's fonts use.
    text = unicodedata.normalize("NFKC", text)
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def _page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.M)
    assert match, info
    return int(match.group(1))


@pytest.fixture(scope="module")
def long_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    pages = write_compliance_pdf(path, _data(150))
    return path, pages


def test_every_page_is_numbered_n_of_m(long_report: tuple[Path, int]) -> None:
    path, pages = long_report
    assert _page_count(path) == pages
    texts = _pages(path)
    assert len(texts) == pages
    for number, text in enumerate(texts, start=1):
        assert f"page {number} of {pages}" in text


def test_cover_and_sections_show_what_an_inspector_asks(long_report: tuple[Path, int]) -> None:
    path, _ = long_report
    texts = _pages(path)
    cover = texts[0]
    for expected in (
        "Compliance report",
        "Seoul Skin Clinic",
        "2024-01-01 to 2024-06-30",
        "Ian Inspector",
        "9.9.9",
        "audit trail intact: 42 entries",
    ):
        assert expected in cover
    # Reading order, with wrapped cells joined again.
    whole = " ".join(" ".join(_pages(path, layout=False)).split())
    for lot in (1, 75, 150):
        assert f"LT-{lot:04d}" in whole
    assert "UNDOC-COA" in whole and "REG-COSMETIC-INJECTED" in whole
    assert "waived by Dana Director" in whole
    assert "open: 2 of 3 patients not notified" in whole
    assert "P-0123456789" in whole and "Not reported" in whole


def test_lot_table_header_repeats_on_each_page_it_spans(long_report: tuple[Path, int]) -> None:
    path, _ = long_report
    lot_pages = [t for t in _pages(path) if re.search(r"LT-\d{4}\s+Rose Exo Serum\s+Maker Co", t)]
    assert len(lot_pages) >= 3, "150 lots span several pages"
    for text in lot_pages:
        body = text.lstrip()
        first_lines = "\n".join(body.splitlines()[:3])
        assert "Manufacturer" in first_lines and "Supplier" in first_lines, first_lines


def test_empty_period_still_makes_a_report(tmp_path: Path) -> None:
    data = _data(0)
    data.flags, data.recalls, data.adverse_events, data.administrations = [], [], [], []
    path = tmp_path / "empty.pdf"
    pages = write_compliance_pdf(path, data)
    whole = " ".join(" ".join(_pages(path, layout=False)).split())
    assert _page_count(path) == pages >= 2
    assert "No lot was received in the period" in whole
    assert "No adverse event was recorded" in whole


def test_a_korean_product_name_is_embedded_and_extractable(tmp_path: Path) -> None:
    """The packaged CJK font is embedded, so the name is text in the PDF whatever fonts the machine has."""
    from dataclasses import replace

    data = _data(2)
    korean = "엑소좀 앰플"
    data = replace(
        data,
        lots=[replace(lot, product=korean) for lot in data.lots],
        flags=[replace(flag, product_name=korean) for flag in data.flags],
    )
    path = tmp_path / "korean.pdf"
    write_compliance_pdf(path, data)
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    embedded = [line for line in fonts.splitlines() if "NotoSansCJK" in line]
    assert embedded, fonts
    assert all(" yes " in line.split("Identity-H", 1)[1] for line in embedded), fonts  # emb = yes
    text = "".join(_pages(path, layout=False))
    assert korean in text


def _page_text(path: Path, number: int) -> str:
    """One page's text as laid out (pdftotext -f/-l), the footer line dropped."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [line for line in unicodedata.normalize("NFKC", text).splitlines() if line.strip()]
    return "\n".join(line for line in lines if "compliance report," not in line)


def test_codes_are_shown_as_their_vocabulary_labels(tmp_path: Path) -> None:
    from dataclasses import replace

    data = _data(2)
    pn = replace(data.lots[0], source="oncorhynchus_keta", regulatory_status="research_use_only", status="quarantine")
    data = replace(data, lots=[pn, data.lots[1]])
    path = tmp_path / "labels.pdf"
    write_compliance_pdf(path, data)
    whole = " ".join(" ".join(_pages(path, layout=False)).split())
    for shown in ("Chum salmon (Oncorhynchus keta)", "Research use only (RUO)", "Topical post microneedling"):
        assert shown in whole
    for code in ("oncorhynchus", "research use only", "research_use_only", "topical_post", "not_reported"):
        assert code not in whole.replace("(Oncorhynchus keta)", "").replace("Research use only", ""), code


def _flag(index: int, code: str, severity: str, words: int) -> FlagRow:
    message = f"M{index:03d}start " + "word " * words + f"M{index:03d}end"
    return FlagRow(code, severity, f"Title of {code}", "lot", index, "Rose Exo Serum", f"LT-{index:04d}", message)


@pytest.mark.parametrize("first_group", [17, 23, 29])
def test_flag_pages_break_cleanly(tmp_path: Path, first_group: int) -> None:
    """No message split across pages, no heading or flag caption or table header alone at a page foot."""
    from dataclasses import replace

    codes = [("UNDOC-COA", "high"), ("USE-EXPIRED", "high"), ("TRACE-INCOMPLETE", "high"), ("OOS-SIZE", "medium")]
    flags = [_flag(i, *codes[0], words=12 + i * 7 % 50) for i in range(first_group)]
    flags += [_flag(100 + i, *codes[1 + i % 3], words=8 + i * 11 % 70) for i in range(60)]
    path = tmp_path / "flags.pdf"
    pages = write_compliance_pdf(path, replace(_data(3), flags=flags))
    caption = re.compile(r"— Title of [A-Z-]+: \d+ open, \d+ waived$")
    header = re.compile(r"^\s*Subject\s+Product\s+Lot\s+Message\s+Status\s*$")
    seen: set[str] = set()
    for number in range(1, pages + 1):
        lines = _page_text(path, number).splitlines()
        words = " ".join(lines).split()
        starts = {w[1:4] for w in words if re.fullmatch(r"M\d{3}start", w)}
        ends = {w[1:4] for w in words if re.fullmatch(r"M\d{3}end", w)}
        assert starts == ends, f"page {number}: messages split across pages: {sorted(starts ^ ends)}"
        seen |= starts
        last = lines[-1].strip() if lines else ""
        assert not caption.search(last), f"page {number} ends with a flag caption: {last}"
        assert not header.match(last), f"page {number} ends with a table header"
        assert last not in ("Flags", "High", "Medium", "Critical", "Low"), f"page {number} ends with a heading"
    assert len(seen) == len(flags)
