"""Tables out to CSV and XLSX, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (text starting with = + - @,
or a tab/carriage return) are prefixed with an apostrophe, so a name coming
from a feed can never become a formula. Numbers are written as numbers.

The XLSX writer needs nothing beyond the standard library: a minimal Office
Open XML workbook (zip + XML) with text as inline strings, which a spreadsheet
never evaluates, and numbers as numbers. Text is neutralised all the same, so
the file stays safe when someone re-saves it as CSV.

Tables from a store holding SYNTHETIC usage (``synthetic=True``) start with one
line (CSV) or one row per sheet (XLSX) holding :data:`.usage_kind.NOTE`, above
the column names; tables of the internal mode (``internal=True``: usage figures
not suppressed) likewise with :data:`.disclosure.INTERNAL_NOTE`, first.
:func:`read_csv` reads such a CSV back.
"""

from __future__ import annotations

import csv
import datetime
import math
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Mapping, Optional, Sequence
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ..errors import NOT_UTF8_TEXT, ParseError
from ..store.usage_kind import NOTE
from .disclosure import INTERNAL_NOTE

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


def notes(synthetic: bool = False, internal: bool = False) -> list[str]:
    """The lines a table starts with, above its column names."""
    return [INTERNAL_NOTE] * bool(internal) + [NOTE] * bool(synthetic)


