"""WGS84 longitude/latitude <-> British National Grid (EPSG:27700), vectorised.

Analysis runs in EPSG:27700 (metres); sources give WGS84. This is the Ordnance
Survey's published method ("A guide to coordinate systems in Great Britain"):
a 7-parameter Helmert shift between the WGS84 and OSGB36 datums and the
National Grid's Transverse Mercator. It agrees with PROJ's default (grid-less)
transformation, which QGIS uses unless the OSTN15 grid is installed, to well
under a metre; against OSTN15 it is within about 5 m.
"""

from __future__ import annotations

import numpy as np

_GRS80 = (6378137.000, 6356752.3141)
_AIRY1830 = (6377563.396, 6356256.909)
_ARCSEC = np.pi / 180 / 3600
# WGS84 -> OSGB36: translations (m), scale (ppm), rotations (arc-seconds)
_HELMERT = (-446.448, 125.157, -542.060, 20.4894, -0.1502, -0.2470, -0.8421)

_F0 = 0.9996012717
_LAT0 = np.radians(49.0)
_LON0 = np.radians(-2.0)
_E0, _N0 = 400000.0, -100000.0


def wgs84_to_bng(lon, lat):
    """Project WGS84 degrees to British National Grid eastings/northings (m)."""
    lon = np.radians(np.asarray(lon, dtype="float64"))
    lat = np.radians(np.asarray(lat, dtype="float64"))
    x, y, z = _to_cartesian(lat, lon, *_GRS80)
    x, y, z = _helmert(x, y, z, _HELMERT)
    lat, lon = _to_geodetic(x, y, z, *_AIRY1830)
    return _tm_forward(lat, lon)


def bng_to_wgs84(easting, northing):
    """British National Grid eastings/northings (m) to WGS84 degrees (lon, lat)."""
    lat, lon = _tm_inverse(np.asarray(easting, dtype="float64"),
                           np.asarray(northing, dtype="float64"))
    x, y, z = _to_cartesian(lat, lon, *_AIRY1830)
    inverse = tuple(-p for p in _HELMERT)
    x, y, z = _helmert(x, y, z, inverse)
    lat, lon = _to_geodetic(x, y, z, *_GRS80)
    return np.degrees(lon), np.degrees(lat)


def _to_cartesian(lat, lon, a, b):
    e2 = 1 - (b * b) / (a * a)
    sin_lat = np.sin(lat)
    nu = a / np.sqrt(1 - e2 * sin_lat ** 2)
    return (nu * np.cos(lat) * np.cos(lon), nu * np.cos(lat) * np.sin(lon),
            (1 - e2) * nu * sin_lat)


def _helmert(x, y, z, params):
    tx, ty, tz, s_ppm, rx, ry, rz = params
    s = 1 + s_ppm * 1e-6
    rx, ry, rz = rx * _ARCSEC, ry * _ARCSEC, rz * _ARCSEC
    return (tx + s * x - rz * y + ry * z,
            ty + rz * x + s * y - rx * z,
            tz - ry * x + rx * y + s * z)


def _to_geodetic(x, y, z, a, b):
    e2 = 1 - (b * b) / (a * a)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1 - e2))
    for _ in range(3):  # converges to nanometres in three steps at British latitudes
        nu = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
        lat = np.arctan2(z + e2 * nu * np.sin(lat), p)
    return lat, np.arctan2(y, x)


def _meridional_arc(lat, a, b):
    n = (a - b) / (a + b)
    n2, n3 = n * n, n * n * n
    d, s = lat - _LAT0, lat + _LAT0
    return b * _F0 * ((1 + n + 1.25 * n2 + 1.25 * n3) * d
                      - (3 * n + 3 * n2 + 2.625 * n3) * np.sin(d) * np.cos(s)
                      + (1.875 * n2 + 1.875 * n3) * np.sin(2 * d) * np.cos(2 * s)
                      - (35 / 24) * n3 * np.sin(3 * d) * np.cos(3 * s))


def _radii(lat, a, b):
    e2 = 1 - (b * b) / (a * a)
    w = 1 - e2 * np.sin(lat) ** 2
    nu = a * _F0 / np.sqrt(w)
    rho = a * _F0 * (1 - e2) / w ** 1.5
    return nu, rho, nu / rho - 1


def _tm_forward(lat, lon):
    a, b = _AIRY1830
    nu, rho, eta2 = _radii(lat, a, b)
    sin, cos, tan2 = np.sin(lat), np.cos(lat), np.tan(lat) ** 2
    m = _meridional_arc(lat, a, b)
    i = m + _N0
    ii = nu / 2 * sin * cos
    iii = nu / 24 * sin * cos ** 3 * (5 - tan2 + 9 * eta2)
    iiia = nu / 720 * sin * cos ** 5 * (61 - 58 * tan2 + tan2 ** 2)
    iv = nu * cos
    v = nu / 6 * cos ** 3 * (nu / rho - tan2)
    vi = nu / 120 * cos ** 5 * (5 - 18 * tan2 + tan2 ** 2 + 14 * eta2 - 58 * tan2 * eta2)
    dl = lon - _LON0
    northing = i + ii * dl ** 2 + iii * dl ** 4 + iiia * dl ** 6
    easting = _E0 + iv * dl + v * dl ** 3 + vi * dl ** 5
    return easting, northing


def _tm_inverse(easting, northing):
    a, b = _AIRY1830
    lat = (northing - _N0) / (a * _F0) + _LAT0
    for _ in range(20):
        residual = northing - _N0 - _meridional_arc(lat, a, b)
        lat = lat + residual / (a * _F0)
        if np.all(np.abs(residual) < 1e-5):
            break
    nu, rho, eta2 = _radii(lat, a, b)
    tan = np.tan(lat)
    tan2, sec = tan ** 2, 1 / np.cos(lat)
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu ** 3) * (5 + 3 * tan2 + eta2 - 9 * tan2 * eta2)
    ix = tan / (720 * rho * nu ** 5) * (61 + 90 * tan2 + 45 * tan2 ** 2)
    x = sec / nu
    xi = sec / (6 * nu ** 3) * (nu / rho + 2 * tan2)
    xii = sec / (120 * nu ** 5) * (5 + 28 * tan2 + 24 * tan2 ** 2)
    xiia = sec / (5040 * nu ** 7) * (61 + 662 * tan2 + 1320 * tan2 ** 2 + 720 * tan2 ** 3)
    de = easting - _E0
    lat_out = lat - vii * de ** 2 + viii * de ** 4 - ix * de ** 6
    lon_out = _LON0 + x * de - xi * de ** 3 + xii * de ** 5 - xiia * de ** 7
    return lat_out, lon_out
