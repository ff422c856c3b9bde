"""Probe the optional Python packages once (some QGIS installs lack them), and install
the missing ones with pip into a folder of the plugin's own (``PACKAGES_FOLDER``).

Adding a package is one ``OptionalPackage`` entry in ``PACKAGES``: its import name, its
pip requirement (the pin of requirements/runtime.txt), what the user loses without it
and which group of features it belongs to.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .errors import EvChargepointsError
from .progress import Cancelled, Progress

# The notice is shown by the plugin in the user's language: its texts are marked for
# pylupdate5 (context "OptionalPackages", translated in i18n/) and the plugin passes
# QCoreApplication.translate; this module stays free of Qt.
CONTEXT = "OptionalPackages"
Translate = Callable[[str, str], str]


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Qt's marker for pylupdate5 (the text is translated where it is shown)."""
    return text


def untranslated(context: str, text: str) -> str:
    return text


# groups: what the plugin does when a package of the group is missing
GROUP_ANALYSIS = "analysis"    # the features that need it are switched off
GROUP_HISTORY = "history"      # charge points and areas load without usage
GROUP_FAST_PATH = "fast_path"  # everything else works
GROUP_OTHER = "other"          # everything else works


@dataclass(frozen=True)
class OptionalPackage:
    name: str            # the import name
    requirement: str     # what pip installs: the pin of requirements/runtime.txt
    use: str             # what the user loses without it (marked for translation)
    group: str = GROUP_OTHER
    debian: str = ""     # the Debian/Ubuntu package, if there is one
    in_qgis: bool = True  # False: only the command line uses it; the plugin never offers it
    numpy_abi: bool = False  # built against numpy: must match the numpy QGIS runs


PACKAGES: tuple[OptionalPackage, ...] = (
    OptionalPackage("pandas", "pandas>=1.5", QT_TRANSLATE_NOOP(
        "OptionalPackages", "importing, utilisation, summaries and site analysis"),
        GROUP_ANALYSIS, debian="python3-pandas", numpy_abi=True),
    OptionalPackage("duckdb", "duckdb==2.0.1", QT_TRANSLATE_NOOP(
        "OptionalPackages", "usage history: sessions, status and utilisation"), GROUP_HISTORY),
    OptionalPackage("pyogrio", "pyogrio==0.13.0", QT_TRANSLATE_NOOP(
        "OptionalPackages", "reading boundary files other than GeoPackage, such as "
        "Shapefile or GeoJSON"), GROUP_FAST_PATH, numpy_abi=True),
    OptionalPackage("openpyxl", "openpyxl==3.1.5", QT_TRANSLATE_NOOP(
        "OptionalPackages", "exporting tables to Excel (XLSX)"), GROUP_OTHER,
        debian="python3-openpyxl"),
    OptionalPackage("scipy", "scipy>=1.10", QT_TRANSLATE_NOOP(
        "OptionalPackages", "walking catchments on a street network"), GROUP_OTHER,
        debian="python3-scipy", numpy_abi=True),
)
BY_NAME = {package.name: package for package in PACKAGES}


def _group(group: str) -> dict[str, str]:
    return {p.name: p.use for p in PACKAGES if p.group == group and p.in_qgis}


# package -> what the user loses without it (one dict per group)
OPTIONAL = _group(GROUP_ANALYSIS)
HISTORY = _group(GROUP_HISTORY)  # everything else works (charge points, areas, the map)
FAST_PATH = _group(GROUP_FAST_PATH)
DEBIAN_PACKAGES = {p.name: p.debian for p in PACKAGES if p.debian}  # others: pip only


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a broken or half-removed install
        return True


def missing(group: Optional[str] = None) -> list[OptionalPackage]:
    """The packages the plugin can use that are not installed (of ``group``, or all)."""
    return [p for p in PACKAGES
            if p.in_qgis and (group is None or p.group == group) and _absent(p.name)]


def missing_packages() -> list[str]:
    """Required-for-analysis packages that are not installed."""
    return [p.name for p in missing(GROUP_ANALYSIS)]


def missing_history() -> list[str]:
    """The usage history's engine (duckdb), when it is not installed."""
    return [p.name for p in missing(GROUP_HISTORY)]


def missing_fast_path() -> list[str]:
    return [p.name for p in missing(GROUP_FAST_PATH)]


