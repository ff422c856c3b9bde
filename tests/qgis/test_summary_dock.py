"""The Area summary dock driven like a user: table, map selection, drill-down, periods,
filters, export and the project round trip."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from event_wait import wait_idle
from qgis.core import QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication, Qt

from ev_chargepoints.core.analysis.area_table import definitions
from ev_chargepoints.core.outputs import disclosure
from ev_chargepoints.core.outputs.tables import read_csv, read_xlsx_sheet
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.gui.summary.dock import AreaSummaryDock
from ev_chargepoints.gui.summary.map_link import device_expression
from ev_chargepoints.gui.summary.state import PROJECT_KEY, PROJECT_SCOPE
from ev_chargepoints.gui.summary.table_model import CODE_ROLE
from ev_chargepoints.qgis import loader

WESTMINSTER, HAVERING = "E09000033", "E09000016"
EVIL = '=HYPERLINK("http://example.invalid/x","click")'


@pytest.fixture(scope="module")
def map_info(tmp_path_factory):
    store = tmp_path_factory.mktemp("summary_dock") / "london.gpkg"
    with Workspace(store) as ws:
        ws.import_bundled_snapshot(usage_start="2022-01-01", usage_end="2022-07-01")
    return loader.prepare_map(str(store), "quarter", Progress()), str(store)


@pytest.fixture(scope="module")
def loaded(map_info, qgis_iface):
    info, store = map_info
    QgsProject.instance().clear()
    return loader.build_layers(info, project=QgsProject.instance(), store_path=store)


@pytest.fixture(scope="module")
def module_dock(loaded, qgis_iface):
    dock = AreaSummaryDock(qgis_iface)
    assert not dock.is_busy()          # hidden: nothing computed yet
    dock.show()                        # opened by the user: now it prepares, in a task
    wait_idle(dock)
    yield dock
    dock.unload()
    dock.deleteLater()


@pytest.fixture()
def dock(module_dock):
    """The dock back at its defaults: boroughs, latest period, no filters, nothing selected."""
    module_dock.restore_state({})
    wait_idle(module_dock)
    return module_dock


def proxy_row(dock, code):
    for row in range(dock.proxy.rowCount()):
        if dock.proxy.index(row, 0).data(CODE_ROLE) == code:
            return row
    raise AssertionError(f"{code} is not in the table")


def click_row(dock, code):
    dock.table_view.selectRow(proxy_row(dock, code))
    QCoreApplication.processEvents()


def shown(dock):
    return dock.frame().set_index("area_code")


def test_boroughs_table_with_definitions_and_numeric_sorting(dock, loaded):
    table = shown(dock)
    assert len(table) == 33 and table["devices"].sum() == 8_538
    assert table.loc[WESTMINSTER, "devices"] == 1_214 and table.loc[HAVERING, "devices"] == 34
    assert dock.period == "2022-Q2" and dock.period_box.currentText() == "2022-Q2"
    assert [dock.period_box.itemText(i) for i in range(dock.period_box.count())] == \
        ["2022-Q1", "2022-Q2"]
    columns = dock.model.columns()
    devices_col = columns.index("devices")
    header = dock.proxy.headerData(devices_col, Qt.Orientation.Horizontal,
                                   Qt.ItemDataRole.ToolTipRole)
    assert definitions()["devices"] in header
    occupancy_col = columns.index("occupancy_pct")
    assert definitions()["occupancy_pct"] in dock.proxy.headerData(
        occupancy_col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    # numbers sort as numbers (as text "34" would sort after "1,214")
    dock.table_view.sortByColumn(devices_col, Qt.SortOrder.DescendingOrder)
    ordered = [dock.proxy.index(r, 0).data(CODE_ROLE) for r in range(dock.proxy.rowCount())]
    assert ordered[0] == WESTMINSTER
    values = list(shown(dock).loc[ordered, "devices"])
    assert values == sorted(values, reverse=True)
    dock.table_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    # every choice comes from the data
    operators = [dock.operator_box.itemData(i) for i in range(dock.operator_box.count())]
    assert "ubitricity" in operators and "Source London" in operators
    assert [dock.power_box.itemData(i) for i in range(dock.power_box.count())] == \
        ["slow", "fast", "rapid", "ultra"]
    assert "SYNTHETIC" in dock.status_label.text()


def test_exports_of_synthetic_usage_say_so(dock, tmp_path):
    csv_path = dock.export_csv(tmp_path / "summary.csv")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [NOTE] and "area_code" in rows[1] and len(rows) == 2 + 33
    xlsx_path = dock.export_xlsx(tmp_path / "summary.xlsx")
    for sheet in (1, 2, 3):
        assert read_xlsx_sheet(xlsx_path, sheet)[0] == [NOTE]
    summary = read_xlsx_sheet(xlsx_path)
    assert "area_code" in summary[1] and len(summary) == 2 + 33
    assert "SYNTHETIC" in dock._default_name("xlsx")


def test_exports_are_published_unless_not_for_publication(dock, map_info, tmp_path):
    _info, store = map_info
    with Workspace(store) as ws:
        expected, _ = ws.publishable_summary(level="ward", period=dock.period)
        full, _ = ws.summary(level="ward", period=dock.period)
    # the borough with the most suppressed wards
    hidden = expected[expected["usage_disclosure"].str.startswith("suppressed")]
    borough = hidden["parent_code"].value_counts().index[0]
    dock.drill_down(borough)
    wait_idle(dock)
    expected = expected[expected["parent_code"] == borough].set_index("area_code")
    full = full.set_index("area_code")
    published = read_csv(dock.export_csv(tmp_path / "wards.csv")).set_index("area_code")
    assert sorted(published.index) == sorted(expected.index)
    suppressed = expected.index[expected["usage_disclosure"].str.startswith("suppressed")]
    assert len(suppressed) >= 2
    assert (published.loc[expected.index, "usage_disclosure"]
            == expected["usage_disclosure"]).all()
    assert published.loc[suppressed, ["sessions", "kwh", "occupancy_pct"]].isna().all().all()
    assert full.loc[suppressed, "sessions"].notna().any()   # there were figures to hide
    visible = expected.index.difference(suppressed)
    assert (published.loc[visible, "sessions"].fillna(-1)
            == full.loc[visible, "sessions"].fillna(-1)).all()
    # the table in the dock is the officer's own: every figure
    in_dock = shown(dock)
    assert (in_dock.loc[suppressed, "sessions"].fillna(-1)
            == full.loc[suppressed, "sessions"].fillna(-1)).all()

    dock.internal_box.setChecked(True)
    try:
        internal = dock.export_xlsx(tmp_path / "wards.xlsx")
    finally:
        dock.internal_box.setChecked(False)
    sheet = read_xlsx_sheet(internal)
    assert sheet[0] == [disclosure.INTERNAL_NOTE] and sheet[1] == [NOTE]
    header = sheet[2]
    rows = {r[header.index("area_code")]: r for r in sheet[3:]}
    for code in suppressed:
        value = full.loc[code, "sessions"]
        assert rows[code][header.index("sessions")] == (None if pd.isna(value) else value)


def test_selecting_a_borough_selects_it_and_its_devices_on_the_map(dock, loaded, qgis_iface):
    canvas = qgis_iface.mapCanvas()
    before = canvas.extent()
    click_row(dock, WESTMINSTER)
    assert dock.selected == [WESTMINSTER]
    assert [f["area_code"] for f in loaded.boroughs.selectedFeatures()] == [WESTMINSTER]
    assert loaded.devices.selectedFeatureCount() == shown(dock).loc[WESTMINSTER, "devices"]
    assert {f["borough_name"] for f in loaded.devices.selectedFeatures()} == {"Westminster"}
    # zoomed to the borough
    borough = canvas.mapSettings().layerExtentToOutputExtent(
        loaded.boroughs, loaded.boroughs.boundingBoxOfSelected())
    extent = canvas.extent()
    assert extent != before and extent.contains(borough)
    # fitted: the borough fills the canvas in at least one direction (with a margin)
    assert min(extent.width() / borough.width(), extent.height() / borough.height()) < 1.5
    # the trend of the selected borough, from the same sums as the table
    assert dock.chart.title == "Westminster" and dock.chart.periods == ["2022-Q1", "2022-Q2"]
    assert dock.chart.sessions[-1] == pytest.approx(shown(dock).loc[WESTMINSTER, "sessions"])
    assert dock.chart.occupancy[-1] == pytest.approx(
        shown(dock).loc[WESTMINSTER, "occupancy_pct"])
    assert dock.drill_button.isEnabled()
    # picture of the chart painted without error
    image = dock.chart.grab()
    assert not image.isNull()

    dock.table_view.clearSelection()
    QCoreApplication.processEvents()
    assert loaded.boroughs.selectedFeatureCount() == 0
    assert loaded.devices.selectedFeatureCount() == 0


def test_selecting_on_the_map_highlights_rows(dock, loaded):
    loaded.boroughs.selectByExpression(f"\"area_code\" IN ('{HAVERING}', '{WESTMINSTER}')")
    QCoreApplication.processEvents()
    assert sorted(dock.selected) == sorted([HAVERING, WESTMINSTER])
    rows = {dock.proxy.index(i.row(), 0).data(CODE_ROLE)
            for i in dock.table_view.selectionModel().selectedRows()}
    assert rows == {HAVERING, WESTMINSTER}
    assert loaded.devices.selectedFeatureCount() == 1_214 + 34
    assert dock.chart.title == "2 selected areas"


def test_drill_down_to_wards_and_back(dock, loaded):
    click_row(dock, WESTMINSTER)
    index = dock.proxy.index(proxy_row(dock, WESTMINSTER), 0)
    dock.table_view.doubleClicked.emit(index)          # as a double-click does
    wait_idle(dock)
    assert dock.level == "ward" and dock.borough == WESTMINSTER
    assert not dock.back_button.isHidden()
    assert dock.title_label.text() == "Wards of Westminster"
    assert "wards of Westminster" in dock.status_label.text()
    wards = shown(dock)
    assert set(wards["parent_code"]) == {WESTMINSTER} and len(wards) >= 18
    assert wards["devices"].sum() == 1_214
    assert loaded.boroughs.selectedFeatureCount() == 0

    busiest = wards["devices"].idxmax()
    click_row(dock, busiest)
    assert [f["area_code"] for f in loaded.wards.selectedFeatures()] == [busiest]
    selected = loaded.devices.selectedFeatures()
    assert len(selected) == wards.loc[busiest, "devices"]
    assert {f["ward_name"] for f in selected} == {wards.loc[busiest, "area_name"]}
    assert {f["borough_name"] for f in selected} == {"Westminster"}

    dock.back_button.click()
    wait_idle(dock)
    assert dock.level == "borough" and len(shown(dock)) == 33
    assert dock.selected == [WESTMINSTER]
    assert [f["area_code"] for f in loaded.boroughs.selectedFeatures()] == [WESTMINSTER]
    assert loaded.wards.selectedFeatureCount() == 0


def test_period_and_filters_change_the_figures(dock, loaded):
    q2 = shown(dock)
    dock.set_period("2022-Q1")
    wait_idle(dock)
    q1 = shown(dock)
    assert dock.period == "2022-Q1" and set(q1["period"]) == {"2022-Q1"}
    assert (q1["devices"] == q2["devices"]).all()
    assert q1.loc[WESTMINSTER, "sessions"] != q2.loc[WESTMINSTER, "sessions"]
    assert q1["sessions"].sum() != q2["sessions"].sum()
    assert q2.loc[WESTMINSTER, "prev_sessions"] == q1.loc[WESTMINSTER, "sessions"]

    # filters: tick "rapid" and "ultra" in the power class list, as a click does
    for i in range(dock.power_box.count()):
        if dock.power_box.itemData(i) in ("rapid", "ultra"):
            dock.power_box.toggleItemCheckState(i)
    wait_idle(dock)
    assert sorted(dock.filters["power_class"]) == ["rapid", "ultra"]
    fast = shown(dock)
    assert (fast["devices"] == q1["rapid_devices"] + q1["ultra_devices"]).all()
    click_row(dock, WESTMINSTER)
    selected = loaded.devices.selectedFeatures()
    assert len(selected) == fast.loc[WESTMINSTER, "devices"] > 0
    assert {f["power_class"] for f in selected} <= {"rapid", "ultra"}

    dock.set_filters({"operator": ["SOURCE LONDON"]})     # case does not matter
    wait_idle(dock)
    source_london = shown(dock)
    assert 0 < source_london["devices"].sum() < 8_538
    selected = loaded.devices.selectedFeatures()
    assert len(selected) == source_london.loc[WESTMINSTER, "devices"]
    assert {f["operator"] for f in selected} == {"Source London"}


def test_figures_nobody_reports_say_no_data(dock):
    """An empty figure is unknown, not 0: the table says "no data" (2022-Q1 has no
    quarter before it to compare with)."""
    dock.set_period("2022-Q1")
    wait_idle(dock)
    model = dock.model
    frame = model.frame()
    missing = 0
    for column, name in enumerate(model.columns()):
        if frame[name].dtype.kind not in "iuf":
            continue
        for row in np.flatnonzero(frame[name].isna().to_numpy()):
            assert model.index(int(row), column).data() == "no data", name
            missing += 1
        for row in np.flatnonzero(frame[name].notna().to_numpy())[:3]:
            assert model.index(int(row), column).data() not in ("no data", "")
    assert missing >= 33                     # every borough's change on a previous quarter


def test_slow_resummaries_run_in_a_task_with_the_same_figures(dock):
    on_main_thread = shown(dock)
    dock.last_resummary_ms = 10_000.0      # as if the last re-summary had taken 10 s
    dock.set_period("2022-Q1")
    assert dock.last_resummary_sync is False and dock.is_busy()
    wait_idle(dock)
    in_task = shown(dock)
    assert set(in_task["period"]) == {"2022-Q1"}
    dock.last_resummary_ms = 10_000.0
    dock.set_period("2022-Q2")
    wait_idle(dock)
    assert dock.last_resummary_sync is False
    pd.testing.assert_frame_equal(shown(dock), on_main_thread)


def test_months_instead_of_quarters(dock):
    quarters = shown(dock)
    dock.period_kind_box.setCurrentIndex(dock.period_kind_box.findData("month"))
    wait_idle(dock)
    months = [dock.period_box.itemText(i) for i in range(dock.period_box.count())]
    assert months == [f"2022-0{m}" for m in range(1, 7)] and dock.period == "2022-06"
    assert dock.chart.periods == months
    june = shown(dock)
    assert (june["devices"] == quarters["devices"]).all()
    assert 0 < june["sessions"].sum() < quarters["sessions"].sum()
    dock.period_kind_box.setCurrentIndex(dock.period_kind_box.findData("quarter"))
    wait_idle(dock)
    assert dock.period == "2022-Q2"
    pd.testing.assert_frame_equal(shown(dock), quarters)


def test_device_expression_quotes_every_value():
    expression = device_expression([("St James's", "Westminster")],
                                   {"operator": ["O'Brien \"EV\""]}, "ward")
    assert "'St James''s'" in expression and "'o''brien \"ev\"'" in expression
    from qgis.core import QgsExpression
    assert not QgsExpression(expression).hasParserError()


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """Four devices, one run by an operator whose name looks like a spreadsheet formula."""
    path = tmp_path_factory.mktemp("small") / "small.gpkg"
    devices = conform(pd.DataFrame({
        "device_id": ["oxford", "victoria", "romford", "strand"],
        "operator": [EVIL, "Source London", EVIL, "ubitricity"],
        "latitude": [51.5154, 51.4965, 51.5768, 51.5105],
        "longitude": [-0.1415, -0.1440, 0.1801, -0.1200],
        "connector_count": [2, 2, 1, 1], "max_power_kw": [7.0, 22.0, 50.0, 5.5],
        "power_class": ["slow", "fast", "rapid", "slow"], "location_type": "On-street",
        "source": "ncr", "updated_utc": pd.Timestamp("2022-05-01", tz="UTC")}), "devices")
    starts = pd.to_datetime(["2022-01-05 10:00", "2022-04-05 10:00", "2022-04-06 10:00",
                             "2022-05-01 09:00", "2022-05-02 09:00"], utc=True)
    sessions = conform(pd.DataFrame({
        "session_key": list("abcde"), "source_session_id": list("abcde"),
        "device_id": ["oxford", "oxford", "victoria", "romford", "strand"],
        "connector_id": "1", "start_utc": starts,
        "end_utc": starts + pd.Timedelta(hours=2), "kwh": [10.0, 12.0, 8.0, 30.0, 4.0],
        "source": "test"}), "sessions")
    with Workspace(path) as ws:
        ws.import_result(ParseResult("ncr", "test", 4, {"devices": devices}), "devices",
                         "devices-v1")
        ws.import_result(ParseResult("sessions", "test", 5, {"sessions": sessions}),
                         "sessions", "sessions-v1")
    return str(path)


def test_export_csv_and_xlsx_neutralise_formulas(small_store, qgis_iface, tmp_path):
    dock = AreaSummaryDock(qgis_iface, store_path=small_store)
    try:
        dock.show()
        wait_idle(dock)
        operators = [dock.operator_box.itemData(i) for i in range(dock.operator_box.count())]
        assert EVIL in operators
        dock.set_filters({"operator": [EVIL]})
        wait_idle(dock)
        table = shown(dock)
        assert table.loc[WESTMINSTER, "devices"] == 1 and table.loc[HAVERING, "devices"] == 1
        assert table["devices"].sum() == 2

        # one device of one operator per borough: published, its usage is not
        published = read_csv(dock.export_csv(tmp_path / "published.csv"))
        published = published.set_index("area_code")
        assert published.loc[WESTMINSTER, "usage_disclosure"] == \
            "suppressed: fewer than 3 devices"
        assert pd.isna(published.loc[WESTMINSTER, "sessions"])
        assert pd.isna(published.loc[HAVERING, "kwh"])
        assert published.loc[WESTMINSTER, "devices"] == 1

        dock.internal_box.setChecked(True)      # not for publication: every figure
        assert "INTERNAL" in dock._default_name("csv")
        csv_path = dock.export_csv(tmp_path / "summary.csv")
        assert "SYNTHETIC" not in csv_path.read_text(encoding="utf-8")  # real usage
        with open(csv_path, newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == [disclosure.INTERNAL_NOTE]
            rows = {r["area_code"]: r for r in csv.DictReader(handle)}
        assert len(rows) == 33
        westminster = rows[WESTMINSTER]
        assert westminster["area_name"] == "Westminster" and westminster["devices"] == "1"
        assert westminster["filter_operator"] == "'" + EVIL
        assert westminster["level"] == "borough" and westminster["period"] == "2022-Q2"
        assert float(westminster["sessions"]) == 1.0

        xlsx_path = dock.export_xlsx(tmp_path / "summary.xlsx")
        sheet = read_xlsx_sheet(xlsx_path)
        assert sheet[0] == [disclosure.INTERNAL_NOTE]
        header, body = sheet[1], sheet[2:]
        assert len(body) == 33
        by_code = {row[header.index("area_code")]: row for row in body}
        row = by_code[WESTMINSTER]
        assert row[header.index("devices")] == 1.0        # a number, not text
        assert row[header.index("filter_operator")] == "'" + EVIL
        assert by_code[HAVERING][header.index("kwh")] == 30.0
        glossary = {r[0]: r[1] for r in read_xlsx_sheet(xlsx_path, 2)[1:]}
        assert glossary["occupancy_pct"] == definitions()["occupancy_pct"]
        about = read_xlsx_sheet(xlsx_path, 3)
        assert ["filter operator", "'" + EVIL] in about
        assert ["disclosure", disclosure.INTERNAL_NOTE] in about
        # and GDAL, an independent reader, opens the workbook with the same values
        dock.internal_box.setChecked(False)
        xlsx_path = dock.export_xlsx(tmp_path / "published.xlsx")
        layer = QgsVectorLayer(f"{xlsx_path}|layername=Summary", "xlsx", "ogr")
        assert layer.isValid() and layer.featureCount() == 33
        found = {f["area_code"]: f for f in layer.getFeatures()}
        assert found[WESTMINSTER]["devices"] == 1
        assert found[WESTMINSTER]["filter_operator"] == "'" + EVIL
        assert found[WESTMINSTER]["usage_disclosure"] == "suppressed: fewer than 3 devices"
        kwh = found[WESTMINSTER]["kwh"]
        assert kwh is None or (hasattr(kwh, "isNull") and kwh.isNull())
    finally:
        dock.unload()
        dock.deleteLater()


def test_dock_state_round_trips_through_the_project(dock, loaded, tmp_path):
    click_row(dock, WESTMINSTER)
    dock.drill_down()
    wait_idle(dock)
    dock.set_period("2022-Q1")
    dock.set_filters({"power_class": ["slow"]})
    wait_idle(dock)
    ward = shown(dock)["devices"].idxmax()
    click_row(dock, ward)
    saved = dock.state()
    assert saved == {"level": "ward", "borough": WESTMINSTER, "period": "2022-Q1",
                     "period_kind": "quarter",
                     "filters": {"operator": [], "power_class": ["slow"], "location_type": []},
                     "selected": [ward]}
    project_file = str(tmp_path / "summary.qgz")
    assert QgsProject.instance().write(project_file)
    value, found = QgsProject.instance().readEntry(PROJECT_SCOPE, PROJECT_KEY, "")
    assert found and '"borough": "E09000033"' in value

    dock.restore_state({})                      # somewhere else entirely
    wait_idle(dock)
    assert dock.level == "borough" and dock.selected == []

    assert QgsProject.instance().read(project_file)
    wait_idle(dock)
    assert dock.state() == saved
    assert dock.title_label.text() == "Wards of Westminster"
    assert dock.period_box.currentText() == "2022-Q1"
    checked = [dock.power_box.itemData(i) for i in range(dock.power_box.count())
               if dock.power_box.itemCheckState(i) == Qt.CheckState.Checked]
    assert checked == ["slow"]
    assert set(shown(dock)["parent_code"]) == {WESTMINSTER}
    # the re-read project's layers are found and selected again
    reloaded = loader.find_loaded()
    assert reloaded is not None
    assert [f["area_code"] for f in reloaded.wards.selectedFeatures()] == [ward]
    assert reloaded.devices.selectedFeatureCount() == shown(dock).loc[ward, "devices"]

    # a new project empties the dock instead of showing the old project's figures
    QgsProject.instance().clear()
    QCoreApplication.processEvents()
    assert dock.model.rowCount() == 0 and dock.state()["level"] == "borough"
    assert not dock.csv_button.isEnabled()
    assert "Load London charge points" in dock.status_label.text()


def test_the_demand_tab_beside_the_areas_reads_the_same_store(map_info, qgis_iface):
    """The dock's second tab (tests/qgis/test_summary_demand_tab.py drives it): read
    only once shown, from the dock's store, with the connectors the areas count."""
    _info, store = map_info
    dock = AreaSummaryDock(qgis_iface, store_path=store)
    try:
        dock.show()
        wait_idle(dock)
        assert [dock.tabs.tabText(i) for i in range(dock.tabs.count())] == \
            ["Areas", "Demand"] and dock.tabs.currentIndex() == 0
        assert dock.demand_tab.loaded is None
        boroughs = shown(dock)
        dock.tabs.setCurrentWidget(dock.demand_tab)
        assert dock.is_busy()
        wait_idle(dock)
        tab = dock.demand_tab
        assert tab.loaded.store_path == store and len(tab.frame()) == 633
        assert tab.table.attrs["totals"]["connectors_now"] == boroughs["connectors"].sum()
        assert tab.totals_label.text().startswith("London: 44,879 connectors needed")
    finally:
        dock.unload()
        dock.deleteLater()
