"""Real pip runs without the internet: a wheel built here, a fresh venv that lacks it,
pip's environment cut off from the machine's pip configuration, and a loopback server
that accepts connections and never answers (so pip hangs until it is cancelled)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

FAKE_NAME = "evcp_fake_pkg"
FAKE_REQUIREMENT = "evcp-fake-pkg==1.0"
FAKE_VALUE = "installed by pip for the test"


def build_wheel(folder: Path, name: str = FAKE_NAME, version: str = "1.0") -> Path:
    """A pure-Python wheel of package ``name`` (``VALUE`` in its __init__) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {FAKE_VALUE!r}\n",
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                             f"Version: {version}\nSummary: test package\n"),
        f"{info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: ev_chargepoints tests\n"
                          "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def make_venv(folder: Path, with_pip: bool = True) -> str:
    """``python -m venv`` (no system site-packages); returns its python."""
    command = [sys.executable, "-m", "venv", str(folder)]
    if not with_pip:
        command.insert(3, "--without-pip")
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return str(folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def pip_env() -> dict:
    """The environment with the machine's pip configuration (indexes, find-links) cut off."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def imports_in(python: str, folder: Path, name: str = FAKE_NAME) -> subprocess.CompletedProcess:
    """Import ``name`` in ``python`` with ``folder`` appended to sys.path."""
    code = (f"import sys; sys.path.append({str(folder)!r}); import {name}; "
            f"print({name}.VALUE)")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def silent_server():
    """A loopback HTTP address that accepts connections and never answers; yields the
    index URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/simple", held
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def process_alive(pid: int) -> bool:
    if os.name == "nt":
        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}"], capture_output=True,
                             text=True).stdout
        return str(pid) in out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped) counts as gone
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return True
