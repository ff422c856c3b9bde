"""Comparisons of result tables between the two store backends and engines."""

from __future__ import annotations

import numpy as np
import pandas as pd

INTEGER_COLUMNS = ["devices", "connectors", "slow_devices", "fast_devices", "rapid_devices",
                   "ultra_devices", "unknown_power_devices", "devices_with_usage"]


def assert_same_summary(sql: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(sql.columns) == list(expected.columns)
    assert len(sql) == len(expected)
    for column in expected.columns:
        ours, theirs = sql[column], expected[column]
        if column in INTEGER_COLUMNS:
            assert ours.dtype == np.int64, column
            assert (ours.to_numpy() == theirs.to_numpy()).all(), column
        elif theirs.dtype == object:
            assert ours.tolist() == theirs.tolist(), column
        else:
            np.testing.assert_allclose(ours.to_numpy("float64"), theirs.to_numpy("float64"),
                                       rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=column)
    for key in ("level", "period", "previous_period", "devices_selected",
                "devices_unassigned", "boundary_version", "population_note"):
        assert sql.attrs[key] == expected.attrs[key], key
