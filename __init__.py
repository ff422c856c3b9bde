def classFactory(iface):  # noqa: N802 - name required by QGIS
    from .ev_chargepoints.gui.plugin import EvChargepointsPlugin
    return EvChargepointsPlugin(iface)
