"""One ratio rule for every table: num / den × scale, NaN where the denominator is not
positive (no hours observed, no devices, no residents) rather than 0 or infinity."""
from __future__ import annotations

import numpy as np
import pandas as pd


def ratio(num, den, scale: float = 1.0) -> np.ndarray:
    """Element-wise ``num / den * scale`` as float64; NaN where ``den`` is not > 0 or not
    a number (text that is not a number counts as missing)."""
    num, den = _numbers(num), _numbers(den)
    num, den = np.broadcast_arrays(num, den)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    if scale != 1.0:
        out *= scale
    return out


def _numbers(values) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values))
    if array.dtype.kind in "biuf":
        return array.astype("float64", copy=False)
    return pd.to_numeric(pd.Series(array.ravel()), errors="coerce").to_numpy("float64")