def write_csv(frame: pd.DataFrame, path, synthetic: bool = False,
              internal: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for line in notes(synthetic, internal):
            csv.writer(handle, lineterminator="\r\n").writerow([line])
        # CRLF rows (RFC 4180): the csv writer then quotes any cell holding a CR or LF, so
        # a lone CR in a feed's text can never start a new row (and a formula) of its own.
        safe_frame(frame).to_csv(handle, index=False, lineterminator="\r\n")
    return path


def read_csv(path, **options) -> pd.DataFrame:
    """A CSV as :func:`write_csv` wrote it (its INTERNAL and SYNTHETIC lines skipped),
    or any CSV.

    A file that is not UTF-8 text, or not CSV, raises :class:`errors.ParseError`."""
    name = Path(path).name
    try:
        skip = 0
        with open(path, encoding="utf-8", newline="") as handle:
            for line in csv.reader(handle):
                if line not in ([INTERNAL_NOTE], [NOTE]):
                    break
                skip += 1
        return pd.read_csv(path, skiprows=skip, **options)
    except UnicodeDecodeError:
        raise ParseError(f"the CSV cannot be read: {NOT_UTF8_TEXT} (save it as CSV UTF-8)",
                         name) from None
    except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParseError(f"the CSV cannot be read ({detail})", name) from None


# --- XLSX ------------------------------------------------------------------------

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# characters XML 1.0 cannot carry at all (a feed can contain them)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
MAX_XLSX_ROWS = 1_048_576


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet column names)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet_name(name: str, used: set) -> str:
    base = _SHEET_NAME_BAD.sub("_", str(name)).strip("'")[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        suffix = f" ({n})"
        candidate = base[:31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


def _cell(ref: str, value, style: int = 0) -> str:
    """One <c> element, or "" for an empty cell."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return f'<c r="{ref}" t="b"><v>{int(bool(value))}</v></c>'
    if isinstance(value, (int, np.integer)):
        return f'<c r="{ref}"><v>{int(value)}</v></c>'
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return ""
        return f'<c r="{ref}"><v>{repr(number)}</v></c>'
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        value = value.isoformat()
    text = _INVALID_XML.sub("", str(neutralise(str(value))))
    style_attr = f' s="{style}"' if style else ""
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return (f'<c r="{ref}" t="inlineStr"{style_attr}><is><t{space}>{escape(text)}</t></is>'
            "</c>")


def _sheet_xml(frame: pd.DataFrame, note_lines: Sequence[str] = ()) -> str:
    """One worksheet: ``note_lines`` (if any) in A1, A2…, then the column names, then
    the rows."""
    columns = [str(c) for c in frame.columns]
    head = len(note_lines) + 1   # the row of the column names
    parts = [_XML_DECL, f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">']
    if columns:
        last = f"{column_letter(len(columns) - 1)}{len(frame) + head}"
        parts.append(f'<dimension ref="A1:{last}"/>')
        parts.append(f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{head}" '
                     f'topLeftCell="A{head + 1}" activePane="bottomLeft" state="frozen"/>'
                     "</sheetView></sheetViews>")
    parts.append("<sheetData>")
    for r, line in enumerate(note_lines, start=1):
        parts.append(f'<row r="{r}">' + _cell(f"A{r}", line, style=1) + "</row>")
    letters = [column_letter(i) for i in range(len(columns))]
    parts.append(f'<row r="{head}">' + "".join(_cell(f"{letters[i]}{head}", name, style=1)
                                              for i, name in enumerate(columns)) + "</row>")
    for r, row in enumerate(frame.itertuples(index=False, name=None), start=head + 1):
        cells = "".join(_cell(f"{letters[i]}{r}", value) for i, value in enumerate(row))
        parts.append(f'<row r="{r}">{cells}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


_STYLES = (_XML_DECL + f'<styleSheet xmlns="{_MAIN_NS}">'
           '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
           '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
           '<fills count="2"><fill><patternFill patternType="none"/></fill>'
           '<fill><patternFill patternType="gray125"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
           '</borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
           '</cellStyleXfs>'
           '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
           '</cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
           '</cellStyles></styleSheet>')


def write_xlsx(frame: pd.DataFrame, path, sheet_name: str = "Summary",
               extra_sheets: Optional[Mapping[str, pd.DataFrame]] = None,
               synthetic: bool = False, internal: bool = False) -> Path:
    """Write ``frame`` (and any ``extra_sheets``, name -> frame) as an .xlsx workbook.

    Text cells are inline strings, neutralised like the CSV; numbers stay
    numbers; NaN and None are empty cells. With ``synthetic`` every sheet starts
    with the SYNTHETIC note in A1; with ``internal``, with the INTERNAL note in A1
    (and SYNTHETIC in A2). The file is written to a temporary name and
    moved into place, so a failed export never leaves half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    used: set = set()
    sheets = [(_sheet_name(sheet_name, used), frame)]
    for name, extra in (extra_sheets or {}).items():
        sheets.append((_sheet_name(name, used), extra))
    for name, sheet in sheets:
        if len(sheet) + 1 + len(notes(synthetic, internal)) > MAX_XLSX_ROWS:
            raise ValueError(f"sheet '{name}' has {len(sheet):,} rows; XLSX holds at most "
                             f"{MAX_XLSX_ROWS - 1:,}")
    content_types = (
        _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>'
        + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                  'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                  for i in range(1, len(sheets) + 1))
        + '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/></Types>')
    root_rels = (
        _XML_DECL + f'<Relationships xmlns="{_PKG_REL_NS}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>")
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (_XML_DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/'
            '2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>EV Charge Points</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            "</cp:coreProperties>")
    workbook = (_XML_DECL + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheets>'
                + "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" '
                          f'r:id="rId{i}"/>' for i, (name, _) in enumerate(sheets, start=1))
                + "</sheets></workbook>")
    workbook_rels = (
        _XML_DECL + f'<Relationships xmlns="{_PKG_REL_NS}">'
        + "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/'
                  'officeDocument/2006/relationships/worksheet" '
                  f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1))
        + f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>')
    handle, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", content_types)
            archive.writestr("_rels/.rels", root_rels)
            archive.writestr("docProps/core.xml", core)
            archive.writestr("xl/workbook.xml", workbook)
            archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
            archive.writestr("xl/styles.xml", _STYLES)
            for i, (_, sheet) in enumerate(sheets, start=1):
                archive.writestr(f"xl/worksheets/sheet{i}.xml",
                                 _sheet_xml(sheet, notes(synthetic, internal)))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def read_xlsx_sheet(path, sheet: int = 1) -> list[list]:
    """Rows of one sheet written by :func:`write_xlsx` (text as str, numbers as float).

    A small reader for checking exports; it understands inline strings, shared
    strings, booleans and numbers, not styles or formulas. A damaged workbook (or
    one whose XML is not UTF-8) raises :class:`errors.ParseError`.
    """
    from xml.etree import ElementTree

    name = Path(path).name
    try:
        return _read_xlsx_sheet(path, sheet)
    except UnicodeError:
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT}", name) from None
    except ElementTree.ParseError as exc:  # expat: "not well-formed (invalid token)" ...
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT} (sheet XML: {exc})",
                         name) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ParseError(f"not an XLSX workbook: the file is damaged or not a zip archive "
                         f"({exc})", name) from None
    except KeyError:
        raise ParseError(f"the workbook has no sheet {sheet}", name) from None
    except (ValueError, IndexError, TypeError) as exc:
        raise ParseError(f"the workbook's cells are damaged ({exc})", name) from None


def _read_xlsx_sheet(path, sheet: int) -> list[list]:
    from xml.etree import ElementTree

    ns = {"m": _MAIN_NS}
    with zipfile.ZipFile(path) as archive:
        shared = []
        if "xl/sharedStrings.xml" in archive.namelist():
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{_MAIN_NS}}}t"))
                      for si in root.findall("m:si", ns)]
        root = ElementTree.fromstring(archive.read(f"xl/worksheets/sheet{sheet}.xml"))
    rows = []
    for row in root.iterfind("m:sheetData/m:row", ns):
        values: dict = {}
        for cell in row.findall("m:c", ns):
            ref = cell.get("r")
            letters = "".join(ch for ch in ref if ch.isalpha())
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            kind = cell.get("t")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in cell.iter(f"{{{_MAIN_NS}}}t"))
            else:
                raw = cell.findtext("m:v", default=None, namespaces=ns)
                if raw is None:
                    value = None
                elif kind == "s":
                    value = shared[int(raw)]
                elif kind == "b":
                    value = raw == "1"
                elif kind == "str":
                    value = raw
                else:
                    value = float(raw)
            values[col - 1] = value
        width = max(values) + 1 if values else 0
        rows.append([values.get(i) for i in range(width)])
    return rows
