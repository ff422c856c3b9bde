"""Whole columns in and out of PostgreSQL through ``COPY``: text rows encoded a slice
at a time while the server parses the previous ones, and CSV read back by pandas'
C parser (times as microseconds since the epoch)."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import pandas as pd

from ...schema import TABLES
from ..values import COLUMN_KIND, ID_COLUMNS

_NULL = "\\N"
_NO_TIME = np.iinfo(np.int64).min


def column_kinds(table: str, names: Sequence[str]) -> dict[str, str]:
    """name -> "time" | "text" | "real" | "int" for canonical (and validity) columns."""
    spec = dict(TABLES[table])
    out = {}
    for name in names:
        if name in spec:
            out[name] = COLUMN_KIND[spec[name]]
        else:
            out[name] = "time" if name.endswith("_utc") else "text"
    return out


# --- COPY in ------------------------------------------------------------------

_SPECIAL = ("\\", "\t", "\n", "\r")


def _escape(value) -> str:
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _encode(kind: str, values: list) -> list[str]:
    """One column -> COPY text fields (``\\N`` for missing)."""
    if kind == "text":
        probe = "\x00".join(v for v in values if isinstance(v, str))
        escape = _escape if any(ch in probe for ch in _SPECIAL) else str
        return [_NULL if v is None or v != v else escape(v) for v in values]
    if kind == "time":  # fixed-width ISO text (values.iso_texts), or None
        return [_NULL if v is None else v for v in values]
    if kind == "real":
        return [_NULL if v is None or v != v else repr(float(v)) for v in values]
    return [_NULL if v is None or v != v else str(int(v)) for v in values]


def copy_in(cur, table: str, names: list[str], columns: list[tuple[str, list]]) -> None:
    """COPY column lists into ``table``; the rows are encoded a slice at a time
    while the server is already parsing the previous slices."""
    if not columns or not len(columns[0][1]):
        return
    cur.copy_expert(f"COPY {table} ({', '.join(names)}) FROM STDIN", _CopyStream(columns),
                    size=1 << 20)


class _CopyStream:
    """A file-like reader of COPY text made on demand from column lists."""

    _ROWS = 50_000

    def __init__(self, columns: list[tuple[str, list]]):
        self._columns = columns
        self._n = len(columns[0][1])
        self._next = 0
        self._buffer = ""

    def read(self, size: int = -1) -> str:
        while (size < 0 or len(self._buffer) < size) and self._next < self._n:
            first, self._next = self._next, min(self._next + self._ROWS, self._n)
            fields = [_encode(kind, values[first:self._next]) for kind, values in self._columns]
            self._buffer += "\n".join(map("\t".join, zip(*fields))) + "\n"
        if size < 0 or len(self._buffer) <= size:
            out, self._buffer = self._buffer, ""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readline(self, size: int = -1) -> str:  # part of the file protocol; unused by COPY
        return self.read(size)


# --- COPY out -----------------------------------------------------------------

def read_expression(name: str, kind: str) -> str:
    if kind == "time":
        # Microseconds since the epoch; a double's error here is far below 0.5 µs
        # until the year 2255, and date_part is much cheaper than numeric extract().
        return f"coalesce(round(date_part('epoch', {name}) * 1000000)::bigint, {_NO_TIME})"
    if kind == "int":
        return f"coalesce({name}, 0)"
    return name


def _parse_csv(raw: io.BytesIO, spec: dict[str, str], categorical: bool) -> dict:
    dtypes = {}
    for name, kind in spec.items():
        if kind == "text":
            dtypes[name] = "category" if categorical and name in ID_COLUMNS else object
        elif kind == "real":
            dtypes[name] = "float64"
        else:
            dtypes[name] = "int64"
    frame = pd.read_csv(raw, header=None, names=list(spec), dtype=dtypes,
                        keep_default_na=False, na_values=[_NULL], float_precision="round_trip",
                        encoding="utf-8")
    out = {}
    for name, kind in spec.items():
        column = frame[name]
        if kind == "time":
            us = column.to_numpy()
            out[name] = np.where(us == _NO_TIME, _NO_TIME, us * 1000)
        elif kind == "text" and not isinstance(column.dtype, pd.CategoricalDtype):
            arr = column.to_numpy(dtype=object)
            arr[column.isna().to_numpy()] = None
            out[name] = arr
        else:
            out[name] = column.array if isinstance(column.dtype, pd.CategoricalDtype) \
                else column.to_numpy()
    return out


def copy_out(cur, query: str, spec: dict[str, str], categorical: bool) -> dict | None:
    """The rows of ``query`` as one array per column of ``spec`` (name -> kind, the
    columns as :func:`read_expression` selects them); None when there are none."""
    raw = io.BytesIO()
    cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, NULL '{_NULL}')", raw,
                    size=1 << 20)
    if not raw.tell():
        return None
    raw.seek(0)
    return _parse_csv(raw, spec, categorical)


def copy_frame(cur, query: str, dtypes: dict) -> pd.DataFrame:
    """The rows of ``query`` as a frame of ``dtypes`` (name -> dtype, in the query's
    column order), moved by COPY as CSV and parsed by pandas' C parser: missing values
    None in object columns, <NA> in nullable ("Int64") ones."""
    raw = io.BytesIO()
    cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, NULL '{_NULL}')", raw,
                    size=1 << 20)
    if not raw.tell():
        return pd.DataFrame({n: pd.Series([], dtype=d) for n, d in dtypes.items()})
    raw.seek(0)
    # nullable integers parse far faster as float64 (exact below 2**53: µs times)
    parsed = {n: "float64" if d == "Int64" else d for n, d in dtypes.items()}
    frame = pd.read_csv(raw, header=None, names=list(dtypes), dtype=parsed,
                        keep_default_na=False, na_values=[_NULL],
                        float_precision="round_trip", encoding="utf-8")
    for name, dtype in dtypes.items():
        if dtype is object:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif dtype == "Int64":
            frame[name] = frame[name].astype("Int64")
    return frame
