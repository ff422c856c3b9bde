"""Run the plugin inside the real QGIS Desktop (Debian package ``qgis``).

Makes a throw-away QGIS profile with the plugin linked in and enabled, starts
QGIS (under Xvfb unless --show), runs ``tools/desktop_workflow.py`` inside it,
and reads back the JSON the workflow writes: steps passed, Python errors seen in
the QGIS message log (also while QGIS closes), screenshots taken, the seconds of the
first "Load London charge points" (fresh profile, fresh workspace store) and of a second
one (``load_first_s``, ``load_second_s``; also printed on stderr), and QGIS's own exit
status, which must be 0: the workflow quits through Project ▸ Exit QGIS.

    python3 tools/desktop_run.py --out DIR          # headless, exit status = result
    python3 tools/desktop_run.py --out DIR --show   # on your display (make demo-gui)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "tools" / "desktop_workflow.py"
REPLAY_SERVER = ROOT / "tests" / "support" / "replay_server.py"


def start_feed_server(timeout: int):
    """A loopback OCPI 2.2.1 feed built from the bundled registry (the workflow watches
    its live status): the server process and its locations URL."""
    server = subprocess.Popen([sys.executable, str(REPLAY_SERVER), "--port", "0",
                               "--max-seconds", str(timeout)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        server.kill()
        raise SystemExit(f"the loopback OCPI feed did not start (it printed {url!r})")
    return server, url + "/ocpi/2.2.1/locations"


def make_profile(base: Path) -> Path:
    profile = base / "profiles" / "default"
    plugins = profile / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "ev_chargepoints").symlink_to(ROOT, target_is_directory=True)
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    # Nobody is there to answer a dialog: the workflow quits through Project ▸ Exit QGIS,
    # so no "save the project?" / "memory layers will be lost" questions, and no attempt to
    # download fonts missing from the machine (QGIS 3.40 fetches Open Sans for its default
    # style; offline that only puts "font installation failed" in the message bar).
    ini.write_text("[PythonPlugins]\nev_chargepoints=true\n\n"
                   "[qgis]\nshowTips=false\ncheckVersion=false\n"
                   "allowVersionCheck=false\naskToSaveProjectChanges=false\n"
                   "[app]\naskToSaveMemoryLayers=false\n"
                   "[fonts]\ndownloadMissingFonts=false\n"
                   "[core]\nNewsFeed\\httpsdata.qgis.org\\disabled=true\n", encoding="utf-8")
    return base


def fresh_workspace(out: Path) -> None:
    """The first load is timed on a fresh workspace: no store (and nothing derived from
    one) left in ``out`` by an earlier run. The demo's own store is kept."""
    for path in out.glob("workspace*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def load_seconds_line(result: dict) -> str:
    """One line for the terminal: both timed loads against the issue's targets."""
    targets = result.get("load_targets_s") or {"first": 10.0, "second": 3.0}
    parts = []
    for which in ("first", "second"):
        seconds = result.get(f"load_{which}_s")
        target = targets.get(which)
        verdict = "not measured" if seconds is None else (
            f"{seconds:.2f} s (target ≤ {target:g} s: "
            f"{'met' if seconds <= target else 'NOT MET'})")
        parts.append(f"{which} load {verdict}")
    return "Load London charge points: " + "; ".join(parts)


def pip_packages() -> list[str]:
    """Where pip put the packages Debian lacks (duckdb, pyogrio, ...): the project venv's
    own site-packages. QGIS's Python gets them as a user's QGIS gets them after
    `pip install --user duckdb` (README); numpy, pandas and QGIS stay Debian's."""
    return [str(p) for p in sorted((ROOT / ".venv" / "lib").glob("python3*/site-packages"))]


def run(out: Path, show: bool, timeout: int) -> dict:
    qgis = shutil.which("qgis")
    if not qgis:
        raise SystemExit("The QGIS Desktop application is not installed "
                         "(Debian package 'qgis'; `make setup` installs it).")
    out.mkdir(parents=True, exist_ok=True)
    result_file = out / "desktop_result.json"
    result_file.unlink(missing_ok=True)
    result_file.with_name("python_errors.txt").unlink(missing_ok=True)
    fresh_workspace(out)
    feed_server, feed_url = start_feed_server(timeout)
    try:
        return _run_qgis(qgis, out, show, timeout, result_file, feed_url)
    finally:
        feed_server.kill()
        feed_server.wait()


def _run_qgis(qgis: str, out: Path, show: bool, timeout: int, result_file: Path,
              feed_url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="evcp-qgis-") as tmp:
        base = make_profile(Path(tmp))
        # QGIS embeds the system Python: keep pyenv/venv interpreters out of its way
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYENV", "PYTHON", "VIRTUAL_ENV", "CONDA"))}
        env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        if pip_packages():
            env["PYTHONPATH"] = os.pathsep.join(pip_packages())
        env.update({"EVCP_OUT": str(out), "EVCP_RESULT": str(result_file),
                    "EVCP_KEEP_OPEN": "1" if show else "0", "HOME": tmp,
                    "XDG_RUNTIME_DIR": tmp, "QGIS_DISABLE_MESSAGE_HOOKS": "0",
                    "EVCP_OCPI_URL": feed_url,
                    "EVCP_NETWORK": str(ROOT / "tests" / "data" / "networks"
                                        / "central_london_highways_osm.gpkg")})
        env.pop("QT_QPA_PLATFORM", None)
        cmd = [qgis, "--profiles-path", str(base), "--nologo", "--noversioncheck",
               "--code", str(WORKFLOW)]
        if not show:
            cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *cmd]
        log_path = out / "qgis_output.txt"
        # output to a file, not a pipe: Xvfb inherits the pipe and would keep it open
        with open(log_path, "w", encoding="utf-8") as log_file:
            try:
                proc = subprocess.run(cmd, env=env, timeout=timeout, stdout=log_file,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                errors_file = result_file.with_name("python_errors.txt")
                return {"ok": False, "error": f"QGIS did not finish within {timeout} s",
                        "result_written": result_file.exists(),
                        "python_errors": json.loads(errors_file.read_text(encoding="utf-8"))
                        if errors_file.exists() else [],
                        "output_tail": log_path.read_text(encoding="utf-8",
                                                          errors="replace")[-3000:]}
    if not result_file.exists():
        return {"ok": False, "error": f"QGIS exited with {proc.returncode} and wrote no result",
                "output_tail": log_path.read_text(encoding="utf-8", errors="replace")[-3000:]}
    result = json.loads(result_file.read_text(encoding="utf-8"))
    # Python errors logged after the result was written: while QGIS closed the project,
    # unloaded the plugin and shut down
    errors_file = result_file.with_name("python_errors.txt")
    if errors_file.exists():
        logged = json.loads(errors_file.read_text(encoding="utf-8"))
        result["python_errors"] += [e for e in logged if e not in result["python_errors"]]
        result["ok"] = result["ok"] and not result["python_errors"]
    # QGIS must also shut down cleanly: a crash while closing is a failure (on 3.22 it
    # died on signal 11 clearing the project and this status was 134)
    result["exit_code"] = proc.returncode
    if proc.returncode != 0:
        result["ok"] = False
        result["exit_output_tail"] = log_path.read_text(encoding="utf-8",
                                                        errors="replace")[-4000:]
    result_file.write_text(json.dumps(result, indent=2), encoding="utf-8")  # the full verdict
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output" / "desktop")
    parser.add_argument("--show", action="store_true", help="use the current display")
    parser.add_argument("--timeout", type=int, default=1500,
                        help="seconds for the whole run (loading London alone can take "
                             "minutes on a busy machine)")
    args = parser.parse_args(argv)
    result = run(args.out, args.show, args.timeout)
    print(json.dumps(result, indent=2))
    print(load_seconds_line(result), file=sys.stderr)  # stdout stays the JSON alone
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
