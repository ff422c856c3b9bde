"""pandas DataFrames to QGIS fields and features (and back to plain values)."""

from __future__ import annotations

import datetime
import math
from typing import Optional

import pandas as pd
from qgis.core import QgsFeature, QgsField, QgsFields, QgsGeometry
from qgis.PyQt.QtCore import QDate, QDateTime, QVariant


def fields_for(frame: pd.DataFrame) -> QgsFields:
    fields = QgsFields()
    for column in frame.columns:
        fields.append(QgsField(str(column), _variant_type(frame[column])))
    return fields


def _variant_type(series: pd.Series):
    kind = series.dtype.kind
    if kind == "b":
        return QVariant.Bool
    if kind in "iu":
        return QVariant.LongLong
    if kind == "f":
        return QVariant.Double
    if kind == "M":
        return QVariant.DateTime
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, datetime.datetime):
        return QVariant.DateTime
    if isinstance(first, datetime.date):
        return QVariant.Date
    return QVariant.String


def _value(value):
    if value is None:
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
        feature.setAttributes([_value(v) for v in row])
        if geometries is not None and geometries[i] is not None:
            geometry = geometries[i]
            feature.setGeometry(geometry if isinstance(geometry, QgsGeometry)
                                else QgsGeometry.fromWkt(geometry))
        yield feature
