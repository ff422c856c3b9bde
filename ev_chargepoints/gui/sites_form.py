"""The widgets of the "Candidate sites" dock (:class:`SitesDockForm`)."""

from __future__ import annotations

from qgis.core import (
    Qgis,
)
from qgis.gui import QgsDoubleSpinBox, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.analysis.siting.analyser import CRITERIA, DEFAULT_WEIGHTS
from ..core.analysis.siting.analyser import definitions as site_definitions

RINGS = (200.0, 400.0, 800.0)   # the extra rings offered beside the distance
WALK_M = 400.0             # the default walk: 5 minutes at 4.8 km/h (walk_metres)


class SitesDockForm:
    """Mixed into :class:`.sites_dock.CandidateSitesDock`: builds its widgets."""

    # --- widgets -------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        row = QHBoxLayout()
        self.layer_combo = QgsMapLayerComboBox(body)
        self.layer_combo.setFilters(Qgis.LayerFilter.PointLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip(self.tr("Candidate sites: any point layer (lamp columns, "
                                            "car parks ...) or the scratch layer"))
        self.layer_combo.layerChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_combo, 1)
        self.scratch_button = QPushButton(self.tr("Scratch layer"), body)
        self.scratch_button.setToolTip(self.tr('Use (or create) the memory layer '
                                               '"Candidate sites" in EPSG:27700'))
        self.scratch_button.clicked.connect(self._use_scratch)
        row.addWidget(self.scratch_button)
        form.addRow(self.tr("Sites layer"), row)

        self.distance_spin = QgsDoubleSpinBox(body)
        self.distance_spin.setRange(10, 10_000)
        self.distance_spin.setDecimals(0)
        self.distance_spin.setSingleStep(50)
        self.distance_spin.setSuffix(" m")
        self.distance_spin.setClearValue(400)
        self.distance_spin.setValue(400)
        self.distance_spin.setToolTip(self.tr("Primary catchment distance (straight line); "
                                              "scores and ranks are for this distance"))
        self.distance_spin.editingFinished.connect(self._distances_changed)
        form.addRow(self.tr("Distance"), self.distance_spin)
        rings = QHBoxLayout()
        self.ring_boxes = {}
        for ring in RINGS:
            box = QCheckBox(self.tr("{d} m").format(d=f"{ring:g}"), body)
            box.setToolTip(self.tr("Also report the figures within this distance"))
            box.toggled.connect(lambda _checked: self._distances_changed())
            rings.addWidget(box)
            self.ring_boxes[ring] = box
        form.addRow(self.tr("Extra rings"), rings)

        network = QHBoxLayout()
        self.network_combo = QgsMapLayerComboBox(body)
        self.network_combo.setFilters(Qgis.LayerFilter.LineLayer)
        self.network_combo.setAllowEmptyLayer(True, self.tr("None (straight line only)"))
        self.network_combo.setLayer(None)
        self.network_combo.setToolTip(self.tr(
            "Street network for walking catchments: any line layer (OS Open Roads, "
            "OpenStreetMap …) or a GeoPackage file. Adds devices_within_walk and "
            "residents_within_walk and a Walking catchments layer; none: straight line "
            "only"))
        self.network_combo.currentIndexChanged.connect(lambda _index: self._network_chosen())
        network.addWidget(self.network_combo, 1)
        self.network_file_button = QPushButton(self.tr("File…"), body)
        self.network_file_button.setToolTip(self.tr("Use a street network GeoPackage "
                                                    "(its first line layer)"))
        self.network_file_button.clicked.connect(self._network_file_dialog)
        network.addWidget(self.network_file_button)
        form.addRow(self.tr("Street network"), network)
        walk = QHBoxLayout()
        self.walk_spin = QgsDoubleSpinBox(body)
        self.walk_unit = QComboBox(body)
        self.walk_unit.addItem(self.tr("metres"), "m")
        self.walk_unit.addItem(self.tr("minutes"), "min")
        self.walk_unit.setToolTip(self.tr("Minutes are walked at 4.8 km/h (80 m a minute)"))
        self._set_walk_range("m")
        self.walk_spin.setClearValue(WALK_M)
        self.walk_spin.setValue(WALK_M)
        self.walk_spin.setToolTip(self.tr("How far a driver walks from the charge point, "
                                          "along the streets"))
        self.walk_spin.editingFinished.connect(self._walk_changed)
        self.walk_unit.currentIndexChanged.connect(lambda _index: self._walk_unit_changed())
        self.walk_note = QLabel(body)
        walk.addWidget(self.walk_spin, 1)
        walk.addWidget(self.walk_unit)
        walk.addWidget(self.walk_note)
        form.addRow(self.tr("Walk"), walk)
        self.network_note = QLabel(body)
        self.network_note.setWordWrap(True)
        form.addRow("", self.network_note)
        self._update_network_widgets()

        weights = QGridLayout()
        self.weight_spins = {}
        labels = {"new_coverage": self.tr("New coverage"),
                  "unique_coverage": self.tr("Unique coverage"),
                  "residents": self.tr("Residents"), "demand": self.tr("Demand nearby"),
                  "kwh": self.tr("kWh nearby"), "gap": self.tr("Gap to nearest"),
                  "demand_gap": self.tr("Demand gap (wards)")}
        tips = {"new_coverage": "new_coverage_residents",
                "unique_coverage": "unique_new_coverage_residents",
                "residents": "residents_within", "demand": "occupancy_pct_within",
                "kwh": "kwh_within", "gap": "nearest_device_m",
                "demand_gap": "demand_gap_within"}
        definitions = site_definitions()
        for i, name in enumerate(CRITERIA):
            spin = QgsDoubleSpinBox(body)
            spin.setRange(0, 10)
            spin.setDecimals(2)
            spin.setSingleStep(0.1)
            spin.setValue(DEFAULT_WEIGHTS.get(name, 0.0))
            # a criterion the dock does not know yet shows its own name
            spin.setToolTip(definitions.get(tips.get(name, name), ""))
            spin.valueChanged.connect(lambda _value: self._weights_changed())
            weights.addWidget(QLabel(labels.get(name, name), body), i // 2, 2 * (i % 2))
            weights.addWidget(spin, i // 2, 2 * (i % 2) + 1)
            self.weight_spins[name] = spin
        form.addRow(self.tr("Weights"), weights)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.tool_button = QPushButton(self.tr("Add / move sites on the map"), body)
        self.tool_button.setCheckable(True)
        self.tool_button.setToolTip(self.tr("Click the map to add a site; press on a site and "
                                            "drag to move it"))
        self.tool_button.toggled.connect(self._tool_toggled)
        buttons.addWidget(self.tool_button)
        self.analyse_button = QPushButton(self.tr("Analyse layer"), body)
        self.analyse_button.setToolTip(self.tr("Analyse every site of the layer again"))
        self.analyse_button.clicked.connect(lambda _checked=False: self.prepare())
        buttons.addWidget(self.analyse_button)
        layout.addLayout(buttons)

        suggest = QHBoxLayout()
        self.k_spin = QSpinBox(body)
        self.k_spin.setRange(1, 500)
        self.k_spin.setValue(5)
        self.suggest_button = QPushButton(self.tr("Suggest K sites"), body)
        self.suggest_button.setToolTip(self.tr(
            "Pick K sites of the layer by greedy maximal new coverage at the primary "
            "distance, existing devices fixed"))
        self.suggest_button.clicked.connect(lambda _checked=False: self.suggest())
        suggest.addWidget(QLabel(self.tr("K"), body))
        suggest.addWidget(self.k_spin)
        suggest.addWidget(self.suggest_button, 1)
        layout.addLayout(suggest)

        self.status = QLabel(self.tr("Choose a sites layer or start the map tool."), body)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, 0, body)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._columns: list = []
        layout.addWidget(self.table, 3)
        self.suggest_table = QTableWidget(0, 4, body)
        self.suggest_table.setHorizontalHeaderLabels(
            [self.tr("Step"), self.tr("Site"), self.tr("Gain (residents)"),
             self.tr("Covered %")])
        self.suggest_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.suggest_table, 1)

        export = QHBoxLayout()
        self.gpkg_button = QPushButton(self.tr("Export GeoPackage…"), body)
        self.gpkg_button.clicked.connect(lambda _checked=False: self._export_dialog(".gpkg"))
        self.csv_button = QPushButton(self.tr("Export CSV…"), body)
        self.csv_button.clicked.connect(lambda _checked=False: self._export_dialog(".csv"))
        export.addWidget(self.gpkg_button)
        export.addWidget(self.csv_button)
        layout.addLayout(export)
        self.setWidget(body)
