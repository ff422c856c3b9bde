"""Files the plugin hands to people (exports, conformance reports, downloads, caches)
are written whole (old or new, never half) and readable as any new file would be:
0666 less the umask, not the owner-only 0600 a temporary file starts with."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from ev_chargepoints.core.files import current_umask, written_whole
from ev_chargepoints.core.outputs.tables import write_xlsx
from ev_chargepoints.core.sources.download_cache import atomic_write_bytes
from ev_chargepoints.core.standard.report import ConformanceReport, write_report

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="file permission bits and the umask exist on Linux and macOS "
                               "only; Windows files have no such modes to check")


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_exports_reports_and_downloads_get_a_new_files_permissions(tmp_path, umask):
    expected = 0o666 & ~umask
    frame = pd.DataFrame({"area_name": ["Camden", "Hackney"], "devices": [410, 388]})
    xlsx = write_xlsx(frame, tmp_path / "summary.xlsx")
    html, json_path = write_report(ConformanceReport(generated_utc="2026-12-07T10:00:00Z",
                                                     as_of_utc="2026-12-07T10:00:00Z"),
                                   tmp_path / "report")
    download = tmp_path / "download.csv"
    atomic_write_bytes(download, b"id,name\n1,a\n")
    for path in (xlsx, html, json_path, download):
        assert mode(path) == expected, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["download.csv", "report",
                                                          "summary.xlsx"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "summary.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with written_whole(target, "w") as out:
            out.write("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]
    with written_whole(target, "w", encoding="utf-8") as out:
        out.write("new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]
