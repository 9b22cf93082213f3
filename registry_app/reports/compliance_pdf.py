"""The inspector's compliance report as PDF: QTextDocument laid out in pages, painted onto a QPdfWriter.

Qt is used here only to write PDF (no widgets). The document is laid out once with the page size minus a
footer band; each page is then painted with its own "page N of M" footer, which QTextDocument.print cannot do.
Tables use <thead>, which Qt maps to QTextTableFormat.headerRowCount, so headers repeat on every page.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from ..domain.palette import palette
from ..domain.vocab import label
from .data import ComplianceData, FlagRow, sorted_flags
from .fonts import report_font

SEVERITIES = ("critical", "high", "medium", "low", "info")
RESOLUTION_DPI = 96
CHART_SCALE = 3  # charts are drawn at 3x their layout size so they stay sharp when printed
FOOTER_HEIGHT_PX = 28
TABLE_CHUNK_ROWS = 60
SHADED_ROW = f'<tr bgcolor="{palette().state["shaded_row_fill"]}">'
# A code raised thousands of times (the same finding on every administration of one product) would bury the
# rest of the report: the PDF lists the first rows of each code and counts the others, which the flags
# export (in every bundle) lists in full.
FLAG_ROWS_PER_CODE = 40
# Closed flags listed in the report (newest first); the rest are counted.
CLOSED_FLAG_ROWS = 200
CHART_W, WIDE_CHART_W, CHART_H = 440, 900, 200
FLAG_HEADERS, FLAG_WIDTHS = ("Subject", "Product", "Lot", "Message", "Status"), (10, 15, 10, 45, 20)

_app: Any = None


def ensure_gui_application() -> None:
    """QTextDocument and fonts need a QGuiApplication; create one (offscreen when there is no display)."""
    global _app
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(["registry-app-report"])
    atexit.register(_release_gui_application)


def _release_gui_application() -> None:
    """Destroy the application we created while Python is still whole: left to interpreter shutdown, its
    destruction can run after PySide's own teardown and abort the process."""
    global _app
    if _app is not None:
        shutdown = getattr(_app, "shutdown", None)
        if shutdown is not None:
            shutdown()
        _app = None


# ---- HTML ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return escape(str(value))