def install_hint(names: list[str], translate: Translate = untranslated) -> str:
    """What is missing, what it costs, and how to add it (one paragraph)."""
    listed = ", ".join(
        translate("OptionalPackages", "{name} (needed for {use})").format(
            name=name, use=translate(CONTEXT, BY_NAME[name].use))
        if name in BY_NAME else name
        for name in names)
    apt = [DEBIAN_PACKAGES[n] for n in names if n in DEBIAN_PACKAGES]
    debian = translate("OptionalPackages", " or '{command}' on Debian/Ubuntu").format(
        command=f"sudo apt install {' '.join(apt)}") if apt else ""
    return translate(
        "OptionalPackages",
        "Missing Python package(s): {listed}. Install them into the Python QGIS uses, "
        "e.g. '{command}' (OSGeo4W shell on Windows){debian}, then restart QGIS.").format(
        listed=listed, command=f"python3 -m pip install {' '.join(names)}", debian=debian)


def startup_notice(translate: Translate = untranslated) -> Optional[str]:
    """The one message to show when the plugin loads (in the language ``translate``
    gives), or None if nothing is missing."""
    absent = missing()
    if not absent:
        return None
    hint = install_hint([p.name for p in absent], translate)
    groups = {p.group for p in absent}
    if GROUP_ANALYSIS in groups:
        return hint + translate("OptionalPackages",
                                " Until then the features that need them are switched off.")
    if GROUP_HISTORY in groups:
        return hint + translate("OptionalPackages",
                                " Until then charge points and areas load without usage.")
    return hint + translate("OptionalPackages", " Everything else works.")


# --- installing the missing packages with pip ------------------------------------------
# pip installs into a folder of the plugin's own in the QGIS profile, put on sys.path
# (last: QGIS's own packages win) when the plugin starts. ``pip install --target`` skips
# the PEP 668 "externally managed" refusal of Debian/Ubuntu's system Python that plain
# and --user installs hit, needs no administrator rights, and leaves QGIS's Python alone.
PACKAGES_FOLDER = "ev_chargepoints-packages"
# pip's own chatter the user never needs in the command shown to them
_QUIET = ("--no-input", "--disable-pip-version-check", "--progress-bar", "off")
# what pip prints when it cannot reach the package index (urllib3, ssl, socket errors)
_NETWORK_SIGNS = ("NewConnectionError", "Failed to establish a new connection",
                  "ConnectTimeoutError", "ReadTimeoutError", "Temporary failure in name "
                  "resolution", "Name or service not known", "getaddrinfo failed",
                  "Network is unreachable", "No route to host", "ProxyError", "SSLError",
                  "Connection refused", "connection broken by", "Could not fetch URL")
_NO_PIP_SIGNS = ("No module named pip", "No module named 'pip'")


class PackageInstallError(EvChargepointsError):
    """pip could not install the packages; ``message`` says why and gives the command
    (``command``) to run by hand."""

    def __init__(self, message: str, command: str = "", output: str = ""):
        super().__init__(message)
        self.command = command
        self.output = output


def packages_folder(profile_dir: os.PathLike | str) -> Path:
    """The plugin's package folder in a QGIS profile (``<profile>/python/...``)."""
    return Path(profile_dir) / "python" / PACKAGES_FOLDER


def use_packages_folder(folder: os.PathLike | str) -> bool:
    """Put ``folder`` at the end of sys.path (if it exists) so what pip installed there
    imports; True if it is on sys.path now."""
    folder = str(folder)
    if not os.path.isdir(folder):
        return False
    if folder not in sys.path:
        sys.path.append(folder)
    importlib.invalidate_caches()
    return True


