#!/bin/sh
# image-base.sh -- make the Dockerfile's base image on a machine with no
# registry: a Debian bookworm minbase root filesystem from debootstrap,
# slimmed the way Debian's official "-slim" images are (no docs, man
# pages or locales; apt lists and caches cleaned), committed with buildah
# under the name the Dockerfile's FROM uses.  Where a registry is
# reachable, `buildah pull docker.io/library/debian:bookworm-slim` (or
# `docker build`, which pulls it) does the same job with Debian's own
# image; this script exists for the machines that reach only the Debian
# mirror.
#
#   scripts/image-base.sh            make it unless the tag exists
#   scripts/image-base.sh --force    make it again (replaces the tag)
#
# Environment: OMNI_BASE_IMAGE (default docker.io/library/debian:bookworm-slim),
# OMNI_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# OMNI_DEBIAN_SECURITY (default http://deb.debian.org/debian-security).
# Needs root, debootstrap and buildah (Debian packages of those names).
# Exit: 0 made or already there, 1 failure, 2 usage.
set -eu

TAG=${OMNI_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
MIRROR=${OMNI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${OMNI_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
SUITE=bookworm

die() { echo "image-base: $*" >&2; exit 1; }

force=0
case "${1-}" in
"") ;;
--force) force=1 ;;
-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
*) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and buildah mount)"
for c in debootstrap buildah; do
	command -v "$c" >/dev/null 2>&1 || die "$c is not installed (apt-get install $c)"
done

OLD_ID=$(buildah inspect --type image --format '{{.FromImageID}}' "$TAG" 2>/dev/null) || OLD_ID=
if [ "$force" -eq 0 ] && [ -n "$OLD_ID" ]; then
	echo "image-base: $TAG exists, skipping (--force to remake it)"
	exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/omni-base.XXXXXX")
CTR=
cleanup() {
	if [ -n "$CTR" ]; then
		buildah umount "$CTR" >/dev/null 2>&1 || true
		buildah rm "$CTR" >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ROOTFS=$WORK/rootfs

echo "image-base: debootstrap --variant=minbase $SUITE from $MIRROR"
if ! debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1; then
	tail -n 20 "$WORK/debootstrap.log" >&2
	die "debootstrap failed"
fi

# What Debian's -slim images carry (debuerreotype's slimify and
# minimizing config): dpkg keeps no docs, man pages or translations from
# now on, apt keeps no package cache, no translated lists, and no
# suggested packages; then the same files are removed from this tree.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-apt-speedup" <<'EOF'
force-unsafe-io
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes" <<'EOF'
Acquire::GzipIndexes "true";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
Apt::AutoRemove::SuggestsImportant "false";
EOF
# The sources of the official image: the release, its updates, security.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# debootstrap installs the release as it was at its point release; the
# official image also carries the updates and security fixes since.
echo "image-base: apt-get upgrade (bookworm-updates, bookworm-security)"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
if ! chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive sh -c \
	'apt-get update -qq && apt-get -y -qq -o Dpkg::Use-Pty=0 upgrade' \
	>"$WORK/upgrade.log" 2>&1; then
	tail -n 20 "$WORK/upgrade.log" >&2
	die "apt-get upgrade in the new root filesystem failed"
fi
(
	cd "$ROOTFS"
	find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
	find usr/share/doc -mindepth 1 -type d -empty -delete
	find usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias \
		-exec rm -rf {} +
	rm -rf usr/share/man/* usr/share/info/* usr/share/groff/* \
		usr/share/lintian/overrides/* usr/share/linda/*
	rm -rf var/lib/apt/lists/* var/cache/apt/*.bin \
		var/cache/apt/archives/*.deb var/cache/apt/archives/partial/*
	rm -rf var/log/* var/cache/ldconfig/aux-cache tmp/* var/tmp/*
	# A container gets its own; these would leak the build machine's.
	: >etc/resolv.conf
	: >etc/hostname
	rm -f etc/machine-id var/lib/dbus/machine-id
	: >etc/machine-id
)

echo "image-base: committing $TAG"
CTR=$(buildah from --pull=never scratch)
MNT=$(buildah mount "$CTR")
# cp -a keeps owners, modes, links and special files as debootstrap made them.
cp -a "$ROOTFS/." "$MNT/"
buildah umount "$CTR" >/dev/null
buildah config --os linux --arch "$(dpkg --print-architecture)" \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--cmd bash \
	--label org.opencontainers.image.description="Debian $SUITE minbase (slim), made by scripts/image-base.sh" \
	"$CTR"
buildah commit --rm --format docker --quiet "$CTR" "$TAG" >/dev/null
CTR=
# The image the tag named before --force, if nothing else uses it.
[ -z "$OLD_ID" ] || buildah rmi "$OLD_ID" >/dev/null 2>&1 || true
echo "image-base: made $TAG ($(buildah images --format '{{.Size}}' "$TAG" | head -n 1))"
