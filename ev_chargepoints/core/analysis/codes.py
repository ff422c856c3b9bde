"""Integer codes for id columns: the values of a column as dense integers and the
distinct values they stand for, without hashing every row where that can be avoided."""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd


def integer_codes(values: pd.Series):
    """Integer codes (-1 for missing) and the distinct values they stand for."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return (values.cat.codes.to_numpy().astype(np.int64),
                np.asarray(values.cat.categories, dtype=object))
    arr = np.ascontiguousarray(values.to_numpy(object))
    shared = _factorize_shared_objects(arr)
    if shared is not None:
        return shared
    codes, uniques = pd.factorize(arr)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _factorize_shared_objects(arr: np.ndarray):
    """Fast path for object columns whose repeated values are the same Python
    objects (pandas' CSV reader, ``take``, ``repeat`` and ``map`` produce these).

    Hashing ten million strings is slow; their addresses, which ``arr`` keeps
    alive while we look, fall in a narrow range: a dense bitmap over that range
    finds the distinct objects, and only those are compared by value. Returns
    None when the objects are not shared enough for this to pay.
    """
    n = len(arr)
    if n < 100_000:
        return None
    addresses = np.ctypeslib.as_array(
        (ctypes.c_ssize_t * n).from_address(arr.ctypes.data)).astype(np.int64)
    lowest = int(addresses.min())
    step = 16 if not (addresses & 15).any() else 8
    slot = (addresses - lowest) // step
    del addresses
    span = int(slot.max()) + 1
    if span > 4 * n:
        # Far-apart objects (e.g. interned one-letter strings): hash the addresses.
        codes, keys = pd.factorize(slot)
        if len(keys) > n // 4:
            return None
        objects = arr[pd.Series(codes).drop_duplicates().index.to_numpy()]
        value_codes, uniques = pd.factorize(objects)
        return value_codes.astype(np.int64)[codes], np.asarray(uniques, dtype=object)
    present = np.zeros(span, dtype=bool)
    present[slot] = True
    distinct = int(np.count_nonzero(present))
    if distinct > n // 4:
        return None
    rank = np.cumsum(present, dtype=np.int32) - 1
    holder = np.empty(span, dtype=np.int64)
    holder[slot] = np.arange(n, dtype=np.int64)
    objects = arr[holder[present]]
    del holder, present
    value_codes, uniques = pd.factorize(objects)
    codes = value_codes.astype(np.int64)[rank[slot]]
    return codes, np.asarray(uniques, dtype=object)


def dense_codes(raw: np.ndarray, size: int):
    """Dense codes for integer keys in [0, size): (codes, the key of each code)."""
    present = np.zeros(size, dtype=bool)
    present[raw] = True
    keys = np.flatnonzero(present)
    rank = np.cumsum(present, dtype=np.int64) - 1
    return rank[raw], keys


def only_texts(values: np.ndarray) -> bool:
    """Whether every value is a ``str`` (none missing, no numbers)."""
    return pd.api.types.infer_dtype(values, skipna=False) == "string"


def as_texts(values) -> np.ndarray:
    """``values`` as ``astype(str)`` gives them (an object array; each distinct value
    converted once; an array of texts only is returned as it is, not copied)."""
    values = np.asarray(values, dtype=object)
    if only_texts(values):
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(pd.Index(uniques, dtype=object).astype(str), dtype=object)[codes]
