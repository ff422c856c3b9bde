"""File and payload parsers: every source format in, canonical tables out.

``parse_file``/``parse_bytes`` detect the format (or take it), handle ``.gz``,
decode text, enforce size limits and dispatch to one parser module. Whatever
the input, the only exceptions that leave are :class:`errors.ParseError` and
its subclasses.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
import os
import re
import zlib
from pathlib import Path

from ... import errors, schema
from .common import (
    DEFAULT_LIMITS,
    Limits,
    SameFile,
    check_size,
    clip,
    decode_text,
    maybe_gunzip,
    refuse_binary,
)

FORMATS = ("ncr", "sessions", "ocpi-locations", "ocpi-cdrs", "ocpi-sessions", "usage-return",
           "device-reference", "cps-locations")

SNIFF_BYTES = 1 << 20  # how much of a CSV detect_format reads
_CONTENT = re.compile("[^\ufeff \t\r\n]")  # the first character that is not blank

__all__ = ["FORMATS", "Limits", "DEFAULT_LIMITS", "SNIFF_BYTES", "detect_format",
           "parse_bytes", "parse_file"]


def detect_format(data: bytes, name: str) -> str:
    """Name of the format of ``data`` (gzip allowed), from its header or JSON shape.

    A CSV is recognised from its first megabyte; JSON has to be read whole."""

    def run() -> str:
        head = _head(bytes(data), name)
        text, _ = decode_text(head, name, partial=len(head) == SNIFF_BYTES)
        if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{"):
            text, _ = _text(bytes(data), name, DEFAULT_LIMITS)
        return _detect(text, name)[0]

    return _guard(name, run)


def _head(data: bytes, name: str) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data[:SNIFF_BYTES]
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            return stream.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise errors.ParseError(f"the gzip data is damaged ({exc})", name) from exc


def parse_file(path, format: str | None = None, source: str | None = None,
               limits: Limits = DEFAULT_LIMITS, sessions_in_duckdb: bool = False,
               **options) -> schema.ParseResult:
    """``sessions_in_duckdb`` (a store's import): a session CSV's sessions that DuckDB
    read and checked stay there (``sessions_held.DuckSessions``, not a frame)."""
    if sessions_in_duckdb:
        options = dict(options, _in_duckdb=True)
    if not (isinstance(path, SameFile) and path.data):  # (the import reads it to hash it)
        name = Path(path).name
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise errors.ParseError(f"the file cannot be read ({exc.strerror or exc})",
                                    name) from exc
        check_size(size, name, limits)  # (before reading it)
        try:
            path = SameFile.read(path)
        except OSError as exc:
            raise errors.ParseError(f"the file cannot be read ({exc.strerror or exc})",
                                    name) from exc
    name = Path(path.path).name
    check_size(len(path.data), name, limits)
    return _parse(path.data, name, format, source, limits, options, path.with_data(b""))


def parse_bytes(data: bytes, name: str, format: str | None = None,
                source: str | None = None, limits: Limits = DEFAULT_LIMITS,
                **options) -> schema.ParseResult:
    """Parse one file's bytes. ``options`` go to the format's parser (e.g.
    ``observed_utc`` for OCPI Locations, ``namespace`` for session CSVs)."""
    return _parse(data, name, format, source, limits, options, None)


def _parse(data, name: str, format: str | None, source: str | None, limits: Limits,
           options: dict, origin: SameFile | None) -> schema.ParseResult:
    """``origin``: the file ``data`` was read from (a large session CSV whose bytes are
    its text's UTF-8 is then read by DuckDB from there, not from a copy)."""
    if format is not None and format not in FORMATS:
        raise errors.UnknownFormat(
            f"unknown format '{format}'; expected one of {', '.join(FORMATS)}", name)

    def run() -> schema.ParseResult:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ParseError("expected bytes", name)
        raw = bytes(data)
        if (origin is not None and format in (None, "sessions")
                and _undecoded_sessions(raw, name, limits)):
            return _dispatch("sessions", None, None, name, source, limits, options,
                             origin.with_data(raw))
        text, warnings = _text(raw, name, limits)
        fmt, payload = _detect(text, name) if format is None else (format, None)
        same = origin if origin is not None and _is_utf8_of_text(raw, warnings) else None
        result = _dispatch(fmt, text, payload, name, source, limits, options,
                           same.with_data(raw) if same else None)
        result.warnings[:0] = warnings
        return result

    return _guard(name, run)


def _undecoded_sessions(data: bytes, name: str, limits: Limits) -> bool:
    """Whether ``data`` is a large session CSV in ASCII (its own UTF-8: no gzip, no
    byte-order mark), which the session parser takes undecoded: DuckDB reads the file
    in place and the text is decoded only if pandas must read it (0.3-0.5 s at 4 M
    sessions). Told from the header; a file that is not so takes the usual path."""
    from .sessions_csv import DUCKDB_MIN_CHARS

    if len(data) < DUCKDB_MIN_CHARS or not data.isascii():
        return False
    check_size(len(data), name, limits)
    refuse_binary(data, name)
    head = data[:SNIFF_BYTES].decode("ascii")
    found = _CONTENT.search(head)
    if found is None or head[found.start()] in "[{":
        return False
    try:
        return _detect_csv(head, name, found.start()) == "sessions"
    except errors.UnknownFormat:
        return False


def _is_utf8_of_text(data: bytes, warnings: list) -> bool:
    """True when ``data`` is exactly the UTF-8 of the text decode_text gave (no gzip, no
    byte-order mark, no Windows-1252 fallback)."""
    return not warnings and not data.startswith((b"\x1f\x8b", b"\xef\xbb\xbf", b"\xff\xfe",
                                                  b"\xfe\xff"))


def _guard(name: str, func):
    try:
        return func()
    except errors.ParseError:
        raise
    except RecursionError as exc:
        raise errors.ParseError("the content is nested too deeply to read", name) from exc
    except UnicodeError as exc:  # bytes that escaped decode_text's fallbacks
        raise errors.ParseError(f"the content could not be read: {errors.NOT_UTF8_TEXT}",
                                name) from exc
    except MemoryError as exc:
        raise errors.ParseError("the content is too large to read in memory", name) from exc
    except Exception as exc:  # the promise: nothing but ParseError escapes a parser
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise errors.ParseError(
            f"the content could not be read ({type(exc).__name__}"
            f"{': ' + detail if detail else ''})", name) from exc


def _text(data: bytes, name: str, limits: Limits) -> tuple[str, list[str]]:
    check_size(len(data), name, limits)
    data = maybe_gunzip(data, name, limits)
    return decode_text(data, name)


def _detect(text: str, name: str):
    """Return (format, parsed JSON or None)."""
    found = _CONTENT.search(text)  # (not lstrip: that copies a large text)
    if found is None:
        raise errors.UnknownFormat("the file is empty", name)
    if text[found.start()] in "[{":
        try:
            payload = json.loads(text[found.start():])
        except ValueError as exc:
            raise errors.UnknownFormat(f"the file looks like JSON but is not valid JSON "
                                       f"({exc})", name) from exc
        return _detect_json(payload, name), payload
    return _detect_csv(text, name, found.start()), None


def _detect_json(payload, name: str) -> str:
    from . import ocpi

    kind = ocpi.detect_kind(payload)
    if kind:
        return kind
    lowered = name.lower()
    for hint, fmt in (("cdr", "ocpi-cdrs"), ("session", "ocpi-sessions"),
                      ("location", "ocpi-locations")):
        if hint in lowered and ocpi.is_empty_payload(payload):
            return fmt
    raise errors.UnknownFormat(
        "JSON content is not an OCPI Locations, CDRs or Sessions payload (no 'evses', "
        "'cdr_location' or session fields found)", name)


def _detect_csv(text: str, name: str, start: int = 0) -> str:
    """The CSV format from the header line starting at ``start`` (read only up to
    100,000 characters: never a split or copy of the whole text)."""
    from . import device_reference, locations_csv, ncr, sessions_csv, usage_return

    end = text.find("\n", start, start + 100_000)
    first_line = text[start:end if end >= 0 else start + 100_000]
    try:
        header = next(csv.reader(io.StringIO(first_line)))
    except (csv.Error, StopIteration) as exc:
        raise errors.UnknownFormat("the first line is not a CSV header", name) from exc
    header = [h.strip().lstrip("\ufeff") for h in header]
    if ncr.looks_like_ncr(header):
        return "ncr"
    if device_reference.looks_like_device_reference(header):
        return "device-reference"
    if usage_return.looks_like_usage_return(header):
        return "usage-return"
    if sessions_csv.looks_like_sessions(header):
        return "sessions"
    if locations_csv.looks_like_locations(header):
        return "cps-locations"
    shown = ", ".join(clip(h, 40) for h in header[:6]) + (", ..." if len(header) > 6 else "")
    raise errors.UnknownFormat(
        f"unrecognised CSV header ({shown}); expected a National Chargepoint Registry "
        "export, a charging-session CSV (CP ID, Start Date, ...), a charge point location "
        "list (CP ID, Latitude, Longitude, ...), a usage return or device reference data",
        name)


def _check_options(parser, fmt: str, name: str, options: dict) -> None:
    accepted = [p for p in inspect.signature(parser).parameters if not p.startswith("_")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise errors.ParseError(f"option(s) {', '.join(unknown)} do not apply to the "
                                f"'{fmt}' format", name)


def _dispatch(fmt, text, payload, name, source, limits, options,
              origin=None) -> schema.ParseResult:
    from . import device_reference, locations_csv, ncr, ocpi, sessions_csv, usage_return

    text_parsers = {"ncr": ncr.parse_text, "sessions": sessions_csv.parse_text,
                    "usage-return": usage_return.parse_text,
                    "device-reference": device_reference.parse_text,
                    "cps-locations": locations_csv.parse_text}
    in_duckdb = options.pop("_in_duckdb", False)
    if fmt in text_parsers:
        _check_options(text_parsers[fmt], fmt, name, options)
        if fmt == "sessions" and origin is not None:
            options = dict(options, _origin=origin)
        if fmt == "sessions" and in_duckdb:
            options = dict(options, _in_duckdb=True)
        return text_parsers[fmt](text, name, source=source, limits=limits, **options)
    if payload is None:
        try:
            payload = json.loads(text.lstrip("\ufeff"))
        except ValueError as exc:
            raise errors.ParseError(f"not valid JSON ({exc})", name) from exc
    parser = {"ocpi-locations": ocpi.parse_locations, "ocpi-cdrs": ocpi.parse_cdrs,
              "ocpi-sessions": ocpi.parse_sessions}[fmt]
    _check_options(parser, fmt, name, options)
    return parser(payload, source=source or f"ocpi:{name}", name=name, limits=limits,
                  **options)
