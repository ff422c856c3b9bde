"""OCPI 2.2.1 payloads → canonical tables.

Locations → devices, connectors and status snapshots; CDRs and Sessions-module
objects → sessions. Each function takes the decoded JSON (or its bytes/str) as
an envelope ``{data, status_code, ...}``, a bare list or a single object.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd

from ... import errors, schema
from ...calendar import as_utc
from .common import (
    DEFAULT_LIMITS,
    Limits,
    check_field_sizes,
    haversine_m,
    looks_swapped_uk,
    outside_uk,
    parse_iso_utc,
    rejects_frame,
)

OK_STATUS = 1000
UK_COUNTRIES = {"GBR", "GB"}
CDR_LOCATION_TOLERANCE_M = 1000.0

# real feeds' status words (upper-cased, letters only) → OCPI EVSE status
STATUS_ALIASES = {
    "WORKING": "AVAILABLE", "FREE": "AVAILABLE", "OPERATIVE": "AVAILABLE",
    "OPERATIONAL": "AVAILABLE", "INSERVICE": "AVAILABLE", "ONLINE": "AVAILABLE",
    "FAULTED": "OUTOFORDER", "FAULT": "OUTOFORDER", "FAULTY": "OUTOFORDER",
    "BROKEN": "OUTOFORDER", "ERROR": "OUTOFORDER", "OUTOFSERVICE": "OUTOFORDER",
    "NOTWORKING": "OUTOFORDER",
    "OCCUPIED": "CHARGING", "INUSE": "CHARGING", "BUSY": "CHARGING",
    "PREPARING": "CHARGING", "SUSPENDEDEV": "CHARGING", "SUSPENDEDEVSE": "CHARGING",
    "FINISHING": "CHARGING",
    "UNAVAILABLE": "INOPERATIVE", "MAINTENANCE": "INOPERATIVE",
    "OFFLINE": "UNKNOWN",
    "DECOMMISSIONED": "REMOVED",
    "COMINGSOON": "PLANNED", "UNDERCONSTRUCTION": "PLANNED",
}
_LETTERS = re.compile(r"[^A-Z]")


def normalise_status(raw) -> tuple[str, bool]:
    """(OCPI EVSE status, known?) for a feed's status text, ignoring case and punctuation."""
    if raw is None or not isinstance(raw, str):
        return "UNKNOWN", False
    key = _LETTERS.sub("", raw.upper())
    if key in schema.STATUS_VALUES:
        return key, True
    if key in STATUS_ALIASES:
        return STATUS_ALIASES[key], True
    return "UNKNOWN", False


# --- payload handling -----------------------------------------------------------------

def unwrap(payload, name: str = "OCPI payload") -> list:
    """The list of objects in an envelope, bare list or single object."""
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except UnicodeDecodeError as exc:
            raise errors.ParseError(
                f"not valid JSON: the content is corrupted or not UTF-8 text (byte "
                f"0x{exc.object[exc.start:exc.start + 1].hex()} at position {exc.start})",
                name) from exc
        except ValueError as exc:
            raise errors.ParseError(f"not valid JSON ({exc})", name) from exc
    if isinstance(payload, dict) and "status_code" in payload and (
            "data" in payload or "timestamp" in payload or "status_message" in payload):
        code = payload.get("status_code")
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        if code != OK_STATUS:
            message = payload.get("status_message") or "no message"
            raise errors.ParseError(f"the OCPI server reported status {code}: {message}",
                                    name)
        payload = payload.get("data")
    if payload is None:
        return []
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        return payload
    raise errors.ParseError(f"expected an OCPI object or list, got {type(payload).__name__}",
                            name)


def detect_kind(payload) -> str | None:
    try:
        objects = unwrap(payload)
    except errors.ParseError:
        return None
    first = next((o for o in objects if isinstance(o, dict)), None)
    if first is None:
        return None
    if "cdr_location" in first or "total_energy" in first:
        return "ocpi-cdrs"
    if "evses" in first or ("coordinates" in first and "address" in first):
        return "ocpi-locations"
    if "kwh" in first and "start_date_time" in first:
        return "ocpi-sessions"
    return None


