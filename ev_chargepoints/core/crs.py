"""WGS84 longitude/latitude <-> British National Grid (EPSG:27700), vectorised, by PROJ.

Analysis runs in EPSG:27700 (metres); sources give WGS84. PROJ chooses the best
transformation it has, as QGIS does: the Ordnance Survey's OSTN15 grid when PROJ finds
``uk_os_OSTN15_NTv2_OSGBtoETRS.tif`` (in its data folder, or through its network
access when the user has turned that on), else the OS's 7-parameter Helmert shift, which
is within about 5 m of OSTN15. :func:`transformation` says which one is in use.

Through pyproj; in a QGIS whose Python lacks pyproj, through GDAL's ``osr`` (the same
PROJ library, and part of every QGIS). pyproj in a virtual environment over the system's
Python finds the system's PROJ data (it looks under the environment's own prefix only).
"""

from __future__ import annotations

import sys
import threading
import warnings
from functools import cache
from pathlib import Path

import numpy as np

WGS84, BNG = "EPSG:4326", "EPSG:27700"
OSTN15_GRID = "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"


def wgs84_to_bng(lon, lat):
    """Project WGS84 degrees to British National Grid eastings/northings (m)."""
    return _transform(WGS84, BNG, lon, lat)


def bng_to_wgs84(easting, northing):
    """British National Grid eastings/northings (m) to WGS84 degrees (lon, lat)."""
    return _transform(BNG, WGS84, easting, northing)


def to_bng(source: str, x, y):
    """Project coordinates in CRS ``source`` (e.g. "EPSG:4326") to EPSG:27700 (m)."""
    return (np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")) \
        if source == BNG else _transform(source, BNG, x, y)


def transformation() -> str:
    """Which WGS84 -> British National Grid transformation PROJ uses here, in words."""
    _, name, grids = _transformer(WGS84, BNG)
    if grids:
        return f"{name} (grid {', '.join(grids)})"
    return f"{name} (no grid: the OSTN15 grid {OSTN15_GRID} is not installed)"


def _transform(source: str, target: str, x, y):
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    shape = np.broadcast(x, y).shape
    x, y = (np.broadcast_to(v, shape).ravel() for v in (x, y))
    out_x = np.full(x.shape, np.nan)
    out_y = np.full(y.shape, np.nan)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.any():
        transform, _, _ = _transformer(source, target)
        with _proj_lock:
            tx, ty = transform(x[ok], y[ok])
        good = np.isfinite(tx) & np.isfinite(ty)
        out_x[np.flatnonzero(ok)[good]] = tx[good]
        out_y[np.flatnonzero(ok)[good]] = ty[good]
    if not shape:
        return out_x.reshape(()), out_y.reshape(())
    return out_x.reshape(shape), out_y.reshape(shape)


# One PROJ transformation per (source, target), used by one thread at a time: a PROJ
# object used by two threads at once corrupts its state (two QgsTasks projecting at once
# crashed QGIS in proj_trans), and one made per thread crashed pyproj 3.7 (Debian 13)
# creating it in QGIS's worker threads. Projecting is fast; waiting for it costs little.
_proj_lock = threading.RLock()


def _transformer(source: str, target: str):
    """:func:`_make_transformer`'s (made once); call its function under ``_proj_lock``."""
    with _proj_lock:
        return _make_transformer(source, target)


@cache
def _make_transformer(source: str, target: str):
    """(function of x, y arrays -> x, y arrays in ``target``, name of the operation, the
    grids it uses): the most accurate operation PROJ can run here."""
    pyproj = pyproj_module()
    if pyproj is not None:
        with warnings.catch_warnings():  # "best transformation is not available" (no grid)
            warnings.simplefilter("ignore")
            transformer = pyproj.transformer.TransformerGroup(
                source, target, always_xy=True).transformers[0]
        grids = tuple(grid.short_name for operation in transformer.operations
                      for grid in operation.grids)

        def transform(x, y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tx, ty = transformer.transform(x, y, errcheck=False)
            return np.asarray(tx, dtype="float64"), np.asarray(ty, dtype="float64")

        return transform, transformer.description, grids
    return _osr_transformer(source, target)


def pyproj_module():
    """pyproj, knowing where PROJ's data is, or None when it is not installed. Import
    pyproj (or pyogrio, which imports it) only after this, or pyproj warns on stderr that
    it found no data folder when it runs in a virtual environment."""
    with warnings.catch_warnings():  # its data folder is found below, not warned about
        warnings.simplefilter("ignore")
        try:
            import pyproj
        except ImportError:
            return None
    try:
        pyproj.datadir.get_data_dir()
    except pyproj.exceptions.DataDirError:
        system = Path(sys.base_prefix, "share", "proj")
        if not (system / "proj.db").exists():
            return None
        pyproj.datadir.set_data_dir(str(system))
    return pyproj


def _osr_transformer(source: str, target: str):
    from osgeo import osr

    def srs(code: str):
        ref = osr.SpatialReference()
        ref.ImportFromEPSG(int(code.split(":")[1]))
        ref.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        return ref

    with _OsrExceptions(osr):
        coordinate_transform = osr.CoordinateTransformation(srs(source), srs(target))

    def transform(x, y):
        with _OsrExceptions(osr):
            points = np.asarray(coordinate_transform.TransformPoints(
                np.column_stack([x, y])), dtype="float64")
        return points[:, 0], points[:, 1]

    return transform, f"PROJ through GDAL osr, {source} -> {target}", ()


class _OsrExceptions:
    """osr raising exceptions within the block, the process's setting restored after."""

    def __init__(self, osr):
        self.osr = osr

    def __enter__(self):
        self.before = self.osr.GetUseExceptions()
        self.osr.UseExceptions()

    def __exit__(self, *exc):
        if not self.before:
            self.osr.DontUseExceptions()

