"""The bundled London areas as QGIS geometries: what the Processing algorithms write as
output polygons and the summary dock's Demand tab draws, read once from the snapshot."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry

from ..core.analysis import areas as core_areas
from ..core.paths import LONDON_SNAPSHOT
from ..core.store import gpkg_file as gpkg

BUNDLED_FILES = {"borough": core_areas.BOROUGHS_FILE, "ward": core_areas.WARDS_FILES[2018]}
BUNDLED_CODE_FIELD = "GSS_CODE"


def bundled_geometries(level: str) -> tuple[dict, QgsCoordinateReferenceSystem]:
    """The bundled boroughs' or 2018 wards' (``level``) polygons by GSS code, as
    multipolygons in British National Grid, and that CRS."""
    attributes, wkbs, _crs = gpkg.read_layer(LONDON_SNAPSHOT / BUNDLED_FILES[level])
    geometries = {}
    for code, wkb in zip(attributes[BUNDLED_CODE_FIELD], wkbs):
        if wkb is None:
            continue
        geometry = QgsGeometry()
        geometry.fromWkb(bytes(wkb))
        geometry.convertToMultiType()
        geometries[str(code).strip()] = geometry
    return geometries, QgsCoordinateReferenceSystem("EPSG:27700")
