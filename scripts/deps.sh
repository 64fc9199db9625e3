#!/bin/sh
# Install the Debian packages Omni needs to build, test and run, skipping
# the ones already installed: quick when nothing is missing.
set -eu

PACKAGES="build-essential pkg-config libfcgi-dev libfcgi-bin libcurl4-openssl-dev
libjson-c-dev libssl-dev libcmocka-dev nginx caddy spawn-fcgi bubblewrap curl
wrk clang valgrind python3 ca-certificates libsqlite3-dev libmicrohttpd-dev
chromium busybox nftables iproute2 strace"

# The unprivileged user local sandbox commands run as when Omni runs as
# root (OMNI_SANDBOX_USER); no home, no login shell.
SANDBOX_USER="${OMNI_SANDBOX_USER:-omni-sandbox}"
ensure_sandbox_user() {
	id -u "$SANDBOX_USER" >/dev/null 2>&1 && return 0
	echo "deps: creating the sandbox user $SANDBOX_USER"
	S=""
	[ "$(id -u)" -eq 0 ] || S="sudo"
	$S useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin "$SANDBOX_USER"
}

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	ensure_sandbox_user
	exit 0
fi

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's nginx and caddy packages try to start a system service; in a
# container without an init that fails harmlessly, and Omni starts its own.
# policy-rc.d (exit 101) keeps them from starting during the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
	own_policy=1
fi
status=0
$SUDO apt-get install -y -qq --no-install-recommends $missing || status=$?
[ "$own_policy" -eq 1 ] && rm -f "$policy"
[ "$status" -eq 0 ] && ensure_sandbox_user
exit $status
