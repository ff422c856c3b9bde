"""Committee pages keep every text whole and apart: the five longest borough names (from
the bundled boundaries) in titles and table headers, and the notes of every page.

Read back from the exported PDFs with poppler: ``pdftotext -layout`` for the lines and
``pdftotext -bbox`` for each word's box on the page.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ev_chargepoints.core import paths
from ev_chargepoints.core.analysis import areas
from ev_chargepoints.qgis.layout_export.export import export_committee_maps
from tests.qgis.test_committee_export import small_store  # noqa: F401  (module fixture)

PT_MM = 25.4 / 72
MARGIN_MM = 12.0
PAGE_MM = {"portrait": (210.0, 297.0), "landscape": (297.0, 210.0)}
TOLERANCE_MM = 0.6   # a word's box is the font's ascent and descent, a hair taller than a line


def longest_borough_names(count: int = 5) -> list[str]:
    names = sorted(areas.load_boroughs().table["area_name"].astype(str),
                   key=lambda n: (-len(n), n))
    return names[:count]


def words_of(pdf: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(word, (x0, y0, x1, y1) in mm from the page's top left) of a one-page PDF."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    found = []
    for match in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                             r'yMax="([\d.]+)">([^<]*)</word>', html):
        box = tuple(float(v) * PT_MM for v in match.groups()[:4])
        word = match.group(5).replace("\ufb01", "fi").replace("\ufb02", "fl")
        found.append((word.replace("&apos;", "'").replace("&amp;", "&"), box))
    return found


def lines_of(pdf: Path) -> list[str]:
    raw = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    return [" ".join(line.split()) for line in raw.splitlines()]


def template_rects(kind: str, orientation: str) -> dict[str, tuple[float, float, float, float]]:
    root = ET.parse(paths.resource("layouts", f"committee_{kind}_a4_{orientation}.qpt")).getroot()
    rects = {}
    for item in root.iter("LayoutItem"):
        if item.get("id"):
            x, y, _ = item.get("position").split(",")
            w, h, _ = item.get("size").split(",")
            rects[item.get("id")] = (float(x), float(y), float(x) + float(w),
                                     float(y) + float(h))
    return rects


def overlap_mm(a, b) -> float:
    """How far two boxes overlap (the smaller of the two overlaps), 0 if they don't."""
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return min(dx, dy) if dx > 0 and dy > 0 else 0.0


def inside(box, rect, tolerance=TOLERANCE_MM) -> bool:
    return (box[0] >= rect[0] - tolerance and box[1] >= rect[1] - tolerance
            and box[2] <= rect[2] + tolerance and box[3] <= rect[3] + tolerance)


def runs_of(words, text: str) -> list[list[tuple[float, float, float, float]]]:
    """The boxes of every run of consecutive words spelling ``text``."""
    wanted = text.split()
    plain = [w for w, _ in words]
    return [[box for _, box in words[i:i + len(wanted)]]
            for i in range(len(plain) - len(wanted) + 1) if plain[i:i + len(wanted)] == wanted]


def run_of(words, text: str):
    """The boxes of the first run of words spelling ``text`` (None if there is none)."""
    runs = runs_of(words, text)
    return runs[0] if runs else None


def assert_page_text_is_whole_and_apart(pdf: Path, orientation: str) -> None:
    """No two words drawn over each other; every word inside the page margins."""
    words = words_of(pdf)
    assert len(words) > 100, pdf.name
    width, height = PAGE_MM[orientation]
    margins = (MARGIN_MM, 0.0, width - MARGIN_MM, height)
    outside = [w for w, box in words if not inside(box, margins)]
    assert outside == [], f"{pdf.name}: beyond the page margins: {outside}"
    clashes = [(a[0], b[0]) for i, a in enumerate(words) for b in words[i + 1:]
               if overlap_mm(a[1], b[1]) > TOLERANCE_MM]
    assert clashes == [], f"{pdf.name}: words drawn over each other: {clashes[:10]}"


@pytest.fixture(scope="module")
def long_name_pages(small_store, tmp_path_factory, qgis_app):  # noqa: F811
    names = longest_borough_names()
    pages = {}
    for orientation in ("portrait", "landscape"):
        out = tmp_path_factory.mktemp(f"long-{orientation}")
        files = export_committee_maps(small_store[0], out, boroughs=names,
                                      orientation=orientation, pdf_dpi=96).files
        pdfs = [f for f in files if f.suffix == ".pdf"]
        assert len(pdfs) == len(names)
        for name in names:
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
            pages[(name, orientation)] = next(p for p in pdfs if f"_{slug}_" in p.name)
    return names, pages


def test_the_five_longest_names_are_those_of_the_boundaries():
    names = longest_borough_names()
    every = areas.load_boroughs().table["area_name"].astype(str)
    assert len(names) == 5 and len(set(names)) == 5
    assert min(map(len, names)) >= max(len(n) for n in every if n not in names)


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_long_borough_names_print_whole_in_title_and_table(long_name_pages, orientation):
    names, pages = long_name_pages
    rects = template_rects("borough", orientation)
    assert overlap_mm(rects["title"], rects["subtitle"]) == 0
    for name in names:
        pdf = pages[(name, orientation)]
        title = f"{name}: electric vehicle charge points"
        lines = lines_of(pdf)
        assert any(line.startswith(f"{name}:") for line in lines), f"{name} is broken"
        header = [line for line in lines if line.startswith("Measure")]
        assert header and re.search(rf"\b{re.escape(name)} London\b", header[0]), header
        words = words_of(pdf)
        title_boxes = run_of(words, title)
        assert title_boxes and all(inside(b, rects["title"]) for b in title_boxes), name
        subtitle = next(line for line in lines if line.startswith("Public charge points"))
        subtitle_boxes = run_of(words, subtitle)
        assert subtitle_boxes and all(inside(b, rects["subtitle"]) for b in subtitle_boxes)
        assert not any(overlap_mm(t, s) for t in title_boxes for s in subtitle_boxes)
        assert_page_text_is_whole_and_apart(pdf, orientation)


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_london_page_notes_legend_and_table_stay_apart(small_store, tmp_path, qgis_app,  # noqa: F811
                                                      orientation):
    files = export_committee_maps(small_store[0], tmp_path, orientation=orientation,
                                  pdf_dpi=96).files
    pdf = next(f for f in files if f.suffix == ".pdf")
    rects = template_rects("london", orientation)
    words = words_of(pdf)
    # the notes start with the devices definition and end with the sources
    start = next(i for i, (w, _) in enumerate(words) if w == "Devices:")
    end = next(i for i, (w, _) in enumerate(words) if w == "2017-18.")
    assert start < end
    assert all(inside(box, rects["notes"]) for _, box in words[start:end + 1])
    # every borough's row and the London total below them, inside the table's frame
    table = rects["summary_table"]
    rows = {}
    for name in areas.load_boroughs().table["area_name"].astype(str):
        in_table = [run for run in runs_of(words, name)
                    if all(box[0] >= table[0] and inside(box, (table[0], table[1], 1e9,
                                                               table[3])) for box in run)]
        assert len(in_table) == 1, name
        rows[name] = in_table[0][0][1]
    total = [box for word, box in words if word == "London" and box[0] >= table[0]
             and box[1] > max(rows.values()) and inside(box, (table[0], table[1], 1e9,
                                                               table[3]))]
    assert len(total) == 1
    assert_page_text_is_whole_and_apart(pdf, orientation)
