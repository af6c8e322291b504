#!/usr/bin/env bash
# install-chromium.sh installs Debian's chromium package, which the browser
# test of internal/sweepreport uses to render a sweep report headless (a
# screenshot and the rendered DOM).
#
# It runs apt-get update and then a non-interactive apt-get install, as root
# or through sudo. When /usr/bin/chromium already exists it installs nothing.
# On success the path of the chromium binary is printed on stdout; all other
# messages go to stderr.
set -euo pipefail

bin=/usr/bin/chromium

die() { echo "install-chromium: $*" >&2; exit 1; }

if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install chromium by hand"

sudo=
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null 2>&1 || die "not root and sudo not found"
	sudo="sudo -n"
fi

echo "install-chromium: installing Debian's chromium (apt-get)" >&2
$sudo apt-get update -q >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2

[[ -x $bin ]] || die "apt-get finished but $bin is missing"
echo "$bin"
