#!/usr/bin/env bash
# Builds the .deb and .rpm (scripts/package) into a temporary directory and checks them: the
# package contents unpack, `systemd-analyze verify` accepts the unit (its ExecStart pointed at the
# unpacked binary, since nothing is installed here), `systemd-analyze security --offline` rates
# its exposure "OK" or better, and lintian finds no error in the .deb. A check whose tool is
# missing is skipped with a message. Exit 1 on any failure. CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OUT="$out/dist" scripts/package
deb=$(ls "$out"/dist/*.deb)
ls "$out"/dist/*.rpm >/dev/null
if command -v dpkg-deb >/dev/null 2>&1; then
  dpkg-deb -x "$deb" "$out/root"
  test -x "$out/root/usr/bin/fedarms"
  unit=$(find "$out/root" -name fedarms.service | head -1)
  sed "s#/usr/bin/fedarms#$out/root/usr/bin/fedarms#g" "$unit" >"$out/fedarms.service"
  if command -v systemd-analyze >/dev/null 2>&1; then
    echo "-- systemd-analyze verify"
    systemd-analyze verify --man=no "$out/fedarms.service"
    echo "-- systemd-analyze security"
    level=$(systemd-analyze security --offline=yes "$out/fedarms.service" 2>&1 | grep 'Overall exposure level' || true)
    echo "$level"
    case "$level" in
      *" OK"* | *"SAFE"*) ;;
      *) echo "the unit's exposure is worse than OK" >&2; exit 1 ;;
    esac
  else
    echo "systemd-analyze not installed: the unit checks are left out"
  fi
else
  echo "dpkg-deb not installed: the .deb is not unpacked and the unit checks are left out"
fi
if command -v lintian >/dev/null 2>&1; then
  echo "-- lintian"
  lintian --fail-on error "$deb"
else
  echo "lintian not installed: the Debian policy check is left out"
fi
echo "packages ok: $(cd "$out/dist" && ls)"
