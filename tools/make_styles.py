"""Write resources/styles/*.qml: the style of every layer the plugin adds, as QGIS style
files, built by the plugin's own renderer code (``ev_chargepoints.qgis.styling`` and the
candidate-sites dock's catchment renderer), so the files and the plugin draw alike.

    make styles            (or: python tools/make_styles.py [--out FOLDER] [--check])

A file named after a map table (map_devices.qml ...) is also that table's default style
inside each map GeoPackage the plugin writes (``core.outputs.layer_styles``). The ward
choropleth's classes depend on the data shown; its file holds the default
(``core.outputs.styling.DEFAULT_WARD_BREAKS``), the plugin recomputes them.

The output is deterministic: symbol layer ids (random UUIDs in QGIS) are left empty
(QGIS gives new ones on load) and rules have fixed keys. ``--check`` exits 1 when a
committed file differs from what the code gives now.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STYLE_FOLDER = ROOT / "resources" / "styles"
WARD_FIELD = "devices_per_10k"           # as qgis.loader.build_layers shows the wards
WARD_UNIT = "per 10,000 residents"
AREA_OPACITY = 0.85                      # as qgis.layers.areas_layer
CATCHMENT_OPACITY = 0.6                  # as gui.sites_results.catchment_layer
BOROUGH_LABEL_FIELD = "area_name"        # as qgis.loader.build_layers
BOROUGH_LABEL_SIZE_PT = 7.5              # as qgis.layers.outline_layer


@dataclass(frozen=True)
class StyleSpec:
    file: str                       # in resources/styles/
    geometry: str                   # the layer's geometry type (memory layer URI name)
    title: str
    apply: Callable                 # (QgsVectorLayer) -> None


def _devices(layer) -> None:
    from ev_chargepoints.core.outputs import styling
    from ev_chargepoints.qgis import styling as qgis_styling

    layer.setRenderer(qgis_styling.device_renderer(styling.occupancy_bands()))


def _status(layer) -> None:
    from ev_chargepoints.qgis import styling as qgis_styling

    layer.setRenderer(qgis_styling.status_layer_renderer())


def _wards(layer) -> None:
    from ev_chargepoints.core.outputs import styling
    from ev_chargepoints.qgis import styling as qgis_styling

    layer.setRenderer(qgis_styling.area_renderer(
        WARD_FIELD, styling.bands_between(styling.DEFAULT_WARD_BREAKS, WARD_UNIT)))
    layer.setOpacity(AREA_OPACITY)


def _boroughs(layer) -> None:
    from ev_chargepoints.qgis import styling as qgis_styling

    layer.setRenderer(qgis_styling.outline_renderer())
    qgis_styling.label_areas(layer, BOROUGH_LABEL_FIELD, size_pt=BOROUGH_LABEL_SIZE_PT)


def _candidate_sites(layer) -> None:
    from ev_chargepoints.qgis import styling as qgis_styling

    layer.setRenderer(qgis_styling.candidate_site_renderer())


def _catchments(layer) -> None:
    from ev_chargepoints.gui.sites_results import score_renderer

    layer.setRenderer(score_renderer())
    layer.setOpacity(CATCHMENT_OPACITY)


STYLES = (
    StyleSpec("map_devices.qml", "Point",
              "Charge devices: occupancy band (colour) and power class (size)", _devices),
    StyleSpec("map_status.qml", "Point", "Live status of charge devices", _status),
    StyleSpec("map_wards.qml", "MultiPolygon",
              "Wards: charge points per 10,000 residents (default classes)", _wards),
    StyleSpec("map_boroughs.qml", "MultiPolygon", "Borough outlines with names", _boroughs),
    StyleSpec("candidate_sites.qml", "Point", "Candidate sites", _candidate_sites),
    StyleSpec("candidate_site_catchments.qml", "Polygon",
              "Candidate site catchments by score", _catchments),
)

# QGIS writes XML attributes in hash order (it changes from run to run) and gives rules,
# ranges and symbol layers random UUIDs: the files sort the attributes of each element
# (also in the symbols QGIS writes as text inside an attribute) and number the UUIDs.
_TAG = re.compile(r'<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+="[^"]*")+)(\s*/?)>')
_ATTRIBUTE = re.compile(r'([\w.:-]+)="([^"]*)"')
_UUID = re.compile(r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\}")
_UNESCAPE = {"&quot;": '"', "&apos;": "'", "&#xa;": "\n", "&#xd;": "\r", "&#x9;": "\t"}
_ESCAPE = {'"': "&quot;", "\n": "&#xa;", "\r": "&#xd;", "\t": "&#x9;"}


def categories():
    from qgis.core import QgsMapLayer

    cat = QgsMapLayer.StyleCategory
    return cat.Symbology | cat.Labeling | cat.Rendering


def styled_layer(spec: StyleSpec):
    """A memory layer (EPSG:27700) of the spec's geometry with the plugin's style."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(f"{spec.geometry}?crs=EPSG:27700", spec.title, "memory")
    spec.apply(layer)
    return layer


def qml_text(layer) -> str:
    """The layer's style as .qml text, the same each time for the same style."""
    from qgis.PyQt.QtXml import QDomDocument

    document = QDomDocument()
    error = layer.exportNamedStyle(document, categories=categories())
    if error:
        raise RuntimeError(f"QGIS could not export the style of {layer.name()}: {error}")
    return canonical(document.toString(2))


def canonical(text: str) -> str:
    """``text`` (QGIS style XML) with sorted attributes and numbered UUIDs."""
    numbers: dict[str, int] = {}

    def number(match) -> str:
        n = numbers.setdefault(match.group(0).lower(), len(numbers) + 1)
        return f"{{00000000-0000-4000-8000-{n:012d}}}"

    return _UUID.sub(number, _sort_attributes(text))


def _sort_attributes(text: str) -> str:
    def tag(match) -> str:
        pairs = sorted(_ATTRIBUTE.findall(match.group(2)))
        inner = " ".join(f'{name}="{_embedded(value)}"' for name, value in pairs)
        return f"<{match.group(1)} {inner}{match.group(3)}>"

    return _TAG.sub(tag, text)


def _embedded(value: str) -> str:
    """An attribute value holding XML (QGIS writes some symbols so) sorted the same way."""
    if not value.startswith("&lt;"):
        return value
    from xml.sax.saxutils import escape, unescape

    return escape(_sort_attributes(unescape(value, _UNESCAPE)), _ESCAPE)


def build() -> dict[str, str]:
    """file name -> .qml text of every style the plugin adds."""
    return {spec.file: qml_text(styled_layer(spec)) for spec in STYLES}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STYLE_FOLDER)
    parser.add_argument("--check", action="store_true",
                        help="compare with the files in --out instead of writing them")
    args = parser.parse_args(argv)
    from qgis.core import QgsApplication

    app = QgsApplication.instance()
    if app is None:
        app = QgsApplication([], False)
        app.initQgis()
    styles = build()
    if args.check:
        stale = [name for name, text in styles.items()
                 if not (args.out / name).is_file()
                 or (args.out / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{args.out / name} differs from the plugin's code: run make styles")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in styles.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