def python_candidates(executable: str, exec_prefix: str, windows: bool,
                      version: Sequence[int]) -> list[Path]:
    """Where the Python interpreter of this process may be, best first. In QGIS,
    ``sys.executable`` is often QGIS itself (qgis-bin.exe in OSGeo4W, QGIS.app's binary
    on macOS); the interpreter is in ``sys.exec_prefix`` or beside the binary."""
    major_minor = f"{version[0]}.{version[1]}"
    exe = Path(executable) if executable else None
    found: list[Path] = []
    if exe is not None and exe.name.lower().startswith("python"):
        found.append(exe)
    prefix = Path(exec_prefix)
    if windows:
        found += [prefix / "python.exe", prefix / "python3.exe"]
        if exe is not None:
            found += [exe.parent / "python.exe", exe.parent / "python3.exe",
                      exe.parent / f"python{version[0]}{version[1]}.exe"]
    else:
        names = (f"python{major_minor}", f"python{version[0]}", "python")
        found += [prefix / "bin" / name for name in names]
        if exe is not None:  # macOS QGIS.app: Contents/MacOS/QGIS and Contents/MacOS/bin
            found += [exe.parent / "bin" / name for name in names]
            found += [exe.parent / name for name in names]
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find_python() -> Optional[str]:
    """The Python interpreter that runs this process (the one QGIS uses), or None."""
    for path in python_candidates(sys.executable, sys.exec_prefix, os.name == "nt",
                                  sys.version_info):
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


@dataclass
class InstallPlan:
    """One pip run: ``python -m pip install --target FOLDER REQUIREMENTS``."""

    python: str
    target: Path
    packages: list[OptionalPackage]
    python_version: str = f"{sys.version_info[0]}.{sys.version_info[1]}"
    windows: bool = os.name == "nt"
    macos: bool = sys.platform == "darwin"
    index_options: list[str] = field(default_factory=list)  # a mirror or --no-index
    retries: int = 2      # pip's default, 5 with backoff, keeps an offline user waiting
    timeout: float = 15
    numpy_version: str = ""  # the numpy QGIS runs (install_plan fills it in)

    @property
    def requirements(self) -> list[str]:
        """The packages' pins, and numpy pinned to the version QGIS runs when one of them
        is built against numpy: pip then picks a release made for that numpy (the newest
        scipy or pandas may need a newer one), and the numpy it puts in the folder is the
        same as QGIS's, which stays first on sys.path (the folder is appended)."""
        pins = [p.requirement for p in self.packages]
        if self.numpy_version and any(p.numpy_abi for p in self.packages):
            pins.append(f"numpy=={self.numpy_version}")
        return pins

    def _arguments(self, quiet: bool) -> list[str]:
        arguments = [self.python, "-m", "pip", "install", "--upgrade",
                     "--target", str(self.target),
                     # wheels built for the Python QGIS runs, even if pip runs another
                     "--only-binary=:all:", "--python-version", self.python_version]
        if quiet:
            arguments += [*_QUIET, "--retries", str(self.retries),
                          "--timeout", f"{self.timeout:g}"]
        return arguments + list(self.index_options) + self.requirements

    def arguments(self) -> list[str]:
        """What the plugin runs."""
        return self._arguments(quiet=True)

    def command_text(self) -> str:
        """The same command for the user to paste (quoted for the platform's shell)."""
        arguments = self._arguments(quiet=False)
        if self.windows:
            return subprocess.list2cmdline(arguments)
        return shlex.join(arguments)

    def where_to_run(self, translate: Translate = untranslated) -> str:
        if self.windows:
            return translate("OptionalPackages", "the OSGeo4W Shell (Start menu, OSGeo4W)")
        if self.macos:
            return translate("OptionalPackages", "Terminal (Applications, Utilities)")
        return translate("OptionalPackages", "a terminal")

    def run_by_hand(self, translate: Translate = untranslated) -> str:
        return translate(
            "OptionalPackages", "To install them by hand, run this command in {where} (it "
            "needs to reach pypi.org), then restart QGIS: {command}").format(
            where=self.where_to_run(translate), command=self.command_text())


def install_plan(target: os.PathLike | str, packages: Optional[list[OptionalPackage]] = None,
                 python: Optional[str] = None,
                 translate: Translate = untranslated) -> InstallPlan:
    """The plan for ``packages`` (default: every missing one) into ``target``."""
    python = python or find_python()
    if python is None:
        raise PackageInstallError(translate(
            "OptionalPackages", "The Python interpreter of QGIS was not found beside "
            "{executable}; install the packages by hand. {hint}").format(
            executable=sys.executable,
            hint=install_hint([p.name for p in (packages or missing())], translate)))
    return InstallPlan(python, Path(target), list(packages if packages is not None
                                                  else missing()),
                       numpy_version=running_numpy_version())


def running_numpy_version() -> str:
    """The version of the numpy this process imports (QGIS's), or "" without one."""
    try:
        import numpy
    except ImportError:
        return ""
    return str(getattr(numpy, "__version__", ""))


