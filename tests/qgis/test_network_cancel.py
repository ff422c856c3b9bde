"""A cancel ends a QgsTransport request in a task whenever it arrives.

On QGIS 3.22 a cancel that lands while QgsBlockingNetworkRequest is still
setting the request up deleted the reply without ending the request's event
loop: the task never finished (about 1 in 20 early cancels here) and the
thread pool could not be drained (pytest-qgis then hangs at exit). QgsTransport
relays the cancel into the request's own thread.

The tasks run in a child process, so that a task stuck for good fails this test
instead of hanging the whole run; the child leaves with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASKS = 60

SCRIPT = textwrap.dedent(r'''
    import json
    import os
    import sys

    root, n_tasks = sys.argv[1], int(sys.argv[2])
    sys.path[:0] = [root, root + "/tests/support"]
    from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QTimer

    from ev_chargepoints.qgis.headless import ensure_qgis

    app = ensure_qgis(gui=False)
    from replay_server import ReplayServer

    from ev_chargepoints.qgis.network import QgsTransport
    from ev_chargepoints.qgis.tasks import CoreTask, start

    ended, tasks = [], []
    with ReplayServer() as server:
        server.fault("/api/v2/datasets/export.json", "latency", delay=5)
        url = server.url + "/api/v2/datasets/export.json"

        stage = {}  # task number -> how far its work got (reported when one never ends)

        def worker(number):
            def work(_progress, feedback):
                stage[number] = "requesting"
                try:
                    return QgsTransport(feedback=feedback).get(url, timeout=30)
                finally:
                    stage[number] = "request ended"
            return work

        loop = QEventLoop()

        def finished(number, outcome):
            ended.append(str(outcome))
            stage[number] = "ended"
            if len(ended) == n_tasks:
                loop.quit()

        for i in range(n_tasks):
            task = start(CoreTask(f"cancel race {i}", worker(i), lambda out, i=i: finished(i, out),
                                  lambda out, i=i: finished(i, out)))
            tasks.append(task)
            for _ in range(i % 6):  # cancel at a different early moment each time
                QCoreApplication.processEvents()
            status_at_cancel = int(task.status())
            task.cancel()
            stage.setdefault(i, f"not started (status {status_at_cancel} at cancel)")
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        timer.start(60_000)
        if len(ended) < n_tasks:
            loop.exec()
    from qgis.core import QgsApplication

    pool = QgsApplication.taskManager().threadPool()
    stuck = [f"task {i}: {stage.get(i)}, status {int(t.status())} now, pool threads "
             f"{pool.activeThreadCount()} of {pool.maxThreadCount()} busy"
             for i, t in enumerate(tasks) if stage.get(i) != "ended"]
    print("RESULT " + json.dumps({"ended": ended, "stuck": stuck}), flush=True)
    os._exit(0)  # a stuck worker thread must not keep this process alive
''')


def test_every_early_cancel_ends_its_task(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"), XDG_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), str(TASKS)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert len(result["ended"]) == TASKS, \
        f"{TASKS - len(result['ended'])} cancelled task(s) never ended: {result['stuck']}"
    assert all("cancel" in message.lower() for message in result["ended"]), result["ended"]