def _label(value: str | None) -> str | None:
    """A vocabulary value as people read it (vocabulary.md: store the value, show the label):
    `oncorhynchus_keta` -> `Chum salmon (Oncorhynchus keta)`; None stays None (shown as a dash)."""
    return label(value) if value else value


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int] | None = None,
    raw_columns: frozenset[int] = frozenset(),
    shaded_from: int = 0,
) -> str:
    """A table whose header row repeats on each page. `raw_columns` hold HTML already escaped.

    Long tables are emitted as consecutive tables of TABLE_CHUNK_ROWS rows: Qt walks every cell of a table
    to paint any page of it, so one 2,000-row table costs quadratic time to print. Rows are told apart by
    alternate shading rather than cell borders: Qt draws four border lines per cell, which cost a third of the
    painting time of a 2,000-lot report (and 10 % more pages). No headers: no header row (column widths then
    go on the first row's cells); `shaded_from` 1 shades the first row (one-row tables continuing a list).
    """
    head = ['<table width="100%" cellspacing="0" cellpadding="2" border="0">']
    if headers:
        head.append("<thead><tr>")
        for index, header in enumerate(headers):
            width = f' width="{widths[index]}%"' if widths else ""
            fill = palette().state["table_header_fill"]
            head.append(f'<th bgcolor="{fill}" align="left"{width}>{escape(header)}</th>')
        head.append("</tr></thead>")
    head.append("<tbody>")
    opening = "".join(head)
    parts = [opening]
    for count, row in enumerate(rows):
        if count and count % TABLE_CHUNK_ROWS == 0:
            parts.append("</tbody></table>")
            parts.append(opening)
        parts.append(SHADED_ROW if (count + shaded_from) % 2 else "<tr>")
        for index, value in enumerate(row):
            width = f' width="{widths[index]}%"' if widths and not headers and not count else ""
            parts.append(f"<td{width}>{value if index in raw_columns else _text(value)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _key_values(pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f'<tr><td width="32%"><b>{escape(k)}</b></td><td>{v}</td></tr>' for k, v in pairs)
    return f'<table cellspacing="0" cellpadding="4" width="80%">{rows}</table>'


def _cover(data: ComplianceData) -> str:
    audit_colour = palette().state["ok" if data.audit_ok else "problem"]
    pairs = [
        ("Clinic", escape(f"{data.clinic} (site {data.site_code})")),
        ("Jurisdiction", escape(data.jurisdiction)),
        ("Period", escape(data.period.describe())),
        ("Generated by", escape(data.generated_by)),
        ("Generated at", escape(data.generated_at.strftime("%Y-%m-%d %H:%M UTC"))),
        ("Registry version", escape(data.registry_version)),
        ("Audit trail", f'<span style="color: {audit_colour}"><b>{escape(data.audit_status)}</b></span>'),
        ("Audit head (SEQ:HASH)", escape(data.audit_head)),
        ("Patients identified by", escape(data.patient_refs)),
    ]
    return (
        '<h1>Compliance report</h1><p style="font-size: 12pt">Exosome and polynucleotide product lots: what '
        "was received, from whom, with which documents and legal status, what was administered, and what "
        "went wrong.</p><br/>" + _key_values(pairs)
    )


def _summary(data: ComplianceData) -> str:
    open_flags = [f for f in data.flags if not f.waived]
    by_severity = Counter(f.severity for f in open_flags)
    mean = data.mean_completeness
    pairs = [
        ("Lots received in the period", f"{len(data.lots):,}"),
        ("Products concerned", f"{data.products_in_scope:,}"),
        ("Administrations (current records)", f"{data.administration_count:,}"),
        ("Patients treated", f"{data.patients:,}"),
        ("Open flags", f"{len(open_flags):,} (" + ", ".join(f"{by_severity.get(s, 0)} {s}" for s in SEVERITIES) + ")"),
        ("Waived flags", f"{len(data.flags) - len(open_flags):,}"),
        (
            "Recalls",
            f"{len(data.recalls):,} ({sum(1 for r in data.recalls if r.lookback.startswith('open'))} "
            "with lookback open)",
        ),
        (
            "Adverse events",
            f"{len(data.adverse_events):,} ("
            f"{sum(1 for e in data.adverse_events if e.report_status == 'not_reported')} not reported)",
        ),
        ("Mean documentation completeness", "—" if mean is None else f"{mean:.0f} %"),
    ]
    charts = (
        f'<p><img src="chart://flags" width="{CHART_W}" height="{CHART_H}"/>&nbsp;&nbsp;'
        f'<img src="chart://status" width="{CHART_W}" height="{CHART_H}"/></p>'
        f'<p><img src="chart://months" width="{WIDE_CHART_W}" height="{CHART_H}"/></p>'
    )
    return "<h2>Summary</h2>" + _key_values(pairs) + charts


def _lots(data: ComplianceData) -> str:
    headers = [
        "Lot",
        "Product",
        "Manufacturer",
        "Supplier",
        "Source",
        "Regulatory status",
        "Reference",
        "CoA",
        "Received",
        "Status",
        "Score",
    ]
    rows = [
        (
            lot.lot_number,
            lot.product,
            lot.manufacturer,
            lot.supplier,
            _label(lot.source),
            _label(lot.regulatory_status) or "none recorded",
            lot.regulatory_reference,
            lot.coa_present,
            lot.received_date,
            _label(lot.status),
            "—" if lot.completeness_pct is None else f"{lot.completeness_pct:.0f} %",
        )
        for lot in data.lots
    ]
    if not rows:
        return "<h2>Lots received</h2><p>No lot was received in the period.</p>"
    return "<h2>Lots received</h2>" + _table(headers, rows, [9, 14, 12, 11, 10, 10, 10, 4, 8, 7, 5])


def _waiver_text(flag: FlagRow) -> str:
    if not flag.waived:
        if flag.since:
            return escape(flag.since)
        return "open"
    when = flag.waived_at.strftime("%Y-%m-%d") if flag.waived_at else ""
    return escape(f"waived by {flag.waived_by or '?'} {when}: {flag.waiver_reason or ''}".strip())


def _flags(data: ComplianceData) -> str:
    if not data.flags:
        return "<h2>Flags</h2><p>No open or waived flag concerns the period.</p>"
    parts = [
        "<h2>Flags</h2><p>Open and waived findings of the flag rules on the products, lots, administrations "
        "and adverse events of the period, by severity and code.</p>"
    ]
    groups: dict[tuple[str, str], list[FlagRow]] = {}
    for flag in sorted_flags(data.flags):
        groups.setdefault((flag.severity, flag.code), []).append(flag)
    current_severity = None
    for (severity, code), flags in groups.items():
        if severity != current_severity:
            colour = palette().severity_colour(severity)
            parts.append(f'<h3 style="color: {colour}">{escape(severity.capitalize())}</h3>')
            current_severity = severity
        waived = sum(1 for f in flags if f.waived)
        parts.append(
            f"<p><b>{escape(code)}</b> — {escape(flags[0].title)}: {len(flags) - waived} open, {waived} waived</p>"
        )
        # Waived flags first: each waiver (who, when, why) is something an inspector reads one by one.
        shown = sorted(flags, key=lambda f: not f.waived)[:FLAG_ROWS_PER_CODE]
        rows = [
            (
                f"{f.subject_type.replace('_', ' ')} {f.subject_id}",
                f.product_name,
                f.lot_number,
                escape(f.message),
                _waiver_text(f),
            )
            for f in shown
        ]
        # One table per flag, the header on the first only: a table of one row is what _keep_together can move
        # whole to the next page, so no message is split across pages (Qt breaks a row between its lines).
        for index, row in enumerate(rows):
            parts.append(
                _table(
                    FLAG_HEADERS if index == 0 else (),
                    [row],
                    FLAG_WIDTHS,
                    raw_columns=frozenset({3, 4}),
                    shaded_from=index % 2,
                )
            )
        if len(flags) > len(shown):
            parts.append(
                f"<p><i>… and {len(flags) - len(shown):,} more {escape(code)} flags, listed in full in "
                "the flags export (exports/flags.csv and .xlsx in the inspection bundle).</i></p>"
            )
    return "".join(parts)


def _closed_flags(data: ComplianceData) -> str:
    if not data.closed_flags:
        return ""
    shown = data.closed_flags[:CLOSED_FLAG_ROWS]
    parts = [
        "<h2>Flags closed in the period</h2><p>Findings that stopped holding during the period: when each was "
        "raised, and when and by which change it closed.</p>",
        _table(
            ["Code", "Subject", "Lot", "Message", "Raised and closed"],
            [
                (f.code, f"{f.subject_type.replace('_', ' ')} {f.subject_id}", f.lot_number, f.message, f.life)
                for f in shown
            ],
            [15, 10, 10, 40, 25],
        ),
    ]
    if len(data.closed_flags) > len(shown):
        parts.append(f"<p><i>… and {len(data.closed_flags) - len(shown):,} more closed flags.</i></p>")
    return "".join(parts)


def _administrations(data: ComplianceData) -> str:
    if not data.administrations:
        return "<h2>Administrations</h2><p>No administration in the period.</p>"
    rows: list[tuple[object, ...]] = [
        (a.product, _label(a.route), a.administrations, a.quantity, a.patients) for a in data.administrations
    ]
    rows.append(
        (
            "<b>Total</b>",
            "",
            f"<b>{data.administration_count:,}</b>",
            f"<b>{_text(sum(a.quantity for a in data.administrations))}</b>",
            f"<b>{data.patients:,}</b>",
        )
    )
    body = _table(["Product", "Route", "Administrations", "Quantity", "Patients"], rows[:-1], [34, 26, 14, 13, 13])
    total = "".join(f"<td>{v}</td>" for v in rows[-1])
    # The total closes the last chunk of the table only.
    head, tail = body.rsplit("</tbody>", 1)
    body = f"{head}<tr>{total}</tr></tbody>{tail}"
    return "<h2>Administrations</h2>" + body


def _recalls(data: ComplianceData) -> str:
    if not data.recalls:
        return "<h2>Recalls</h2><p>No recall concerns the period.</p>"
    rows = [(r.lot_number, r.product, r.recall_date, r.reason, r.administrations, r.lookback) for r in data.recalls]
    return "<h2>Recalls and lookback</h2>" + _table(
        ["Lot", "Product", "Recalled on", "Reason", "Administrations", "Lookback"], rows, [11, 17, 9, 25, 11, 27]
    )


def _adverse_events(data: ComplianceData) -> str:
    if not data.adverse_events:
        return "<h2>Adverse events</h2><p>No adverse event was recorded in the period.</p>"
    rows = [
        (
            e.onset_date or e.recorded_at.date(),
            _label(e.event_type),
            _label(e.severity),
            e.product,
            e.lot_number,
            e.patient,
            _label(e.report_status),
            e.report_reference,
            e.reported_on,
        )
        for e in data.adverse_events
    ]
    return "<h2>Adverse events</h2>" + _table(
        [
            "Onset",
            "Event",
            "Severity",
            "Product",
            "Lot",
            "Patient",
            "Report status",
            "Reference / reason",
            "Reported on",
        ],
        rows,
        [8, 12, 8, 15, 10, 9, 13, 17, 8],
    )


def build_html(data: ComplianceData) -> str:
    heading = palette().state["heading"]
    style = (
        f"<style>h1 {{ font-size: 22pt; }} h2 {{ font-size: 14pt; color: {heading}; }} h3 {{ font-size: 11pt; }} "
        "th { font-weight: bold; } td, th { font-size: 7.5pt; }</style>"
    )
    page_break = '<p style="page-break-before: always"></p>'
    sections = [
        _cover(data),
        _summary(data),
        _lots(data),
        _flags(data),
        _closed_flags(data),
        _administrations(data),
        _recalls(data),
        _adverse_events(data),
    ]
    return (
        f"<html><head>{style}</head><body>"
        + page_break.join(sections[:3])
        + "".join(page_break + s for s in sections[3:])
        + "</body></html>"
    )


# ---- page breaks ------------------------------------------------------------------------------------------

# Below this many pixels from a page's top an element already starts a page: a break before it would only add
# an empty page.
_PAGE_TOP_PX = 2.0


def _keep_together(document: Any, page_height: float) -> None:
    """The page breaks a reader expects and Qt's layout does not make, on the laid-out document:

    - a heading, or the line that introduces a table, is not the last thing on a page;
    - a table's header row is not alone at a page foot (Qt would repeat it over the table's first row);
    - a table of one row (a flag: see _flags) is not split across two pages.

    Each fix is a page break before the element, or before the headings that lead to it. Qt lays the document
    out again from there on the next query, and the walk goes on with the elements after it."""
    from PySide6.QtGui import QTextBlockFormat, QTextCursor, QTextFormat, QTextTable

    layout = document.documentLayout()
    elements = [item.currentFrame() or item.currentBlock() for item in document.rootFrame()]

    def top(element: Any) -> float:
        rect = (
            layout.frameBoundingRect(element) if isinstance(element, QTextTable) else layout.blockBoundingRect(element)
        )
        return float(rect.top())

    def first_content_bottom(element: Any) -> float:
        """The bottom of what must share a page with the headings before it: a table's first body row (its
        whole body when it has one row), a paragraph's first line."""
        if isinstance(element, QTextTable):
            header_rows = element.format().headerRowCount()
            if element.rows() - header_rows <= 1:
                rect = layout.frameBoundingRect(element)
                return float(rect.bottom())
            row = element.cellAt(header_rows, 0).firstCursorPosition().block()
            return float(layout.blockBoundingRect(row).bottom())
        lines = element.layout()
        first = lines.lineAt(0) if lines.lineCount() else None
        return top(element) + (float(first.y() + first.height()) if first is not None else 0.0)

    def page(y: float) -> int:
        return int(y // page_height)

    def leads(index: int) -> bool:
        """A heading, or a paragraph right before a table: it belongs with what follows it."""
        element = elements[index]
        if isinstance(element, QTextTable) or not element.text().strip() or index + 1 >= len(elements):
            return False
        return element.blockFormat().headingLevel() > 0 or isinstance(elements[index + 1], QTextTable)

    def break_before(element: Any) -> None:
        if isinstance(element, QTextTable):
            table_format = element.format()
            table_format.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
            element.setFormat(table_format)
        else:
            block_format = QTextBlockFormat()
            block_format.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
            QTextCursor(element).mergeBlockFormat(block_format)

    def empty(index: int) -> bool:
        element = elements[index]
        return not isinstance(element, QTextTable) and not element.text().strip()

    for index in range(len(elements)):
        if leads(index) or empty(index):
            continue  # judged with the element it leads to; empty blocks (section breaks) hold nothing
        # The headings leading to this element, back to a table, a paragraph or a section's own page break.
        start = index
        while start > 0 and (leads(start - 1) or empty(start - 1)):
            if empty(start - 1) and elements[start - 1].blockFormat().pageBreakPolicy():
                break
            start -= 1
        while start < index and not leads(start):
            start += 1  # no empty block ahead of the first heading
        element = elements[index]
        first_top = top(elements[start])
        if page(first_top) == page(first_content_bottom(element) - 0.5):
            continue
        if first_top - page(first_top) * page_height <= _PAGE_TOP_PX:
            continue  # already at a page's top: taller than a page, nothing to gain
        break_before(elements[start])
        document.pageCount()  # lay out again from the break before measuring what follows


# ---- charts -----------------------------------------------------------------------------------------------


def _bar_chart(title: str, items: Sequence[tuple[str, int, str]], width: int, height: int) -> Any:
    """A horizontal bar chart drawn with QPainter into an image (sharp at print size)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter

    scale = CHART_SCALE
    image = QImage(width * scale, height * scale, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(scale, scale)
    font = report_font(pixel_size=12, bold=True)
    painter.setFont(font)
    painter.drawText(QRectF(0, 0, width, 18), Qt.AlignmentFlag.AlignLeft, title)
    font.setBold(False)
    font.setPixelSize(10)
    painter.setFont(font)
    if not items:
        painter.drawText(QRectF(0, 24, width, 20), Qt.AlignmentFlag.AlignLeft, "nothing to show")
        painter.end()
        return image
    label_w, top, value_w = min(170, width // 3), 24, 48
    row_h = min(22.0, (height - top) / len(items))
    peak = max(v for _, v, _ in items) or 1
    for index, (name, value, colour) in enumerate(items):
        y = top + index * row_h
        painter.setPen(QColor(palette().state["text"]))
        painter.drawText(
            QRectF(0, y, label_w - 6, row_h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
        )
        bar = (width - label_w - value_w) * value / peak
        painter.fillRect(QRectF(label_w, y + row_h * 0.15, max(bar, 1.0), row_h * 0.7), QColor(colour))
        painter.drawText(QRectF(label_w + bar + 4, y, value_w, row_h), Qt.AlignmentFlag.AlignVCenter, f"{value:,}")
    painter.end()
    return image


def _charts(data: ComplianceData) -> dict[str, Any]:
    open_by_severity = Counter(f.severity for f in data.flags if not f.waived)
    flags = [(s, open_by_severity.get(s, 0), palette().severity_colour(s)) for s in SEVERITIES]
    statuses = Counter(_label(lot.regulatory_status) or "none recorded" for lot in data.lots)
    status_items = [(k, v, palette().state["chart_status"]) for k, v in statuses.most_common(8)]
    months = [(k, v, palette().state["chart_month"]) for k, v in data.per_month[-12:]]
    return {
        "flags": _bar_chart("Open flags by severity", flags, CHART_W, CHART_H),
        "status": _bar_chart("Lots received by regulatory status", status_items, CHART_W, CHART_H),
        "months": _bar_chart("Administrations per month (last 12 months of the period)", months, WIDE_CHART_W, CHART_H),
    }


# ---- PDF ----------------------------------------------------------------------------------------------------


def write_compliance_pdf(path: str | Path, data: ComplianceData) -> int:
    """Write the report; returns its page count."""
    ensure_gui_application()
    from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt, QUrl
    from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter, QTextDocument

    writer = QPdfWriter(str(path))
    writer.setResolution(RESOLUTION_DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageOrientation(QPageLayout.Orientation.Landscape)
    writer.setPageMargins(QMarginsF(14, 12, 14, 10), QPageLayout.Unit.Millimeter)
    writer.setTitle(f"Compliance report {data.clinic} {data.period.describe()}")
    writer.setCreator(f"registry-app {data.registry_version}")

    document = QTextDocument()
    document.documentLayout().setPaintDevice(writer)
    document.setDocumentMargin(0)
    document.setDefaultFont(report_font(point_size=8.5))
    for name, image in _charts(data).items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"chart://{name}"), image)
    paint_rect = writer.pageLayout().paintRectPixels(RESOLUTION_DPI)
    body = QSizeF(paint_rect.width(), paint_rect.height() - FOOTER_HEIGHT_PX)
    document.setPageSize(body)
    document.setHtml(build_html(data))
    _keep_together(document, body.height())
    pages = document.pageCount()

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(5, "the PDF file could not be written", str(path))
    footer_font = report_font(point_size=7.5)
    footer_left = f"{data.clinic} — compliance report, {data.period.describe()}"
    try:
        for index in range(pages):
            if index:
                writer.newPage()
            painter.save()
            painter.translate(0, -index * body.height())
            document.drawContents(painter, QRectF(0, index * body.height(), body.width(), body.height()))
            painter.restore()
            painter.setFont(footer_font)
            footer = QRectF(0, body.height(), body.width(), FOOTER_HEIGHT_PX)
            painter.drawText(footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, footer_left)
            painter.drawText(
                footer, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, f"page {index + 1} of {pages}"
            )
            if index == pages - 1 and data.audit_head:
                # The trail the report was made from, on its last page too: a later trail must still hold it.
                painter.drawText(
                    footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"audit head: {data.audit_head}"
                )
    finally:
        painter.end()
    return pages
