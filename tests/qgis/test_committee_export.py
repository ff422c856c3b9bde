"""Committee papers: templates, PDF pages, atlas, disclosure control and fingerprint.

A small store built from the real NCR snapshot keeps the suite quick: a sample of
devices in every borough, every device of Sutton handed to ONE operator, and only
two devices left in Islington, with SYNTHETIC usage for the first half of 2022.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from qgis.core import Qgis, QgsProcessingFeedback, QgsProject
from qgis.PyQt.QtGui import QImage

from ev_chargepoints.core import paths
from ev_chargepoints.core.analysis import areas
from ev_chargepoints.core.outputs import styling
from ev_chargepoints.core.outputs.fingerprint import store_fingerprint
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.sources import parsers, synthetic
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT, UK_TZ
from ev_chargepoints.core.store.history_parts import copy_store
from ev_chargepoints.core.store.usage_kind import NOTE, SYNTHETIC_FORMAT
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.qgis.layout_export import print_styles, templates
from ev_chargepoints.qgis.layout_export.export import export_committee_maps

ROOT = Path(__file__).resolve().parents[2]
ATTRIBUTION = ("Contains National Statistics data © Crown copyright and database right; "
               "Contains Ordnance Survey data © Crown copyright and database right; "
               "Contains public sector information licensed under the Open Government "
               "Licence v3.0")
SOLO = "Solo Charging Ltd"
PERIOD = "2022-Q2"


def _sessions_result(devices, connectors, start, end, seed, name):
    frame = synthetic.synthetic_sessions(devices, connectors, synthetic.dundee_sessions(),
                                         pd.Timestamp(start, tz=UK_TZ),
                                         pd.Timestamp(end, tz=UK_TZ), seed=seed)
    return ParseResult(SYNTHETIC_FORMAT, name, len(frame), tables={"sessions": frame}), frame


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """Store path, with the borough of every kept device."""
    store = tmp_path_factory.mktemp("committee") / "small.gpkg"
    ncr = parsers.parse_file(paths.LONDON_SNAPSHOT / NCR_SNAPSHOT)
    devices = ncr.tables["devices"]
    placed = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs()).table
    borough = placed.set_index("device_id")["borough_name"]
    devices = devices.assign(borough=devices["device_id"].map(borough))
    keep = []
    for name, group in devices.dropna(subset=["borough"]).groupby("borough"):
        if name == "Sutton":
            keep.append(group)
        elif name == "Islington":
            keep.append(group.head(2))
        else:
            keep.append(group.sample(min(len(group), 12), random_state=7))
    kept = pd.concat(keep)
    kept.loc[kept["borough"] == "Sutton", "operator"] = SOLO
    boroughs = kept.pop("borough")
    kept = kept.reset_index(drop=True)
    connectors = ncr.tables["connectors"]
    connectors = connectors[connectors["device_id"].isin(kept["device_id"])]
    ncr.tables = {"devices": kept, "connectors": connectors.reset_index(drop=True)}
    with Workspace(store) as ws:
        ws.import_result(ncr, "small NCR sample", "small-ncr-sample-v1")
        result, _ = _sessions_result(kept, connectors, "2022-01-01", "2022-07-01", 11,
                                     "synthetic sessions")
        ws.import_result(result, "synthetic sessions", "small-synthetic-v1")
    return store, dict(zip(kept["device_id"], boroughs))


def text_of(pdf: Path, page: int | None = None, layout: bool = False) -> str:
    """The page's words, whitespace collapsed; ``layout`` keeps table rows on one line."""
    args = ["pdftotext"] + (["-layout"] if layout else []) + \
        (["-f", str(page), "-l", str(page)] if page else []) + [str(pdf), "-"]
    raw = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return " ".join(raw.replace("\ufb01", "fi").replace("\ufb02", "fl").split())


