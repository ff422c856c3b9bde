"""Tables out to CSV and XLSX, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (text starting with = + - @,
or a tab/carriage return) are prefixed with an apostrophe, so a name coming
from a feed can never become a formula. Numbers are written as numbers.

XLSX workbooks are written by openpyxl, row by row in its write-only mode (an optional
package: without it the XLSX export says so in one line and CSV still works). Text is neutralised
there too, so the file stays safe when someone re-saves it as CSV.

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
import re
import zipfile
import zlib
from pathlib import Path
from typing import Mapping, Optional
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from ..errors import NOT_UTF8_TEXT, MissingDependency, ParseError
from ..files import written_whole
from ..optional import install_hint
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

# characters XML 1.0 cannot carry at all (a feed can contain them; openpyxl refuses them)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
MAX_XLSX_ROWS = 1_048_576


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet column names)."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _openpyxl():
    """The openpyxl package, or :class:`errors.MissingDependency` in one line."""
    try:
        import openpyxl
    except ImportError:
        raise MissingDependency(install_hint(["openpyxl"])) from None
    return openpyxl


def _sheet_name(name: str, used: set) -> str:
    base = _SHEET_NAME_BAD.sub("_", str(name)).strip("'")[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        suffix = f" ({n})"
        candidate = base[:31 - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


def _text(value) -> str:
    """A text cell: neutralised (never a formula) and without XML-illegal characters."""
    return _INVALID_XML.sub("", str(neutralise(str(value))))


def _xlsx_value(value):
    """One value of a text-like column: None (an empty cell), a number, a boolean or
    neutralised text; dates and times as ISO text."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        value = value.isoformat()
    return _text(value)


def _xlsx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the workbook shows it: text neutralised, numbers as numbers,
    infinities and NaN as empty cells, dates and times as ISO text."""
    columns = {}
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        kind = series.dtype.kind
        if kind == "f":
            columns[i] = series.where(np.isfinite(series.to_numpy(dtype="float64")))
        elif kind in "biu" and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
            columns[i] = series
        else:                    # text, categories, nullable numbers, dates and times
            columns[i] = pd.Series([_xlsx_value(v) for v in series.astype(object)],
                                   index=series.index, dtype=object)
    out = pd.DataFrame(columns, index=frame.index)
    out.columns = [_text(name) for name in frame.columns]
    return out


def write_xlsx(frame: pd.DataFrame, path, sheet_name: str = "Summary",
               extra_sheets: Optional[Mapping[str, pd.DataFrame]] = None,
               synthetic: bool = False, internal: bool = False) -> Path:
    """Write ``frame`` (and any ``extra_sheets``, name -> frame) as an .xlsx workbook.

    Written by openpyxl (write-only). Text cells are neutralised like the CSV
    (and openpyxl stores them as strings, never formulas); numbers stay numbers;
    NaN, infinities and None are empty cells. Each sheet has bold column names
    frozen above the rows; with ``synthetic`` every sheet starts with the SYNTHETIC
    note in A1; with ``internal``, with the INTERNAL note in A1 (and SYNTHETIC in
    A2). The file is written to a temporary name and moved into place, so a failed
    export never leaves half a file. Without openpyxl: :class:`errors.MissingDependency`.
    """
    _openpyxl()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = notes(synthetic, internal)
    used: set = set()
    sheets = [(_sheet_name(sheet_name, used), frame)]
    for name, extra in (extra_sheets or {}).items():
        sheets.append((_sheet_name(name, used), extra))
    for name, sheet in sheets:
        if len(sheet) + 1 + len(lines) > MAX_XLSX_ROWS:
            raise ValueError(f"sheet '{name}' has {len(sheet):,} rows; XLSX holds at most "
                             f"{MAX_XLSX_ROWS - 1:,}")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    # openpyxl's write-only mode streams each row to the file: 5× faster than pandas'
    # to_excel, which builds every cell object first (100,000 devices: minutes)
    book = Workbook(write_only=True)
    book.properties.creator = "EV Charge Points"
    try:
        for name, sheet in sheets:
            cells = book.create_sheet(title=name)
            cells.freeze_panes = f"A{len(lines) + 2}"
            shown = _xlsx_frame(sheet)
            for line in lines:
                cells.append(_bold_cells(cells, [_text(line)], bold))
            cells.append(_bold_cells(cells, list(shown.columns), bold))
            for row in _rows(shown):
                cells.append(row)
    except BaseException:
        _discard(book)
        raise
    with written_whole(path) as out:
        book.save(out)
    return path


def _bold_cells(sheet, values, bold) -> list:
    from openpyxl.cell import WriteOnlyCell

    out = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        out.append(cell)
    return out


def _discard(book) -> None:
    """Close a write-only workbook's sheets that will not be saved and remove their
    temporary files (else they are closed half-written when collected)."""
    for sheet in book.worksheets:
        try:
            sheet.close()
            sheet._writer.cleanup()
        except Exception:  # (already closed, or failed half-way: nothing more to do)
            pass


def _rows(shown: pd.DataFrame):
    """The rows of :func:`_xlsx_frame`'s frame as Python values, NaN as None (an empty
    cell), column by column converted once."""
    columns = []
    for i in range(shown.shape[1]):
        series = shown.iloc[:, i]
        if series.dtype.kind == "f":
            column = [None if v != v else v
                      for v in series.to_numpy(dtype="float64").tolist()]
        elif series.dtype.kind in "biu":
            column = series.to_numpy().tolist()
        else:
            column = series.to_numpy(object).tolist()
        columns.append(column)
    return zip(*columns) if columns else iter(())


def read_xlsx_sheet(path, sheet: int = 1) -> list[list]:
    """Rows of one sheet (1: the first) of a workbook, read with openpyxl: text as str,
    numbers as float, booleans as bool, empty cells as None (trailing ones dropped).

    For checking exports. A damaged workbook (or one whose XML is not UTF-8) raises
    :class:`errors.ParseError`; without openpyxl, :class:`errors.MissingDependency`.
    """
    openpyxl = _openpyxl()
    name = Path(path).name
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except UnicodeError:
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT}", name) from None
    except ElementTree.ParseError as exc:  # expat: "not well-formed (invalid token)" ...
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT} (sheet XML: {exc})",
                         name) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as exc:
        raise ParseError(f"not an XLSX workbook: the file is damaged or not a zip archive "
                         f"({exc})", name) from None
    try:
        if not 1 <= sheet <= len(book.worksheets):
            raise ParseError(f"the workbook has no sheet {sheet}", name)
        rows = []
        for values in book.worksheets[sheet - 1].iter_rows(values_only=True):
            row = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                   for v in values]
            while row and row[-1] is None:
                row.pop()
            rows.append(row)
        return rows
    except UnicodeError:
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT}", name) from None
    except ElementTree.ParseError as exc:
        raise ParseError(f"not an XLSX workbook: {NOT_UTF8_TEXT} (sheet XML: {exc})",
                         name) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ParseError(f"not an XLSX workbook: the file is damaged or not a zip archive "
                         f"({exc})", name) from None
    except (ValueError, IndexError, TypeError) as exc:
        raise ParseError(f"the workbook's cells are damaged ({exc})", name) from None
    finally:
        book.close()
