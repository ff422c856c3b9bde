"""The plugin's settings dialog: data sources, OCPI feeds, workspace and analysis.

Values are read from and written to ``QgsSettings`` through
:mod:`..qgis.settings`; a value the plugin cannot use is refused with a message
in the dialog's message bar and stays in its widget for the user to correct.
Secrets are never typed here: the API key and each feed's token are chosen as
QGIS authentication configurations, of which only the id is stored.

"Test connection" runs in a ``CoreTask`` (never on the main thread) through
``QgsTransport``, so the user's proxy and SSL settings apply, and reports what
worked in plain words.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, List, Optional

from qgis.core import Qgis, QgsSettings
from qgis.gui import (
    QgsAuthConfigSelect,
    QgsFileWidget,
    QgsMessageBar,
    QgsProviderConnectionComboBox,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.config import (
    DEFAULT_DATASTORE_URL,
    MAX_STATUS_AGE_MINUTES,
    ConfigError,
    OcpiFeed,
    Settings,
    check_url,
)
from ..core.sources import connection_check
from ..core.sources.connection_check import CheckResult
from ..qgis import auth
from ..qgis import settings as plugin_settings
from ..qgis.network import QgsTransport
from ..qgis.tasks import CoreTask, start
from .slots import guarded_slot

log = logging.getLogger(__name__)

DATASTORE = "datastore"
COL_NAME, COL_URL, COL_TOKEN, COL_BASE64, COL_POLL, COL_TEST = range(6)


class SettingsDialog(QDialog):
    """Edit the plugin settings. ``qsettings`` defaults to the QGIS profile's settings."""

    #: (target, ok, message) after each connection test; target is "datastore" or
    #: "ocpi:<feed name>"
    connectionChecked = pyqtSignal(str, bool, str)

    def __init__(self, parent: Optional[QWidget] = None,
                 qsettings: Optional[QgsSettings] = None,
                 check_timeout: float = connection_check.CHECK_TIMEOUT_S):
        super().__init__(parent)
        self._qsettings = qsettings
        self.check_timeout = check_timeout
        self.tasks: List[CoreTask] = []  # Python references to running checks
        self.last_error: Optional[str] = None
        self.setObjectName("EvChargepointsSettingsDialog")
        self.setWindowTitle(self.tr("EV Charge Points settings"))
        self.setMinimumWidth(900)
        self._build()
        self.set_settings(plugin_settings.load(self._qsettings))

    def tr(self, text: str) -> str:  # one translation context for this class
        return QCoreApplication.translate("SettingsDialog", text)

    # --- building ------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.bar = QgsMessageBar(self)
        layout.addWidget(self.bar)
        self.tabs = QTabWidget(self)
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._build_datastore_tab(), self.tr("London Datastore"))
        self.tabs.addTab(self._build_feeds_tab(), self.tr("OCPI feeds"))
        self.tabs.addTab(self._build_workspace_tab(), self.tr("Workspace and analysis"))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(
            lambda _checked=False: self._guard(self.save))
        layout.addWidget(self.buttons)

    def _build_datastore_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.datastore_url = QLineEdit(page)
        self.datastore_url.setObjectName("datastore_url")
        self.datastore_url.setPlaceholderText(DEFAULT_DATASTORE_URL)
        form.addRow(self.tr("Datastore address"), self.datastore_url)
        self.datastore_auth = QgsAuthConfigSelect(page)
        self.datastore_auth.setSizePolicy(QSizePolicy.Policy.Preferred,
                                          QSizePolicy.Policy.Fixed)
        self.datastore_auth.setObjectName("datastore_auth")
        self.datastore_auth.setToolTip(self.tr(
            "Only for restricted datasets: an authentication configuration (Basic) whose "
            "password field holds the API key. Only its id is stored in the settings."))
        form.addRow(self.tr("API key"), self.datastore_auth)
        self.dataset_chargepoints = QLineEdit(page)
        self.dataset_chargepoints.setObjectName("dataset_chargepoints")
        form.addRow(self.tr("Charge points dataset id"), self.dataset_chargepoints)
        self.dataset_usage = QLineEdit(page)
        self.dataset_usage.setObjectName("dataset_usage")
        form.addRow(self.tr("Usage returns dataset id"), self.dataset_usage)
        self.dataset_boundaries = QLineEdit(page)
        self.dataset_boundaries.setObjectName("dataset_boundaries")
        form.addRow(self.tr("Boundaries dataset id"), self.dataset_boundaries)
        fetched = self.tr(
            "Web ▸ EV Charge Points ▸ Fetch from the London Datastore fetches these datasets "
            "with the API key above, as the Processing fetch does when no dataset is named. "
            "Boundaries (GeoPackage, zipped Shapefile, GeoJSON) become area layers of the "
            "store that summaries can use.")
        for field in (self.dataset_chargepoints, self.dataset_usage, self.dataset_boundaries):
            field.setToolTip(fetched)
        self.test_datastore_button = QPushButton(self.tr("Test connection"), page)
        self.test_datastore_button.setObjectName("test_datastore")
        self.test_datastore_button.clicked.connect(
            lambda _checked=False: self._guard(self.test_datastore))
        form.addRow("", self.test_datastore_button)
        self.datastore_result = self._result_label(page, "datastore_result")
        form.addRow("", self.datastore_result)
        return page

    def _build_feeds_tab(self) -> QWidget:
        page = QWidget(self)
        box = QVBoxLayout(page)
        self.feeds = QTableWidget(0, 6, page)
        self.feeds.setObjectName("ocpi_feeds")
        self.feeds.setHorizontalHeaderLabels([
            self.tr("Name"), self.tr("URL"), self.tr("Token"), self.tr("Base64"),
            self.tr("Poll (s)"), ""])
        self.feeds.horizontalHeaderItem(COL_URL).setToolTip(self.tr(
            "The feed's OCPI 2.2.1 Locations endpoint, or its versions URL (ending in "
            "/versions) to discover it."))
        self.feeds.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.feeds.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.feeds.setWordWrap(False)
        header = self.feeds.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_URL, QHeaderView.ResizeMode.Stretch)
        self.feeds.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        box.addWidget(self.feeds)
        row = QHBoxLayout()
        self.add_feed_button = QPushButton(self.tr("Add feed"), page)
        self.add_feed_button.setObjectName("add_feed")
        self.add_feed_button.clicked.connect(
            lambda _checked=False: self._guard(self._add_blank_feed))
        self.remove_feed_button = QPushButton(self.tr("Remove feed"), page)
        self.remove_feed_button.setObjectName("remove_feed")
        self.remove_feed_button.clicked.connect(
            lambda _checked=False: self._guard(self.remove_selected_feed))
        row.addWidget(self.add_feed_button)
        row.addWidget(self.remove_feed_button)
        row.addStretch(1)
        box.addLayout(row)
        note = QLabel(self.tr(
            "The token of each feed is kept in the QGIS authentication database "
            "(password field of a Basic configuration); OCPI 2.2.1 servers expect it "
            "Base64-encoded, older servers raw."), page)
        note.setWordWrap(True)
        box.addWidget(note)
        self.feed_result = self._result_label(page, "feed_result")
        box.addWidget(self.feed_result)
        return page

    def _build_workspace_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.store_path = QgsFileWidget(page)
        self.store_path.setObjectName("store_path")
        self.store_path.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.store_path.setConfirmOverwrite(False)  # an existing store is opened, not replaced
        self.store_path.setFilter(self.tr("GeoPackage (*.gpkg)"))
        self.store_path.setDialogTitle(self.tr("Workspace store"))
        self.store_kind_file = QRadioButton(self.tr("GeoPackage file"), page)
        self.store_kind_file.setObjectName("store_kind_file")
        self.store_kind_database = QRadioButton(self.tr("PostgreSQL connection (shared store)"),
                                                page)
        self.store_kind_database.setObjectName("store_kind_database")
        self.store_kind_file.setChecked(True)
        kinds = QButtonGroup(page)
        kinds.addButton(self.store_kind_file)
        kinds.addButton(self.store_kind_database)
        self._store_kinds = kinds
        choice = QHBoxLayout()
        choice.addWidget(self.store_kind_file)
        choice.addWidget(self.store_kind_database)
        choice.addStretch(1)
        form.addRow(self.tr("Workspace store"), choice)
        form.addRow(self.tr("GeoPackage file"), self.store_path)
        self.store_connection = QgsProviderConnectionComboBox("postgres", page)
        self.store_connection.setObjectName("store_connection")
        self.store_connection.setAllowEmptyConnection(True)
        self.store_connection.setToolTip(self.tr(
            "A PostgreSQL connection saved in QGIS (Data Source Manager). Only its name is "
            "kept; its password stays in its authentication configuration or in "
            "~/.pgpass / pg_service.conf."))
        form.addRow(self.tr("PostgreSQL connection"), self.store_connection)
        self.store_kind_file.toggled.connect(self._store_kind_changed)
        self._store_kind_changed()
        self.cache_mb = QSpinBox(page)
        self.cache_mb.setObjectName("cache_mb")
        self.cache_mb.setRange(0, 1_000_000)
        self.cache_mb.setSuffix(self.tr(" MB"))
        form.addRow(self.tr("Download cache size"), self.cache_mb)
        self.breaks = []
        labels = (self.tr("Under-used below"), self.tr("Typical below"), self.tr("Busy below"))
        for i, label in enumerate(labels):
            spin = QDoubleSpinBox(page)
            spin.setObjectName(f"occupancy_break_{i}")
            spin.setRange(0.0, 100.0)
            spin.setDecimals(1)
            spin.setSuffix(" %")
            form.addRow(label, spin)
            self.breaks.append(spin)
        bands_note = QLabel(self.tr(
            "Utilisation bands by occupancy (plugged-in time ÷ available time). "
            "Defaults: 5 %, 15 %, 25 %; above the last break: consider more capacity."), page)
        bands_note.setWordWrap(True)
        form.addRow("", bands_note)
        self.disclosure = QSpinBox(page)
        self.disclosure.setObjectName("disclosure_threshold")
        self.disclosure.setRange(0, 10_000)
        self.disclosure.setSuffix(self.tr(" devices"))
        self.disclosure.setToolTip(self.tr(
            "Usage figures leave the plugin (exported tables, committee pages and their "
            "maps) only for areas that pool at least this many devices and more than one "
            "operator, because operators' usage returns are commercially sensitive. Other "
            "areas' figures are suppressed, with a partner area where a published total "
            "would reveal one, and committee maps draw their devices as \"usage not shown\". "
            "Device counts are always shown. The Area summary's exports use this threshold; "
            "Processing and the command line take their own (default 3). The map and the "
            "Area summary table in QGIS show your own data in full."))
        form.addRow(self.tr("Disclosure threshold"), self.disclosure)
        self.status_max_age = QSpinBox(page)
        self.status_max_age.setObjectName("status_max_age")
        self.status_max_age.setRange(1, MAX_STATUS_AGE_MINUTES)
        self.status_max_age.setSuffix(self.tr(" min"))
        self.status_max_age.setToolTip(self.tr(
            "On the map's Live status layer, a device whose feed has not reported it for "
            "longer than this shows as Stale instead of its last known status."))
        form.addRow(self.tr("Live status is stale after"), self.status_max_age)
        return page

    def _store_kind_changed(self, _checked: bool = False) -> None:
        in_file = self.store_kind_file.isChecked()
        self.store_path.setEnabled(in_file)
        self.store_connection.setEnabled(not in_file)

    @staticmethod
    def _result_label(parent: QWidget, name: str) -> QLabel:
        label = QLabel(parent)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # --- settings in and out --------------------------------------------------------

    def set_settings(self, settings: Settings) -> None:
        self.datastore_url.setText(settings.datastore_url)
        self.datastore_auth.setConfigId(settings.datastore_authcfg)
        self.dataset_chargepoints.setText(settings.dataset_chargepoints)
        self.dataset_usage.setText(settings.dataset_usage)
        self.dataset_boundaries.setText(settings.dataset_boundaries)
        self.feeds.setRowCount(0)
        for feed in settings.ocpi_feeds:
            self.add_feed(feed)
        self.store_path.setFilePath(settings.store_path)
        self.store_connection.setConnection(settings.store_connection)
        if settings.store_connection:
            self.store_kind_database.setChecked(True)
        else:
            self.store_kind_file.setChecked(True)
        self._store_kind_changed()
        self.cache_mb.setValue(int(settings.cache_mb))
        for spin, value in zip(self.breaks, settings.occupancy_breaks):
            spin.setValue(float(value))
        self.disclosure.setValue(int(settings.disclosure_threshold))
        self.status_max_age.setValue(int(settings.status_max_age_minutes))
        self._point_out_missing_configs(settings)

    def _point_out_missing_configs(self, settings: Settings) -> None:
        """Say so when a stored authcfg id is no longer in the authentication database."""
        missing = []
        if settings.datastore_authcfg and \
                self.datastore_auth.configId() != settings.datastore_authcfg:
            missing.append(self.tr("the Datastore API key ('{id}')").format(
                id=settings.datastore_authcfg))
        for row, feed in enumerate(settings.ocpi_feeds):
            if feed.authcfg and self.feed_at(row).authcfg != feed.authcfg:
                missing.append(self.tr("the token of feed '{name}' ('{id}')").format(
                    name=feed.name, id=feed.authcfg))
        if settings.store_connection and \
                self.store_connection.currentConnection() != settings.store_connection:
            self.bar.pushMessage(
                self.tr("Shared store"),
                self.tr("The PostgreSQL connection '{name}' is no longer saved in QGIS. "
                        "Choose a connection (or a GeoPackage file) before saving.").format(
                    name=settings.store_connection),
                Qgis.MessageLevel.Warning, 0)
        if missing:
            self.bar.pushMessage(
                self.tr("Authentication"),
                self.tr("These authentication configurations are no longer in the QGIS "
                        "authentication database: {list}. Choose them again before "
                        "saving.").format(
                    list="; ".join(missing)),
                Qgis.MessageLevel.Warning, 0)

    def settings(self) -> Settings:
        """The settings as the widgets show them (not validated)."""
        store = self.store_path.filePath().strip()
        if store and not Path(store).suffix:
            store += ".gpkg"
        return Settings(
            datastore_url=self.datastore_url.text().strip(),
            datastore_authcfg=self.datastore_auth.configId() or "",
            dataset_chargepoints=self.dataset_chargepoints.text().strip(),
            dataset_usage=self.dataset_usage.text().strip(),
            dataset_boundaries=self.dataset_boundaries.text().strip(),
            ocpi_feeds=self.feeds_from_table(),
            store_path=store or plugin_settings.default_store_path(),
            store_connection=(self.store_connection.currentConnection() or ""
                              if self.store_kind_database.isChecked() else ""),
            occupancy_breaks=tuple(spin.value() for spin in self.breaks),
            disclosure_threshold=self.disclosure.value(),
            cache_mb=self.cache_mb.value(),
            status_max_age_minutes=self.status_max_age.value(),
        )

    def validated_settings(self) -> Settings:
        """The widgets' settings, or ``ConfigError`` saying what cannot be used.

        The tab (and feed row) holding the first problem is brought to the front.
        """
        settings = self.settings()
        try:
            check_url(settings.datastore_url, self.tr("The Datastore address"))
        except ConfigError:
            self._point_at(0, self.datastore_url)
            raise
        names = set()
        for row, feed in enumerate(settings.ocpi_feeds):
            try:
                feed.validate()
                if feed.name in names:
                    raise ConfigError("Two OCPI feeds have the same name.")
            except ConfigError:
                self.feeds.selectRow(row)
                self._point_at(1, self.feeds)
                raise
            names.add(feed.name)
        if self.store_kind_database.isChecked() and not settings.store_connection:
            self._point_at(2, self.store_connection)
            raise ConfigError(self.tr("Choose the saved PostgreSQL connection of the shared "
                                      "store (add one in the Data Source Manager), or use a "
                                      "GeoPackage file."))
        if Path(settings.store_path).suffix.lower() != ".gpkg":
            self._point_at(2, self.store_path)
            raise ConfigError(self.tr("The workspace store must be a GeoPackage file "
                                      "ending in .gpkg."))
        try:
            settings.validate()
        except ConfigError:
            self._point_at(2, None)
            raise
        return settings

    def _point_at(self, tab: int, widget: Optional[QWidget]) -> None:
        self.tabs.setCurrentIndex(tab)
        if widget is not None:
            widget.setFocus()

    def save(self) -> bool:
        """Validate and write the settings; on a problem show it and keep every value."""
        try:
            settings = self.validated_settings()
            plugin_settings.save(settings, self._qsettings)
        except ConfigError as exc:
            self.show_error(exc.message)
            return False
        self.last_error = None
        self.bar.clearWidgets()
        self.bar.pushMessage(self.tr("Settings saved."), Qgis.MessageLevel.Success, 3)
        return True

    def show_error(self, message: str) -> None:
        self.last_error = message
        self.bar.clearWidgets()
        self.bar.pushMessage(self.tr("Not saved"), message, Qgis.MessageLevel.Warning, 0)

    def accept(self) -> None:
        try:
            saved = self.save()
        except Exception:  # noqa: BLE001 - never let an exception escape a Qt virtual
            log.exception("EV Charge Points: the settings could not be saved")
            self.show_error(self.tr("The settings could not be saved; details are in the "
                                    "EV Chargepoints message log."))
            return
        if saved:
            super().accept()

    def done(self, result: int) -> None:
        try:
            for task in list(self.tasks):  # running checks stop with the dialog
                if not sip.isdeleted(task):
                    task.cancel()
        except Exception:  # noqa: BLE001 - never let an exception escape a Qt virtual
            log.exception("EV Charge Points: could not cancel the connection tests")
        super().done(result)

    # --- OCPI feed table ------------------------------------------------------------

    def add_feed(self, feed: OcpiFeed) -> int:
        row = self.feeds.rowCount()
        self.feeds.insertRow(row)
        self.feeds.setItem(row, COL_NAME, QTableWidgetItem(feed.name))
        self.feeds.setItem(row, COL_URL, QTableWidgetItem(feed.url))
        select = QgsAuthConfigSelect(self.feeds)
        select.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        select.setConfigId(feed.authcfg)
        self.feeds.setCellWidget(row, COL_TOKEN, select)
        check = QTableWidgetItem()
        check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                       | Qt.ItemFlag.ItemIsSelectable)
        check.setCheckState(Qt.CheckState.Checked if feed.token_base64
                            else Qt.CheckState.Unchecked)
        self.feeds.setItem(row, COL_BASE64, check)
        poll = QSpinBox(self.feeds)
        poll.setRange(1, 7 * 24 * 3600)
        poll.setValue(int(feed.poll_seconds))
        self.feeds.setCellWidget(row, COL_POLL, poll)
        button = QPushButton(self.tr("Test connection"), self.feeds)
        button.clicked.connect(lambda _checked=False, b=button: self._guard(
            self._test_feed_of_button, b))
        self.feeds.setCellWidget(row, COL_TEST, button)
        return row

    def _add_blank_feed(self) -> None:
        row = self.add_feed(OcpiFeed(self.tr("New feed"), "https://"))
        self.feeds.setCurrentCell(row, COL_NAME)
        self.feeds.editItem(self.feeds.item(row, COL_NAME))

    def remove_selected_feed(self) -> None:
        row = self.feeds.currentRow()
        if row >= 0:
            self.feeds.removeRow(row)

    def feed_at(self, row: int) -> OcpiFeed:
        name = self.feeds.item(row, COL_NAME)
        url = self.feeds.item(row, COL_URL)
        return OcpiFeed(
            name=(name.text() if name else "").strip(),
            url=(url.text() if url else "").strip(),
            authcfg=self.feeds.cellWidget(row, COL_TOKEN).configId() or "",
            token_base64=self.feeds.item(row, COL_BASE64).checkState() == Qt.CheckState.Checked,
            poll_seconds=self.feeds.cellWidget(row, COL_POLL).value(),
        )

    def feeds_from_table(self) -> List[OcpiFeed]:
        return [self.feed_at(row) for row in range(self.feeds.rowCount())]

    def test_button(self, row: int) -> QPushButton:
        return self.feeds.cellWidget(row, COL_TEST)

    # --- connection tests -----------------------------------------------------------

    def test_datastore(self) -> None:
        button = self.test_datastore_button
        url = self.datastore_url.text().strip()
        try:
            check_url(url, self.tr("The Datastore address"))
            authcfg = self.datastore_auth.configId()
            api_key = auth.secret(authcfg) if authcfg else None
        except (ConfigError, auth.AuthError) as exc:
            self._show_result(DATASTORE, button, CheckResult(False, exc.message, "config"))
            return
        datasets = [w.text().strip() for w in (self.dataset_chargepoints, self.dataset_usage,
                                               self.dataset_boundaries)]
        timeout = self.check_timeout

        def work(progress, feedback):
            return connection_check.check_datastore(
                QgsTransport(feedback=feedback), url, api_key, datasets=datasets,
                timeout=timeout, is_cancelled=progress.cancelled)

        self._run_check(DATASTORE, button,
                        self.tr("Testing the London Datastore connection"), work)

    def test_feed(self, row: int) -> None:
        button = self.test_button(row)
        feed = self.feed_at(row)
        target = f"ocpi:{feed.name}"
        try:
            check_url(feed.url, self.tr("The address of feed '{name}'").format(name=feed.name))
            token = auth.secret(feed.authcfg) if feed.authcfg else None
        except (ConfigError, auth.AuthError) as exc:
            self._show_result(target, button, CheckResult(False, exc.message, "config"))
            return
        timeout = self.check_timeout

        def work(progress, feedback):
            return connection_check.check_ocpi(
                QgsTransport(feedback=feedback), feed.url, token, feed.token_base64,
                timeout=timeout, is_cancelled=progress.cancelled)

        self._run_check(target, button,
                        self.tr("Testing OCPI feed '{name}'").format(name=feed.name), work)

    def _test_feed_of_button(self, button: QPushButton) -> None:
        for row in range(self.feeds.rowCount()):
            if self.feeds.cellWidget(row, COL_TEST) is button:
                self.test_feed(row)
                return

    def _run_check(self, target: str, button: QPushButton, description: str,
                   work: Callable) -> None:
        button.setEnabled(False)
        self._result_label_for(target).setText(self.tr("Testing…"))
        task: Optional[CoreTask] = None

        def finish(result: CheckResult) -> None:
            self._forget(task)
            if sip.isdeleted(self):
                return
            self._show_result(target, button, result)

        def done(result) -> None:
            try:
                finish(result)
            except Exception:  # noqa: BLE001 - called from QgsTask.finished (a Qt virtual)
                log.exception("EV Charge Points: could not show the connection test result")

        def failed(message: str) -> None:
            try:
                finish(CheckResult(False, message, "error"))
            except Exception:  # noqa: BLE001
                log.exception("EV Charge Points: could not show the connection test result")

        task = CoreTask(description, work, done, failed)
        self.tasks.append(task)
        start(task)

    def _forget(self, task) -> None:
        if task in self.tasks:
            self.tasks.remove(task)

    def _result_label_for(self, target: str) -> QLabel:
        return self.datastore_result if target == DATASTORE else self.feed_result

    def _show_result(self, target: str, button: QPushButton, result: CheckResult) -> None:
        """Show a result; ``button`` (its row may be gone by now) is enabled again."""
        if not sip.isdeleted(button):
            button.setEnabled(True)
            button.setToolTip(result.message)
        label = self._result_label_for(target)
        text = result.message
        if target != DATASTORE:
            text = self.tr("{name}: {result}").format(name=target[len("ocpi:"):], result=text)
        label.setText(text)
        colour = "#1a7f37" if result.ok else "#b42318"
        label.setStyleSheet(f"color: {colour};")
        self.connectionChecked.emit(target, result.ok, result.message)

    # --- safety -----------------------------------------------------------------------

    @guarded_slot("EV Charge Points: settings dialog action failed")
    def _guard(self, fn: Callable, *args) -> None:
        """Run a slot; an unexpected exception is logged and shown, never raised into Qt."""
        fn(*args)

    def slot_failed(self, _text: str) -> None:
        self.bar.pushMessage(self.tr("Unexpected error"), self.tr(
            "Details are in the EV Chargepoints message log."),
            Qgis.MessageLevel.Critical, 0)