def pages_of(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def expected_fingerprint(store, threshold=3, period=PERIOD) -> str:
    from ev_chargepoints.core.paths import plugin_version

    with Workspace(store) as ws:
        version = ws.assignment().report.boroughs_version
        return store_fingerprint(ws.store, version, period, threshold, plugin_version())[0]


@pytest.fixture(scope="module")
def camden(small_store, tmp_path_factory, qgis_app):
    out = tmp_path_factory.mktemp("camden")
    files = export_committee_maps(small_store[0], out, boroughs="Camden").files
    return out, files


def test_shipped_templates_are_what_the_code_builds(tmp_path, qgis_app):
    """The .qpt in resources/layouts is regenerated by write_templates() (make layouts)."""
    written = templates.write_templates(tmp_path, project=QgsProject())
    assert len(written) == 4

    def items(path):
        root = ET.parse(path).getroot()
        return sorted((e.get("id"), e.get("type"), e.get("position"), e.get("size"))
                      for e in root.iter("LayoutItem") if e.get("id"))

    for path in written:
        shipped = paths.resource("layouts", path.name)
        assert shipped.exists(), shipped
        assert items(path) == items(shipped), path.name
    ids = {i[0] for i in items(written[0])}
    for wanted in ("title", "subtitle", "synthetic_banner", "main_map", "legend", "scale_bar",
                   "north_arrow", "summary_table", "notes", "attribution", "footer"):
        assert wanted in ids
    borough_ids = {i[0] for i in items(paths.resource(
        "layouts", "committee_borough_a4_portrait.qpt"))}
    assert {"inset_map", "inset_caption"} <= borough_ids


def test_borough_page_has_title_period_attribution_and_fingerprint(camden, small_store):
    out, files = camden
    pdfs = [f for f in files if f.suffix == ".pdf"]
    assert [p.name for p in pdfs] == [f"committee_2022-q2_{expected_fingerprint(small_store[0])}"
                                      "_camden_portrait.pdf"]
    assert pages_of(pdfs[0]) == 1
    text = text_of(pdfs[0])
    assert "Camden: electric vehicle charge points" in text
    assert "Quarter 2022-Q2" in text and "compared with 2022-Q1" in text
    assert ATTRIBUTION in text
    assert f"Fingerprint {expected_fingerprint(small_store[0])}" in text
    assert "SYNTHETIC usage" in text
    assert ("Usage figures for areas with fewer than 3 devices or a single operator are "
            "suppressed") in text
    assert re.search(r"Data vintage: devices as of \d\d May 2022; usage 2022-Q1 to 2022-Q2",
                     text)
    assert "Sources: National Chargepoint Registry" in text
    # legend: occupancy bands and the power-size note
    for label in ("< 5 % (under-used)", "≥ 25 % (consider more capacity)", "No usage data",
                  "Symbol size: power", "Rapid (50–149 kW)"):
        assert label in text, label
    # the summary table from the summary engine: Camden's 12 sampled devices
    rows = text_of(pdfs[0], layout=True)
    assert re.search(r"Measure Camden London", rows)
    assert re.search(r"Charge devices 12 4\d\d ", rows)


def _demand_line(store, borough, scenario) -> str:
    """The demand line expected on a borough page: its wards' sums, computed here."""
    from ev_chargepoints.core.analysis import demand

    with Workspace(store) as ws:
        table = ws.demand(demand.PRESETS[scenario])
        vintage = demand.devices_vintage(ws.devices()).split(" as of ")[1]
    wards = table[table["parent_name"] == borough]
    needed = int(wards["connectors_needed"].sum())
    now = int(wards["connectors_now"].sum())
    s = demand.PRESETS[scenario]
    return (f"Demand, scenario '{scenario}' ({s.kwh_per_ev_day:g} kWh per EV a day, one "
            f"public connector {s.delivered_kwh_per_day:g} kWh a day): {needed:,} connectors "
            f"needed with {s.ev_share:.0%} of cars electric, {now:,} now, gap "
            f"{needed - now:,}; devices as of {vintage}.")


def test_borough_page_says_its_demand_and_the_inputs_behind_it(camden, small_store):
    out, files = camden
    pdf = next(f for f in files if f.suffix == ".pdf")
    text = text_of(pdf)
    line = _demand_line(small_store[0], "Camden", "2030 (GLA 2021 strategy)")
    assert line in text
    # connectors now: the same as the page table's (the borough summary's)
    now = re.search(r" ([\d,]+) now, gap ", line).group(1)
    assert re.search(rf"Connectors {now} ", text_of(pdf, layout=True))
    # in the notes, after the definitions and before the provenance
    assert text.index("Device counts are public") < text.index(line) < \
        text.index("Data vintage:")


def _main_map_rect_mm(template: Path) -> tuple[float, float, float, float]:
    root = ET.parse(template).getroot()
    item = next(e for e in root.iter("LayoutItem") if e.get("id") == "main_map")
    x, y, _unit = item.get("position").split(",")
    w, h, _unit = item.get("size").split(",")
    return float(x), float(y), float(w), float(h)


def _grey(image: QImage, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[image.pixelColor(x, y).lightness() for x in range(x0, x1)]
                     for y in range(y0, y1)], dtype=float)


