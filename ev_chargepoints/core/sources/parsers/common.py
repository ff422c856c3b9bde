"""Helpers shared by the parsers: limits, decoding, times, keys, rejects."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ... import errors
from ...calendar import LOCAL_TZ as UK_TZ  # noqa: F401  (the parsers' name for it)
from ...calendar import as_utc

MISSING_TOKENS = ("", "null", "NULL", "Null", "NA", "N/A", "n/a", "None")

# Rough Great Britain + Northern Ireland box, used only to flag suspicious points.
UK_LAT = (49.8, 60.95)
UK_LON = (-8.7, 1.9)

_PANDAS_2 = int(pd.__version__.split(".")[0]) >= 2
# pandas 2 infers one format from the first value; "ISO8601" keeps mixed ISO strings working.
ISO_KW = {"format": "ISO8601"} if _PANDAS_2 else {}


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 2 * 1024 ** 3
    max_field_chars: int = 1024 ** 2


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class SameFile:
    """The file a parser's bytes were read from, for a reader that would rather read the
    file itself than a copy (DuckDB): its path, what ``os.stat`` said when it was read
    (size, modification time, inode) and those bytes. :meth:`unchanged` tells whether it
    still is that file; a reader checks it after reading and otherwise uses the bytes."""

    path: str
    stamp: tuple
    data: bytes = b""

    @staticmethod
    def of(path, stat) -> SameFile:
        return SameFile(os.fspath(path), _stamp(stat))

    @staticmethod
    def read(path) -> SameFile:
        """The file's bytes read once (its hash and its parsing then share them: pass
        this to :func:`.parse_file` where a path goes); raises OSError."""
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return SameFile(os.fspath(path), _stamp(stat), handle.read())

    def __fspath__(self) -> str:  # a path where one is expected (read again from there)
        return self.path

    def with_data(self, data: bytes) -> SameFile:
        return replace(self, data=data)

    def unchanged(self) -> bool:
        try:
            return _stamp(os.stat(self.path)) == self.stamp
        except OSError:
            return False


def _stamp(stat) -> tuple:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev)


def maybe_gunzip(data: bytes, name: str, limits: Limits) -> bytes:
    """Decompress gzip data (detected by magic bytes), refusing to inflate past the limit."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = io.BytesIO()
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    view = memoryview(data)
    pos = 0
    chunk = 1 << 20
    try:
        while True:
            if decompressor.unconsumed_tail:
                block = decompressor.decompress(decompressor.unconsumed_tail, chunk)
            elif pos < len(view):
                block = decompressor.decompress(view[pos:pos + chunk], chunk)
                pos += chunk
            else:
                block = decompressor.flush()
                out.write(block)
                break
            out.write(block)
            if out.tell() > limits.max_file_bytes:
                raise errors.ParseError(
                    f"uncompressed content is larger than the limit of "
                    f"{_size(limits.max_file_bytes)}", name)
            if decompressor.eof:
                rest = decompressor.unused_data
                if rest.strip(b"\x00"):
                    # concatenated gzip members: decode the remainder the simple way
                    out.write(gzip.decompress(rest))
                    if out.tell() > limits.max_file_bytes:
                        raise errors.ParseError(
                            f"uncompressed content is larger than the limit of "
                            f"{_size(limits.max_file_bytes)}", name)
                break
    except (zlib.error, OSError, EOFError) as exc:
        raise errors.ParseError(f"the gzip data is damaged ({exc})", name) from exc
    if not decompressor.eof:
        raise errors.ParseError("the gzip data is cut short", name)
    return out.getvalue()


