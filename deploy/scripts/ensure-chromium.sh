#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the Playwright
# end-to-end tests (which use the system browser rather than downloading one),
# installing it with apt-get when it is missing.
set -euo pipefail
source "$(dirname "$0")/as-root.sh"

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
	echo "chromium: $chromium not found, installing the chromium package"
	apt_install chromium fonts-liberation
fi
# --version needs no display; as root it still prints the version.
echo "chromium: $("$chromium" --version 2>/dev/null || echo "installed at $chromium")"