def test_rendered_page_shows_the_map_where_the_template_puts_it(camden, tmp_path):
    out, files = camden
    pdf = next(f for f in files if f.suffix == ".pdf")
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "page")], check=True)
    image = QImage(str(tmp_path / "page.png"))
    assert not image.isNull()
    assert abs(image.width() - round(210 / 25.4 * 50)) <= 1   # A4 portrait at 50 dpi
    x, y, w, h = _main_map_rect_mm(paths.resource("layouts",
                                                  "committee_borough_a4_portrait.qpt"))
    px = 50 / 25.4
    inside = _grey(image, (int((x + 2) * px), int((y + 2) * px), int((x + w - 2) * px),
                           int((y + h - 2) * px)))
    blank = QImage(image.width(), image.height(), QImage.Format.Format_RGB32)
    blank.fill(0xFFFFFFFF)
    blank_inside = _grey(blank, (int((x + 2) * px), int((y + 2) * px), int((x + w - 2) * px),
                                 int((y + h - 2) * px)))
    assert blank_inside.var() == 0
    assert inside.var() > 50, inside.var()            # lines, points, labels drawn
    assert (inside < 250).mean() > 0.03               # more than a few stray pixels
    # the margins outside every item stay blank: the map is inside its frame
    right_margin = _grey(image, (int(200 * px), int(40 * px), image.width(), int(160 * px)))
    assert right_margin.var() == 0 and right_margin.mean() == 255


def test_single_operator_and_small_boroughs_are_suppressed(small_store, tmp_path, qgis_app):
    store, _ = small_store
    exported = export_committee_maps(store, tmp_path, boroughs=["sutton", "Islington", "Camden"])
    files = exported.files
    pdfs = {f.stem.split("_")[3]: f for f in files if f.suffix == ".pdf"}
    assert set(pdfs) == {"sutton", "islington", "camden"}
    sutton = text_of(pdfs["sutton"], layout=True)
    islington = text_of(pdfs["islington"], layout=True)
    camden = text_of(pdfs["camden"], layout=True)
    with Workspace(store) as ws:
        devices = ws.devices()
        table, _ = ws.summary(level="borough", period=PERIOD)
    raw = table.set_index("area_name")
    n_sutton = int(raw.loc["Sutton", "devices"])
    assert n_sutton > 3 and set(devices.loc[devices["operator"] == SOLO, "device_id"])
    # counts are printed, usage figures are not
    assert f"Charge devices {n_sutton:,}" in sutton
    assert re.search(r"Sessions suppressed \d", sutton)
    assert re.search(r"Occupancy suppressed \d", sutton)
    assert f"{int(raw.loc['Sutton', 'sessions']):,}" not in sutton.split("Sessions")[1][:30]
    assert "Charge devices 2 " in islington and re.search(r"Sessions suppressed \d", islington)
    assert "suppressed" not in camden.split("Measure")[1].split("Sessions change")[0]
    # the exported tables are masked exactly as printed, below the SYNTHETIC line
    tables = [f for f in files if f.suffix == ".csv"]
    assert len(tables) == 4 and all(
        f.read_text(encoding="utf-8").splitlines()[0] == f'"{NOTE}"' for f in tables)
    page = pd.read_csv(next(f for f in files if f.name.endswith("_sutton.csv")), skiprows=1)
    row = page.set_index("Measure")
    assert row.loc["Sessions", "Sutton"] == "suppressed"
    assert row.loc["Charge devices", "Sutton"] == f"{n_sutton:,}"
    summary = pd.read_csv(next(f for f in files if f.name.endswith("_boroughs_summary.csv")),
                          skiprows=1)
    summary = summary.set_index("area_name")
    assert summary.loc["Sutton", "usage_disclosure"] == "suppressed: single operator"
    assert summary.loc["Islington", "usage_disclosure"] == "suppressed: fewer than 3 devices"
    for column in ("sessions", "kwh", "occupancy_pct", "capacity_factor_pct", "prev_kwh"):
        assert pd.isna(summary.loc["Sutton", column]), column
        assert pd.isna(summary.loc["Islington", column]), column
    assert summary.loc["Sutton", "devices"] == n_sutton
    assert summary.loc["Camden", "usage_disclosure"] == "shown"
    assert summary.loc["Camden", "sessions"] == raw.loc["Camden", "sessions"]
    assert exported.suppressed == ("Islington", "Sutton")


