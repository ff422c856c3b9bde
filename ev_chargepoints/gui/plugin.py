"""The plugin object QGIS creates through ``classFactory``.

Everything ``initGui``/``initProcessing`` add is recorded so that ``unload``
removes it again: loading and unloading twice leaves QGIS as it was.
"""

from __future__ import annotations

import logging

from qgis.core import Qgis, QgsApplication, QgsSettings
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, Qt, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QComboBox, QMessageBox, QPushButton

from ..core.optional import missing_history, missing_packages, startup_notice
from ..core.paths import I18N, plugin_version, resource
from ..qgis import log as qgis_log
from .slots import guarded_slot

log = logging.getLogger(__name__)

MENU = "EV Charge Points"
# actions that work without pandas (object names are "EvChargepoints_<callback name>")
PANDAS_FREE_ACTIONS = ("EvChargepoints_show_about", "EvChargepoints_show_settings")


def _use_installed_packages():
    """What "Install missing packages…" put in the profile's folder imports (sys.path)."""
    from ..qgis import package_install

    try:
        package_install.use_packages_folder()
    except Exception:  # noqa: BLE001 - the plugin loads regardless
        log.exception("EV Charge Points: the installed-packages folder could not be used")


class EvChargepointsPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions: list[QAction] = []
        self.toolbar = None
        self.translator = None
        self.log_handler = None
        self.period_box = None
        self.loaded = None
        self.loading = False   # a map load runs (its live status file awaits its layer)
        self.watch_task = None
        self.unlink_time = None  # ends the temporal controller's link to the loaded map
        self.fetch_outcomes = None  # what the last "Fetch from the London Datastore" did
        self.docks = []
        self.tasks = []
        self.notice_item = None  # the missing-package notice (with "Install missing packages…")
        _use_installed_packages()
        self._install_translator()
        self.menu = self.tr("EV Charge Points")  # the Web menu and message-bar title

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("EvChargepointsPlugin", text)

    # --- QGIS entry points ---------------------------------------------------

    def initProcessing(self):
        if self.provider is not None:
            return
        from ..processing.provider import EvChargepointsProvider
        provider = EvChargepointsProvider()
        # The registry owns the provider from here on; it refuses (and deletes) a second
        # provider with the same id, e.g. one another copy of the plugin registered.
        if QgsApplication.processingRegistry().addProvider(provider):
            self.provider = provider

    def initGui(self):
        self.log_handler = qgis_log.install()
        self.initProcessing()
        self.toolbar = self.iface.addToolBar(self.menu)
        self.toolbar.setObjectName("EvChargepointsToolbar")
        self.load_action = self._add_action("load.svg", self.tr("Load London charge points"),
                                            self.load_london)
        self.period_box = QComboBox()
        self.period_box.setObjectName("EvChargepointsPeriod")
        self.period_box.setToolTip(self.tr("Period shown on the map (restyles, no reload)"))
        self.period_box.setEnabled(False)
        self.period_box.currentTextChanged.connect(self._period_chosen)
        self.period_widget_action = self.toolbar.addWidget(self.period_box)
        self.demo_action = self._add_action("demo.svg", self.tr("Load demo usage (synthetic)"),
                                            self.load_demo, on_toolbar=False)
        self.fetch_action = self._add_action(
            "fetch.svg", self.tr("Fetch from the London Datastore"), self.fetch_datastore,
            on_toolbar=False)
        self.fetch_action.setToolTip(self.tr(
            "Fetches the datasets set in Settings (charge points, usage returns, boundaries) "
            "with the API key set there into the workspace store, in the background"))
        self._add_dock("summary.dock", "AreaSummaryDock", self.tr("Area summary…"),
                       "summary.svg")
        self._add_dock("sites_dock", "CandidateSitesDock", self.tr("Candidate sites…"),
                       "sites.svg")
        self._add_action("export.svg", self.tr("Export committee maps…"),
                         self.show_export_dialog, on_toolbar=False)
        self._add_action("check.svg", self.tr("Check operators' data…"),
                         self.show_conformance, on_toolbar=False)
        self.watch_action = self._add_action("watch.svg", self.tr("Watch live status"),
                                             self.toggle_watch, on_toolbar=False)
        self.watch_action.setCheckable(True)
        self._add_action("settings.svg", self.tr("Settings…"), self.show_settings,
                         on_toolbar=False)
        self._add_action("about.svg", self.tr("About EV Charge Points…"), self.show_about,
                         on_toolbar=False)
        self._notify_missing_packages()

    def unload(self):
        for dock in self.docks:
            if hasattr(dock, "cleanup"):
                dock.cleanup()
            self.iface.removeDockWidget(dock)
            dock.deleteLater()
        self.docks = []
        for task in list(self.tasks):
            if not sip.isdeleted(task):
                task.cancel()
        self.tasks = []
        if self.unlink_time is not None:
            self.unlink_time()
            self.unlink_time = None
        if self.period_box is not None:
            self.period_box.currentTextChanged.disconnect(self._period_chosen)
            self.period_box = None
        for action in self.actions:
            self.iface.removePluginWebMenu(self.menu, action)
            self.iface.removeToolBarIcon(action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None and not sip.isdeleted(self.provider):
            QgsApplication.processingRegistry().removeProvider(self.provider)
        self.provider = None
        if self.notice_item is not None and not sip.isdeleted(self.notice_item):
            self.iface.messageBar().popWidget(self.notice_item)
        self.notice_item = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
        if self.log_handler is not None:
            qgis_log.uninstall(self.log_handler)
            self.log_handler = None

    # --- helpers ---------------------------------------------------------------

    def _add_dock(self, module_name, class_name, action_text, icon_name):
        """Create a dock (hidden), register it with QGIS and add an action to show it."""
        import importlib

        action_name = "show_" + module_name.replace(".", "_")  # show_summary_dock ...
        if missing_packages():  # the docks need pandas: keep the action, switched off
            def unavailable():
                pass

            unavailable.__name__ = action_name
            self._add_action(icon_name, action_text, unavailable)
            return None
        module = importlib.import_module(f"{__package__}.{module_name}")
        dock = getattr(module, class_name)(self.iface, self.iface.mainWindow())
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.hide()
        self.docks.append(dock)

        def show():
            dock.show()
            dock.raise_()

        show.__name__ = action_name
        self._add_action(icon_name, action_text, show)
        return dock

    def _add_action(self, icon_name, text, callback, on_toolbar=True):
        action = QAction(QIcon(str(resource("icons", icon_name))), text,
                         self.iface.mainWindow())
        action.setObjectName("EvChargepoints_" + callback.__name__)
        action.triggered.connect(callback)
        self.iface.addPluginToWebMenu(self.menu, action)
        if on_toolbar:
            self.toolbar.addAction(action)
        self.actions.append(action)
        return action

    def _notify_missing_packages(self):
        """Say once what is missing and how to add it; switch off what needs pandas.
        Without duckdb everything stays on: charge points and areas load, without usage."""
        notice = startup_notice(QCoreApplication.translate)
        if notice is None:
            return
        if not missing_packages():
            if missing_history():  # no usage history: worth a warning, nothing switched off
                self._push_notice(notice, Qgis.MessageLevel.Warning)
            else:  # only the optional fast path is missing
                self._push_notice(notice, Qgis.MessageLevel.Info)
            return
        for action in self.actions:
            if action.objectName() not in PANDAS_FREE_ACTIONS:
                action.setEnabled(False)
                action.setToolTip(notice)
        self._push_notice(notice, Qgis.MessageLevel.Warning)

    def _push_notice(self, notice, level):
        """The notice stays (until closed) with its "Install missing packages…" button."""
        from qgis.gui import QgsMessageBarItem

        self.notice_item = QgsMessageBarItem(self.menu, notice, level, 0)
        button = QPushButton(self.tr("Install missing packages…"), self.notice_item)  # owned
        button.setObjectName("EvChargepointsInstallPackages")
        button.clicked.connect(self.install_missing_packages)
        self.notice_item.setWidget(button)
        self.iface.messageBar().pushItem(self.notice_item)

    @guarded_slot("EV Charge Points: installing the missing packages failed")
    def install_missing_packages(self, *_args):
        """Confirm, then install the missing packages with pip (a task with cancel)."""
        from ..core.optional import PackageInstallError
        from ..qgis import package_install
        from .package_dialog import PackageInstallDialog

        if not package_install.missing():
            self.iface.messageBar().pushInfo(self.menu, self.tr(
                "All optional packages are installed."))
            return
        try:
            plan = package_install.install_plan()
        except PackageInstallError as exc:
            self.iface.messageBar().pushWarning(self.menu, exc.message)
            return

        def installed(outcome):
            if self.notice_item is not None and not sip.isdeleted(self.notice_item):
                self.iface.messageBar().popWidget(self.notice_item)
            self.notice_item = None
            self.iface.messageBar().pushSuccess(self.menu, self.tr(
                "Installed {packages}. Restart QGIS so that every feature of the plugin uses "
                "them.").format(packages=", ".join(outcome.installed)))

        dialog = PackageInstallDialog(plan, self.iface.mainWindow(), on_installed=installed)
        dialog.exec()
        dialog.deleteLater()

    def slot_failed(self, text):  # what guarded_slot shows
        self.iface.messageBar().pushWarning(self.menu, text)

    def _install_translator(self):
        locale = (QgsSettings().value("locale/userLocale", "") or "")[:2]
        qm = I18N / f"ev_chargepoints_{locale}.qm"
        if locale and qm.exists():
            self.translator = QTranslator()
            if self.translator.load(str(qm)):
                QCoreApplication.installTranslator(self.translator)
            else:
                self.translator = None

    # --- map ---------------------------------------------------------------------

    def load_london(self):
        """The bundled registry devices (into an empty store) and the store's own usage."""
        from ..qgis import settings as plugin_settings

        self._load(plugin_settings.store_reference(), demo=False)

    def load_demo(self):
        """The demo's own store (devices and SYNTHETIC usage), never the workspace store."""
        from ..qgis import settings as plugin_settings

        self._load(plugin_settings.demo_store_path(), demo=True)

    def _load(self, store, demo):
        from ..core.errors import EvChargepointsError
        from ..qgis import loader
        from ..qgis import settings as plugin_settings

        try:
            target = plugin_settings.target_for(store)
        except EvChargepointsError as exc:
            self.iface.messageBar().pushWarning(self.menu, exc.message)
            return
        for action in (self.load_action, self.demo_action):
            action.setEnabled(False)
        self.loading = True
        self.iface.messageBar().pushInfo(self.menu, self.tr(
            "Loading London charge points in the background (see the task manager)…"))

        def done(info):
            self.loading = False
            for action in (self.load_action, self.demo_action):
                action.setEnabled(True)
            try:
                self.loaded = loader.build_layers(info, store_path=store)
            except EvChargepointsError as exc:
                self.iface.messageBar().pushWarning(self.menu, exc.message)
                return
            self._fill_periods(info.periods, info.latest_period)
            canvas = self.iface.mapCanvas()
            self._follow_time(canvas)
            canvas.setExtent(canvas.mapSettings().layerExtentToOutputExtent(
                self.loaded.boroughs, self.loaded.boroughs.extent()))
            canvas.refresh()
            note = self.tr(" Usage figures are SYNTHETIC.") if info.synthetic_usage else ""
            if info.status is not None:
                note += self.tr(" Live status of {n:,} devices ({stale:,} stale).").format(
                    n=info.status.features, stale=info.status.classes.get("stale", 0))
            self.iface.messageBar().pushSuccess(self.menu, self.tr(
                "Loaded {n:,} charge points ({period}).").format(
                n=info.counts.get("map_devices", 0) // max(1, len(info.periods)),
                period=info.latest_period) + note)

        def failed(message):
            self.loading = False
            for action in (self.load_action, self.demo_action):
                action.setEnabled(True)
            self.iface.messageBar().pushWarning(self.menu, message)

        self.tasks.append(loader.load_in_background(target, "quarter", done, failed,
                                                    demo=demo))

    def _fill_periods(self, periods, current):
        self.period_box.blockSignals(True)
        self.period_box.clear()
        self.period_box.addItems(list(periods))
        self.period_box.setCurrentText(current)
        self.period_box.blockSignals(False)
        self.period_box.setEnabled(len(periods) > 1)

    def _follow_time(self, canvas):
        """The canvas's temporal controller animates the map just loaded, period by period."""
        from ..qgis import loader

        if self.unlink_time is not None:
            self.unlink_time()
        self.unlink_time = loader.follow_temporal_controller(self.loaded,
                                                             canvas.temporalController())

    def _period_chosen(self, period):
        from ..qgis import loader

        if self.loaded is not None and period:
            loader.set_period(self.loaded, period)

    def fetch_datastore(self):
        """The Datastore datasets of the settings, with the settings' API key, into the
        workspace store, in a background task."""
        from ..core.errors import EvChargepointsError
        from ..core.workspace import Workspace
        from ..qgis import auth, tasks
        from ..qgis import settings as plugin_settings
        from ..qgis.network import QgsTransport

        settings = plugin_settings.load()
        datasets = settings.datastore_datasets()
        if not datasets:
            self.iface.messageBar().pushWarning(self.menu, self.tr(
                "No London Datastore datasets are set: add them in the plugin settings."))
            return
        try:
            target = plugin_settings.store_target(settings)
            api_key = auth.secret(settings.datastore_authcfg) \
                if settings.datastore_authcfg else None
        except EvChargepointsError as exc:
            self.iface.messageBar().pushWarning(self.menu, exc.message)
            return
        self.fetch_action.setEnabled(False)

        def work(progress, feedback):
            with Workspace(target, QgsTransport(feedback=feedback)) as ws:
                return ws.fetch_datastore_datasets(settings.datastore_url, datasets,
                                                   api_key=api_key, progress=progress)

        def done(outcomes):
            self.fetch_action.setEnabled(True)
            self.fetch_outcomes = outcomes
            for outcome in outcomes:
                for line in outcome.warnings + outcome.skipped:
                    log.warning("%s: %s", outcome.source, line)
            nothing = [o for o in outcomes if o.imported_nothing]
            added = sum(r.rows_added for o in outcomes for r in o.imports)
            if len(nothing) == len(outcomes):
                self.iface.messageBar().pushWarning(self.menu, " ".join(
                    o.nothing_imported_message() for o in nothing))
                return
            text = self.tr("Fetched {n} dataset(s) from the London Datastore: {rows:,} rows "
                           "added.").format(n=len(outcomes) - len(nothing), rows=added)
            if nothing:
                text += " " + " ".join(o.nothing_imported_message() for o in nothing)
            self.iface.messageBar().pushSuccess(self.menu, text)

        def failed(message):
            self.fetch_action.setEnabled(True)
            self.iface.messageBar().pushWarning(self.menu, message)

        self.tasks.append(tasks.start(tasks.CoreTask(
            self.tr("Fetching from the London Datastore"), work, done, failed)))
        self.iface.messageBar().pushInfo(self.menu, self.tr(
            "Fetching {ids} from the London Datastore in the background…").format(
            ids=", ".join(datasets)))

    def toggle_watch(self, checked):
        from ..core.errors import EvChargepointsError
        from ..qgis import settings as plugin_settings
        from ..qgis import watch

        if not checked:
            if self.watch_task is not None and not sip.isdeleted(self.watch_task):
                self.watch_task.cancel()
            self.watch_task = None
            return
        settings = plugin_settings.load()
        if not settings.ocpi_feeds:
            self.watch_action.setChecked(False)
            self.iface.messageBar().pushWarning(self.menu, self.tr(
                "No OCPI feeds are configured: add them in the plugin settings."))
            return

        def stopped(_polls):
            self.watch_action.setChecked(False)
            self.watch_task = None

        def failed(message):
            stopped(None)
            if "Cancelled" not in message:
                self.iface.messageBar().pushWarning(self.menu, message)

        store = plugin_settings.store_reference(settings)
        try:
            self.watch_task = watch.start_watching(
                plugin_settings.store_target(settings), settings.ocpi_feeds, stopped, failed,
                on_status=lambda info: self._show_live_status(info, store),
                status_max_age_minutes=settings.status_max_age_minutes)
        except EvChargepointsError as exc:
            self.watch_action.setChecked(False)
            self.iface.messageBar().pushWarning(self.menu, exc.message)
            return
        self.tasks.append(self.watch_task)
        self.iface.messageBar().pushInfo(self.menu, self.tr(
            "Watching live status of {n} feed(s); uncheck the action to stop.").format(
            n=len(settings.ocpi_feeds)))

    @guarded_slot("EV Charge Points: the live status layer could not be updated")
    def _show_live_status(self, info, store):
        """A watch poll wrote new live status: the loaded map of that store shows it."""
        from ..core.errors import EvChargepointsError
        from ..qgis import loader

        try:
            layer = loader.show_live_status(info, store, prune=not self.loading)
        except EvChargepointsError as exc:
            self.iface.messageBar().pushWarning(self.menu, exc.message)
            return
        if layer is not None and self.loaded is not None:
            self.loaded.status = layer

    def show_settings(self):
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.iface.mainWindow())
        dialog.exec()
        dialog.deleteLater()

    def show_conformance(self):
        from .conformance_dialog import ConformanceDialog

        dialog = ConformanceDialog(self.iface.mainWindow())
        dialog.exec()
        dialog.deleteLater()

    def show_export_dialog(self):
        import processing
        processing.execAlgorithmDialog("evchargepoints:exportcommitteemap")

    def show_about(self):
        notice = startup_notice(QCoreApplication.translate)
        status = (notice if notice
                  else self.tr("All optional packages are installed."))
        QMessageBox.about(
            self.iface.mainWindow(), self.tr("About EV Charge Points"),
            self.tr("EV Charge Points (London) {version}\n\n"
               "London's electric-vehicle charge points: locations, utilisation, area "
               "summaries, candidate sites and committee maps.\n\n{status}").format(
                version=plugin_version(), status=status))