@dataclass
class InstallOutcome:
    installed: list[str]  # requirements pip installed
    target: Path
    output: list[str]     # pip's lines
    pid: int              # pip's process id (gone by now)


def _progress_of(line: str, done: float, total: int) -> float:
    """A rough percentage from pip's line (pip prints no overall progress)."""
    if line.startswith("Successfully installed"):
        return 100.0
    if line.startswith("Installing collected packages"):
        return max(done, 85.0)
    if line.startswith(("Collecting", "Processing", "Downloading", "Using cached")):
        return min(80.0, done + 60.0 / max(total * 3, 1))
    return done


def _stop(proc: subprocess.Popen) -> None:
    """Kill pip and what it started (its own process group on POSIX)."""
    try:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    proc.wait()


def run_pip(plan: InstallPlan, progress: Progress,
            on_line: Optional[Callable[[str], None]] = None,
            env: Optional[dict] = None, translate: Translate = untranslated,
            started: Optional[Callable[[int], None]] = None) -> InstallOutcome:
    """Run the plan's pip, pass each output line to ``on_line`` and ``progress``; stop
    (kill) pip when ``progress`` is cancelled. Raises ``Cancelled`` or
    ``PackageInstallError`` (in plain words, with the command to run by hand)."""
    if not plan.packages:
        return InstallOutcome([], plan.target, [], 0)
    plan.target.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ if env is None else env)
    environment["PYTHONIOENCODING"] = "utf-8"
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = subprocess.CREATE_NO_WINDOW
    else:
        options["start_new_session"] = True
    try:
        proc = subprocess.Popen(plan.arguments(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=environment, text=True, encoding="utf-8",
                                errors="replace", **options)
    except OSError as exc:
        raise PackageInstallError(translate(
            "OptionalPackages", "pip could not be started ({error}). {by_hand}").format(
            error=exc, by_hand=plan.run_by_hand(translate)), plan.command_text()) from exc
    if started:
        started(proc.pid)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip())
        lines.put(None)

    reader = threading.Thread(target=read, name="pip output", daemon=True)
    reader.start()
    output: list[str] = []
    done = 1.0
    progress.report(done, translate("OptionalPackages", "Starting pip…"))
    ended = False
    while not ended:
        if progress.cancelled():
            _stop(proc)
            reader.join(5)
            raise Cancelled(translate("OptionalPackages",
                                      "Cancelled by the user: pip was stopped."))
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            ended = True
            continue
        if not line.strip():
            continue
        output.append(line)
        done = _progress_of(line.strip(), done, len(plan.packages))
        progress.report(done, line.strip())
        if on_line:
            on_line(line)
    code = proc.wait()
    if code != 0:
        raise _failure(plan, output, code, translate)
    progress.report(100.0, translate("OptionalPackages", "Installed {packages}.").format(
        packages=", ".join(plan.requirements)))
    return InstallOutcome(plan.requirements, plan.target, output, proc.pid)


def _failure(plan: InstallPlan, output: list[str], code: int,
             translate: Translate) -> PackageInstallError:
    text = "\n".join(output)
    by_hand = plan.run_by_hand(translate)
    if any(sign in text for sign in _NO_PIP_SIGNS):
        message = translate(
            "OptionalPackages", "The Python of QGIS ({python}) has no pip. On Debian/Ubuntu "
            "install it with 'sudo apt install python3-pip'; elsewhere reinstall QGIS with "
            "pip. {by_hand}").format(python=plan.python, by_hand=by_hand)
    elif any(sign in text for sign in _NETWORK_SIGNS):
        message = translate(
            "OptionalPackages", "pip could not reach the package index (no internet "
            "connection, or a proxy or firewall blocks pypi.org). {by_hand}").format(
            by_hand=by_hand)
    else:
        errors = [line.strip() for line in output if line.lstrip().startswith("ERROR")]
        reason = errors[-1] if errors else (output[-1].strip() if output
                                            else f"exit code {code}")
        message = translate("OptionalPackages", "pip could not install {packages}: {reason} "
                            "{by_hand}").format(packages=", ".join(plan.requirements),
                                                reason=reason, by_hand=by_hand)
    return PackageInstallError(message, plan.command_text(), text)