@pytest.fixture(scope="module")
def sutton_and_camden(tmp_path_factory):
    """Every real device of Sutton, run by ONE operator, and of Camden and Havering as
    registered; no other borough has a device, so each page's map shows only its own
    borough's (Havering, far from both, has the fewest: the partner that keeps London's
    total from giving Sutton away)."""
    store = tmp_path_factory.mktemp("committee_map") / "two.gpkg"
    ncr = parsers.parse_file(paths.LONDON_SNAPSHOT / NCR_SNAPSHOT)
    devices = ncr.tables["devices"]
    placed = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs()).table
    borough = devices["device_id"].map(placed.set_index("device_id")["borough_name"])
    kept = devices[borough.isin(["Sutton", "Camden", "Havering"])].copy()
    kept.loc[borough[kept.index] == "Sutton", "operator"] = SOLO
    kept = kept.reset_index(drop=True)
    connectors = ncr.tables["connectors"]
    connectors = connectors[connectors["device_id"].isin(kept["device_id"])]
    ncr.tables = {"devices": kept, "connectors": connectors.reset_index(drop=True)}
    with Workspace(store) as ws:
        ws.import_result(ncr, "Sutton and Camden", "sutton-camden-ncr-v1")
        result, _ = _sessions_result(kept, connectors, "2022-04-01", "2022-07-01", 5,
                                     "synthetic sessions")
        ws.import_result(result, "synthetic sessions", "sutton-camden-synthetic-v1")
    return store


def _band_pixels(png: Path, dpi: int) -> int:
    """Pixels of the page's main map drawn in an occupancy band colour."""
    image = QImage(str(png))
    x, y, w, h = _main_map_rect_mm(paths.resource("layouts",
                                                  "committee_borough_a4_portrait.qpt"))
    px = dpi / 25.4
    colours = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)]
                        for c in styling.OCCUPANCY_COLOURS], dtype=float)
    found = 0
    for row in range(int((y + 1) * px), int((y + h - 1) * px)):
        for col in range(int((x + 1) * px), int((x + w - 1) * px)):
            c = image.pixelColor(col, row)
            rgb = np.array([c.red(), c.green(), c.blue()], dtype=float)
            found += bool((np.abs(colours - rgb).sum(axis=1) < 30).any())
    return found


def test_devices_of_a_suppressed_borough_are_drawn_as_usage_not_shown(sutton_and_camden,
                                                                      tmp_path, qgis_app):
    exported = export_committee_maps(sutton_and_camden, tmp_path, boroughs=["Sutton", "Camden"],
                                     png_dpi=100)
    files = exported.files
    assert exported.suppressed == ("Havering", "Sutton")
    pngs = {f.stem.split("_")[3]: f for f in files if f.suffix == ".png"}
    pdfs = {f.stem.split("_")[3]: f for f in files if f.suffix == ".pdf"}
    with Workspace(sutton_and_camden) as ws:
        usage = ws.utilisation("quarter")
        places = ws.assignment().table.set_index("device_id")["borough_name"]
    in_period = usage[(usage["period"] == PERIOD) & usage["occupancy_pct"].notna()]
    with_usage = in_period["device_id"].map(places).value_counts()
    assert with_usage["Sutton"] > 3 and with_usage["Camden"] > 3
    # Camden's devices are coloured by their band; not one of Sutton's is
    assert _band_pixels(pngs["camden"], 100) > 200
    assert _band_pixels(pngs["sutton"], 100) == 0
    sutton = text_of(pdfs["sutton"])
    assert print_styles.USAGE_NOT_SHOWN_LABEL in sutton
    assert re.search(r"Sessions suppressed", sutton)


