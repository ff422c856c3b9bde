"""`make package` builds a zip the QGIS plugin repository would accept."""

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import package  # noqa: E402


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the package is built from git archive: run the tests in a git clone")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "package.py"), "--out",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def test_zip_has_one_top_folder_with_the_plugin_and_no_tests(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = zf.namelist()
    assert {n.split("/", 1)[0] for n in names} == {"ev_chargepoints"}
    for required in ("metadata.txt", "__init__.py", "LICENSE",
                     "ev_chargepoints/gui/plugin.py", "ev_chargepoints/core/sources/transport.py",
                     "resources/icons/icon.png",
                     "resources/data/london/london_boroughs.gpkg"):
        assert f"ev_chargepoints/{required}" in names, required
    assert not [n for n in names if "/tests/" in n or "/bench/" in n or "/.ci/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert package.validate(built_zip) == []


def test_zip_ships_compiled_translations_for_every_ts(built_zip):
    ts_files = sorted(p.stem for p in (ROOT / "i18n").glob("*.ts"))
    with zipfile.ZipFile(built_zip) as zf:
        qm = sorted(Path(n).stem for n in zf.namelist() if n.endswith(".qm"))
    assert ts_files, "no translation sources in i18n/"
    assert qm == ts_files


def test_metadata_changelog_comes_from_changelog_md(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        text = zf.read("ev_chargepoints/metadata.txt").decode("utf-8")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    changelog = parser["general"]["changelog"]
    first_bullet = next(line[2:] for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
                        if line.startswith("- "))
    assert first_bullet in changelog
    assert parser["general"]["version"] in changelog


def test_validate_rejects_a_zip_with_two_top_folders(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("ev_chargepoints/metadata.txt", "[general]\nname=x\n")
        zf.writestr("other/__init__.py", "")
    problems = package.validate(bad)
    assert any("one top folder" in p for p in problems)
    assert any("LICENSE" in p for p in problems)


def test_metadata_declares_qgis_3_40_to_4_and_qt6():
    meta = package.read_metadata((ROOT / "metadata.txt").read_text(encoding="utf-8"))
    assert meta["qgisMinimumVersion"] == "3.40"
    assert meta["qgisMaximumVersion"] == "4.99"
    assert meta["supportsQt6"] == "True"
