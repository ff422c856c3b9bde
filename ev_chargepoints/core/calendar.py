"""Calendar periods in UK local time, and times as int64 nanoseconds in UTC.

Times are stored in UTC; periods are calendar months, quarters or years in UK local
time (Europe/London), labelled ``2022-05``, ``2022-Q2`` or ``2022``. Each period also
has an integer index (months, quarters or years since year 0) that orders periods and
makes "the same period a year earlier" a subtraction. Vectorised code handles times as
int64 nanoseconds since the epoch (:func:`ns_utc`), with :data:`NAT` for a missing one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOCAL_TZ = "Europe/London"
PERIOD_KINDS = ("month", "quarter", "year")
STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
NAT = np.iinfo(np.int64).min
HOUR_NS = 3_600_000_000_000


def as_utc(value) -> pd.Timestamp:
    """``value`` as a UTC timestamp; a time without a zone is taken to be UTC."""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return stamp
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def ns_utc(values) -> np.ndarray:
    """Times (tz-aware or naive UTC) -> int64 nanoseconds since the epoch, NaT as int64 min.

    Canonical columns are returned as a read-only view, without a copy.
    """
    if isinstance(values, pd.Series) and str(values.dtype) == "datetime64[ns, UTC]":
        return values.array.asi8
    series = pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values,
                            utc=True, errors="coerce")
    return series.dt.tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def period_label(year: int, month: int, kind: str) -> str:
    """The label of the ``kind`` period holding ``month`` of ``year``."""
    if kind == "month":
        return f"{year:04d}-{month:02d}"
    if kind == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def period_kind_of(label: str) -> str | None:
    """"month", "quarter" or "year" for a period label as :func:`period_label` writes it."""
    text = str(label)
    if len(text) == 7 and text[4:6] == "-Q" and text[:4].isdigit() and text[6] in "1234":
        return "quarter"
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        return "month"
    return "year" if len(text) == 4 and text.isdigit() else None


def period_index(year: int, month: int, kind: str) -> int:
    """The index of the ``kind`` period holding ``month`` of ``year``."""
    return year * PERIODS_PER_YEAR[kind] + (month - 1) // STEP_MONTHS[kind]


def period_bounds(first, last, kind: str = "quarter"):
    """Labels of the local calendar periods covering [first, last] and the UTC
    instants of their starts (one more than labels: the last is the end)."""
    if kind not in PERIOD_KINDS:
        raise ValueError(f"period must be one of {PERIOD_KINDS}, not {kind!r}")
    first = pd.Timestamp(first).tz_convert(LOCAL_TZ)
    last = pd.Timestamp(last).tz_convert(LOCAL_TZ)
    step = STEP_MONTHS[kind]
    year, month = first.year, ((first.month - 1) // step) * step + 1
    labels, starts = [], []
    while True:
        start = pd.Timestamp(year=year, month=month, day=1).tz_localize(LOCAL_TZ)
        if start > last:
            starts.append(start)
            break
        labels.append(period_label(year, month, kind))
        starts.append(start)
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return labels, pd.DatetimeIndex(starts).tz_convert("UTC")


def period_grid(first_ns: int, last_ns: int, kind: str):
    """The periods covering [first_ns, last_ns]: (labels, start instants as int64 ns
    with the end last, local starts as a DatetimeIndex, period indexes)."""
    labels, starts = period_bounds(pd.Timestamp(first_ns, tz="UTC"),
                                   pd.Timestamp(last_ns, tz="UTC"), kind)
    local = starts.tz_convert(LOCAL_TZ)
    index = np.array([period_index(t.year, t.month, kind) for t in local[:-1]], dtype=np.int64)
    return labels, _asi8(starts), local, index


def _asi8(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def local_midnights(bounds: np.ndarray) -> np.ndarray:
    """UTC instants of every local midnight from bounds[0] to bounds[-1] inclusive."""
    first = pd.Timestamp(bounds[0], tz="UTC").tz_convert(LOCAL_TZ)
    last = pd.Timestamp(bounds[-1], tz="UTC").tz_convert(LOCAL_TZ)
    days = pd.date_range(first.tz_localize(None), last.tz_localize(None), freq="D")
    return _asi8(days.tz_localize(LOCAL_TZ))


def period_columns(labels, local_starts: pd.DatetimeIndex, p_index: np.ndarray,
                   p: np.ndarray) -> dict:
    """The period columns of output rows whose period number (0 = first) is ``p``."""
    period_end = (local_starts[1:] - pd.Timedelta(days=1)).date
    return {
        "period": np.asarray(labels, dtype=object)[p],
        "period_index": p_index[p],
        "period_start": np.asarray(local_starts[:-1].date, dtype=object)[p],
        "period_end": np.asarray(period_end, dtype=object)[p],
    }