def test_atlas_of_all_boroughs_in_one_pdf(small_store, tmp_path, qgis_app):
    exported = export_committee_maps(small_store[0], tmp_path, boroughs="all", combined=True,
                                     pdf_dpi=100)
    files = exported.files
    pdfs = [f for f in files if f.suffix == ".pdf"]
    assert len(pdfs) == 1 and pages_of(pdfs[0]) == 33
    assert exported.pages == 33
    # pages in alphabetical order, each with its borough's title and table
    first, last = text_of(pdfs[0], 1, layout=True), text_of(pdfs[0], 33, layout=True)
    assert first.startswith("Barking and Dagenham: electric vehicle charge points")
    assert last.startswith("Westminster: electric vehicle charge points")
    assert "Measure Westminster London" in last
    sutton_page = next(p for p in range(1, 34)
                       if text_of(pdfs[0], p).startswith("Sutton:"))
    assert re.search(r"Sessions suppressed \d", text_of(pdfs[0], sutton_page, layout=True))
    assert len([f for f in files if f.suffix == ".csv"]) == 34   # 33 pages + summary
    # the SYNTHETIC banner and legend title are on every page of the atlas
    for page in range(1, 34):
        text = text_of(pdfs[0], page)
        assert NOTE in text and "(SYNTHETIC)" in text, page


def test_london_page_and_pngs(small_store, tmp_path, qgis_app):
    files = export_committee_maps(small_store[0], tmp_path, png_dpi=60,
                                  orientation="landscape").files
    pdf = next(f for f in files if f.suffix == ".pdf")
    png = next(f for f in files if f.suffix == ".png")
    text = text_of(pdf, layout=True)
    assert "Electric vehicle charge points in London" in text
    assert "Borough Devices Per 10k" in text
    # Sutton's row keeps its count and hides its usage; the London total is shown
    assert re.search(r"Sutton \d+ [\d.]+ [\d.]+ suppressed suppressed suppressed", text)
    assert re.search(r"London [\d,]+ [\d.]+ [\d.]+ [\d,]+ [\d.]+", text)
    image = QImage(str(png))
    assert abs(image.width() - 297 / 25.4 * 60) <= 1.5
    assert abs(image.height() - 210 / 25.4 * 60) <= 1.5


def test_same_inputs_same_fingerprint_one_session_changed_another(small_store, tmp_path,
                                                                  qgis_app):
    store, _ = small_store
    first = export_committee_maps(store, tmp_path / "a", boroughs="Camden")
    again = export_committee_maps(store, tmp_path / "b", boroughs="Camden")
    names = sorted(f.name for f in first.files)
    assert names == sorted(f.name for f in again.files)
    fingerprint = again.fingerprint
    assert fingerprint in names[0]
    # a copy of the store with one session's energy changed
    copy = copy_store(store, tmp_path / "changed.gpkg")  # the GeoPackage and its history
    with Workspace(copy) as ws:
        sessions = ws.store.sessions().head(1).copy()
    sessions["kwh"] = sessions["kwh"] + 1.0
    sessions["session_key"] = sessions["session_key"].astype(str) + ":corrected"
    result = ParseResult(SYNTHETIC_FORMAT, "one corrected session", 1,
                         tables={"sessions": sessions})
    with Workspace(copy) as ws:
        key = hashlib.sha256(b"one corrected session").hexdigest()
        assert ws.import_result(result, "correction", key).outcome == "imported"
    changed = export_committee_maps(copy, tmp_path / "c", boroughs="Camden")
    new = changed.fingerprint
    assert new != fingerprint
    pdf = next(f for f in changed.files if f.suffix == ".pdf")
    assert f"Fingerprint {new}" in text_of(pdf)
    # a different threshold is a different input too
    other = export_committee_maps(store, tmp_path / "d", boroughs="Camden", threshold=5)
    assert other.fingerprint not in (fingerprint, new)


