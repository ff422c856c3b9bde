"""The hand-written XLSX writer the plugin used before issue #23 (zip + Office Open XML,
inline strings), kept only as the peer of ``bench/bench_writers.py``: the plugin now
writes workbooks with openpyxl in its write-only mode
(:func:`ev_chargepoints.core.outputs.tables.write_xlsx`).
Copied unchanged from ``core/outputs/tables.py`` as it was then (sheet XML, styles, parts)."""

from __future__ import annotations

import datetime
import math
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping, Optional, Sequence
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ev_chargepoints.core.outputs.tables import MAX_XLSX_ROWS, neutralise, notes

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# characters XML 1.0 cannot carry at all (a feed can contain them)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


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


