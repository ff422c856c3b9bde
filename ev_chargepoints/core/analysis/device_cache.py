"""A derived cache of what depends only on a GeoPackage store's devices, connectors and
reconciliation decisions: the reconciliation (:class:`.reconciliation.Reconciliation`)
and the device and connector history the utilisation engine reads
(:func:`.reconcile.history`). A sessions import leaves it valid.

One file, ``<history_dir>/cache/devices.npz``: NumPy arrays only (read without pickle),
written atomically (temporary file + rename), holding a stamp of what it was computed
from (``HistoryStore.device_stamp`` plus a digest of this folder's code). A file with
another stamp, or one that cannot be read, is ignored and replaced; deleting it is
always safe. Frames whose columns it cannot hold exactly (object columns of anything
but text and missing values, an index other than 0..n-1) are simply not cached.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FORMAT = 1
FILE_NAME = "devices.npz"
_SEP = "\x1e"  # joins the texts of a column; texts holding it are not cached
_CODE_DIGESTS: dict = {}  # files -> digest, computed once per process


class Unsupported(ValueError):
    """A frame the cache cannot hold exactly."""


# The code the cached frames come from (relative to core/): a change recomputes.
CODE = ("analysis/reconcile.py", "analysis/reconciled_devices.py",
        "analysis/reconciliation.py", "analysis/source_records.py", "analysis/geometry.py",
        "analysis/device_cache.py", "crs.py", "schema.py", "calendar.py",
        "sources/parsers/ocpi.py", "store/geopackage.py", "store/values.py")


def code_digest(files: tuple = CODE) -> str:
    """Digest of the source ``files`` (relative to core/; default :data:`CODE`): the
    code a derived cache comes from, so that a changed plugin recomputes it."""
    if files not in _CODE_DIGESTS:
        core = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for name in files:
            digest.update(name.encode() + b"\x00" + (core / name).read_bytes())
        _CODE_DIGESTS[files] = digest.hexdigest()
    return _CODE_DIGESTS[files]


# --- frames as plain arrays ---------------------------------------------------------

def _encode_texts(values: np.ndarray, arrays: dict, key: str) -> dict:
    """An object column of str, None and float NaN -> arrays + its description."""
    try:  # most columns are texts only, which join takes as they are (and nothing else)
        joined, missing, kind, n = _SEP.join(values.tolist()), None, "none", len(values)
    except TypeError:
        joined, missing, kind, n = _joined_with_missing(values, key)
    if joined.count(_SEP) != max(n - 1, 0):
        raise Unsupported(f"{key}: text holds the separator")
    arrays[key + ".t"] = np.frombuffer(joined.encode("utf-8", "surrogatepass"), np.uint8)
    if missing is not None and missing.any():
        arrays[key + ".m"] = missing
    return {"kind": "text", "missing": kind, "n": int(n)}


def _joined_with_missing(values: np.ndarray, key: str) -> tuple:
    """(texts joined, missing mask, kind of missing value, number of texts) of a column
    with some value that is not a text."""
    missing = pd.isna(values)
    kind = "none"
    if missing.any():
        gone = values[missing]
        if all(v is None for v in gone):
            kind = "none"
        elif all(isinstance(v, float) for v in gone):
            kind = "nan"
        else:
            raise Unsupported(f"{key}: missing values of mixed kinds")
    texts = values[~missing]
    if len(texts) and pd.api.types.infer_dtype(texts, skipna=False) != "string":
        raise Unsupported(f"{key}: not text")
    return _SEP.join(texts.tolist()), missing, kind, len(texts)


def _decode_texts(spec: dict, arrays, key: str, n: int) -> np.ndarray:
    text = bytes(arrays[key + ".t"]).decode("utf-8", "surrogatepass")
    texts = text.split(_SEP) if spec["n"] else []
    if len(texts) != spec["n"]:
        raise ValueError(f"{key}: damaged")
    if key + ".m" not in arrays:
        return np.array(texts, dtype=object) if n else np.empty(0, dtype=object)
    missing = np.asarray(arrays[key + ".m"], dtype=bool)
    out = np.empty(n, dtype=object)
    out[missing] = None if spec["missing"] == "none" else np.nan
    out[~missing] = texts
    return out


def _encode_column(series: pd.Series, arrays: dict, key: str) -> dict:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = pd.Series(dtype.categories)
        spec = {"kind": "category", "ordered": bool(dtype.ordered), "size": len(cats),
                "categories": _encode_column(cats, arrays, key + ".c")}
        arrays[key + ".k"] = series.cat.codes.to_numpy()
        return spec
    if isinstance(dtype, pd.DatetimeTZDtype) or str(dtype) == "datetime64[ns]":
        if str(dtype) not in ("datetime64[ns, UTC]", "datetime64[ns]"):
            raise Unsupported(f"{key}: {dtype}")
        arrays[key] = series.to_numpy().view("int64") if str(dtype) == "datetime64[ns]" \
            else series.array.asi8
        return {"kind": "time", "dtype": str(dtype)}
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return _encode_texts(series.to_numpy(object), arrays, key)
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        arrays[key] = series.to_numpy()
        return {"kind": "plain"}
    raise Unsupported(f"{key}: {dtype}")


def _decode_column(spec: dict, arrays, key: str, n: int):
    kind = spec["kind"]
    if kind == "plain":
        return np.asarray(arrays[key])
    if kind == "time":
        values = np.asarray(arrays[key], dtype=np.int64).view("M8[ns]")
        if spec["dtype"] == "datetime64[ns]":
            return values
        return pd.DatetimeIndex(values).tz_localize("UTC")
    if kind == "text":
        return _decode_texts(spec, arrays, key, n)
    if kind == "category":
        codes = np.asarray(arrays[key + ".k"])
        cats = _decode_column(spec["categories"], arrays, key + ".c", spec["size"])
        return pd.Categorical.from_codes(codes, pd.Index(cats),
                                         ordered=spec["ordered"])
    raise ValueError(f"{key}: unknown kind {kind}")


def _encode_frame(frame: pd.DataFrame, arrays: dict, name: str) -> dict:
    index = frame.index
    empty = not len(index) and type(index) is pd.Index and index.dtype == object
    if not (empty or isinstance(index, pd.RangeIndex) and index.start == 0
            and index.step == 1):
        raise Unsupported(f"{name}: index")
    names = list(frame.columns)
    if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        raise Unsupported(f"{name}: column names")
    specs = [_encode_column(frame.iloc[:, i], arrays, f"{name}/{i}")
             for i in range(len(names))]
    return {"columns": names, "specs": specs, "rows": int(len(frame)),
            "index": "empty" if empty else "range"}


def _decode_frame(desc: dict, arrays, name: str) -> pd.DataFrame:
    n = desc["rows"]
    index = pd.Index([], dtype=object) if desc.get("index") == "empty" else pd.RangeIndex(n)
    data = {col: pd.Series(_decode_column(spec, arrays, f"{name}/{i}", n), index=index,
                           copy=False)
            for i, (col, spec) in enumerate(zip(desc["columns"], desc["specs"]))}
    frame = pd.DataFrame(data)
    if len(frame) != n:
        raise ValueError(f"{name}: damaged")
    return frame


def dump_frames(frames: dict, meta: dict) -> bytes:
    """``frames`` (name -> DataFrame) and ``meta`` (JSON) as the bytes of one .npz file;
    :class:`Unsupported` for a frame it cannot hold exactly."""
    arrays: dict = {}
    described = {name: _encode_frame(frame, arrays, name) for name, frame in frames.items()}
    head = json.dumps({"format": FORMAT, "meta": meta, "frames": described})
    arrays["__head__"] = np.frombuffer(head.encode("utf-8"), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_frames(path) -> tuple[dict, dict] | None:
    """(frames, meta) of a file of :func:`dump_frames`; None when missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            head = json.loads(bytes(arrays["__head__"]).decode("utf-8"))
            if head.get("format") != FORMAT:
                return None
            frames = {name: _decode_frame(desc, arrays, name)
                      for name, desc in head["frames"].items()}
            return frames, head["meta"]
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged derived file is recomputed
        log.info("ignoring the unreadable cache file %s (%s)", path, exc)
        return None


