"""Which utilisation figures are data: a device's usage in a period is known where it
has a session starting then, or where whoever reports its usage (its operator, else the
session file or feed) has substantial usage in the period; elsewhere it is unknown
("no data"), never zero."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ..calendar import NAT, ns_utc, period_grid
from .codes import as_texts, integer_codes, only_texts


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


_LAST_OPERATORS: list = []  # [(devices frame, its operators)]: the last one, one entry


def device_operators(devices: pd.DataFrame | None) -> pd.Series:
    """Each device's operator (device_id -> name; the last row of an id), for
    :func:`usage_coverage`. The last answer is kept for the same frame (the reconciled
    devices a QGIS session holds until a device import): its index, hashed by the
    first lookup, is not hashed again."""
    if devices is None or not len(devices) or "operator" not in devices:
        return pd.Series(dtype=object)
    if _LAST_OPERATORS and _LAST_OPERATORS[0][0] is devices:
        return _LAST_OPERATORS[0][1]
    rows = devices.drop_duplicates("device_id", keep="last")
    operators = pd.Series(rows["operator"].to_numpy(object),
                          index=rows["device_id"].astype(str).to_numpy(object))
    _LAST_OPERATORS[:] = [(devices, operators)]
    return operators


class CoveredPairs(NamedTuple):
    """(device, period) pairs as codes into their distinct texts."""
    device_texts: np.ndarray
    period_texts: np.ndarray
    device: np.ndarray
    period: np.ndarray


def usage_coverage(counts: pd.DataFrame, operators: pd.Series | None = None) -> pd.DataFrame:
    """The (``device_id``, ``period``) pairs that have usage data: the device has a
    session that starts in the period, or whoever reports its usage has substantial usage
    in the period (:func:`.mapdata.substantial_periods` over their periods): the
    device's operator (``operators``: :func:`device_operators`; an operator's returns
    come one file a quarter, and a device without sessions in a quarter its operator
    reported is a real zero), else the usage source (a session file, a feed). Elsewhere
    the device's usage is unknown ("no data"), not zero. ``counts``:
    :func:`session_counts` (the id columns may be categorical).

    Ids are compared as text (``str``); the work is on integer codes of the distinct
    values, so each distinct device, source and period is converted once."""
    pairs = coverage_pairs(counts, operators)
    return pd.DataFrame({"device_id": pairs.device_texts[pairs.device],
                         "period": pairs.period_texts[pairs.period]})


def coverage_pairs(counts: pd.DataFrame, operators: pd.Series | None = None) -> CoveredPairs:
    """:func:`usage_coverage` as codes (for :func:`covered_grid`, no frame of texts)."""
    from ..outputs.mapdata import substantial_periods

    d_code, d_uniq = _text_codes(counts["device_id"])
    s_code, s_uniq = _text_codes(counts["source"])
    p_code, p_uniq = _text_codes(counts["period"])
    n_s, n_p = max(len(s_uniq), 1), max(len(p_uniq), 1)
    # the reporter of each distinct (device, source): its operator, else the source
    pair_code, pairs = pd.factorize(d_code * n_s + s_code)
    pair_dev, pair_src = pairs // n_s, pairs % n_s
    reporter = "source:" + pd.Series(s_uniq[pair_src], dtype=object)
    if operators is not None and len(operators):
        # each distinct operator name stripped and lower-cased once (not once per device)
        named, names = pd.factorize(pd.Series(d_uniq, dtype=object).map(operators))
        names = pd.Series(names, dtype=object).astype(str).str.strip().str.lower()
        name = np.append(names.to_numpy(object), "")[named][pair_dev]  # (-1: no name)
        reporter = reporter.where(name == "", "operator:" + pd.Series(name, dtype=object))
    r_of_pair, r_uniq = pd.factorize(reporter.to_numpy(object))
    r_code = r_of_pair[pair_code]
    sessions = counts["sessions"].to_numpy()
    own = np.flatnonzero(sessions > 0)
    # sessions per reporter and period, reporters and periods in text order
    n_r = max(len(r_uniq), 1)
    total = pd.Series(sessions).groupby(r_code.astype(np.int64) * n_p + p_code).sum()
    r_rank = _text_rank(np.asarray(r_uniq, dtype=object))
    p_rank = _text_rank(p_uniq)
    keys = total.index.to_numpy(np.int64)
    order = np.lexsort((p_rank[keys % n_p], r_rank[keys // n_p]))
    keys, total = keys[order], total.to_numpy()[order]
    covered = np.zeros(n_r * n_p, dtype=bool)
    starts = np.flatnonzero(np.r_[True, keys[1:] // n_p != keys[:-1] // n_p]) \
        if len(keys) else []
    for a, b in zip(starts, list(starts[1:]) + [len(keys)]):
        rows = pd.Series(total[a:b], index=p_uniq[keys[a:b] % n_p])
        wanted = pd.Index(p_uniq).get_indexer(pd.Index(substantial_periods(rows)))
        covered[(keys[a] // n_p) * n_p + wanted] = True
    # each device with every period its reporters cover
    dr_first = pd.unique(d_code * n_r + r_code)
    dr_dev, dr_rep = dr_first // n_r, dr_first % n_r
    grid = covered.reshape(n_r, n_p)[dr_rep]
    row, period = np.nonzero(grid)
    cells = np.zeros(max(len(d_uniq), 1) * n_p, dtype=bool)
    cells[d_code[own] * n_p + p_code[own]] = True
    cells[dr_dev[row] * n_p + period] = True
    key = np.flatnonzero(cells)
    return CoveredPairs(d_uniq, np.asarray(p_uniq, dtype=object), key // n_p, key % n_p)


def keep_covered(frame: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """The rows of utilisation ``frame`` whose device and period have usage data
    (:func:`usage_coverage`); a window widened by other data (another operator's return,
    watched status) no longer gives a device 0 % in periods nobody reports for it. Ids
    are compared as text."""
    d_code, d_texts = _text_codes(frame["device_id"])
    p_code, p_texts = _text_codes(frame["period"])
    c_dev, c_dev_texts = _text_codes(coverage["device_id"])
    c_per, c_per_texts = _text_codes(coverage["period"])
    pairs = CoveredPairs(c_dev_texts, c_per_texts, c_dev, c_per)
    keep = covered_grid(pairs, d_texts, p_texts)[d_code, p_code]
    if keep.all() and isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 \
            and frame.index.step == 1:
        return frame  # every row: no copy
    return frame[keep].reset_index(drop=True)


def covered_grid(pairs: CoveredPairs, device_ids, periods) -> np.ndarray:
    """(devices × periods) booleans: whether each of ``device_ids`` has usage data in each
    of ``periods`` (``pairs``: :func:`coverage_pairs`; ids and periods compared as text).
    The assembly keeps only these rows (:func:`.utilisation.assemble`)."""
    grid = np.zeros((len(pairs.device_texts) + 1, len(pairs.period_texts) + 1), dtype=bool)
    grid[pairs.device, pairs.period] = True  # the last row and column stay False: absent
    device_ids = np.asarray(device_ids, dtype=object)
    if len(device_ids) == len(pairs.device_texts) and np.array_equal(device_ids,
                                                                     pairs.device_texts):
        dev_at = np.arange(len(device_ids))  # (the texts of the counts' categories)
    else:
        dev_at = pd.Index(pairs.device_texts, dtype=object).get_indexer(as_texts(device_ids))
    per_at = pd.Index(pairs.period_texts, dtype=object).get_indexer(as_texts(periods))
    return grid[dev_at][:, per_at]


def _text_codes(values: pd.Series):
    """Integer codes of ``values`` compared as text (``str``, as ``astype(str)``) and the
    distinct texts (unique), converting each distinct value once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniq = np.asarray(values.cat.categories, dtype=object)
        if only_texts(uniq) and (
                not len(codes) or codes.min() >= 0):
            return codes, uniq  # distinct texts already
        if values.isna().any():
            uniq = np.append(uniq, np.nan)
            codes = np.where(codes < 0, len(uniq) - 1, codes)
    else:
        codes, uniq = pd.factorize(values.to_numpy(object), use_na_sentinel=False)
        codes = codes.astype(np.int64)
    text = pd.Index(uniq, dtype=object).astype(str)
    if not text.is_unique:  # different values with one text (1 and "1")
        codes2, text = pd.factorize(text.to_numpy(object))
        codes = codes2.astype(np.int64)[codes]
    return codes, np.asarray(text, dtype=object)


def _text_rank(texts: np.ndarray) -> np.ndarray:
    """The position of each (distinct) text in sorted order."""
    rank = np.empty(len(texts), dtype=np.int64)
    rank[np.argsort(texts, kind="stable")] = np.arange(len(texts))
    return rank
