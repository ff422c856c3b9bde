"""The one reader of well-known binary (WKB) geometries: polygon layers (area boundaries)
and point layers (candidate sites) into flat numpy arrays.

Accepts ISO and EWKB flavours, either byte order and Z/M dimensions (only x and y are
kept). Polygon coordinates are read with ``np.frombuffer``, one call per ring.
"""

from __future__ import annotations

import struct
from typing import Optional, Sequence

import numpy as np

from ..errors import ParseError

POINT, POLYGON, MULTIPOINT, MULTIPOLYGON = 1, 3, 4, 6
TYPE_NAMES = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint",
              5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
_BAD = (struct.error, ValueError, IndexError)


def header(buf, pos: int):
    """(byte order for struct, base geometry type, dimensions, position after the header)
    of the geometry starting at ``pos``."""
    order = buf[pos]
    if order not in (0, 1):
        raise ValueError(f"bad byte order marker {order}")
    endian = "<" if order == 1 else ">"
    (code,) = struct.unpack_from(endian + "I", buf, pos + 1)
    pos += 5
    has_srid = bool(code & 0x20000000)
    dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
    code &= 0x0FFFFFFF
    iso_dim, base = divmod(code, 1000)
    dims += {0: 0, 1: 1, 2: 1, 3: 2}.get(iso_dim, 0)
    if has_srid:
        pos += 4
    return endian, base, dims, pos


def geometry_type(wkbs) -> str | None:
    """The type of the first geometry of a list of WKB values (None when all are null)."""
    first = next((w for w in wkbs if w is not None and len(w)), None)
    if first is None:
        return None
    try:
        base = header(memoryview(bytes(first)), 0)[1]
    except _BAD:
        return None
    return TYPE_NAMES.get(base, f"WKB type {base}")


# --- polygons ------------------------------------------------------------------------

def polygons(wkbs):
    """Polygon/MultiPolygon values (None = empty) as flat arrays: ``(x, y, ring_offsets,
    part_offsets, geom_offsets)``, every ring closed (see :class:`.geometry.PolygonSet`).
    Anything else raises :class:`~ev_chargepoints.core.errors.ParseError`."""
    xs, ys, rings, parts, geoms = [], [], [0], [0], [0]
    for number, wkb in enumerate(wkbs):
        if wkb is not None and len(wkb):
            try:
                _read_geometry(memoryview(bytes(wkb)), 0, xs, ys, rings, parts, top=True)
            except _BAD as exc:
                raise ParseError(
                    f"feature {number + 1}: the geometry is not valid WKB ({exc})") from exc
        geoms.append(len(parts) - 1)
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return (x.astype("float64", copy=False), y.astype("float64", copy=False),
            np.asarray(rings, dtype=np.int64), np.asarray(parts, dtype=np.int64),
            np.asarray(geoms, dtype=np.int64))


def _read_geometry(buf, pos, xs, ys, rings, parts, top=False):
    endian, base, dims, pos = header(buf, pos)
    if base == POLYGON:
        pos = _read_polygon(buf, pos, endian, dims, xs, ys, rings)
        parts.append(len(rings) - 1)
        return pos
    if base == MULTIPOLYGON and top:
        (n_parts,) = struct.unpack_from(endian + "I", buf, pos)
        pos += 4
        for _ in range(n_parts):
            sub_endian, sub_base, sub_dims, pos = header(buf, pos)
            if sub_base != POLYGON:
                raise ValueError(f"MultiPolygon member of WKB type {sub_base}")
            pos = _read_polygon(buf, pos, sub_endian, sub_dims, xs, ys, rings)
            parts.append(len(rings) - 1)
        return pos
    raise ValueError(f"WKB geometry type {base} is not a polygon or multipolygon")


def _read_polygon(buf, pos, endian, dims, xs, ys, rings):
    (n_rings,) = struct.unpack_from(endian + "I", buf, pos)
    pos += 4
    dtype = np.dtype(endian + "f8")
    for _ in range(n_rings):
        (n_points,) = struct.unpack_from(endian + "I", buf, pos)
        pos += 4
        coords = np.frombuffer(buf, dtype=dtype, count=n_points * dims, offset=pos)
        pos += 8 * n_points * dims
        coords = coords.reshape(n_points, dims)
        if n_points == 0:
            continue
        x = coords[:, 0].astype("float64")
        y = coords[:, 1].astype("float64")
        if x[0] != x[-1] or y[0] != y[-1]:
            x = np.append(x, x[0])
            y = np.append(y, y[0])
        xs.append(x)
        ys.append(y)
        rings.append(rings[-1] + len(x))
    return pos


