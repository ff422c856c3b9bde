"""RequestsTransport decompresses gzip and deflate bodies itself (urllib3 2, on Debian
13, decompresses highly compressed data read in small pieces so slowly that a big feed
or a gzip bomb hit the time limit first). Every encoding a server may send for
"Accept-Encoding: gzip, deflate", served by a real HTTP server on 127.0.0.1, gives the
file's exact bytes; a corrupted body is a clear error."""

from __future__ import annotations

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ev_chargepoints.core.errors import ConnectionFailed, ResponseTooLarge
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.transport import RequestsTransport

REAL = (LONDON_SNAPSHOT / "london_boroughs.gpkg").read_bytes()


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


half = len(REAL) // 2
BODIES = {
    "/gzip": ("gzip", gzip.compress(REAL)),
    "/gzip-two-members": ("gzip", gzip.compress(REAL[:half]) + gzip.compress(REAL[half:])),
    "/x-gzip": ("x-gzip", gzip.compress(REAL)),
    "/deflate-zlib": ("deflate", zlib.compress(REAL)),
    "/deflate-raw": ("deflate", raw_deflate(REAL)),
    "/gzip-corrupt": ("gzip", gzip.compress(REAL)[:200] + b"\xff" * 500
                      + gzip.compress(REAL)[700:]),
    "/bomb": ("gzip", gzip.compress(b"\0" * (96 * 1024 * 1024), 9)),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        encoding, body = BODIES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/gzip", "/gzip-two-members", "/x-gzip",
                                  "/deflate-zlib", "/deflate-raw"])
def test_every_encoding_gives_the_files_exact_bytes(url, path):
    response = RequestsTransport().get(url + path, timeout=5)
    assert response.status == 200 and response.body == REAL


def test_a_corrupted_body_says_so(url):
    with pytest.raises(ConnectionFailed, match="could not be decompressed"):
        RequestsTransport().get(url + "/gzip-corrupt", timeout=5)


def test_a_gzip_bomb_stops_at_the_size_limit_not_the_time_limit(url):
    """(With urllib3 2 decompressing, the 10 s limit of a 1 s timeout came first.)"""
    with pytest.raises(ResponseTooLarge, match="after decompression"):
        RequestsTransport().get(url + "/bomb", timeout=1, max_bytes=64 * 1024 * 1024)
