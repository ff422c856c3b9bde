"""Charge point location lists of the ChargePlace Scotland family → devices.

Layout seen: Dundee 2017-18 ``cp-locations.csv`` (``Latitude, Longitude, Location,
CP ID, Type, Address, ...``), published beside the session files: one row per charge
point, its ``CP ID`` the id the sessions use, so imported together the sessions get
their places. ``Type`` is a power band (Slow, Fast, Rapid), not a rating: the device
gets that power class and no kW. The list names no connectors and no operator.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ... import errors, schema
from .common import DEFAULT_LIMITS, Limits, blank_to_none, read_csv_text, rejects_frame
from .sessions_csv import _roles as _session_roles

FORMAT = "cps-locations"
SOURCE = "cps-locations"  # one list per network: a newer list replaces the older

# canonical role → accepted header names (compared case- and space-insensitively)
ALIASES = {
    "device": ("cp id", "cpid", "charge point id"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long"),
    "name": ("location", "site", "location name"),
    "address": ("address",),
    "band": ("type", "charger type", "speed"),
}
BANDS = {"slow": "slow", "fast": "fast", "rapid": "rapid", "ultra": "ultra",
         "ultra-rapid": "ultra", "ultra rapid": "ultra"}


def _norm(name: str) -> str:
    return " ".join(str(name).replace("\ufeff", "").strip().lower().split())


def _roles(header) -> dict[str, str]:
    normalised = {_norm(h): h for h in header}
    found = {}
    for role, names in ALIASES.items():
        alias = next((a for a in names if a in normalised), None)
        if alias is not None:
            found[role] = normalised[alias]
    return found


def looks_like_locations(header) -> bool:
    """A charge point id and coordinates, and no session times."""
    roles = _roles(header)
    session = _session_roles(header)
    return {"device", "latitude", "longitude"} <= set(roles) and \
        "start_date" not in session and "start" not in session


def parse_text(text: str, name: str = "cp-locations.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    source = source or SOURCE
    raw = read_csv_text(text, name, limits)
    roles = _roles(raw.columns)
    if not looks_like_locations(raw.columns):
        raise errors.ParseError("the header has no charge point id (CP ID), Latitude and "
                                "Longitude columns", name)

    def column(role: str) -> pd.Series:
        if role in roles:
            return raw[roles[role]].astype(str).str.strip()
        return pd.Series("", index=raw.index, dtype=object)

    n_rows = len(raw)
    rows = np.arange(1, n_rows + 1)
    device_id = blank_to_none(column("device"))
    lat = pd.to_numeric(column("latitude"), errors="coerce")
    lon = pd.to_numeric(column("longitude"), errors="coerce")
    first_row = pd.Series(rows, index=raw.index).groupby(device_id).transform("min") \
        .fillna(0).astype("int64")
    checks = [  # (rows failing, reason); first match wins
        (device_id.isna(), "missing charge point id (CP ID)"),
        (device_id.notna() & device_id.duplicated(keep="first"),
         "charge point id (CP ID) already listed in row {}"),
        (lat.isna() | lon.isna(), "missing or unreadable latitude/longitude"),
        (~lat.between(-90, 90) | ~lon.between(-180, 180), "latitude/longitude out of range"),
        ((lat == 0) & (lon == 0), "latitude/longitude are both 0 (not a real location)"),
    ]
    code = np.select([np.asarray(mask, dtype=bool) for mask, _ in checks],
                     np.arange(1, len(checks) + 1), default=0)
    keep = code == 0
    reasons = [checks[code[i] - 1][1].format(first_row.iloc[i])
               for i in np.flatnonzero(~keep)]
    band_text = column("band").str.lower()
    band = band_text.map(BANDS)
    warnings = []
    unknown = sorted(set(band_text[keep & band.isna() & band_text.ne("")]))
    if unknown:
        warnings.append(f"power band(s) not recognised, left without a power class: "
                        f"{', '.join(unknown[:5])}")
    devices = pd.DataFrame({
        "device_id": device_id[keep],
        "name": blank_to_none(column("name"))[keep],
        "latitude": lat[keep],
        "longitude": lon[keep],
        "address": blank_to_none(column("address"))[keep],
        "power_class": band[keep].where(band[keep].notna(), None),
        "source": source,
    })
    if len(devices):
        warnings.append(f"{os.path.basename(name)} lists no connectors or ratings: "
                        "connectors are counted from the sessions, and the power class "
                        "is the list's band")
    return schema.ParseResult(
        format=FORMAT, source=source, rows_read=n_rows,
        tables={"devices": schema.conform(devices, "devices")},
        rejects=rejects_frame(rows[~keep], reasons), warnings=warnings)
