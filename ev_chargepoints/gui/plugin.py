"""The plugin object QGIS creates through ``classFactory``.

Everything ``initGui``/``initProcessing`` add is recorded so that ``unload``
removes it again: loading and unloading twice leaves QGIS as it was.
"""

from __future__ import annotations

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QMessageBox

from ..core.optional import install_hint, missing_packages
from ..core.paths import I18N, plugin_version, resource
from ..qgis import log as qgis_log

MENU = "EV Charge Points"


class EvChargepointsPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions: list[QAction] = []
        self.toolbar = None
        self.translator = None
        self.log_handler = None
        self._install_translator()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("EvChargepointsPlugin", text)

    # --- QGIS entry points ---------------------------------------------------

    def initProcessing(self):
        if self.provider is not None:
            return
        from ..processing.provider import EvChargepointsProvider
        self.provider = EvChargepointsProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.log_handler = qgis_log.install()
        self.initProcessing()
        self.toolbar = self.iface.addToolBar(self.tr("EV Charge Points"))
        self.toolbar.setObjectName("EvChargepointsToolbar")
        self._add_action("icon.svg", self.tr("About EV Charge Points…"), self.show_about)
        missing = missing_packages()
        if missing:
            self.iface.messageBar().pushWarning(MENU, install_hint(missing))

    def unload(self):
        for action in self.actions:
            self.iface.removePluginWebMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
        if self.log_handler is not None:
            qgis_log.uninstall(self.log_handler)
            self.log_handler = None

    # --- helpers ---------------------------------------------------------------

    def _add_action(self, icon_name, text, callback, on_toolbar=True):
        action = QAction(QIcon(str(resource("icons", icon_name))), text,
                         self.iface.mainWindow())
        action.setObjectName("EvChargepoints_" + callback.__name__)
        action.triggered.connect(callback)
        self.iface.addPluginToWebMenu(MENU, action)
        if on_toolbar:
            self.toolbar.addAction(action)
        self.actions.append(action)
        return action

    def _install_translator(self):
        locale = (QgsSettings().value("locale/userLocale", "") or "")[:2]
        qm = I18N / f"ev_chargepoints_{locale}.qm"
        if locale and qm.exists():
            self.translator = QTranslator()
            if self.translator.load(str(qm)):
                QCoreApplication.installTranslator(self.translator)
            else:
                self.translator = None

    def show_about(self):
        missing = missing_packages()
        status = (install_hint(missing) if missing
                  else self.tr("All optional packages are installed."))
        QMessageBox.about(
            self.iface.mainWindow(), self.tr("About EV Charge Points"),
            self.tr("EV Charge Points (London) {version}\n\n"
               "London's electric-vehicle charge points: locations, utilisation, area "
               "summaries, candidate sites and committee maps.\n\n{status}").format(
                version=plugin_version(), status=status))
