"""Install the missing optional packages with pip in a ``QgsTask`` (progress, cancel).

pip installs into ``<profile>/python/ev_chargepoints-packages`` (see core.optional),
which ``use_packages_folder`` puts on sys.path when the plugin starts. The task streams
pip's lines through its ``line`` signal (received on the main thread) and reports
success or, in words, failure with the command to run by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication, pyqtSignal

from ..core import optional
from ..core.optional import InstallOutcome, InstallPlan, OptionalPackage
from .tasks import CoreTask, start


def packages_folder() -> Path:
    """The plugin's package folder in the active QGIS profile."""
    return optional.packages_folder(QgsApplication.qgisSettingsDirPath())


def use_packages_folder() -> bool:
    """What an earlier install put in the profile's package folder imports from now on."""
    return optional.use_packages_folder(packages_folder())


def missing() -> list[OptionalPackage]:
    return optional.missing()


def install_plan(packages: Optional[list[OptionalPackage]] = None,
                 python: Optional[str] = None) -> InstallPlan:
    """The pip run for ``packages`` (default: every missing one) into the profile's folder.
    Raises PackageInstallError when QGIS's Python interpreter cannot be found."""
    return optional.install_plan(packages_folder(), packages, python,
                                 QCoreApplication.translate)


class PackageInstallTask(CoreTask):
    """pip as a background task: ``line`` carries each line pip prints."""

    line = pyqtSignal(str)

    def __init__(self, plan: InstallPlan,
                 on_done: Optional[Callable[[InstallOutcome], None]] = None,
                 on_error: Optional[Callable[[str], None]] = None,
                 env: Optional[dict] = None):
        self.plan = plan
        self.pid: Optional[int] = None
        super().__init__(
            QCoreApplication.translate("OptionalPackages", "Installing {packages} with pip")
            .format(packages=", ".join(plan.requirements)),
            self._install, on_done, on_error)
        self._env = env

    def _install(self, progress, _feedback) -> InstallOutcome:
        return optional.run_pip(self.plan, progress, on_line=self.line.emit, env=self._env,
                                translate=QCoreApplication.translate, started=self._started)

    def finished(self, ok: bool) -> None:
        if ok:  # on the main thread: what pip installed imports from now on
            optional.use_packages_folder(self.plan.target)
        super().finished(ok)

    def _started(self, pid: int) -> None:
        self.pid = pid


def start_install(plan: InstallPlan, on_line: Optional[Callable[[str], None]] = None,
                  on_done: Optional[Callable[[InstallOutcome], None]] = None,
                  on_error: Optional[Callable[[str], None]] = None,
                  env: Optional[dict] = None) -> PackageInstallTask:
    """Run the plan's pip in the QGIS task manager."""
    task = PackageInstallTask(plan, on_done, on_error, env)
    if on_line is not None:
        task.line.connect(on_line)
    return start(task)