def is_empty_payload(payload) -> bool:
    try:
        return len(unwrap(payload)) == 0
    except errors.ParseError:
        return False


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _name_of(business) -> str | None:
    return _text(business.get("name")) if isinstance(business, dict) else None


def _float(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")
    return number if np.isfinite(number) else float("nan")


def _coordinates(obj) -> tuple[float, float]:
    coords = obj.get("coordinates") if isinstance(obj, dict) else None
    if not isinstance(coords, dict):
        return float("nan"), float("nan")
    return _float(coords.get("latitude")), _float(coords.get("longitude"))


def connector_power_kw(connector: dict) -> float:
    """kW from max_electric_power (W), else V × A (× 3 for AC_3_PHASE)."""
    watts = _float(connector.get("max_electric_power"))
    if watts > 0:
        return watts / 1000.0
    volts = _float(connector.get("max_voltage"))
    amps = _float(connector.get("max_amperage"))
    phases = 3.0 if str(connector.get("power_type", "")).upper() == "AC_3_PHASE" else 1.0
    kw = volts * amps * phases / 1000.0
    return kw if kw > 0 else float("nan")


def _power_type(value) -> str | None:
    text = str(value or "").upper()
    if text.startswith("AC"):
        return "AC"
    if text == "DC":
        return "DC"
    return None


def device_status(statuses: list[str]) -> str:
    """A device's status from its EVSEs' OCPI statuses: in service when any EVSE works,
    else out of service when any is down, planned or removed when all are, else unknown."""
    groups = {schema.RELIABILITY_GROUP.get(s, "excluded") for s in statuses}
    if "working" in groups:
        return "In service"
    if "down" in groups:
        return "Out of service"
    if statuses and all(s == "PLANNED" for s in statuses):
        return "Planned"
    if statuses and all(s == "REMOVED" for s in statuses):
        return "Removed"
    return "Unknown"


# --- Locations --------------------------------------------------------------------------

def parse_locations(payload, source: str = "ocpi", observed_utc=None, name: str = "",
                    limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    name = name or source
    objects = unwrap(payload, name)
    observed = as_utc(observed_utc) if observed_utc is not None else None
    devices, connectors, snapshots = [], [], []
    reject_rows, reject_reasons = [], []
    unknown = Counter()
    no_status = 0
    for number, location in enumerate(objects, start=1):
        if not isinstance(location, dict):
            reject_rows.append(number)
            reject_reasons.append("not a JSON object")
            continue
        location_id = _text(location.get("id"))
        lat, lon = _coordinates(location)
        if location_id is None:
            reason = "missing location id"
        elif np.isnan(lat) or np.isnan(lon):
            reason = "missing or unreadable coordinates"
        elif not (-90 <= lat <= 90 and -180 <= lon <= 180):
            reason = "coordinates out of range"
        else:
            reason = ""
        if reason:
            reject_rows.append(number)
            reject_reasons.append(reason)
            continue
        evse_statuses = []
        kws = []
        n_connectors = 0
        evses = location.get("evses") or []
        for evse in evses if isinstance(evses, list) else []:
            if not isinstance(evse, dict):
                continue
            evse_uid = _text(evse.get("uid"))
            evse_id = _text(evse.get("evse_id"))
            raw_status = evse.get("status")
            status, known = normalise_status(raw_status)
            if raw_status is None or _text(raw_status) is None:
                no_status += 1
            elif not known:
                unknown[str(raw_status)] += 1
            evse_statuses.append(status)
            snapshots.append({
                "observed_utc": observed if observed is not None else evse.get("last_updated"),
                "device_id": location_id, "evse_uid": evse_uid, "status": status,
                "raw_status": _text(raw_status), "source": source})
            evse_connectors = evse.get("connectors")
            for connector in evse_connectors if isinstance(evse_connectors, list) else []:
                if not isinstance(connector, dict):
                    continue
                kw = connector_power_kw(connector)
                kws.append(kw)
                n_connectors += 1
                connectors.append({
                    "device_id": location_id,
                    "connector_id": f"{evse_uid}/{_text(connector.get('id'))}",
                    "evse_uid": evse_uid,
                    "standard": _text(connector.get("standard")),
                    "power_type": _power_type(connector.get("power_type")),
                    "power_kw": kw, "status": status, "evse_id": evse_id})
        max_kw = np.nanmax(kws) if kws and not np.all(np.isnan(kws)) else float("nan")
        devices.append({
            "device_id": location_id,
            "name": _text(location.get("name")),
            "operator": _name_of(location.get("operator")) or _text(location.get("party_id")),
            "owner": _name_of(location.get("owner")),
            "latitude": lat, "longitude": lon,
            "address": ", ".join(p for p in (_text(location.get("address")),
                                             _text(location.get("city"))) if p) or None,
            "postcode": _text(location.get("postal_code")),
            "location_type": _text(location.get("parking_type")),
            "status": device_status(evse_statuses),
            "connector_count": n_connectors,
            "max_power_kw": max_kw,
            "updated_utc": location.get("last_updated"),
            "source": source,
            "_country": _text(location.get("country")),
        })

    warnings = []
    if unknown:
        listed = ", ".join(f"{raw!r} ×{count}" for raw, count in unknown.most_common(10))
        warnings.append(f"{sum(unknown.values())} EVSE status value(s) not recognised, "
                        f"counted as UNKNOWN: {listed}")
    if no_status:
        warnings.append(f"{no_status} EVSE(s) without a status, counted as UNKNOWN")

    device_frame = pd.DataFrame(devices)
    if len(device_frame):
        device_frame["updated_utc"] = parse_iso_utc(device_frame["updated_utc"])
        device_frame["power_class"] = schema.power_classes(device_frame["max_power_kw"])
        warnings += _uk_coordinate_warnings(device_frame, "location")
        duplicated = device_frame["device_id"].duplicated(keep="first")
        if duplicated.any():
            warnings.append(f"{int(duplicated.sum())} location id(s) appear more than once; "
                            "the first is kept")
            device_frame = device_frame[~duplicated]
    connector_frame = pd.DataFrame(connectors)
    if len(connector_frame):
        connector_frame["power_class"] = schema.power_classes(connector_frame["power_kw"])
    snapshot_frame = pd.DataFrame(snapshots)
    if len(snapshot_frame):
        snapshot_frame["observed_utc"] = parse_iso_utc(snapshot_frame["observed_utc"]) \
            if observed is None else observed
    tables = {"devices": schema.conform(device_frame, "devices"),
              "connectors": schema.conform(connector_frame, "connectors"),
              "status_snapshots": schema.conform(snapshot_frame, "status_snapshots")}
    for table in tables.values():
        check_field_sizes(table, name, limits)
    return schema.ParseResult(format="ocpi-locations", source=source,
                              rows_read=len(objects), tables=tables,
                              rejects=rejects_frame(reject_rows, reject_reasons),
                              warnings=warnings)


def _uk_coordinate_warnings(frame: pd.DataFrame, what: str) -> list[str]:
    in_uk = frame["_country"].isin(UK_COUNTRIES)
    lat, lon = frame["latitude"], frame["longitude"]
    bad = in_uk & outside_uk(lat, lon)
    if not bad.any():
        return []
    swapped = bad & looks_swapped_uk(lat, lon)
    note = f" ({int(swapped.sum())} look like latitude/longitude swapped)" if swapped.any() \
        else ""
    examples = ", ".join(frame.loc[bad, "device_id"].astype(str).head(3))
    return [f"{int(bad.sum())} UK {what}(s) have coordinates outside the UK{note}: {examples}"]


# --- CDRs and Sessions ------------------------------------------------------------------

def _party(obj: dict) -> str:
    return f"{_text(obj.get('country_code')) or '-'}:{_text(obj.get('party_id')) or '-'}"


def _charging_end(obj: dict):
    """Start of the first charging period that is only parking time, if any."""
    periods = obj.get("charging_periods")
    if not isinstance(periods, list):
        return None
    for period in periods:
        if not isinstance(period, dict):
            continue
        dims = period.get("dimensions")
        if isinstance(dims, list) and dims and all(
                isinstance(d, dict) and d.get("type") == "PARKING_TIME" for d in dims):
            return period.get("start_date_time")
    return None


def _connector_key(evse_uid, connector_id) -> str | None:
    evse = _text(evse_uid)
    conn = _text(connector_id)
    if evse in (None, "#NA") or conn in (None, "#NA"):
        return None
    return f"{evse}/{conn}"


def parse_cdrs(payload, source: str = "ocpi", name: str = "", locations=None,
               limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    """CDRs → sessions. ``locations`` (a devices table) enables a check that each
    CDR's coordinates lie near its Location."""
    name = name or source
    objects = unwrap(payload, name)
    records, reject_rows, reject_reasons = [], [], []
    for number, cdr in enumerate(objects, start=1):
        if not isinstance(cdr, dict):
            reject_rows.append(number)
            reject_reasons.append("not a JSON object")
            continue
        place = cdr.get("cdr_location") if isinstance(cdr.get("cdr_location"), dict) else {}
        cdr_id = _text(cdr.get("id"))
        session_id = _text(cdr.get("session_id"))
        key_id = f"session:{session_id}" if session_id else f"cdr:{cdr_id}"
        lat, lon = _coordinates(place)
        parking = _float(cdr.get("total_parking_time"))
        records.append({
            "_row": number,
            "session_key": f"ocpi:{_party(cdr)}:{key_id}",
            "source_session_id": cdr_id,
            "device_id": _text(place.get("id")),
            "connector_id": _connector_key(place.get("evse_uid"), place.get("connector_id")),
            "start_utc": cdr.get("start_date_time"),
            "end_utc": cdr.get("end_date_time"),
            "charging_end_utc": _charging_end(cdr),
            "_parking_h": parking,
            "kwh": _float(cdr.get("total_energy")),
            "_id_missing": cdr_id is None,
            "_lat": lat, "_lon": lon, "_country": _text(place.get("country")),
            "source": source})
    frame = pd.DataFrame(records)
    warnings: list[str] = []
    if len(frame):
        for column in ("start_utc", "end_utc", "charging_end_utc"):
            frame[column] = parse_iso_utc(frame[column])
        parking_h = frame["_parking_h"].to_numpy(float)
        usable = (parking_h >= 0) & (parking_h <= 24 * 366)
        parking = pd.to_timedelta(np.where(usable, parking_h * 3600.0, 0.0), unit="s")
        by_parking = frame["end_utc"] - parking
        frame["charging_end_utc"] = frame["charging_end_utc"].where(
            frame["charging_end_utc"].notna() | ~usable, by_parking)
        warnings += _cdr_coordinate_warnings(frame, locations)
        frame, rows, reasons = _validate_sessions(frame, require_end=True)
        reject_rows += rows
        reject_reasons += reasons
    return _sessions_result("ocpi-cdrs", source, len(objects), frame, reject_rows,
                            reject_reasons, warnings, name, limits)


def parse_sessions(payload, source: str = "ocpi", name: str = "",
                   limits: Limits = DEFAULT_LIMITS) -> schema.ParseResult:
    """OCPI Sessions-module objects → sessions; ACTIVE/PENDING stay open (no end)."""
    name = name or source
    objects = unwrap(payload, name)
    records, reject_rows, reject_reasons = [], [], []
    for number, session in enumerate(objects, start=1):
        if not isinstance(session, dict):
            reject_rows.append(number)
            reject_reasons.append("not a JSON object")
            continue
        status = str(session.get("status") or "").upper()
        if status in ("INVALID", "RESERVATION"):
            reject_rows.append(number)
            reject_reasons.append(f"session status {status} (not a charging session)")
            continue
        session_id = _text(session.get("id"))
        is_open = status in ("ACTIVE", "PENDING")
        records.append({
            "_row": number,
            "session_key": f"ocpi:{_party(session)}:session:{session_id}",
            "source_session_id": session_id,
            "device_id": _text(session.get("location_id")),
            "connector_id": _connector_key(session.get("evse_uid"),
                                           session.get("connector_id")),
            "start_utc": session.get("start_date_time"),
            "end_utc": None if is_open else session.get("end_date_time"),
            "charging_end_utc": _charging_end(session),
            "kwh": _float(session.get("kwh")),
            "_id_missing": session_id is None,
            "source": source})
    frame = pd.DataFrame(records)
    if len(frame):
        for column in ("start_utc", "end_utc", "charging_end_utc"):
            frame[column] = parse_iso_utc(frame[column])
        frame, rows, reasons = _validate_sessions(frame, require_end=False)
        reject_rows += rows
        reject_reasons += reasons
    return _sessions_result("ocpi-sessions", source, len(objects), frame, reject_rows,
                            reject_reasons, [], name, limits)


def _validate_sessions(frame: pd.DataFrame, require_end: bool):
    checks = [
        (frame["_id_missing"], "missing id"),
        (frame["device_id"].isna(), "missing location id"),
        (frame["start_utc"].isna(), "start_date_time missing or unreadable"),
        (frame["end_utc"].isna() if require_end else frame["end_utc"].isna() & False,
         "end_date_time missing or unreadable"),
        (frame["end_utc"] < frame["start_utc"], "end is before start"),
        (frame["kwh"] < 0, "negative kWh"),
        (frame["session_key"].duplicated(keep="first"), "duplicate id (first kept)"),
    ]
    reason = pd.Series("", index=frame.index, dtype=object)
    for mask, text in checks:
        reason = reason.where(~(mask.fillna(False).astype(bool) & (reason == "")), text)
    bad = reason != ""
    return frame[~bad], frame.loc[bad, "_row"].tolist(), reason[bad].tolist()


def _cdr_coordinate_warnings(frame: pd.DataFrame, locations) -> list[str]:
    warnings = []
    lat, lon = frame["_lat"], frame["_lon"]
    has = lat.notna() & lon.notna()
    in_uk = frame["_country"].isin(UK_COUNTRIES) & has
    bad = in_uk & outside_uk(lat, lon)
    if bad.any():
        warnings.append(f"{int(bad.sum())} UK CDR location(s) have coordinates outside the "
                        f"UK: {', '.join(frame.loc[bad, 'source_session_id'].astype(str)[:3])}")
    if locations is not None and len(locations) and has.any():
        known = locations.drop_duplicates("device_id").set_index("device_id")
        ref_lat = frame["device_id"].map(known["latitude"])
        ref_lon = frame["device_id"].map(known["longitude"])
        comparable = has & ref_lat.notna() & ref_lon.notna()
        distance = pd.Series(haversine_m(lat, lon, ref_lat, ref_lon), index=frame.index)
        swapped = pd.Series(haversine_m(lon, lat, ref_lat, ref_lon), index=frame.index)
        far = comparable & (distance > CDR_LOCATION_TOLERANCE_M)
        if far.any():
            n_swapped = int((far & (swapped <= CDR_LOCATION_TOLERANCE_M)).sum())
            note = (f"; {n_swapped} look like latitude/longitude swapped" if n_swapped else "")
            ids = ", ".join(frame.loc[far, "source_session_id"].astype(str)[:3])
            warnings.append(f"{int(far.sum())} CDR(s) have coordinates more than "
                            f"{CDR_LOCATION_TOLERANCE_M:.0f} m from their Location{note}: {ids}")
    return warnings


def _sessions_result(fmt, source, rows_read, frame, reject_rows, reject_reasons, warnings,
                     name, limits) -> schema.ParseResult:
    sessions = schema.conform(frame, "sessions")
    check_field_sizes(sessions, name, limits)
    order = np.argsort(np.asarray(reject_rows, dtype="int64"), kind="stable")
    rejects = rejects_frame(np.asarray(reject_rows, dtype="int64")[order],
                            [reject_reasons[i] for i in order])
    return schema.ParseResult(format=fmt, source=source, rows_read=rows_read,
                              tables={"sessions": sessions}, rejects=rejects,
                              warnings=warnings)
