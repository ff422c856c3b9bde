"""DownloadCache: keys, atomic writes, LRU size cap, safe names."""

import json
import os

import pytest

from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.download_cache import DownloadCache, cache_key, safe_filename

GPKG = (LONDON_SNAPSHOT / "london_boroughs.gpkg").read_bytes()


@pytest.mark.parametrize("raw, expected", [
    ("London_Ward.gpkg", "London_Ward.gpkg"),
    ("../../etc/passwd", "passwd"),
    ("..%2F..%2F.bashrc", "bashrc"),
    ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
    ("..", "download"),
    ("", "download"),
    ("CON.csv", "_CON.csv"),
    ("nul", "_nul"),
    ("Café données 2022.csv", "Cafe_donnees_2022.csv"),
    ("a\x00b\nc.csv", "a_b_c.csv"),
    ("entry.json", "entry.json"),
])
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_is_bounded_and_never_a_path():
    long = "x" * 500 + ".geojson"
    name = safe_filename(long)
    assert len(name) <= 120 and name.endswith(".geojson")
    for hostile in ("/", "\\", "../", "./.", "%2e%2e%2f", "a/../../b"):
        out = safe_filename(hostile)
        assert "/" not in out and "\\" not in out and not out.startswith(".")


def test_key_separates_dataset_resource_and_version():
    keys = {cache_key("a", "b", "1"), cache_key("a", "b", "2"), cache_key("a", "c", "1"),
            cache_key("ab", "", "1"), cache_key("a", "b1", "")}
    assert len(keys) == 5


def test_put_get_round_trip(tmp_path):
    cache = DownloadCache(tmp_path)
    path = cache.put("bndry", "r1", "hash-1", GPKG, "../London.gpkg")
    assert path.parent.parent == tmp_path and path.name == "London.gpkg"
    assert cache.get("bndry", "r1", "hash-1").read_bytes() == GPKG
    assert cache.get("bndry", "r1", "hash-2") is None
    assert cache.get("bndry", "r2", "hash-1") is None
    assert cache.get("bndry", "r1", None) is None
    assert cache.total_bytes() == len(GPKG)
    assert not [p for p in tmp_path.rglob(".tmp-*")]  # no temp files left behind


def test_unversioned_or_oversized_is_not_cached(tmp_path):
    cache = DownloadCache(tmp_path, max_bytes=1000)
    assert cache.put("d", "r", None, b"abc", "a.csv") is None
    assert cache.put("d", "r", "v", GPKG, "a.gpkg") is None
    assert cache.entries() == []


def test_lru_eviction_keeps_recently_used(tmp_path):
    block = b"x" * 400
    cache = DownloadCache(tmp_path, max_bytes=1000)
    cache.put("d", "a", "v", block, "a.bin")
    cache.put("d", "b", "v", block, "b.bin")
    assert cache.get("d", "a", "v") is not None  # a is now the most recent
    cache.put("d", "c", "v", block, "c.bin")  # 1200 > 1000: evict b, the least recent
    assert cache.get("d", "b", "v") is None
    assert cache.get("d", "a", "v") is not None
    assert cache.get("d", "c", "v") is not None
    assert cache.total_bytes() <= 1000


def test_tampered_entry_cannot_point_outside(tmp_path):
    cache = DownloadCache(tmp_path / "cache")
    path = cache.put("d", "r", "v", b"data", "f.csv")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve me")
    meta_path = path.parent / "entry.json"
    meta = json.loads(meta_path.read_text())
    meta["filename"] = "../../secret.txt"
    meta_path.write_text(json.dumps(meta))
    assert cache.get("d", "r", "v") is None


def test_truncated_entry_is_a_miss(tmp_path):
    cache = DownloadCache(tmp_path)
    path = cache.put("d", "r", "v", GPKG, "b.gpkg")
    with open(path, "r+b") as fh:
        fh.truncate(100)
    assert cache.get("d", "r", "v") is None


def test_clear_only_removes_entries(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    cache = DownloadCache(tmp_path)
    cache.put("d", "r", "v", b"1", "a")
    cache.clear()
    assert cache.entries() == []
    assert (tmp_path / "keep.txt").exists()
    assert os.listdir(tmp_path) == ["keep.txt"]
