"""pandas DataFrames to QGIS fields and features (and back to plain values)."""

from __future__ import annotations

import datetime
import math
from typing import Optional

import pandas as pd
from qgis.core import QgsFeature, QgsField, QgsFields, QgsGeometry
from qgis.PyQt.QtCore import QDate, QDateTime, QMetaType


def fields_for(frame: pd.DataFrame) -> QgsFields:
    fields = QgsFields()
    for column in frame.columns:
        fields.append(QgsField(str(column), _variant_type(frame[column])))
    return fields


def _variant_type(series: pd.Series):
    kind = series.dtype.kind
    if kind == "b":
        return QMetaType.Type.Bool
    if kind in "iu":
        return QMetaType.Type.LongLong
    if kind == "f":
        return QMetaType.Type.Double
    if kind == "M":
        return QMetaType.Type.QDateTime
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, datetime.datetime):
        return QMetaType.Type.QDateTime
    if isinstance(first, datetime.date):
        return QMetaType.Type.QDate
    return QMetaType.Type.QString


def cell_value(value):
    if value is None or value is pd.NA:  # pd.NA: a blank in a nullable Int64 column
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else QDateTime.fromMSecsSinceEpoch(
            int(value.value // 1_000_000))
    if value is pd.NaT:
        return None
    if isinstance(value, datetime.datetime):
        return QDateTime.fromMSecsSinceEpoch(int(pd.Timestamp(value).value // 1_000_000))
    if isinstance(value, datetime.date):
        return QDate(value.year, value.month, value.day)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def features_for(frame: pd.DataFrame, fields: QgsFields,
                 geometries: Optional[list] = None):
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        feature = QgsFeature(fields)
        feature.setAttributes([cell_value(v) for v in row])
        if geometries is not None and geometries[i] is not None:
            geometry = geometries[i]
            feature.setGeometry(geometry if isinstance(geometry, QgsGeometry)
                                else QgsGeometry.fromWkt(geometry))
        yield feature
