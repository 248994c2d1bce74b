#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (no browser can be downloaded here): install the
# package when /usr/bin/chromium is missing, with the fonts pages and PDFs need and poppler's pdftoppm.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$CHROMIUM is missing and apt-get is not here: install Chromium and set CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's chromium for the browser tests"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
  poppler-utils >/dev/null