# --- the reconciliation and device history --------------------------------------------

_REC_FRAMES = ("devices", "connectors", "links", "review", "device_map")
_HISTORY = ("history_devices", "history_connectors")
# The frames last read or written, by (cache file, stamp, the file's mtime and size): the
# next Workspace on the same store in this process (the next action of a QGIS session)
# skips decoding the file. One store only; a device import or decision (in any process)
# changes the stamp, and a replaced, damaged or deleted file its key.
_LAST_READ: dict = {}


def reconciled(store, cache: bool = True) -> tuple:
    """(reconciliation of ``store``, its device history or None): with ``cache`` (a
    GeoPackage store) both, through :func:`cached_reconciliation`."""
    from ..store.values import today_rows
    from .reconcile import history, reconcile

    if not cache:
        return reconcile(store.devices(), store.connectors(), store.decisions()), None
    read = []  # the whole history of devices and connectors, read once for both

    def every_row():
        if not read:
            read.extend([store.devices(current_only=False),
                         store.connectors(current_only=False)])
        return read

    def compute():  # today's rows (those not closed) as devices() and connectors() give
        return reconcile(*(today_rows(rows) for rows in every_row()), store.decisions())
    return cached_reconciliation(store, compute, lambda rec: history(rec, *every_row()))


def cached_reconciliation(store, compute_rec, compute_history):
    """(reconciliation, (devices history, connectors history)) of a GeoPackage ``store``,
    read from its cache file when that holds the store's current stamp, else computed
    (``compute_rec()``, ``compute_history(rec)``) and written for next time (a folder
    that cannot be written is skipped)."""
    from .reconciliation import Reconciliation

    path = Path(store.history_dir) / "cache" / FILE_NAME
    stamp = store.device_stamp() + ":" + code_digest()
    found = _LAST_READ.get(_held(path, stamp))
    if found is None:
        _LAST_READ.clear()  # (not kept beside the frames read or computed now)
        found = load_frames(path)
    if found is not None and found[1].get("stamp") == stamp:
        _hold(path, stamp, found)
        frames, meta = found
        rec = Reconciliation(**{n: frames[n] for n in _REC_FRAMES},
                             counts=dict(meta.get("counts", {})))
        hist = [frames.get(n) for n in _HISTORY]
        if hist[0] is None:  # the current devices only (no closed rows)
            hist[0] = rec.devices[meta["history_columns"]]
        if hist[1] is None:
            hist[1] = rec.connectors
        return rec, tuple(hist)
    rec = compute_rec()
    hist = compute_history(rec)
    frames = {n: getattr(rec, n) for n in _REC_FRAMES}
    meta = {"stamp": stamp, "counts": _plain(rec.counts),
            "history_columns": list(hist[0].columns)}
    if not (len(hist[0]) == len(rec.devices) and set(hist[0]) <= set(rec.devices)
            and hist[0].equals(rec.devices[list(hist[0].columns)])):
        frames[_HISTORY[0]] = hist[0]
    if hist[1] is not rec.connectors:
        frames[_HISTORY[1]] = hist[1]
    try:
        data = dump_frames(frames, meta)
    except Unsupported as exc:
        log.info("reconciliation not cached: %s", exc)
        return rec, hist
    from ..sources.download_cache import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:  # a read-only share: compute each time
        log.info("reconciliation not cached: %s", exc)
    else:
        _hold(path, stamp, (frames, meta))
    return rec, hist


def _held(path: Path, stamp: str) -> tuple | None:
    """The key of :data:`_LAST_READ` for the cache file as it is now (None: no file)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stamp, found.st_mtime_ns, found.st_size


def _hold(path: Path, stamp: str, frames_meta: tuple) -> None:
    _LAST_READ.clear()
    key = _held(path, stamp)
    if key is not None:
        _LAST_READ[key] = frames_meta


def _plain(counts: dict) -> dict:
    return {str(k): (int(v) if isinstance(v, (int, np.integer)) else v)
            for k, v in counts.items()}
