"""The README's headless examples run as written.

The ```bash block under "Headless use" is read from README.md and each command run
with bash, in order, in an empty folder holding only what a clone has (``.venv``,
``ev_chargepoints``, ``resources``), with ``.venv/bin`` first on PATH as
``. .venv/bin/activate`` puts it (``make setup`` installs the ``ev-chargepoints`` command
there). Nothing reaches the internet: the README names its
placeholders (the operator's OCPI address and token variable) and the environment
variable that points ``fetch --datastore`` elsewhere; the test serves both from the
loopback replay server (real bundled data) and fails on any other address. ``watch``
runs until Ctrl-C, so it gets one after its first poll, as a person would send it.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from replay_server import ReplayServer

from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.store.geopackage import HistoryStore

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DATA = ROOT / "resources" / "data"
TOKEN = "readme-example-token"
STEP_TIMEOUT = 1800  # seconds; export draws 33 borough pages


def _flat(text: str) -> str:
    return " ".join(text.split())


def headless_section() -> str:
    start = README.index("## Headless use")
    return README[start:README.index("\n## ", start + 1)]


def readme_commands() -> list[str]:
    """The logical lines of the section's bash block (continuations joined, comments
    and blank lines left out)."""
    block = re.search(r"```bash\n(.*?)```", headless_section(), re.S).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def placeholders() -> tuple[str, str, str]:
    """(operator address, token variable, Datastore variable) as the README names them."""
    text = _flat(headless_section())
    url, token_env = re.search(r"`(https://\S+)` stands for your operator's OCPI 2\.2\.1 "
                               r"Locations address and `(\w+)` for the environment "
                               r"variable holding its token", text).groups()
    datastore_env = re.search(r"`fetch --datastore` without an address fetches from "
                              r"\S+, or from the address in `(\w+)` when", text).group(1)
    return url, token_env, datastore_env


def subcommand(line: str) -> str:
    words = shlex.split(line)
    if words[0] != "ev-chargepoints":
        return words[0]
    return words[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every README command, run in order: [(line, CompletedProcess)]; the server."""
    folder = tmp_path_factory.mktemp("clone")
    for name in (".venv", "ev_chargepoints", "resources"):
        (folder / name).symlink_to(ROOT / name)
    url, token_env, datastore_env = placeholders()
    results = []
    with ReplayServer(token=TOKEN) as server:
        served = f"{server.url}/ocpi/2.2.1/locations"
        env = dict(os.environ, **{token_env: TOKEN, datastore_env: server.url,
                                  "QT_QPA_PLATFORM": "offscreen"})
        env.pop("PYTHONPATH", None)  # the clone's own package, as a user runs it
        env["PATH"] = f"{folder / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        for line in readme_commands():
            command = line.replace(url, served)
            addresses = set(re.findall(r"https?://\S+", command)) - {served}
            assert not addresses, f"{line}: reaches {addresses}, not served here"
            if subcommand(line) == "watch":
                results.append((line, _interrupt_after_first_poll(command, folder, env)))
            else:
                results.append((line, subprocess.run(
                    ["bash", "-c", command], cwd=folder, env=env, capture_output=True,
                    text=True, timeout=STEP_TIMEOUT)))
        hits = dict(server.hits)
        served = {"locations": len(server.fixtures.locations),
                  "rapid": server.fixtures.rapid_count}
    return folder, results, hits, served


def _interrupt_after_first_poll(command, folder, env):
    # Ctrl-C in a user's terminal interrupts; a SIGINT ignored by this test process (QGIS
    # loaded in it may ignore it) would be inherited across exec and never stop the child
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(["bash", "-c", command], cwd=folder, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    ready, _, _ = select.select([process.stdout], [], [], STEP_TIMEOUT)
    first = process.stdout.readline() if ready else ""  # a poll prints a line per import
    os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, first + out, err)


def step(run, name: str, which: int = 0):
    matches = [(line, result) for line, result in run[1] if subcommand(line) == name]
    return matches[which]


