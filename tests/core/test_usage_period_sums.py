"""The periods an incremental refresh leaves unchanged are taken from the last
utilisation of the same month cache in the process (:mod:`.usage_period_sums`): after
every import the figures equal a full recompute and the numpy engine, and only the
periods from the first recomputed month are summed again."""

from __future__ import annotations

import pandas as pd
import pytest

from ev_chargepoints.core.analysis import usage_period_sums
from ev_chargepoints.core.analysis import usage_sql_engine as engine
from ev_chargepoints.core.analysis.utilisation import utilisation
from ev_chargepoints.core.schema import conform
from tests.core.test_usage_sql import Parts, _imports, assert_same, identity
from tests.core.test_utilisation import devices, s, sessions


@pytest.fixture
def summed(monkeypatch):
    """The first period each SQL summing started from (None: every period)."""
    calls = []
    real = usage_period_sums._summed

    def spy(con, months, groups, on, step, since):
        calls.append(since)
        return real(con, months, groups, on, step, since)
    monkeypatch.setattr(usage_period_sums, "_summed", spy)
    return calls


@pytest.mark.parametrize("by", ["device", "connector"])
@pytest.mark.parametrize("period", ["month", "quarter"])
def test_each_refresh_sums_only_the_periods_from_its_first_recomputed_month(
        tmp_path, summed, by, period):
    parts = Parts(tmp_path)
    # with a device stamp the Prepared is kept: its groups keep their order while the
    # session keys stay (without, DuckDB's order of the keys may reorder them)
    cache = engine.MonthCache(tmp_path / "cache", by, "devices as in this test")
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0}])
    conns = conform(pd.DataFrame({"device_id": ["B"], "connector_id": ["1"],
                                  "power_kw": [50.0]}), "connectors")
    later = sessions([s("A", "2021-07-02 10:00", "2021-07-02 11:00", kwh=4.0),
                      s("B", "2021-08-15 09:00", "2021-08-15 09:30")])
    later["session_key"] = ["j1", "j2"]
    how = []
    for frame in [*_imports(), later]:
        parts.add(frame)
        for _ in range(2):  # the refresh, then the same cache again (nothing new)
            got = engine.utilisation(parts.con, parts.relation, identity, devs, conns,
                                     period=period, by=by, cache=cache, parts=parts.files)
            how.append((cache.last_refresh, summed[-1] if summed else "memory"))
            summed.clear()
            full = engine.utilisation(parts.con, parts.relation, identity, devs, conns,
                                      period=period, by=by)
            summed.clear()
            assert_same(got, full)
            assert_same(got, utilisation(parts.sessions(), devs, conns, period=period, by=by))
    assert how[0] == ("full", None)
    assert all(h == ("cached", "memory") for h in how[1::2])  # nothing summed again
    # a refresh with the same groups sums from its first month's period; one that added a
    # device or session keys (groups in another order) sums every period again
    partial = [since for kind, since in how[2::2] if kind == "incremental" and since is not None]
    assert partial and isinstance(how[-2][1], int)  # (the last: known keys)


def test_another_generation_or_level_sums_every_period(tmp_path, summed):
    parts = Parts(tmp_path)
    for frame in _imports()[:2]:
        parts.add(frame)
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0}])
    conns = conform(pd.DataFrame(), "connectors")

    def run(cache, period="quarter"):
        summed.clear()
        engine.utilisation(parts.con, parts.relation, identity, devs, conns, period=period,
                           by=cache.by, cache=cache, parts=parts.files)
        return list(summed)

    device = engine.MonthCache(tmp_path / "cache", "device")
    assert run(device) == [None]
    assert run(device) == []  # held
    assert run(device, "month") == [None]  # another period length
    assert run(engine.MonthCache(tmp_path / "cache", "connector"), "month") == [None]
    assert run(device, "month") == [None]  # one level held at a time
    assert run(device, "month") == []
    import shutil

    shutil.rmtree(tmp_path / "cache")  # recomputed in full: a new generation
    assert run(device, "month") == [None]


@pytest.fixture
def counted(monkeypatch):
    """The first period each SQL counting of sessions started from (None: every one)."""
    calls = []
    real = usage_period_sums._counted

    def spy(con, counts, step, dev_ids, since):
        calls.append(since)
        return real(con, counts, step, dev_ids, since)
    monkeypatch.setattr(usage_period_sums, "_counted", spy)
    return calls


@pytest.mark.parametrize("period", ["month", "quarter"])
def test_the_coverage_counts_of_unchanged_periods_come_from_memory(tmp_path, counted, period):
    """The sessions per device, source and period (whose usage is reported) are counted
    again only from the first recomputed month's period; the reported rows equal a full
    recompute and the numpy engine after every import, a new usage source included."""
    from ev_chargepoints.core.analysis.utilisation import reported_utilisation

    parts = Parts(tmp_path)
    cache = engine.MonthCache(tmp_path / "cache", "device", "devices as in this test")
    devs = devices([{"device_id": "A", "connector_count": 2, "max_power_kw": 7.0,
                     "operator": "Op A"},
                    {"device_id": "B", "connector_count": 1, "max_power_kw": 50.0,
                     "operator": "Op B"}])
    conns = conform(pd.DataFrame(), "connectors")
    status = conform(pd.DataFrame(), "status_snapshots")
    feed = sessions([s("A", "2021-07-02 10:00", "2021-07-02 11:00", kwh=4.0),
                     s("C", "2021-08-15 09:00", "2021-08-15 09:30")])
    feed["session_key"], feed["source"] = ["f1", "f2"], "ocpi:feed-b"
    later = sessions([s("B", "2021-08-20 09:00", "2021-08-20 09:30")])
    later["session_key"] = ["f3"]
    how = []
    for frame in [*_imports(), feed, later]:
        parts.add(frame)
        for _ in range(2):  # the refresh, then the same cache again (nothing new)
            counted.clear()
            got = engine.reported_utilisation(parts.con, parts.relation, identity, devs,
                                              conns, status, devs, period=period,
                                              cache=cache, parts=parts.files)
            how.append((cache.last_refresh, counted[-1] if counted else "memory"))
            full = engine.reported_utilisation(parts.con, parts.relation, identity, devs,
                                               conns, status, devs, period=period)
            assert_same(got, full)
            assert_same(got, reported_utilisation(parts.sessions(), devs, conns, status, devs,
                                                  period=period))
    assert how[0] == ("full", None)
    assert all(h == ("cached", "memory") for h in how[1::2])  # nothing counted again
    # the last import (known keys; its period has sessions of both sources, whose codes
    # are matched to the held ones): counted from its period only. (The feed's new keys
    # make a new Prepared, whose groups DuckDB's order of the keys may reorder.)
    assert isinstance(how[-2][1], int)
    assert len(set(parts.sessions()["source"])) == 2
