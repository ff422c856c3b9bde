"""The main job on the bundled London snapshot, offline (``make demo``).

Everything it writes that rests on usage figures says SYNTHETIC: London's
usage data is not public, so the bundled usage is generated from real Dundee
sessions' distributions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .core.outputs.tables import write_csv
from .core.progress import SILENT, Progress
from .core.sources.intake import describe_import
from .core.workspace import Workspace


def run_demo(out: Path, progress: Progress = SILENT) -> Iterator[str]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Workspace(out / "london.gpkg") as ws:
        yield f"Workspace store: {ws.store_path}"
        for report in ws.import_bundled_snapshot(progress.scaled(0, 50)):
            yield "  " + describe_import(report)
        quarterly = ws.utilisation("quarter", progress=progress.scaled(50, 75))
        synthetic = ws.has_synthetic_usage()
        path = write_csv(quarterly, out / "utilisation_by_device_quarter_SYNTHETIC.csv",
                         synthetic=synthetic)
        yield (f"Utilisation per device and quarter (synthetic usage): {len(quarterly):,} rows"
               f" → {path}")
        for level in ("borough", "ward"):
            table, assignment = ws.publishable_summary(level=level,
                                                       progress=progress.scaled(75, 95))
            path = write_csv(table, out / f"summary_by_{level}_SYNTHETIC.csv",
                             synthetic=synthetic)
            yield (f"{level.capitalize()} summary for {table.attrs.get('period')}: "
                   f"{len(table)} areas → {path}")
        yield from ("  " + line for line in assignment.report.lines())
        boroughs, _ = ws.summary(level="borough")
        top = boroughs.sort_values("devices", ascending=False).iloc[0]
        low = boroughs.sort_values("devices").iloc[0]
        yield (f"Most charge points: {top['area_name']} ({int(top['devices']):,}); "
               f"fewest: {low['area_name']} ({int(low['devices']):,}).")
        london = boroughs[["plugged_hours", "available_hours"]].sum()
        yield (f"London occupancy {boroughs.attrs.get('period')}: "
               f"{100 * london['plugged_hours'] / london['available_hours']:.1f} %"
               " (SYNTHETIC usage)")
    yield from _render_map(out, progress.scaled(85, 90))
    yield from _committee_pages(out, progress.scaled(90, 100))
    progress.report(100, "Demo finished")


def _committee_pages(out: Path, progress: Progress) -> Iterator[str]:
    """The London page and the 33-borough atlas, as a committee paper would use them."""
    try:
        from .qgis.layout_export.export import export_committee_maps
    except ImportError:
        yield "Committee pages skipped: QGIS's Python bindings are not installed."
        return
    store = str(out / "london.gpkg")
    folder = out / "committee"
    london = export_committee_maps(store, folder, boroughs=None, progress=progress.scaled(0, 30))
    yield f"London committee page → {next(p for p in london.files if p.suffix == '.pdf')}"
    atlas = export_committee_maps(store, folder, boroughs="all", combined=True,
                                  progress=progress.scaled(30, 100))
    yield f"Atlas of the 33 boroughs → {next(p for p in atlas.files if p.suffix == '.pdf')}"


def _render_map(out: Path, progress: Progress) -> Iterator[str]:
    """The styled London map as a PNG, through the same layers the plugin adds."""
    try:
        from .qgis.headless import ensure_qgis
    except ImportError:
        yield "Map picture skipped: QGIS's Python bindings are not installed."
        return
    ensure_qgis()
    from qgis.core import QgsProject

    from .qgis import loader
    from .qgis.render import render_png

    info = loader.prepare_map(str(out / "london.gpkg"), "quarter", progress)
    project = QgsProject()
    loaded = loader.build_layers(info, project=project)
    path = render_png([loaded.devices, loaded.boroughs, loaded.wards],
                      out / "london_map_SYNTHETIC.png", size=(1600, 1200))
    yield f"Styled map of {info.latest_period} (synthetic usage) → {path}"
