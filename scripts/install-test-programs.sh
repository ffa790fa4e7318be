#!/usr/bin/env bash
# Installs the programs the integration tests start themselves, with apt-get, when it can.
#   headless Chromium (dashboard tests), a real Alertmanager (adapter test), Redis (shared online
#   state for several replicas) and a Java runtime for Spark (Spark 4 runs on Java 17 or 21).
# One script for `.ci/run` and `make test`. Without --strict (make test) it never fails: when it
# cannot install (not root and no sudo, no apt-get), the tests that need a program skip, and
# pytest's last line says how many and names this script. With --strict (CI) a failed install fails.
set -uo pipefail
STRICT=0; [ "${1:-}" = "--strict" ] && STRICT=1
# package -> the program a test looks for (tests/programs.py and the tests that call require)
declare -A PROGRAM=(
  [chromium]=/usr/bin/chromium
  [prometheus-alertmanager]=prometheus-alertmanager
  [redis-server]=redis-server
  [default-jre-headless]=java
)
missing=()
for package in chromium prometheus-alertmanager redis-server default-jre-headless; do
  command -v "${PROGRAM[$package]}" >/dev/null 2>&1 && continue
  [ "$package" = default-jre-headless ] && [ -n "${JAVA_HOME:-}" ] && continue  # any JDK will do
  missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

give_up() {
  echo "install-test-programs: cannot install ${missing[*]} ($1); the tests that need them will skip" >&2
  exit "$STRICT"
}
command -v apt-get >/dev/null 2>&1 || give_up "no apt-get"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else give_up "not root, and sudo asks for a password"; fi
fi
echo "install-test-programs: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || give_up "apt-get update failed"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || give_up "apt-get install failed"
