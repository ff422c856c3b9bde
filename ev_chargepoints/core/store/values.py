"""Values as both stores keep them: times as fixed-width ISO-8601 UTC text
(``YYYY-MM-DDTHH:MM:SS.sssZ``, the GeoPackage ``DATETIME`` form, whose text order is
time order), missing values as NULL, and whole columns read back in chunks.

The fixed width is what makes bulk reading fast: a chunk of a million times comes
back as one string that numpy decodes in one go (:func:`parse_fixed_ns`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

ISO_WIDTH = 24  # len("2018-03-02T23:50:00.000Z")
NULL_TIME = "~" * ISO_WIDTH  # a missing time in a fixed-width run of times
# How each canonical dtype is read back: "time" (int64 ns), "text", "real" or "int".
COLUMN_KIND = {"datetime64[ns, UTC]": "time", "object": "text", "float64": "real",
               "int64": "int", "bool": "int"}
# Text columns a reader may return as pandas categoricals (far faster for millions of rows).
ID_COLUMNS = ("device_id", "connector_id", "evse_uid", "source")


def now_utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def iso_texts(values) -> list:
    """Timezone-aware (or naive UTC) times -> fixed-width ISO text, None for NaT."""
    series = pd.to_datetime(pd.Series(values), utc=True, errors="coerce")
    raw = series.dt.tz_localize(None).to_numpy("datetime64[ns]")
    nat = np.isnat(raw)
    if nat.all():
        return [None] * len(raw)
    out = _format_iso(raw.view(np.int64) // 1_000_000).astype(object)
    out[nat] = None
    return out.tolist()


def _format_iso(ms: np.ndarray) -> np.ndarray:
    """Epoch milliseconds -> 'YYYY-MM-DDTHH:MM:SS.sssZ' (numpy unicode array)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // 86_400_000
    rest = ms - days * 86_400_000
    date = days.astype("datetime64[D]")
    years = date.astype("datetime64[Y]")
    months = date.astype("datetime64[M]")
    fields = [
        (years.astype(np.int64) + 1970, 4), (None, "-"),
        (months.astype(np.int64) % 12 + 1, 2), (None, "-"),
        ((date - months.astype("datetime64[D]")).astype(np.int64) + 1, 2), (None, "T"),
        (rest // 3_600_000, 2), (None, ":"), (rest // 60_000 % 60, 2), (None, ":"),
        (rest // 1000 % 60, 2), (None, "."), (rest % 1000, 3), (None, "Z")]
    buf = np.empty((len(ms), ISO_WIDTH), dtype=np.uint8)
    col = 0
    for value, width in fields:
        if value is None:
            buf[:, col] = ord(width)
            col += 1
            continue
        value = np.clip(value, 0, 10 ** width - 1)
        for i in range(width - 1, -1, -1):
            buf[:, col + i] = 48 + value % 10
            value = value // 10
        col += width
    return buf.view(f"S{ISO_WIDTH}").reshape(-1).astype(f"U{ISO_WIDTH}")


def iso_one(value) -> str | None:
    return iso_texts([value])[0]


def parse_iso(values: Sequence) -> pd.Series:
    """Stored ISO text (or None) -> UTC times; other ISO forms go through pandas."""
    arr = np.asarray(values, dtype=object)
    missing = pd.isna(arr)
    filled = np.where(missing, NULL_TIME, arr)
    try:
        raw = filled.astype(f"S{ISO_WIDTH}")
        regular = bool((np.char.str_len(raw) == ISO_WIDTH).all())
    except (UnicodeEncodeError, ValueError):
        regular = False
    if regular:
        return utc_series(parse_fixed_ns(raw))
    values = pd.Series(np.where(missing, None, arr), dtype=object)
    # pandas 2 guesses one format from the first value unless told otherwise.
    options = {"format": "ISO8601"} if int(pd.__version__.split(".")[0]) >= 2 else {}
    return pd.to_datetime(values, utc=True, errors="coerce", **options).reset_index(drop=True)


def nullable(values: pd.Series) -> list:
    """Column -> Python values for the database (NaN/NaT/None -> None)."""
    arr = values.to_numpy(dtype=object)
    mask = pd.isna(values).to_numpy()
    if mask.any():
        arr = arr.copy()
        arr[mask] = None
    return arr.tolist()


def float_list(values: pd.Series) -> list:
    arr = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = arr.astype(object)
    out[np.isnan(arr)] = None
    return out.tolist()


class IrregularText(Exception):
    """Stored text that the bulk decoder cannot split or parse safely."""


def parse_fixed_ns(raw: np.ndarray) -> np.ndarray:
    """Fixed-width ISO bytes ('YYYY-MM-DDTHH:MM:SS.sssZ', '~' = missing) -> int64 ns.

    numpy's own ISO parser does the work once the 'Z' is cut off (numpy warns
    about time-zone suffixes) and missing values are spelled 'NaT'.
    """
    n = len(raw)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    matrix = raw.view(np.uint8).reshape(n, ISO_WIDTH)
    missing = matrix[:, 0] == ord("~")
    text = matrix[:, :ISO_WIDTH - 1].copy().view(f"S{ISO_WIDTH - 1}")
    text = text.reshape(-1)
    text[missing] = b"NaT"
    try:
        ms = text.astype("datetime64[ms]")
    except ValueError as exc:
        raise IrregularText from exc
    ns = ms.astype("datetime64[ns]").view(np.int64)
    return ns


def utc_series(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(np.asarray(ns, np.int64).view("datetime64[ns]"))
                     .tz_localize("UTC"))


def concat_categoricals(parts: list) -> pd.Categorical:
    if not parts:
        return pd.Categorical([])
    if len(parts) == 1:
        return parts[0]
    from pandas.api.types import union_categoricals
    return union_categoricals(parts)


def join_chunks(chunks: dict[str, list], spec: dict[str, str], categorical: bool) -> dict:
    """Columns read chunk by chunk (name -> list of arrays, ``spec``: name -> kind of
    :data:`COLUMN_KIND`; times as int64 ns) -> one Series per column."""
    out = {}
    for name, kind in spec.items():
        parts = chunks[name]
        if kind == "time":
            out[name] = utc_series(np.concatenate(parts) if parts else np.zeros(0, np.int64))
        elif kind == "text":
            if categorical and name in ID_COLUMNS:
                out[name] = pd.Series(concat_categoricals([pd.Categorical(c) for c in parts]))
            else:
                out[name] = pd.Series(np.concatenate(parts) if parts
                                      else np.array([], dtype=object), dtype=object)
        else:
            dtype = "float64" if kind == "real" else "int64"
            out[name] = pd.Series(np.concatenate(parts).astype(dtype, copy=False) if parts
                                  else np.array([], dtype=dtype), dtype=dtype)
    return out


def rows_frame(rows: list, names: list[str]) -> pd.DataFrame:
    """Fetched rows -> a frame of object columns (typed by the caller)."""
    if not rows:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    columns = list(zip(*rows))
    return pd.DataFrame({n: np.array(c, dtype=object) for n, c in zip(names, columns)})


def today_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Today's rows (not closed: ``valid_to_utc`` missing) of a device or connector
    history, in its order, as ``validity_window(None, True, ...)`` selects them from a
    store; a frame without validity is returned as it is."""
    if "valid_to_utc" not in rows:
        return rows
    return rows[rows["valid_to_utc"].isna().to_numpy()].reset_index(drop=True)