def test_unknown_borough_and_period_are_explained(small_store, tmp_path, qgis_app):
    from ev_chargepoints.core.errors import EvChargepointsError

    with pytest.raises(EvChargepointsError, match="no London borough called 'Atlantis'"):
        export_committee_maps(small_store[0], tmp_path, boroughs=["Atlantis"])
    with pytest.raises(EvChargepointsError, match="No usage period '1999-Q1'"):
        export_committee_maps(small_store[0], tmp_path, boroughs="Camden", period="1999-Q1")


def test_processing_algorithm_exports_without_threading(small_store, tmp_path, qgis_processing):
    import processing

    from ev_chargepoints.processing.algorithms.export_algorithm import (
        ExportCommitteeMapAlgorithm,
    )

    alg = ExportCommitteeMapAlgorithm()
    alg.initAlgorithm()
    assert alg.name() == "exportcommitteemap"
    assert alg.flags() & Qgis.ProcessingAlgorithmFlag.NoThreading
    warnings = []

    class Log(QgsProcessingFeedback):
        def pushWarning(self, warning):
            warnings.append(warning)
            super().pushWarning(warning)

    result = processing.run(alg, {"STORE": str(small_store[0]), "BOROUGHS": "Sutton, Camden",
                                  "COMBINED": True, "SCENARIO": 2,
                                  "OUTPUT_FOLDER": str(tmp_path)},
                            feedback=Log())
    assert NOTE in warnings   # the store's usage is SYNTHETIC: the log says so
    pdfs = [Path(f) for f in result["FILES"] if f.endswith(".pdf")]
    assert len(pdfs) == 1 and pages_of(pdfs[0]) == 2
    for page, borough in ((1, "Camden"), (2, "Sutton")):
        assert _demand_line(small_store[0], borough, "2035 (half of cars electric)") in \
            text_of(pdfs[0], page)
    assert result["FINGERPRINT"] == expected_fingerprint(small_store[0])


def test_cli_exports_headless(small_store, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    run = subprocess.run([sys.executable, "-m", "ev_chargepoints", "export", "--store",
                          str(small_store[0]), "--borough", "Camden", "--png", "--dpi", "40",
                          "--preset", "2030 (busier connectors)", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=env)
    assert run.returncode == 0, run.stderr
    assert "1 PDF file(s)" in run.stdout
    assert run.stdout.strip().splitlines()[-1].endswith("— SYNTHETIC usage")
    page = text_of(next(tmp_path.glob("*_camden_portrait.pdf")))
    assert NOTE in page
    assert _demand_line(small_store[0], "Camden", "2030 (busier connectors)") in page
    assert len(list(tmp_path.glob("*_camden_portrait.pdf"))) == 1
    assert len(list(tmp_path.glob("*_camden_portrait.png"))) == 1
    missing = subprocess.run([sys.executable, "-m", "ev_chargepoints", "export", "--store",
                              str(tmp_path / "none.gpkg"), "--all", "--out", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert missing.returncode == 2 and "There is no store" in missing.stderr


def test_a_store_of_real_usage_prints_nothing_synthetic(small_store, tmp_path, qgis_app):
    """The same devices with the real Dundee sessions of March to May 2018 (outside
    London, so the London figures show no usage): no page, table or line says SYNTHETIC."""
    store = tmp_path / "real.gpkg"
    with Workspace(small_store[0]) as ws:
        devices, connectors = ws.devices(), ws.store.connectors()
    with Workspace(store) as ws:
        ws.import_result(ParseResult("ncr", "small NCR sample", len(devices),
                                     tables={"devices": devices, "connectors": connectors}),
                         "small NCR sample", "small-ncr-sample-v1")
        dundee = paths.RESOURCES / "data" / "dundee" / "cp-data-mar-may-2018.csv.gz"
        assert ws.import_files([dundee])[0].outcome == "imported"
        assert ws.usage_kind() == "real"
    exported = export_committee_maps(store, tmp_path / "out")
    files = exported.files
    assert not exported.synthetic_usage
    pdf = next(f for f in files if f.suffix == ".pdf")
    text = text_of(pdf)
    assert "Electric vehicle charge points in London" in text and "SYNTHETIC" not in text
    for table in (f for f in files if f.suffix == ".csv"):
        assert "SYNTHETIC" not in table.read_text(encoding="utf-8"), table.name