def check_size(size: int, name: str, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise errors.ParseError(
            f"the file is {_size(size)}, larger than the limit of "
            f"{_size(limits.max_file_bytes)}", name)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# Signatures of the binary files people pick by mistake, to name them in the refusal.
BINARY_KINDS = ((b"SQLite format 3\x00", "a SQLite database, such as a GeoPackage"),
                (b"PK\x03\x04", "a ZIP archive, such as an Excel workbook"),
                (b"%PDF", "a PDF document"),
                (b"\x89PNG", "a PNG image"),
                (b"\xd0\xcf\x11\xe0", "an old Office file, such as an .xls workbook"))
TEXT_PROBE_BYTES = 8192


def refuse_binary(data: bytes, name: str) -> None:
    """Raise :class:`errors.NotText` when ``data`` is not text: a known binary
    signature, or a NUL byte near the start (text in UTF-8 or Windows-1252 has none)."""
    head = bytes(data[:TEXT_PROBE_BYTES])
    kind = next((kind for magic, kind in BINARY_KINDS if head.startswith(magic)), None)
    if kind is None and b"\x00" not in head:
        return
    raise errors.NotText(f"not a text file ({kind or 'binary data'}); expected a CSV or "
                         "JSON file", name)


MAX_SHOWN_CHARS = 200  # of one value, id or message quoted back to people


def clip(text, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` for a message or report, cut after ``limit`` characters, saying so."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters cut)"


def decode_text(data: bytes, name: str, partial: bool = False) -> tuple[str, list[str]]:
    """UTF-8 (BOM or not), UTF-16 with BOM, else cp1252 with a warning; binary data is
    refused (:func:`refuse_binary`).

    ``partial``: ``data`` is a prefix, so a character cut at the end is dropped."""
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        refuse_binary(data, name)
    if partial:
        return _decode_prefix(data), []
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data[3:], "utf-8", name), []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, "utf-16", name), []
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        return text, [f"{name}: not valid UTF-8; read as Windows-1252 (cp1252). "
                      "Check accented characters."]


def _decode_prefix(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="ignore")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data[: len(data) // 2 * 2].decode("utf-16", errors="ignore")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # only the last character was cut
            return data[: exc.start].decode("utf-8")
        return data.decode("cp1252", errors="replace")


def _decode(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise errors.ParseError(
            f"the file starts with a {encoding.upper()} byte-order mark but is not valid "
            f"{encoding.upper()} (byte {exc.start})", name) from exc


def read_csv_text(text: str, name: str, limits: Limits, header: bool = True) -> pd.DataFrame:
    """Read CSV text into all-string columns ('' for empty), guarding pandas errors."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False, header=0 if header else None,
                            skip_blank_lines=True)
    except pd.errors.EmptyDataError as exc:
        raise errors.ParseError("the file is empty", name) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise errors.ParseError(f"the CSV could not be read ({_first_line(exc)})",
                                name) from exc
    if len(text) > limits.max_field_chars and not _fields_surely_small(text, frame, limits):
        check_field_sizes(frame, name, limits)
    return frame


def _fields_surely_small(text: str, frame: pd.DataFrame, limits: Limits) -> bool:
    """True when no line is over the limit and no field spans lines (the common case),
    which proves every field is within it without measuring each cell."""
    lines = text.split("\n")
    records = len(lines) - (1 if lines and lines[-1] == "" else 0)
    return records <= len(frame) + 1 and max(map(len, lines)) <= limits.max_field_chars


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_field_sizes(frame: pd.DataFrame, name: str, limits: Limits,
                      row_offset: int = 1) -> None:
    if frame.empty:
        return
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        items = values.tolist()
        try:
            lengths = np.fromiter(map(len, items), dtype="int64", count=len(items))
        except TypeError:  # not all text: measure only the strings
            lengths = np.array([len(v) if isinstance(v, str) else 0 for v in items],
                               dtype="int64")
        if len(lengths) and lengths.max() > limits.max_field_chars:
            row = int(np.argmax(lengths)) + row_offset
            raise errors.ParseError(
                f"field '{column}' in row {row} has {int(lengths.max()):,} characters, "
                f"more than the limit of {limits.max_field_chars:,}", name)


def blank_to_none(values: pd.Series, tokens=MISSING_TOKENS) -> pd.Series:
    """Strip text and turn empty/'null'/'NA' tokens into None."""
    stripped = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return stripped.where(~stripped.isin(tokens), None)


def local_to_utc(naive: pd.Series, tz: str = UK_TZ,
                 not_before: pd.Series | None = None) -> pd.Series:
    """Localise naive local times to UTC deterministically.

    Ambiguous times (the repeated hour when clocks go back) take the first, summer
    occurrence; if ``not_before`` is given and that would fall before it, the second
    occurrence is used. Non-existent times (clocks go forward) shift forward.
    """
    index = pd.DatetimeIndex(naive)
    summer = np.ones(len(index), dtype=bool)
    result = pd.Series(_localize(index, tz, summer), index=naive.index)
    if not_before is not None and len(index):
        second = pd.Series(_localize(index, tz, ~summer), index=naive.index)
        use_second = (result != second) & (result < not_before) & (second >= not_before)
        result = result.where(~use_second, second)
    return result


def _localize(index: pd.DatetimeIndex, tz: str, summer: np.ndarray) -> pd.DatetimeIndex:
    """tz_localize to UTC with non-existent times moved to the end of the gap.

    pandas 1.5 gets nonexistent="shift_forward" wrong when ``ambiguous`` is an array,
    so the gap is found here, over the (rare) rows that fall in it: the first whole
    minute after the time that exists, an hour of minutes probed at once.
    """
    local = index.tz_localize(tz, ambiguous=summer, nonexistent="NaT")
    in_gap = np.asarray(local.isna() & index.notna())
    if in_gap.any():
        values = local.tz_convert("UTC").tz_localize(None).asi8.copy()
        todo = np.flatnonzero(in_gap)
        minute = 60_000_000_000
        for first in range(1, 24 * 60, 60):
            steps = np.arange(first, min(first + 60, 24 * 60), dtype=np.int64) * minute
            probe = index.asi8[todo][:, None] + steps
            probe -= probe % minute  # floor to the minute
            found = pd.DatetimeIndex(probe.ravel().view("datetime64[ns]")).tz_localize(
                tz, ambiguous=np.repeat(summer[todo], len(steps)), nonexistent="NaT")
            utc = found.tz_convert("UTC").tz_localize(None).asi8.reshape(probe.shape)
            ok = utc != np.iinfo(np.int64).min
            hit = ok.any(axis=1)
            values[todo[hit]] = utc[hit, ok[hit].argmax(axis=1)]
            todo = todo[~hit]
            if not len(todo):
                break
        return pd.DatetimeIndex(values.view("datetime64[ns]")).tz_localize("UTC")
    return local.tz_convert("UTC")


def parse_iso_utc(values: pd.Series) -> pd.Series:
    """ISO 8601 / RFC 3339 strings to UTC; a missing zone means UTC (OCPI rule)."""
    if len(values) == 0:
        return pd.Series(pd.to_datetime([], utc=True), index=values.index)
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: v.strip() if isinstance(v, str) else None)
    try:
        return pd.to_datetime(text, utc=True, errors="coerce", **ISO_KW)
    except (ValueError, TypeError, OverflowError):
        return text.map(_one_iso_utc).astype("datetime64[ns, UTC]")


def _one_iso_utc(value):
    if not value:
        return pd.NaT
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    return as_utc(stamp)


def epoch_seconds_text(times: pd.Series) -> pd.Series:
    """Integer epoch seconds as text ('' for NaT): a cheap, stable key ingredient."""
    values = times.to_numpy(dtype="datetime64[ns]") if len(times) else np.array([], "M8[ns]")
    secs = values.astype("int64") // 1_000_000_000
    out = pd.Series(secs, index=times.index).astype(str)
    return out.where(times.notna().to_numpy(), "")


def content_keys(device: pd.Series, connector: pd.Series, start: pd.Series,
                 end: pd.Series, kwh: pd.Series) -> pd.Series:
    """sha1 content keys ("h:<hex>") for sessions that carry no id of their own.

    The joined text is built column-wise; only the digest is per row (hashlib has no
    vector form), which costs about a microsecond a row.
    """
    if len(device) == 0:
        return pd.Series([], dtype=object, index=device.index)
    kwh_text = pd.Series(np.round(pd.to_numeric(kwh, errors="coerce").to_numpy(float), 6),
                         index=kwh.index).astype(str).where(kwh.notna(), "")
    joined = (device.fillna("").astype(str) + "|" + connector.fillna("").astype(str) + "|"
              + epoch_seconds_text(start) + "|" + epoch_seconds_text(end) + "|" + kwh_text)
    digests = [hashlib.sha1(s.encode("utf-8")).hexdigest() for s in joined.tolist()]
    return pd.Series(["h:" + d for d in digests], index=device.index, dtype=object)


def rejects_frame(rows, reasons, fields=None) -> pd.DataFrame:
    data = {"row": pd.Series(np.asarray(rows, dtype="int64")),
            "reason": pd.Series(list(reasons), dtype=object)}
    if fields is not None:
        data["field"] = pd.Series(list(fields), dtype=object)
    return pd.DataFrame(data)


def outside_uk(lat: pd.Series, lon: pd.Series) -> pd.Series:
    return ~(lat.between(*UK_LAT) & lon.between(*UK_LON))


def looks_swapped_uk(lat: pd.Series, lon: pd.Series) -> pd.Series:
    return lon.between(*UK_LAT) & lat.between(*UK_LON)


def haversine_m(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=float))
                              for x in (lat1, lon1, lat2, lon2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_000 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
