"""The dashboard: open flags by severity and by code, lots expiring and in quarantine, products by regulatory
status, the completeness distribution. Each figure clicks through to the list it counts. The figures are
computed off the GUI thread (they evaluate every flag)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import (
    QAbstractBarSeries,
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QPieSeries,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import label
from ...services import ServiceContext
from ...services.queries.lot_record import DashboardFigures, dashboard_figures
from ...services.queries.lots_page import LotQuery
from ..lot_model import lots_phrase
from ..ops import runner_for
from ..style import set_role, severity_colour, state_colour

SEVERITIES = ("critical", "high", "medium", "low", "info")


class DashboardPage(QWidget):
    open_lots = Signal(object)  # a LotQuery
    open_products = Signal(object)  # a regulatory status, or None
    open_flags = Signal(object)  # a flag code

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.figures: DashboardFigures | None = None
        self.expiring_button = QPushButton(objectName="expiringFigure")
        self.quarantine_button = QPushButton(objectName="quarantineFigure")
        self.expired_button = QPushButton(objectName="expiredStockFigure")
        self.expired_button.setToolTip("Lots with stock left after their expiry date: destroy or return it")
        for button in (self.expiring_button, self.expired_button, self.quarantine_button):
            set_role(button, "card")
            button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.expiring_button.clicked.connect(lambda: self.open_lots.emit(LotQuery(expiring=True)))
        self.quarantine_button.clicked.connect(lambda: self.open_lots.emit(LotQuery(statuses=("quarantine",))))
        self.expired_button.clicked.connect(lambda: self.open_lots.emit(LotQuery(expired_stock=True)))
        self.severity_chart = QChartView(objectName="severityChart")
        self.status_chart = QChartView(objectName="statusChart")
        self.completeness_chart = QChartView(objectName="completenessChart")
        for view in (self.severity_chart, self.status_chart, self.completeness_chart):
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumHeight(220)
        self.codes = QListWidget(objectName="flagCodes")
        self.codes.itemActivated.connect(lambda item: self.open_flags.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.codes.itemClicked.connect(lambda item: self.open_flags.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.message = QLabel("Computing the dashboard…", objectName="dashboardMessage")

        grid = QGridLayout(self)
        grid.addWidget(self.message, 0, 0, 1, 2)
        cards = QHBoxLayout()
        for button in (self.expiring_button, self.expired_button, self.quarantine_button):
            cards.addWidget(button)
        grid.addLayout(cards, 1, 0, 1, 2)
        grid.addWidget(_boxed("Open flags by severity (click a bar for those lots)", self.severity_chart), 2, 0)
        grid.addWidget(_boxed("Open flags by code", self.codes), 2, 1)
        grid.addWidget(_boxed("Products by regulatory status", self.status_chart), 3, 0)
        grid.addWidget(_boxed("Lots by documentation completeness score (%)", self.completeness_chart), 3, 1)
        self.refresh()

    def refresh(self) -> None:
        self.message.setText("Computing the dashboard…")
        runner_for(self).run(
            self,
            lambda _progress: dashboard_figures(self.ctx),
            self.show_figures,
            lambda error: self.message.setText(f"The dashboard could not be computed: {error}"),
            title="Dashboard",
        )

    def show_figures(self, figures: DashboardFigures) -> None:
        self.figures = figures
        self.message.setText(f"{lots_phrase(figures.lots)} in the registry")
        self.expiring_button.setText(f"{lots_phrase(figures.expiring)} expiring within 30 days  ›")
        self.quarantine_button.setText(f"{lots_phrase(figures.quarantine)} in quarantine  ›")
        self.expired_button.setText(f"{lots_phrase(figures.expired_stock)} with expired stock  ›")
        self.severity_chart.setChart(self._severity_chart(figures))
        _keep_labels_whole(self.severity_chart)
        self.status_chart.setChart(self._status_chart(figures))
        self.completeness_chart.setChart(self._completeness_chart(figures))
        _keep_labels_whole(self.completeness_chart)
        self.codes.clear()
        for code, count in figures.flags_by_code.items():
            item = QListWidgetItem(f"{count:>6,}  {code}")
            item.setData(Qt.ItemDataRole.UserRole, code)
            self.codes.addItem(item)

    def _severity_chart(self, figures: DashboardFigures) -> QChart:
        # Stacked: each severity's set has a value in its own category only, so each bar sits over its label.
        series = QStackedBarSeries()
        for severity in SEVERITIES:
            bar = QBarSet(label(severity))
            bar.setColor(severity_colour(severity))
            bar.append([float(figures.flags_by_severity.get(s, 0)) if s == severity else 0.0 for s in SEVERITIES])
            bar.clicked.connect(lambda _index, s=severity: self.click_severity(s))
            series.append(bar)
        series.setBarWidth(0.6)
        return _bar_chart(series, [label(s) for s in SEVERITIES], max(figures.flags_by_severity.values(), default=0))

    def click_severity(self, severity: str) -> None:
        self.open_lots.emit(LotQuery(min_severity=severity))

    def _status_chart(self, figures: DashboardFigures) -> QChart:
        series = QPieSeries()
        for status, count in sorted(figures.products_by_status.items()):
            piece = series.append(f"{label(status)} ({count})", count)
            piece.setLabelVisible(True)
            piece.clicked.connect(lambda s=status: self.open_products.emit(s))
        chart = QChart()
        chart.addSeries(series)
        chart.legend().hide()
        return chart

    def _completeness_chart(self, figures: DashboardFigures) -> QChart:
        bar = QBarSet("Lots")
        bar.append([float(v) for v in figures.completeness.values()])
        bar.setColor(state_colour("chart_month"))
        series = QBarSeries()
        series.append(bar)
        return _bar_chart(series, list(figures.completeness), max(figures.completeness.values(), default=0))


def _bar_chart(series: QAbstractBarSeries, categories: list[str], top: float) -> QChart:
    chart = QChart()
    chart.addSeries(series)
    # At 1024x700 a chart is ~380 px wide and Qt Charts cut "Critical" to "Criti..." (issue 20.7): never
    # truncate the category labels, and give the plot the width the chart's margins took.
    chart.setMargins(QMargins(2, 2, 2, 2))
    chart.layout().setContentsMargins(0, 0, 0, 0)
    axis_x = QBarCategoryAxis()
    axis_x.setTruncateLabels(False)
    axis_x.append(categories)
    axis_y = QValueAxis()
    axis_y.setRange(0, max(1.0, float(top)))
    axis_y.setLabelFormat("%d")
    axis_y.setTickCount(min(6, max(2, int(top) + 1)))
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    chart.legend().hide()
    return chart


def _keep_labels_whole(view: QChartView) -> None:
    """A minimum width at which every category label fits under its bar (plus the value axis' width)."""
    axis = next((a for a in view.chart().axes() if isinstance(a, QBarCategoryAxis)), None)
    if axis is None or not axis.categories():
        return
    metrics = QFontMetrics(axis.labelsFont())
    widest = max(metrics.horizontalAdvance(text) for text in axis.categories())
    view.setMinimumWidth(len(axis.categories()) * (widest + 12) + 4 * metrics.horizontalAdvance("000"))


def _boxed(title: str, widget: Any) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(widget)
    return box
