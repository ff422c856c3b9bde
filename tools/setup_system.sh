#!/usr/bin/env bash
# Installs the Debian packages the plugin, its tests and its demo need, by release:
#   Debian 12 (bookworm): QGIS 3.40 LTR from bookworm-backports
#   Debian 13 (trixie):   QGIS 3.44 LTR from trixie-backports
# The backports source is added when missing. numpy, pandas and psycopg2 come from Debian
# so they always match the GDAL and QGIS they were built with.
# Usage: tools/setup_system.sh [--check]   (--check: print what would be installed, change nothing)
set -euo pipefail

release=$(cut -d. -f1 /etc/debian_version 2>/dev/null || true)
case "$release" in
  12|bookworm*) suite=bookworm ;;
  13|trixie*) suite=trixie ;;
  *) echo "Unsupported system: /etc/debian_version says '$(cat /etc/debian_version 2>/dev/null)';" \
          "this set-up knows Debian 12 (bookworm) and 13 (trixie)." >&2; exit 2 ;;
esac
backports="$suite-backports"

# QGIS and what it brings: from backports (the current LTR).
QGIS_PACKAGES="qgis python3-qgis qgis-providers"
# Everything else: from the release itself. postgresql-postgis names the PostGIS of the
# release's default PostgreSQL (15 on Debian 12, 17 on Debian 13).
BASE_PACKAGES="xvfb xauth poppler-utils python3-venv python3-pip python3-numpy python3-pandas \
python3-scipy python3-psycopg2 python3-pyproj chromium postgresql postgresql-postgis qttools5-dev-tools pyqt5-dev-tools \
gdal-bin python3-setuptools"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
qgis_version() { dpkg-query -W -f='${Version}' qgis 2>/dev/null || true; }

need_qgis=""
v=$(qgis_version)
# 3.40 or newer, installed: nothing to do. Anything older (bookworm's own 3.22) is replaced.
if [ -z "$v" ] || dpkg --compare-versions "$v" lt 3.40; then need_qgis=yes; fi
for p in $QGIS_PACKAGES; do installed "$p" || need_qgis=yes; done
missing=""
for p in $BASE_PACKAGES; do installed "$p" || missing="$missing $p"; done

if [ "${1:-}" = "--check" ]; then
  echo "Debian $release ($suite): QGIS from $backports${need_qgis:+ (to install)}; missing:${missing:- none}"
  exit 0
fi
[ -z "$need_qgis" ] && [ -z "$missing" ] && exit 0

if ! grep -rqs "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "Adding the $backports package source"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$backports" | $SUDO tee /etc/apt/sources.list.d/ev-chargepoints-backports.sources >/dev/null
fi
$SUDO apt-get update -q
export DEBIAN_FRONTEND=noninteractive
if [ -n "$need_qgis" ]; then
  echo "Installing QGIS from $backports"
  $SUDO apt-get install -y -q --no-install-recommends -t "$backports" $QGIS_PACKAGES
fi
if [ -n "$missing" ]; then
  echo "Installing Debian packages:$missing"
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi
