"""Load the plugin through classFactory with the pytest-qgis iface, then unload it."""

from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent
from qgis.PyQt.QtWidgets import QWidgetAction

PROVIDER_ID = "evchargepoints"


def _flush_deletes():
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def _web_menu_actions(mock_method, menu="EV Charge Points"):
    return [c.args[1] for c in mock_method.call_args_list if c.args[0] == menu]


def test_load_and_unload_twice_leaves_qgis_as_it_was(qgis_iface, plugin_package):
    registry = QgsApplication.processingRegistry()
    if registry.providerById(PROVIDER_ID) is not None:  # registered by another test's fixture
        registry.removeProvider(registry.providerById(PROVIDER_ID))
    providers_before = {p.id() for p in registry.providers()}
    assert PROVIDER_ID not in providers_before

    for _ in range(2):
        qgis_iface.addPluginToWebMenu.reset_mock()
        qgis_iface.removePluginWebMenu.reset_mock()
        plugin = plugin_package.classFactory(qgis_iface)
        plugin.initGui()

        added = _web_menu_actions(qgis_iface.addPluginToWebMenu)
        assert added, "no action was added to the Web > EV Charge Points menu"
        assert all(a.text() for a in added)
        toolbar = plugin.toolbar
        assert toolbar is not None and toolbar.windowTitle() == "EV Charge Points"
        buttons = [a for a in toolbar.actions() if not isinstance(a, QWidgetAction)]
        assert buttons and set(buttons) <= set(added)
        assert plugin.period_box is not None and not plugin.period_box.isEnabled()
        provider = registry.providerById(PROVIDER_ID)
        assert provider is not None and provider.name() == "EV charge points"
        docks = list(plugin.docks)
        assert {d.windowTitle() for d in docks} >= {"Candidate sites", "Area summary"}

        plugin.unload()
        _flush_deletes()
        removed = _web_menu_actions(qgis_iface.removePluginWebMenu)
        assert removed == added
        assert all(sip.isdeleted(a) for a in added)
        assert sip.isdeleted(toolbar)
        assert all(sip.isdeleted(d) for d in docks)
        assert registry.providerById(PROVIDER_ID) is None
        assert {p.id() for p in registry.providers()} == providers_before


def test_init_processing_alone_registers_the_provider(qgis_iface, plugin_package):
    # qgis_process calls initProcessing() without initGui()
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    try:
        assert registry.providerById(PROVIDER_ID) is not None
    finally:
        plugin.unload()
    assert registry.providerById(PROVIDER_ID) is None


def test_every_action_has_its_own_icon(qgis_iface, plugin_package):
    """Each menu and toolbar action shows an icon of its own (they all showed the plugin's)."""
    registry = QgsApplication.processingRegistry()
    if registry.providerById(PROVIDER_ID) is not None:
        registry.removeProvider(registry.providerById(PROVIDER_ID))
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initGui()
    try:
        pictures = {}
        for action in plugin.actions:
            assert not action.icon().isNull(), action.text()
            image = action.icon().pixmap(32, 32).toImage()
            assert (image.width(), image.height()) == (32, 32), action.text()
            pixels = tuple(image.pixel(x, y) for y in range(32) for x in range(32))
            drawn = sum(1 for p in pixels if (p >> 24) & 0xFF)  # alpha: not transparent
            assert drawn > 100, f"{action.text()}: the icon is (nearly) empty"
            pictures.setdefault(pixels, []).append(action.text())
        assert len(plugin.actions) >= 8
        shared = [texts for texts in pictures.values() if len(texts) > 1]
        assert shared == [], f"actions sharing an icon: {shared}"
    finally:
        plugin.unload()
        _flush_deletes()
