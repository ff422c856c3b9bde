"""Projecting from several threads at once (two docks' QgsTasks do): the PROJ
transformation is used by one thread at a time, so the results are those of one thread
alone. Used by two at once it corrupted PROJ's state and crashed QGIS in proj_trans (and
one made per thread crashed pyproj 3.7 on Debian 13)."""

from __future__ import annotations

import threading

import numpy as np

from ev_chargepoints.core.crs import WGS84, to_bng


def test_threads_projecting_at_once_get_one_threads_results():
    rng = np.random.default_rng(7)
    lon = rng.uniform(-0.51, 0.33, 100_000)
    lat = rng.uniform(51.28, 51.69, 100_000)
    want_x, want_y = to_bng(WGS84, lon, lat)
    failures: list = []
    start = threading.Barrier(4)

    def work():
        try:
            start.wait()
            for _ in range(15):
                x, y = to_bng(WGS84, lon, lat)
                if not (np.array_equal(x, want_x) and np.array_equal(y, want_y)):
                    failures.append("different figures")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert 500_000 < want_x.min() and want_x.max() < 570_000   # London, in metres
