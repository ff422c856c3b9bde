"""Build the plugin zip the QGIS plugin repository accepts.

The content comes from ``git archive HEAD`` (so untracked files never ship and
``export-ignore`` keeps tests, bench and CI out), plus the compiled ``.qm``
translations, with ``changelog=`` in metadata.txt filled from CHANGELOG.md.
Run with any Python 3: ``python3 tools/package.py --out dist``.
"""

from __future__ import annotations

import argparse
import configparser
import io
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = "ev_chargepoints"
REQUIRED_METADATA = ("name", "qgisMinimumVersion", "description", "about", "version",
                     "author", "email", "repository")
MAX_ZIP_BYTES = 25 * 1024 * 1024


def read_metadata(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep key case (qgisMinimumVersion)
    parser.read_string(text)
    return dict(parser["general"])


def changelog_for_metadata(changelog_md: str, limit: int = 5) -> str:
    """Flat bullets under each '## [version]' heading, newest first."""
    lines, versions = [], 0
    for raw in changelog_md.splitlines():
        heading = re.match(r"^##\s+\[?([^\]\s]+)\]?", raw)
        if heading:
            versions += 1
            if versions > limit:
                break
            lines.append(f"{heading.group(1)}")
        elif raw.startswith("- ") and versions:
            lines.append(f"  {raw}")
    return "\n".join(lines)


def with_changelog(metadata_text: str, changelog: str) -> str:
    indented = "\n".join("    " + line for line in changelog.splitlines())
    return re.sub(r"(?m)^changelog=.*$", lambda _m: "changelog=\n" + indented,
                  metadata_text, count=1)


def build(out_dir: Path) -> Path:
    metadata = read_metadata((ROOT / "metadata.txt").read_text(encoding="utf-8"))
    version = metadata["version"]
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                             check=True, capture_output=True).stdout
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{TOP}-{version}.zip"
    changelog = changelog_for_metadata((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar, \
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in tar.getmembers():
            if not member.isfile() or "__pycache__" in member.name:
                continue
            data = tar.extractfile(member).read()
            if member.name == "metadata.txt":
                data = with_changelog(data.decode("utf-8"), changelog).encode("utf-8")
            zf.writestr(f"{TOP}/{member.name}", data)
        for qm in sorted((ROOT / "i18n").glob("*.qm")):
            zf.writestr(f"{TOP}/i18n/{qm.name}", qm.read_bytes())
    problems = validate(target)
    if problems:
        raise SystemExit("package check failed:\n- " + "\n- ".join(problems))
    return target


def validate(zip_path: Path) -> list[str]:
    """The checks the plugin repository makes on upload; empty list = fine."""
    problems = []
    if zip_path.stat().st_size > MAX_ZIP_BYTES:
        problems.append(f"zip is {zip_path.stat().st_size:,} bytes, over {MAX_ZIP_BYTES:,}")
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        tops = {n.split("/", 1)[0] for n in names}
        if tops != {TOP}:
            problems.append(f"expected one top folder '{TOP}', found {sorted(tops)}")
        for required in ("metadata.txt", "__init__.py", "LICENSE"):
            if f"{TOP}/{required}" not in names:
                problems.append(f"missing {required}")
        if any("__pycache__" in n or n.endswith(".pyc") for n in names):
            problems.append("contains __pycache__ or .pyc files")
        if any(n.startswith(f"{TOP}/tests/") or n.startswith(f"{TOP}/.") for n in names):
            problems.append("contains tests or dotfiles")
        if f"{TOP}/metadata.txt" in names:
            meta = read_metadata(zf.read(f"{TOP}/metadata.txt").decode("utf-8"))
            for key in REQUIRED_METADATA:
                if not meta.get(key):
                    problems.append(f"metadata.txt lacks {key}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
