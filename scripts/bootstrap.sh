#!/usr/bin/env bash
# Install what raksbl needs on a fresh Debian/Ubuntu machine, then a virtualenv in .venv.
# Usage: scripts/bootstrap.sh demo|test|build   (idempotent; quick when everything is there)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-demo}"

# libtommath1: the Firebird 5 client of the firebird-embedded wheel (tests, the bundle) links it.
packages=(python3 python3-venv python3-tk firebird3.0-server-core libfbclient2 firebird3.0-utils libtommath1)
if [ "$purpose" = test ] || [ "$purpose" = build ]; then
  packages+=(firebird3.0-server xvfb xdotool trayer imagemagick dunst libnotify-bin dbus-x11 x11-utils)
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
extras="test,build"   # build: PyInstaller, for the bundle test (tests/packaging)
stamp=".venv/.raksbl-installed-$extras"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# build/constraints.txt pins every package (shared with the Windows build): same versions everywhere
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ build/constraints.txt -nt "$stamp" ]; then
  echo "Installing Python packages into .venv ..."
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[$extras]" -c build/constraints.txt
  touch "$stamp"
fi
