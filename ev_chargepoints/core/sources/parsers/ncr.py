"""National Chargepoint Registry (NCR) CSV → devices and connectors.

The registry export has 158 columns: 70 device columns, then 8 blocks of 11
connector columns. Some exports label the 2nd connector's ``Validated`` column
``connector3Validated``, so the header is verified and the data read by position.

A registry *extract* (some of those columns by their registry names, e.g. the
London Datastore's rapid charge points: chargeDeviceID, name, latitude,
longitude, postcode, deviceControllerName, connector1Type,
connector1RatedOutputKW) is read by name, the columns it lacks left empty. Its
rows are some of the registry's devices, so its result is marked ``extract``:
imported, it adds the devices a store lacks and leaves the others alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import errors, schema
from .common import (
    DEFAULT_LIMITS,
    Limits,
    blank_to_none,
    local_to_utc,
    looks_swapped_uk,
    read_csv_text,
    rejects_frame,
)

FORMAT = "ncr"

DEVICE_COLUMNS = (
    "chargeDeviceID", "reference", "name", "latitude", "longitude", "subBuildingName",
    "buildingName", "buildingNumber", "thoroughfare", "street", "doubleDependantLocality",
    "dependantLocality", "town", "county", "postcode", "countryCode", "uprn",
    "deviceDescription", "locationShortDescription", "locationLongDescription",
    "deviceManufacturer", "deviceModel", "deviceOwnerName", "deviceOwnerWebsite",
    "deviceOwnerTelephoneNo", "deviceOwnerContactName", "deviceControllerName",
    "deviceControllerWebsite", "deviceControllerTelephoneNo", "deviceControllerContactName",
    "deviceNetworks", "chargeDeviceStatus", "publishStatus", "deviceValidated", "dateCreated",
    "dateUpdated", "moderated", "lastUpdated", "lastUpdatedBy", "attribution", "dateDeleted",
    "paymentRequired", "paymentRequiredDetails", "subscriptionRequired",
    "subscriptionRequiredDetails", "parkingFeesFlag", "parkingFeesDetails", "parkingFeesUrl",
    "accessRestrictionFlag", "accessRestrictionDetails", "physicalRestrictionFlag",
    "physicalRestrictionText", "onStreetFlag", "locationType", "bearing", "access24Hours",
    "accessMondayFrom", "accessMondayTo", "accessTuesdayFrom", "accessTuesdayTo",
    "accessWednesdayFrom", "accessWednesdayTo", "accessThursdayFrom", "accessThursdayTo",
    "accessFridayFrom", "accessFridayTo", "accessSaturdayFrom", "accessSaturdayTo",
    "accessSundayFrom", "accessSundayTo",
)
CONNECTOR_FIELDS = ("ID", "Type", "RatedOutputKW", "OutputCurrent", "RatedVoltage",
                    "ChargeMethod", "ChargeMode", "TetheredCable", "Status", "Description",
                    "Validated")
MAX_CONNECTORS = 8
COLUMN_COUNT = len(DEVICE_COLUMNS) + MAX_CONNECTORS * len(CONNECTOR_FIELDS)  # 158

FLAG_COLUMNS = {
    "payment_required": "paymentRequired",
    "subscription_required": "subscriptionRequired",
    "parking_fees": "parkingFeesFlag",
    "access_restricted": "accessRestrictionFlag",
    "physically_restricted": "physicalRestrictionFlag",
    "on_street": "onStreetFlag",
    "access_24_hours": "access24Hours",
    "moderated": "moderated",
}
_TRUE = {"y", "yes", "1", "true", "t"}
_FALSE = {"n", "no", "0", "false", "f"}
ADDRESS_COLUMNS = ("subBuildingName", "buildingName", "buildingNumber", "thoroughfare",
                   "street", "doubleDependantLocality", "dependantLocality", "town")


def expected_header() -> list[str]:
    names = list(DEVICE_COLUMNS)
    for n in range(1, MAX_CONNECTORS + 1):
        names += [f"connector{n}{field}" for field in CONNECTOR_FIELDS]
    return names


EXTRACT_REQUIRED = ("chargeDeviceID", "latitude", "longitude")


def looks_like_ncr(header: list[str]) -> bool:
    """A full registry export, or an extract of it (:func:`is_extract`)."""
    return bool(header) and header[0].strip().lstrip("\ufeff") == "chargeDeviceID" \
        and len(header) >= COLUMN_COUNT - 2 or is_extract(header)


def is_extract(header: list[str]) -> bool:
    """Some registry columns, each by its registry name and once, with at least the
    device id and coordinates."""
    names = [str(h).strip().lstrip("\ufeff") for h in header]
    return len(names) < COLUMN_COUNT - 2 and len(set(names)) == len(names) \
        and set(EXTRACT_REQUIRED) <= set(names) and set(names) <= set(expected_header())


def verify_header(header: list[str], name: str) -> None:
    header = [h.strip().lstrip("\ufeff") for h in header]
    expected = expected_header()
    if len(header) != COLUMN_COUNT:
        raise errors.ParseError(
            f"an NCR file has {COLUMN_COUNT} columns; this one has {len(header)}", name)
    for position, (got, want) in enumerate(zip(header, expected)):
        if got == want:
            continue
        # the registry's known mislabel: any connector<k>Validated where one is due
        if want.endswith("Validated") and got.startswith("connector") \
                and got.endswith("Validated"):
            continue
        raise errors.ParseError(
            f"column {position + 1} is '{got}' where the NCR layout has '{want}'", name)


def parse_flags(values: pd.Series) -> pd.Series:
    """Y/N/0/1/true/false → True/False; empty, 'null' and anything else → <NA>."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


