"""Which utilisation figures are data: a device's usage in a period is known where it
has a session starting then, or where whoever reports its usage (its operator, else the
session file or feed) has substantial usage in the period; elsewhere it is unknown
("no data"), never zero."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import NAT, ns_utc, period_grid
from .codes import integer_codes


def session_counts(sessions: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """Sessions per device, usage source and local calendar period in which they start
    (``device_id``, ``source``, ``period``, ``sessions``), for :func:`usage_coverage`."""
    dev_codes, dev_ids = integer_codes(sessions["device_id"])
    src = sessions["source"] if "source" in sessions else pd.Series("", index=sessions.index)
    src_codes, src_ids = integer_codes(src.astype(object).where(src.notna(), ""))
    start = ns_utc(sessions["start_utc"])
    ok = (start != NAT) & (dev_codes >= 0)
    if not ok.any():
        return pd.DataFrame({"device_id": pd.Series(dtype=object),
                             "source": pd.Series(dtype=object),
                             "period": pd.Series(dtype=object),
                             "sessions": pd.Series(dtype="int64")})
    start = start[ok]
    labels, bounds, _local, _index = period_grid(int(start.min()), int(start.max()), period)
    p = np.searchsorted(bounds, start, side="right") - 1
    width = (len(src_ids) + 1) * len(labels)
    key = dev_codes[ok] * width + src_codes[ok] * len(labels) + p
    keys, n = np.unique(key, return_counts=True)
    return pd.DataFrame({
        "device_id": dev_ids[keys // width],
        "source": src_ids[(keys % width) // len(labels)],
        "period": np.asarray(labels, dtype=object)[keys % len(labels)],
        "sessions": n.astype("int64")})


def device_operators(devices: pd.DataFrame | None) -> pd.Series:
    """Each device's operator (device_id -> name; the last row of an id), for
    :func:`usage_coverage`."""
    if devices is None or not len(devices) or "operator" not in devices:
        return pd.Series(dtype=object)
    rows = devices.drop_duplicates("device_id", keep="last")
    return pd.Series(rows["operator"].to_numpy(object),
                     index=rows["device_id"].astype(str).to_numpy(object))


def usage_coverage(counts: pd.DataFrame, operators: pd.Series | None = None) -> pd.DataFrame:
    """The (``device_id``, ``period``) pairs that have usage data: the device has a
    session that starts in the period, or whoever reports its usage has substantial usage
    in the period (:func:`.mapdata.substantial_periods` over their periods): the
    device's operator (``operators``: :func:`device_operators`; an operator's returns
    come one file a quarter, and a device without sessions in a quarter its operator
    reported is a real zero), else the usage source (a session file, a feed). Elsewhere
    the device's usage is unknown ("no data"), not zero. ``counts``:
    :func:`session_counts`."""
    from ..outputs.mapdata import substantial_periods

    reporter = "source:" + counts["source"].astype(str)
    if operators is not None and len(operators):
        name = counts["device_id"].astype(str).map(operators)
        name = name.astype(object).where(name.notna(), "").astype(str).str.strip().str.lower()
        reporter = reporter.where(name == "", "operator:" + name)
    counts = counts.assign(reporter=reporter)
    own = counts.loc[counts["sessions"] > 0, ["device_id", "period"]]
    per_reporter = counts.groupby(["reporter", "period"], sort=True)["sessions"].sum()
    covered = [(who, period)
               for who, rows in per_reporter.groupby(level=0, sort=False)
               for period in substantial_periods(rows.droplevel(0))]
    reported = counts[["device_id", "reporter"]].drop_duplicates().merge(
        pd.DataFrame(covered, columns=["reporter", "period"]), on="reporter")
    return pd.concat([own, reported[["device_id", "period"]]],
                     ignore_index=True).drop_duplicates(ignore_index=True)


def keep_covered(frame: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """The rows of utilisation ``frame`` whose device and period have usage data
    (:func:`usage_coverage`); a window widened by other data (another operator's return,
    watched status) no longer gives a device 0 % in periods nobody reports for it."""
    wanted = pd.MultiIndex.from_arrays([coverage["device_id"].astype(str),
                                        coverage["period"].astype(str)])
    have = pd.MultiIndex.from_arrays([frame["device_id"].astype(str),
                                      frame["period"].astype(str)])
    return frame[have.isin(wanted)].reset_index(drop=True)
