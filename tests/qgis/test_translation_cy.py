"""The Welsh (cy) translation: complete, and what QGIS shows when its locale is Welsh.

The expected texts are read from i18n/ev_chargepoints_cy.ts, so this test checks
that the plugin picks the translation up, not the wording of the translation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QEvent

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "i18n" / "ev_chargepoints_cy.ts"
QM = TS.with_suffix(".qm")
PROVIDER_ID = "evchargepoints"
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\d+|<[^<>]+>")


def _messages(path: Path = TS) -> list[tuple[str, str, ET.Element]]:
    """(context, source, <translation> element) of every message of a .ts file."""
    root = ET.parse(path).getroot()
    return [(context.findtext("name"), message.findtext("source") or "",
             message.find("translation"))
            for context in root.iter("context") for message in context.iter("message")]


def _welsh(context: str, source: str) -> str:
    for ctx, src, translation in _messages():
        if ctx == context and src == source:
            return translation.text or ""
    raise AssertionError(f"{source!r} ({context}) is not in {TS.name}")


def _unfinished(path: Path = TS) -> list[str]:
    return [f"{ctx}: {src!r}" for ctx, src, translation in _messages(path)
            if translation is None or translation.get("type") in ("unfinished", "obsolete")
            or not (translation.text or "").strip()]


def _flush_deletes():
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def test_every_message_is_translated():
    messages = _messages()
    assert len(messages) > 200
    assert _unfinished() == []


def test_translations_keep_placeholders_markup_and_spacing():
    wrong = []
    for ctx, src, translation in _messages():
        text = translation.text or ""
        if (sorted(PLACEHOLDER.findall(src)) != sorted(PLACEHOLDER.findall(text))
                or src[:1].isspace() != text[:1].isspace()
                or src.count("\n") != text.count("\n")
                or src.endswith("…") != text.endswith("…")):
            wrong.append(f"{ctx}: {src!r} -> {text!r}")
    assert wrong == []


def test_the_code_has_no_message_missing_from_the_translation(tmp_path):
    """What pylupdate5 extracts now is all in the .ts, translated (run `make transup`)."""
    pylupdate = shutil.which("pylupdate5")
    assert pylupdate is not None, ("pylupdate5 is missing: `make setup` installs it "
                                   "(Debian pyqt5-dev-tools)")
    current = tmp_path / TS.name
    shutil.copy(TS, current)
    sources = sorted(str(p) for p in (ROOT / "ev_chargepoints").rglob("*.py"))
    subprocess.run([pylupdate, "-noobsolete", *sources, "-ts", str(current)], check=True,
                   capture_output=True)
    assert _unfinished(current) == [], "new or changed texts: run `make transup`, translate"


def compile_welsh() -> None:
    """The compiled translation, as fresh as the .ts (what `make transcompile` does)."""
    if not QM.exists() or QM.stat().st_mtime < TS.stat().st_mtime:
        lrelease = shutil.which("lrelease")
        if lrelease is None:
            pytest.fail(f"{QM.name} is missing and lrelease is not installed (make transcompile)")
        subprocess.run([lrelease, "-silent", str(TS), "-qm", str(QM)], check=True)


@pytest.fixture()
def welsh_locale():
    """QGIS locale set to Welsh, with the compiled translation present; restored after."""
    compile_welsh()
    settings = QgsSettings()
    had_value = settings.contains("locale/userLocale")
    before = settings.value("locale/userLocale")
    settings.setValue("locale/userLocale", "cy_GB")
    try:
        yield
    finally:
        if had_value:
            settings.setValue("locale/userLocale", before)
        else:
            settings.remove("locale/userLocale")


def test_welsh_locale_shows_the_welsh_menu_toolbar_docks_and_processing(
        welsh_locale, qgis_iface, plugin_package):
    registry = QgsApplication.processingRegistry()
    if registry.providerById(PROVIDER_ID) is not None:  # registered by another test's fixture
        registry.removeProvider(registry.providerById(PROVIDER_ID))
    plugin_ctx = "EvChargepointsPlugin"
    menu = _welsh(plugin_ctx, "EV Charge Points")
    assert menu and menu != "EV Charge Points"

    qgis_iface.addPluginToWebMenu.reset_mock()
    qgis_iface.removePluginWebMenu.reset_mock()
    plugin = plugin_package.classFactory(qgis_iface)
    try:
        assert plugin.translator is not None, "the Welsh .qm was not loaded"
        plugin.initGui()
        menus = {c.args[0] for c in qgis_iface.addPluginToWebMenu.call_args_list}
        assert menus == {menu}
        texts = {c.args[1].text() for c in qgis_iface.addPluginToWebMenu.call_args_list}
        for source in ("Load London charge points", "Area summary…", "Candidate sites…",
                       "Export committee maps…", "Watch live status",
                       "About EV Charge Points…"):
            assert _welsh(plugin_ctx, source) in texts, source
        # every action of the menu: a Welsh text of the plugin's context, no English left
        welsh = {t.text: src for ctx, src, t in _messages() if ctx == plugin_ctx}
        assert texts <= set(welsh), texts - set(welsh)
        assert all(welsh[text] != text for text in texts)
        assert plugin.toolbar.windowTitle() == menu
        assert plugin.period_box.toolTip() == _welsh(
            plugin_ctx, "Period shown on the map (restyles, no reload)")
        titles = {d.windowTitle() for d in plugin.docks}
        assert titles == {_welsh("AreaSummaryDock", "Area summary"),
                          _welsh("CandidateSitesDock", "Candidate sites")}

        provider = registry.providerById(PROVIDER_ID)
        assert provider is not None
        assert provider.name() == _welsh("EvChargepointsProvider", "EV charge points")
        algorithms = {a.name(): a for a in provider.algorithms()}
        if algorithms:  # none when optional packages are missing
            validate = algorithms["validate"]
            assert validate.displayName() == _welsh(
                "ValidateAlgorithm", "Check files against the data standard")
            validate_params = {p.name(): p.description() for p in
                               validate.parameterDefinitions()}
            assert validate_params["FILES"] == _welsh(
                "ValidateAlgorithm", "Files to check (optional with the store's status history)")
            # texts of a base class are found from a subclass, and shared module texts
            analyse = algorithms["analysesites"]
            assert analyse.group() == _welsh("_SitesAlgorithm", "Candidate sites")
            params = {p.name(): p.description() for p in analyse.parameterDefinitions()}
            assert params["DISTANCE"] == _welsh("_SitesAlgorithm", "Catchment distance (m)")
            assert params["STORE"] == _welsh("EvAlgorithm", "Workspace store (GeoPackage)")
    finally:
        plugin.unload()
        _flush_deletes()
    removed = {c.args[0] for c in qgis_iface.removePluginWebMenu.call_args_list}
    assert removed == {menu}
    assert plugin.translator is None
    # the translator is gone with the plugin: English again
    assert QCoreApplication.translate(plugin_ctx, "Load London charge points") == \
        "Load London charge points"
