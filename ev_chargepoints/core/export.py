"""Tables out to CSV (and later XLSX), safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (text starting with = + - @,
or a tab/carriage return) are prefixed with an apostrophe, so a name coming
from a feed can never become a formula. Numbers are written as numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(neutralise)
    return out


def write_csv(frame: pd.DataFrame, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8")
    return path
