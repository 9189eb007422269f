#!/usr/bin/env bash
# The dashboard's browser test (test/e2e/dashboard.test.ts) drives Debian's chromium through
# playwright-core, never a downloaded browser: install it when /usr/bin/chromium is missing.
[ -x /usr/bin/chromium ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
echo "installing Debian's chromium for the dashboard test (apt-get install chromium)" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
  || { $SUDO apt-get update >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } \
  || echo "chromium could not be installed: the dashboard test will fail (apt-get install chromium)" >&2
exit 0
