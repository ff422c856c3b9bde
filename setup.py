"""The parts of the installable distribution pyproject.toml cannot say.

The repository root is the QGIS plugin folder, so ``resources/`` sits beside the
``ev_chargepoints`` package, not in it: the wheel carries it as
``ev_chargepoints/resources`` (core/paths.py looks there when installed). The version is
metadata.txt's, the plugin's one record of it. Each build works in a folder of its own:
setuptools' default ``build/`` in the checkout would ship whatever an earlier build left
there (a module since deleted, say).
"""

import atexit
import configparser
import shutil
import tempfile
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

HERE = Path(__file__).resolve().parent


def plugin_version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(HERE / "metadata.txt", encoding="utf-8")
    return parser["general"]["version"]


BUILD = tempfile.mkdtemp(prefix="ev-chargepoints-build-")
atexit.register(shutil.rmtree, BUILD, ignore_errors=True)

setup(
    version=plugin_version(),
    options={"build": {"build_base": BUILD}},
    # resources/ and its folders, named as packages so setuptools takes them as data
    packages=find_packages(include=["ev_chargepoints", "ev_chargepoints.*"])
    + ["ev_chargepoints.resources"]
    + [f"ev_chargepoints.resources.{name}" for name in find_namespace_packages("resources")],
    package_dir={"ev_chargepoints.resources": "resources"},
    package_data={"ev_chargepoints.resources": ["**/*"]},
)