# --- points --------------------------------------------------------------------------

def points(wkbs: Sequence[Optional[bytes]]):
    """(x, y) float arrays from WKB Point values (or one-point MultiPoints); ``None`` and
    empty points give NaN. Anything else raises
    :class:`~ev_chargepoints.core.errors.ParseError`."""
    n = len(wkbs)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    present = [i for i, wkb in enumerate(wkbs) if wkb is not None and len(wkb)]
    slow = _read_plain_points(wkbs, present, x, y)
    for i in slow:
        wkb = wkbs[i]
        try:
            x[i], y[i] = _read_point(memoryview(bytes(wkb)), 0, top=True)
        except _BAD as exc:
            raise ParseError(f"feature {i + 1}: {exc}") from None
    return x, y


_PLAIN_POINT = np.dtype([("head", "S5"), ("x", "<f8"), ("y", "<f8")])
_PLAIN_HEAD = b"\x01\x01\x00\x00\x00"  # little endian, 2D Point


def _read_plain_points(wkbs, present: list, x, y) -> list:
    """Fill ``x``/``y`` at ``present`` from the little-endian 2D points (21 bytes each, what
    GDAL and the plugin write) in one vectorised read; the positions of any other value
    are returned for the general reader."""
    if not present:
        return []
    values = [bytes(wkbs[i]) for i in present]
    where = np.asarray(present, dtype=np.int64)
    sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    plain = sizes == _PLAIN_POINT.itemsize
    if plain.any():
        rec = np.frombuffer(b"".join(v for v, ok in zip(values, plain) if ok),
                            dtype=_PLAIN_POINT)
        head_ok = rec["head"] == _PLAIN_HEAD
        taken = where[plain][head_ok]
        x[taken] = rec["x"][head_ok]
        y[taken] = rec["y"][head_ok]
        plain[np.flatnonzero(plain)[~head_ok]] = False
    return where[~plain].tolist()


def _read_point(buf, pos, top=False):
    endian, base, dims, pos = header(buf, pos)
    if base == POINT:
        return struct.unpack_from(endian + "2d", buf, pos)
    if base == MULTIPOINT and top:
        (count,) = struct.unpack_from(endian + "I", buf, pos)
        if count == 0:
            return np.nan, np.nan
        if count > 1:
            raise ValueError(f"a multipoint of {count} points; give one point per site")
        return _read_point(buf, pos + 4)
    raise ValueError(f"WKB geometry type {base} is not a point")


# --- lines ---------------------------------------------------------------------------

LINESTRING, MULTILINESTRING = 2, 5


def lines(wkbs):
    """LineString/MultiLineString values (None = empty) as flat arrays ``(x, y,
    line_offsets)``: line ``i`` is ``x[line_offsets[i]:line_offsets[i + 1]]`` (each part
    of a multi-line is a line of its own). Anything else raises
    :class:`~ev_chargepoints.core.errors.ParseError`."""
    xs, ys, offsets = [], [], [0]
    for number, wkb in enumerate(wkbs):
        if wkb is None or not len(wkb):
            continue
        try:
            buf = memoryview(bytes(wkb))
            endian, base, dims, pos = header(buf, 0)
            if base == LINESTRING:
                members = [(endian, dims, pos)]
            elif base == MULTILINESTRING:
                (count,) = struct.unpack_from(endian + "I", buf, pos)
                pos += 4
                members = []
                for _ in range(count):
                    sub_endian, sub_base, sub_dims, pos = header(buf, pos)
                    if sub_base != LINESTRING:
                        raise ValueError(f"MultiLineString member of WKB type {sub_base}")
                    members.append((sub_endian, sub_dims, pos))
                    (n,) = struct.unpack_from(sub_endian + "I", buf, pos)
                    pos += 4 + 8 * n * sub_dims
            else:
                raise ValueError(f"WKB geometry type {base} is not a line")
            for endian, dims, pos in members:
                (n,) = struct.unpack_from(endian + "I", buf, pos)
                coords = np.frombuffer(buf, dtype=np.dtype(endian + "f8"), count=n * dims,
                                       offset=pos + 4).reshape(n, dims)
                xs.append(coords[:, 0].astype("float64"))
                ys.append(coords[:, 1].astype("float64"))
                offsets.append(offsets[-1] + n)
        except _BAD as exc:
            raise ParseError(
                f"feature {number + 1}: the geometry is not valid WKB ({exc})") from exc
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return x, y, np.asarray(offsets, dtype=np.int64)
