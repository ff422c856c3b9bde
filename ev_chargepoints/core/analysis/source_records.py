"""Naming source records for reconciliation: comparable operator names, the numbers
registry references and EVSE ids carry, and the keys that name a record
(``source:device_id``, ``#evse_uid`` for an EVSE of a feed Location)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

MIN_REFERENCE_DIGITS = 4    # shorter numbers ("Unit 7") are no cross-reference
FEED_PREFIX = "ocpi"

# Normalised operator name (lower case, letters and digits only, company suffixes
# dropped) -> the name it stands for. OCPI feeds without an operator name give
# their party id (e.g. SRC), hence the three-letter entries.
OPERATOR_ALIASES = {
    "src": "sourcelondon",
    "bpchargemaster": "bppulse",
    "chargemaster": "bppulse",
    "polar": "bppulse",
    "ubi": "ubitricity",
    "shellrechargesolutions": "shellrecharge",
}
_COMPANY_SUFFIXES = {"ltd", "limited", "plc", "llp", "inc", "uk", "gb", "group", "co",
                     "company", "bv", "gmbh"}
_NO_OPERATOR = {"", "nocontroller", "unknown", "unknownoperator", "none", "null", "na"}

_EMI3 = re.compile(r"^[A-Z]{2}[*\-_]?[A-Z0-9]{3}[*\-_]?E([A-Z0-9][A-Z0-9*\-_]*)$")
_DIGITS = re.compile(r"\d+")


def normalise_operator(name) -> str | None:
    """A comparable operator name: case, punctuation and company suffixes (Ltd,
    Limited, ...) ignored, known aliases resolved; None when unknown."""
    if name is None or not isinstance(name, str):
        return None
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    key = "".join(words)
    if key in _NO_OPERATOR:
        return None
    return OPERATOR_ALIASES.get(key, key)


def reference_number(text) -> str | None:
    """The number a registry reference or an EVSE id carries, without leading zeros.

    The longest run of digits: of the id part of an eMI3 EVSE id (country, party,
    'E', id, optional suffix; separators '*', '-' or none), so GB*UBI*E1100001777*1
    -> 1100001777 and GB-SRC-ESL300050 -> 300050, else of the whole text
    (suby1100001777 -> 1100001777, CM43172 -> 43172). Runs shorter than
    :data:`MIN_REFERENCE_DIGITS` give None.
    """
    if text is None or not isinstance(text, str):
        return None
    compact = text.strip().upper().replace(" ", "")
    match = _EMI3.match(compact)
    if match:
        compact = match.group(1)
    runs = _DIGITS.findall(compact)
    if not runs:
        return None
    longest = max(runs, key=len)
    if len(longest) < MIN_REFERENCE_DIGITS:
        return None
    return longest.lstrip("0") or "0"


def per_unique(values, func) -> np.ndarray:
    """``func`` applied once per distinct value (object array out)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return mapped[codes]  # code -1 (missing) -> the trailing None


def is_feed_source(source) -> bool:
    return isinstance(source, str) and source.startswith(FEED_PREFIX)


def unit_key(source, device_id, evse_uid=None) -> str:
    """How people name one source record: ``source:device_id`` (``#evse_uid`` for an
    EVSE of a feed Location)."""
    key = f"{source}:{device_id}"
    return f"{key}#{evse_uid}" if evse_uid not in (None, "") else key


def record_keys(sources, ids, evses=None) -> np.ndarray:
    """:func:`unit_key` of each row, vectorised."""
    out = pd.Series(sources, dtype=object).astype(str) + ":" + \
        pd.Series(ids, dtype=object).astype(str)
    if evses is not None:
        evse = pd.Series(evses, dtype=object)
        has = (evse.notna() & (evse != "")).to_numpy()
        out = out.where(~has, out + "#" + evse.where(has, "").astype(str))
    return out.to_numpy(object)


def pair_keys(a, b) -> pd.Index:
    """One hashable text per (a, b) pair: far faster to build and look up than a
    MultiIndex."""
    return pd.Index((pd.Series(as_object(a), dtype=object).astype(str) + "\x1f"
                     + pd.Series(as_object(b), dtype=object).fillna("\x00").astype(str))
                    .to_numpy(object))


def as_object(values) -> np.ndarray:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        cats = np.asarray(values.cat.categories, dtype=object)
        codes = values.cat.codes.to_numpy()
        out = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else None, None)
        return out.astype(object)
    arr = np.asarray(values, dtype=object)
    out = arr.copy()
    out[pd.isna(arr)] = None
    return out


def evse_id_part(text) -> str | None:
    """The id part of an eMI3 EVSE id, letters and digits only (None if not eMI3)."""
    compact = compact_text(text)
    match = _EMI3.match(compact) if compact else None
    return match.group(1) if match else None


def compact_text(text) -> str | None:
    if not isinstance(text, str):
        return None
    out = re.sub(r"[^A-Z0-9]", "", text.upper())
    return out or None
