"""What every parser promises: formats detected, gzip and encodings handled, limits
enforced, and nothing but ParseError leaving on bad input."""

import gzip
import json
import random

import pytest

from ev_chargepoints.core import errors, paths
from ev_chargepoints.core.sources import parsers

USAGE = paths.resource("standard", "examples", "usage_return_valid.csv")
NCR = paths.resource("data", "london", "ncr_chargepoints_london_2022-05.csv.gz")
SESSIONS = paths.resource("data", "dundee", "cpdata.csv.gz")


def test_gzip_is_transparent(tmp_path):
    plain = USAGE.read_bytes()
    packed = tmp_path / "return.csv.gz"
    packed.write_bytes(gzip.compress(plain))
    assert parsers.detect_format(packed.read_bytes(), packed.name) == "usage-return"
    a = parsers.parse_file(USAGE).table("sessions")
    b = parsers.parse_file(packed).table("sessions")
    assert a.drop(columns="source").equals(b.drop(columns="source"))


def test_detects_bundled_files():
    assert parsers.detect_format(NCR.read_bytes(), NCR.name) == "ncr"
    assert parsers.detect_format(SESSIONS.read_bytes(), SESSIONS.name) == "sessions"


def test_file_size_limit(tmp_path):
    limits = parsers.Limits(max_file_bytes=100, max_field_chars=1000)
    with pytest.raises(errors.ParseError, match="larger than the limit"):
        parsers.parse_file(USAGE, limits=limits)
    # a small gzip that inflates past the limit is stopped while inflating
    bomb = gzip.compress(b"device_id," + b"x" * 10_000)
    with pytest.raises(errors.ParseError, match="uncompressed content is larger"):
        parsers.parse_bytes(bomb, "bomb.csv.gz", limits=limits)


def test_field_size_limit():
    limits = parsers.Limits(max_file_bytes=10_000_000, max_field_chars=50)
    text = ("device_id,connector_id,start_utc,end_utc,kwh\n"
            f"{'D' * 60},1,2024-01-02T08:00:00Z,2024-01-02T09:00:00Z,1\n")
    with pytest.raises(errors.ParseError, match="field 'device_id' in row 1 has 60"):
        parsers.parse_bytes(text.encode(), "r.csv", limits=limits)
    quoted = ("device_id,connector_id,start_utc,end_utc,kwh\n"
              f"\"{'D' * 30}\n{'D' * 30}\",1,2024-01-02T08:00:00Z,2024-01-02T09:00:00Z,1\n")
    with pytest.raises(errors.ParseError, match="field 'device_id' in row 1 has 61"):
        parsers.parse_bytes(quoted.encode(), "r.csv", limits=limits)


def test_unknown_and_named_formats():
    with pytest.raises(errors.UnknownFormat, match="the file is empty"):
        parsers.detect_format(b"  \n", "empty.csv")
    with pytest.raises(errors.UnknownFormat, match="not valid JSON"):
        parsers.detect_format(b'{"data": [', "cut.json")
    with pytest.raises(errors.UnknownFormat, match="unknown format 'xml'"):
        parsers.parse_bytes(b"a", "a.xml", format="xml")
    with pytest.raises(errors.ParseError, match="cannot be read"):
        parsers.parse_file(USAGE.with_name("no_such_file.csv"))


def test_bad_utf16_is_a_parse_error():
    with pytest.raises(errors.ParseError, match="UTF-16"):
        parsers.parse_bytes(b"\xff\xfe" + b"a\x00b", "odd.csv")


def test_damaged_gzip_is_a_parse_error():
    packed = gzip.compress(USAGE.read_bytes())
    with pytest.raises(errors.ParseError, match="gzip"):
        parsers.parse_bytes(packed[: len(packed) // 2], "cut.csv.gz")


def _mutations(seed_files, count, seed):
    rng = random.Random(seed)
    inserts = [b'"', b",", b"\n", b"{", b"[", b"null", b"-1", b"1e999", b"\x00", b"\xff\xfe",
               b"\r\n", b"}", b"]"]
    for _ in range(count):
        data = bytearray(rng.choice(seed_files))
        kind = rng.random()
        if kind < 0.35:
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind < 0.6:
            data = data[: rng.randrange(len(data))]
        elif kind < 0.9:
            at = rng.randrange(len(data))
            data[at:at] = rng.choice(inserts) * rng.randint(1, 3)
        else:
            data = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        yield bytes(data), rng.choice([None] + list(parsers.FORMATS))


def test_damaged_input_raises_only_parse_errors():
    seeds = [gzip.decompress(NCR.read_bytes())[:15_000],
             gzip.decompress(SESSIONS.read_bytes())[:4_000],
             USAGE.read_bytes(),
             json.dumps({"data": [json.loads(
                 (paths.PLUGIN_ROOT / "tests" / "data" / "ocpi" / "spec-examples" /
                  "location_example.json").read_text())], "status_code": 1000}).encode()]
    outcomes = {"parsed": 0, "ParseError": 0}
    for data, fmt in _mutations(seeds, 400, seed=20261128):
        try:
            parsers.parse_bytes(data, "damaged", format=fmt)
            outcomes["parsed"] += 1
        except errors.ParseError as exc:
            assert str(exc).startswith("damaged: ")
            outcomes["ParseError"] += 1
    assert outcomes["parsed"] > 0 and outcomes["ParseError"] > 0


def test_options_reach_the_parser_or_are_refused():
    location = (paths.PLUGIN_ROOT / "tests" / "data" / "ocpi" / "spec-examples" /
                "location_example.json").read_bytes()
    result = parsers.parse_bytes(location, "loc.json", observed_utc="2024-01-01T00:00:00Z")
    assert result.table("status_snapshots")["observed_utc"].astype(str).unique().tolist() == [
        "2024-01-01 00:00:00+00:00"]
    with pytest.raises(errors.ParseError, match="observed_utc do not apply"):
        parsers.parse_file(USAGE, observed_utc="2024-01-01T00:00:00Z")


def test_detection_reads_a_prefix_of_large_csv_files():
    data = gzip.decompress(NCR.read_bytes())
    assert len(data) > 5 * parsers.SNIFF_BYTES
    assert parsers.detect_format(data, "ncr.csv") == "ncr"
    # the first megabyte ends inside a two-byte character: still a clean header read
    header = USAGE.read_bytes().split(b"\n", 1)[0] + b"\n"
    body = b"x" * (parsers.SNIFF_BYTES - len(header) - 1) + "é".encode() * 10
    assert parsers.detect_format(header + body, "r.csv") == "usage-return"
    assert parsers.detect_format(header.decode().encode("utf-16") + body, "r.csv") == \
        "usage-return"