def test_every_example_runs_as_written(run):
    failed = [f"{line}\n  exit {r.returncode}\n  {r.stdout[-2000:]}\n  {r.stderr[-2000:]}"
              for line, r in run[1] if r.returncode != 0 or "Traceback" in r.stderr]
    assert failed == []
    assert len(run[1]) == len(readme_commands()) >= 12


def test_help_lists_every_command_the_readme_uses(run):
    _, result = step(run, "--help")
    used = {subcommand(line) for line in readme_commands()} - {"--help", "printf"}
    for name in used:
        assert re.search(rf"^\s+{name}\b", result.stdout, re.M), name


def test_the_bundled_files_import(run):
    line, dundee = step(run, "import", 0)
    assert "resources/data/dundee/*.csv.gz" in line
    names = sorted(p.name for p in (DATA / "dundee").glob("*.csv.gz"))
    lines = dundee.stdout.strip().splitlines()
    assert [x.split(":")[0] for x in lines] == names
    assert not [x for x in lines if "not imported" in x]
    _, registry = step(run, "import", 1)
    assert "devices: 8940 added" in registry.stdout


def test_the_fetches_reach_the_local_server_and_import(run):
    _, _, hits, served = run
    _, datastore = step(run, "fetch", 0)
    assert any(path.startswith("/api/") for path in hits), hits
    # dataset 2lzpg: the registry's rapid devices, all already imported from the registry
    assert datastore.stdout.startswith(
        f"2lzpg/Rapid_charging_points.csv: {served['rapid']} rows read"), \
        datastore.stdout + datastore.stderr
    _, ocpi = step(run, "fetch", 1)
    assert hits.get("/ocpi/2.2.1/locations", 0) > 0
    assert f"{served['locations']} rows read" in ocpi.stdout and "devices:" in ocpi.stdout


def test_utilisation_counts_every_ended_session(run):
    folder = run[0]
    usage = read_csv(folder / "u.csv")
    with HistoryStore.create_or_open(folder / "my.gpkg") as store:
        sessions = store.sessions(columns=["start_utc", "end_utc"])
    ended = int((sessions["end_utc"].notna()
                 & (sessions["end_utc"] >= sessions["start_utc"])).sum())
    assert usage["sessions"].sum() == ended > 0


def test_summary_has_every_ward(run):
    folder = run[0]
    wards = read_csv(folder / "wards.csv")
    with sqlite3.connect(DATA / "london" / "london_wards_2018.gpkg") as conn:
        count, = conn.execute("SELECT count(*) FROM london_wards_2018").fetchone()
    assert wards["area_code"].nunique() == count


def test_sites_are_ranked_and_suggested(run):
    folder = run[0]
    sites = read_csv(folder / "sites.csv")
    with sqlite3.connect(folder / "ranked.gpkg") as conn:
        table, = conn.execute("SELECT table_name FROM gpkg_contents").fetchone()
        ranked, = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    assert ranked == len(sites)
    suggest = int(re.search(r"--suggest (\d+)", step(run, "sites")[0]).group(1))
    with sqlite3.connect(folder / "ranked_suggested.gpkg") as conn:
        table, = conn.execute("SELECT table_name FROM gpkg_contents").fetchone()
        suggested, = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    assert 0 < suggested <= min(suggest, len(sites))


def test_export_writes_the_atlas(run):
    folder = run[0]
    pdfs = sorted((folder / "papers").glob("*.pdf"))
    assert len(pdfs) == 1  # --combined: one PDF
    info = subprocess.run(["pdfinfo", str(pdfs[0])], capture_output=True, text=True,
                          check=True).stdout
    with sqlite3.connect(DATA / "london" / "london_boroughs.gpkg") as conn:
        boroughs, = conn.execute("SELECT count(*) FROM london_boroughs").fetchone()
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) >= boroughs


def test_validate_passes_the_valid_examples(run):
    report = json.loads((run[0] / "report" / "report.json").read_text(encoding="utf-8"))
    assert {op["verdict"] for op in report["operators"]} == {"pass"}


def test_watch_polls_until_interrupted(run):
    line, result = step(run, "watch")
    assert "--every 300" in line
    first = result.stdout.splitlines()[0]
    assert "status_snapshots:" in first, result.stdout + result.stderr
    assert "Stopped; every completed poll is in the store." in result.stderr
