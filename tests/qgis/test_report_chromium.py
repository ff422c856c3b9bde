"""The HTML conformance report in a real browser: headless Chromium renders it.

Chromium comes from the Debian package ``chromium`` (``make setup`` installs it with the
other system packages). Without it this test fails and says so; it never skips.
"""

import shutil
import subprocess

from qgis.PyQt.QtGui import QColor, QImage

from ev_chargepoints.core import paths
from ev_chargepoints.core.standard import conformance
from ev_chargepoints.core.standard.report import write_report

EXAMPLES = paths.resource("standard", "examples")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 1280, 1600


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("Chromium is not installed: the browser check of the HTML report "
                         "cannot run. Install the Debian package with "
                         "'apt-get install -y --no-install-recommends chromium' "
                         "(it is in the Makefile's APT_PACKAGES).")


def screenshot(html_path, png_path, profile_dir):
    result = subprocess.run(
        [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}",
         f"--screenshot={png_path}", f"--window-size={WIDTH},{HEIGHT}",
         html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert png_path.is_file(), (f"Chromium wrote no screenshot (exit {result.returncode}): "
                                f"{result.stderr[-2000:]}")


def grey_levels(image: QImage, step: int = 4):
    levels = []
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            levels.append(QColor(image.pixel(x, y)).lightness())
    return levels


def test_report_renders_in_chromium(tmp_path):
    report = conformance.validate_files(
        [EXAMPLES / "usage_return_check_unknown_device.csv",
         EXAMPLES / "device_reference_invalid_stale.csv",
         EXAMPLES / "usage_return_invalid_kwh_not_number.csv"],
        as_of="2024-10-01")
    html_path, json_path = write_report(report, tmp_path / "report")
    png = tmp_path / "report.png"
    screenshot(html_path, png, tmp_path / "chromium-profile")

    image = QImage(str(png))
    assert not image.isNull()
    assert (image.width(), image.height()) == (WIDTH, HEIGHT)
    levels = grey_levels(image)
    mean = sum(levels) / len(levels)
    variance = sum((v - mean) ** 2 for v in levels) / len(levels)
    assert variance > 100, f"the screenshot looks blank (variance {variance:.1f})"
    dark = sum(1 for v in levels if v < 80)
    assert dark > 0.002 * len(levels), "no text-dark pixels: nothing readable rendered"
    # the fail badge (dark red fill) is on the page: the operator table rendered
    reds = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = QColor(image.pixel(x, y))
            if c.red() > 140 and c.green() < 60 and c.blue() < 60:
                reds += 1
    assert reds > 50, "no fail badge visible in the screenshot"