def parse_text(text: str, name: str = "ncr.csv", source: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    source = source or FORMAT
    # header=False: pandas would rename a repeated header name ("x.1") before we see it
    raw = read_csv_text(text, name, limits, header=False)
    if raw.empty:
        raise errors.ParseError("the file has no header", name)
    header = raw.iloc[0].tolist()
    extract = is_extract(header)
    raw = raw.iloc[1:].reset_index(drop=True)
    if extract:
        raw.columns = [str(h).strip().lstrip("\ufeff") for h in header]
        raw = raw.reindex(columns=expected_header(), fill_value="")
    else:
        verify_header(header, name)
        raw.columns = expected_header()
    n_rows = len(raw)
    rows = np.arange(1, n_rows + 1)
    warnings: list[str] = []

    device_id = blank_to_none(raw["chargeDeviceID"])
    lat = pd.to_numeric(raw["latitude"].str.strip(), errors="coerce")
    lon = pd.to_numeric(raw["longitude"].str.strip(), errors="coerce")
    duplicated = device_id.notna() & device_id.duplicated(keep="first")
    first_row = pd.Series(rows, index=raw.index).groupby(device_id).transform("min")

    reason = np.select(
        [device_id.isna().to_numpy(),
         duplicated.to_numpy(),
         (lat.isna() | lon.isna()).to_numpy(),
         (~lat.between(-90, 90) | ~lon.between(-180, 180)).to_numpy(),
         ((lat == 0) & (lon == 0)).to_numpy()],
        ["missing chargeDeviceID",
         "duplicate chargeDeviceID (first in row {first})",
         "missing or unreadable latitude/longitude",
         "latitude/longitude out of range",
         "latitude/longitude are both 0 (not a real location)"],
        default="")
    reason = pd.Series(reason, index=raw.index, dtype=object)
    dup_mask = reason.str.startswith("duplicate")
    if dup_mask.any():
        reason[dup_mask] = [f"duplicate chargeDeviceID (first in row {int(r)})"
                            for r in first_row[dup_mask]]
    keep = reason == ""
    rejects = rejects_frame(rows[~keep.to_numpy()], reason[~keep].tolist())

    swapped = keep & looks_swapped_uk(lat, lon)
    if swapped.any():
        examples = ", ".join(device_id[swapped].head(3).tolist())
        warnings.append(f"{int(swapped.sum())} device(s) have latitude and longitude that "
                        f"look swapped for the UK (e.g. {examples}); kept as given")

    kept = raw[keep]
    connectors = _connectors(kept, device_id[keep])
    per_device = connectors.groupby("device_id", sort=False).agg(
        connector_count=("connector_id", "size"), max_power_kw=("power_kw", "max"))

    dev_id = device_id[keep]
    created = _uk_datetime(kept["dateCreated"])
    updated = _uk_datetime(kept["dateUpdated"])
    devices = pd.DataFrame({
        "device_id": dev_id,
        "name": blank_to_none(kept["name"]),
        "operator": blank_to_none(kept["deviceControllerName"]),
        "owner": blank_to_none(kept["deviceOwnerName"]),
        "latitude": lat[keep],
        "longitude": lon[keep],
        "address": _address(kept),
        "postcode": blank_to_none(kept["postcode"]),
        "location_type": blank_to_none(kept["locationType"]),
        "status": blank_to_none(kept["chargeDeviceStatus"]),
        "connector_count": dev_id.map(per_device["connector_count"]).fillna(0),
        "max_power_kw": dev_id.map(per_device["max_power_kw"]),
        "created_utc": created,
        "updated_utc": updated,
        "source": source,
        "reference": blank_to_none(kept["reference"]),
    })
    devices["power_class"] = schema.power_classes(devices["max_power_kw"])
    no_connectors = int((devices["connector_count"] == 0).sum())
    if no_connectors:
        warnings.append(f"{no_connectors} device(s) list no connectors")

    attributes = pd.DataFrame({"device_id": dev_id.to_numpy()})
    for out_name, column in FLAG_COLUMNS.items():
        attributes[out_name] = parse_flags(kept[column]).to_numpy()
    attributes["reference"] = blank_to_none(kept["reference"]).to_numpy()
    attributes["networks"] = blank_to_none(kept["deviceNetworks"]).to_numpy()

    if extract:
        warnings.insert(0, f"a registry extract with {len(header)} of the {COLUMN_COUNT} "
                           "registry columns: it adds devices, and changes or closes none")
    return schema.ParseResult(
        format=FORMAT, source=source, rows_read=n_rows,
        tables={"devices": schema.conform(devices, "devices"),
                "connectors": schema.conform(connectors, "connectors"),
                "ncr_attributes": attributes},
        rejects=rejects, warnings=warnings, extract=extract)


def _uk_datetime(values: pd.Series) -> pd.Series:
    naive = pd.to_datetime(values.str.strip(), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return local_to_utc(naive)


def _address(frame: pd.DataFrame) -> pd.Series:
    address = np.full(len(frame), "", dtype=object)
    for column in ADDRESS_COLUMNS:
        part = blank_to_none(frame[column]).fillna("").to_numpy(dtype=object)
        both = (address != "") & (part != "")
        address = np.where(both, address + ", " + part, np.where(part != "", part, address))
    out = pd.Series(address, index=frame.index, dtype=object)
    return out.where(out != "", None)


def _connectors(kept: pd.DataFrame, device_id: pd.Series) -> pd.DataFrame:
    blocks = []
    for n in range(1, MAX_CONNECTORS + 1):
        key_columns = [kept[f"connector{n}{f}"] for f in ("ID", "Type", "RatedOutputKW")]
        present = pd.Series(False, index=kept.index)
        for values in key_columns:
            present |= values.str.strip() != ""
        if not present.any():
            continue
        col = {field: kept[f"connector{n}{field}"].where(present, "").str.strip()
               for field in ("ID", "Type", "RatedOutputKW", "OutputCurrent", "RatedVoltage",
                             "ChargeMethod", "Status")}
        method = col["ChargeMethod"][present].str.lower()
        power_type = pd.Series(None, index=method.index, dtype=object)
        power_type[method.str.contains("dc", regex=False)] = "DC"
        power_type[method.str.contains("ac", regex=False)] = "AC"
        blocks.append(pd.DataFrame({
            "device_id": device_id[present],
            "connector_id": str(n),
            "standard": blank_to_none(col["Type"][present]),
            "power_type": power_type,
            "power_kw": _power_kw(col, present, method),
            "status": blank_to_none(col["Status"][present]),
            "_order": n,
        }))
    if not blocks:
        return schema.empty("connectors")
    connectors = pd.concat(blocks)
    connectors["_row"] = connectors.index
    connectors = connectors.sort_values(["_row", "_order"], kind="mergesort")
    connectors["power_class"] = schema.power_classes(connectors["power_kw"])
    return connectors.reset_index(drop=True)


def _power_kw(col: dict, present: pd.Series, method: pd.Series) -> pd.Series:
    """Rated kW; when missing, volts × amps (×√3 for 400 V three-phase line voltage)."""
    kw = pd.to_numeric(col["RatedOutputKW"][present], errors="coerce")
    volts = pd.to_numeric(col["RatedVoltage"][present], errors="coerce")
    amps = pd.to_numeric(col["OutputCurrent"][present], errors="coerce")
    three_phase = method.str.contains("three", regex=False)
    phase_factor = np.where(three_phase & (volts >= 380), np.sqrt(3.0),
                            np.where(three_phase, 3.0, 1.0))
    computed = volts * amps * phase_factor / 1000.0
    kw = kw.where(kw > 0, computed)
    return kw.where(kw > 0)
