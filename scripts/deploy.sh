#!/bin/sh
# deploy.sh -- build Omni's image, deploy it, roll it back (buildah).
#
#   scripts/deploy.sh build [--version V] [--revision R]
#       Build the Dockerfile and tag the image REPO:V-R12 (R12: the first
#       12 characters of the revision).  V: --version, $VERSION, the file
#       VERSION, the last git tag (without a leading "v"), else 0.0.0.
#       R: --revision, $REVISION, else `git rev-parse HEAD` ("-dirty"
#       appended when tracked files differ from it).  Both also go into
#       the image's OCI labels.  Prints the new reference on stdout (the
#       build's output goes to stderr).
#   scripts/deploy.sh deploy REF
#       REF (a tag of REPO such as 1.2.0-0123456789ab, a full reference or
#       an image id) becomes REPO:current and the image that was current
#       becomes REPO:previous.  Deployed images older than those two are
#       removed (images built but never deployed are left alone).
#   scripts/deploy.sh rollback
#       REPO:previous becomes REPO:current again; the image rolled back
#       from stays until the next deploy removes it.  Only two images are
#       kept, so a second rollback in a row has nothing to go back to and
#       fails (exit 3) without changing anything.
#   scripts/deploy.sh status     current and previous: reference, id,
#                                version and revision labels
#   scripts/deploy.sh list       REPO's images, newest first
#
# The service runs REPO:current (a systemd unit or compose file naming
# localhost/omni:current, with podman, which shares buildah's storage).
# After deploy and rollback, $OMNI_DEPLOY_HOOK, when set, runs under sh
# with OMNI_DEPLOY_IMAGE (REPO:current) and OMNI_DEPLOY_ID in its
# environment, e.g. OMNI_DEPLOY_HOOK='systemctl restart omni'.  If the hook
# fails, the tags are put back as they were, the hook runs once more for
# them, and deploy.sh exits 4.
#
# Environment: OMNI_IMAGE (REPO, default localhost/omni), OMNI_DEPLOY_STATE
# (state directory, default /var/lib/omni-deploy: the files `state`,
# readable by a deployment, and `history`), OMNI_BUILD_CONTEXT (default
# the repository), OMNI_BUILD_PULL (buildah's --pull policy, default
# missing; never where the base image was made by scripts/image-base.sh
# and no registry is reachable), OMNI_BUILD_SOURCE (the
# org.opencontainers.image.source label), BUILDAH (default buildah).
#
# Exit: 0 done, 1 failure, 2 usage, 3 nothing to roll back to, 4 the hook
# failed (tags restored).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPO=${OMNI_IMAGE:-localhost/omni}
STATE_DIR=${OMNI_DEPLOY_STATE:-/var/lib/omni-deploy}
CONTEXT=${OMNI_BUILD_CONTEXT:-$ROOT}
PULL=${OMNI_BUILD_PULL:-missing}
BUILDAH=${BUILDAH:-buildah}
CURRENT=$REPO:current
PREVIOUS=$REPO:previous

die() { echo "deploy: $*" >&2; exit 1; }
usage() {
	cat >&2 <<EOF
usage: $0 build [--version V] [--revision R]
       $0 deploy REF
       $0 rollback
       $0 status
       $0 list
(see the comment at the top of $0)
EOF
	exit 2
}

# ---- image helpers --------------------------------------------------------

# The full id (64 hex) of an image reference, or nothing.
image_id() {
	$BUILDAH inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null |
		sed 's/^sha256://'
}

# "ID NAME:TAG" for every tag of REPO (one line per tag).
repo_tags() {
	$BUILDAH images --no-trunc --noheading --filter "reference=$REPO" \
		--format '{{.ID}} {{.Name}}:{{.Tag}}' 2>/dev/null |
		awk '{ sub(/^sha256:/, "", $1); print $1, $2 }'
}

# The tags of REPO naming image $1, but current and previous.
version_tags() {
	repo_tags | awk -v id="$1" -v c="$CURRENT" -v p="$PREVIOUS" \
		'$1 == id && $2 != c && $2 != p { print $2 }'
}

label() {
	$BUILDAH inspect --type image \
		--format "{{index .Docker.Config.Labels \"org.opencontainers.image.$2\"}}" \
		"$1" 2>/dev/null || true
}

# A name for image $1 in messages: its first version tag, else its id.
describe() {
	[ -n "$1" ] || { echo "none"; return 0; }
	_dt=$(version_tags "$1" | head -n 1)
	if [ -n "$_dt" ]; then echo "$_dt"; else printf '%.12s\n' "$1"; fi
}

# Point tag $2 at image $1, or remove tag $2 when $1 is empty.
set_tag() {
	if [ -n "$1" ]; then
		$BUILDAH tag "$1" "$2" >/dev/null
	elif [ -n "$(image_id "$2")" ]; then
		$BUILDAH rmi "$2" >/dev/null
	fi
}

# ---- state ----------------------------------------------------------------

lock() {
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/lock"
	flock -w 60 9 || die "another deploy.sh holds $STATE_DIR/lock"
}

write_state() {
	_sc=$(image_id "$CURRENT")
	_sp=$(image_id "$PREVIOUS")
	{
		echo "# written by scripts/deploy.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "repository=$REPO"
		echo "current=$CURRENT"
		echo "current_id=$_sc"
		echo "current_ref=$(describe "$_sc")"
		echo "previous_id=$_sp"
		echo "previous_ref=$(describe "$_sp")"
	} >"$STATE_DIR/state.tmp"
	mv -f "$STATE_DIR/state.tmp" "$STATE_DIR/state"
}

# Run the hook for the tags as they are now; 0 when there is none.
run_hook() {
	[ -n "${OMNI_DEPLOY_HOOK:-}" ] || return 0
	OMNI_DEPLOY_IMAGE=$CURRENT OMNI_DEPLOY_ID=$(image_id "$CURRENT") \
		sh -c "$OMNI_DEPLOY_HOOK"
}

# Tags current=$1 previous=$2, as they were before a failed hook.
restore() {
	echo "deploy: the hook failed; restoring current=$(describe "$1")" \
		"previous=$(describe "$2")" >&2
	set_tag "$2" "$PREVIOUS"
	set_tag "$1" "$CURRENT"
	write_state
	run_hook || echo "deploy: the hook failed again for the restored image" >&2
	exit 4
}

# Remove every deployed image that is neither current nor previous, and
# drop it from the history.
prune() {
	hist=$STATE_DIR/history
	[ -f "$hist" ] || return 0
	_pc=$(image_id "$CURRENT")
	_pp=$(image_id "$PREVIOUS")
	: >"$hist.tmp"
	while read -r id _; do
		[ -n "$id" ] || continue
		if [ "$id" = "$_pc" ] || [ "$id" = "$_pp" ]; then
			grep -q "^$id " "$hist.tmp" || grep "^$id " "$hist" | tail -n 1 >>"$hist.tmp"
			continue
		fi
		for _pt in $(version_tags "$id"); do
			if $BUILDAH rmi "$_pt" >/dev/null 2>&1; then
				echo "deploy: removed $_pt" >&2
			else
				echo "deploy: could not remove $_pt (in use?); kept" >&2
			fi
		done
	done <"$hist"
	mv -f "$hist.tmp" "$hist"
}

# ---- commands -------------------------------------------------------------

cmd_build() {
	version=${VERSION:-}
	revision=${REVISION:-}
	while [ $# -gt 0 ]; do
		case $1 in
		--version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
		--revision) [ $# -ge 2 ] || usage; revision=$2; shift 2 ;;
		*) usage ;;
		esac
	done
	if [ -z "$version" ] && [ -f "$ROOT/VERSION" ]; then
		version=$(head -n 1 "$ROOT/VERSION")
	fi
	if [ -z "$version" ]; then
		version=$(git -C "$ROOT" describe --tags --abbrev=0 2>/dev/null || true)
		version=${version#v}
	fi
	version=${version:-0.0.0}
	if [ -z "$revision" ]; then
		revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null) ||
			die "REVISION is not set and $ROOT is not a git checkout"
		if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
			revision=$revision-dirty
		fi
	fi
	short=$(printf '%s' "$revision" | cut -c1-12)
	case $revision in *-dirty) short=$short-dirty ;; esac
	# A tag is [A-Za-z0-9_.-], at most 128, not starting with . or -.
	tag=$(printf '%s-%s' "$version" "$short" | tr -c 'A-Za-z0-9_.\n-' '_' |
		sed 's/^[.-]/_/' | cut -c1-128)
	[ -f "$CONTEXT/Dockerfile" ] || die "no Dockerfile in $CONTEXT"
	echo "deploy: building $REPO:$tag (version $version, revision $revision)" >&2
	# --isolation chroot: no OCI runtime needed; --format docker: the OCI
	# format drops HEALTHCHECK; --layers: the compile layer is reused
	# while only the version or revision changes.
	$BUILDAH bud --isolation chroot --layers --force-rm --format docker \
		--pull="$PULL" \
		--build-arg VERSION="$version" --build-arg REVISION="$revision" \
		--build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--build-arg SOURCE="${OMNI_BUILD_SOURCE:-}" \
		-f "$CONTEXT/Dockerfile" -t "$REPO:$tag" "$CONTEXT" >&2 ||
		die "the build failed (see above)"
	echo "$REPO:$tag"
}

resolve() {
	id=$(image_id "$1")
	case $1 in
	*/* | *:*) ;;
	*) [ -n "$id" ] || id=$(image_id "$REPO:$1") ;;
	esac
	[ -n "$id" ] || die "no image $1 (nor $REPO:$1): see '$0 list'"
	echo "$id"
}

cmd_deploy() {
	[ $# -eq 1 ] || usage
	case $1 in current | previous | "$CURRENT" | "$PREVIOUS")
		die "deploy names a build (see '$0 list'), not $1" ;;
	esac
	lock
	new=$(resolve "$1")
	old=$(image_id "$CURRENT")
	oldprev=$(image_id "$PREVIOUS")
	if [ "$new" = "$old" ]; then
		echo "deploy: $(describe "$new") is already current"
		return 0
	fi
	set_tag "$old" "$PREVIOUS"
	set_tag "$new" "$CURRENT"
	echo "$new $(describe "$new") $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$STATE_DIR/history"
	write_state
	run_hook || restore "$old" "$oldprev"
	prune
	write_state
	echo "deploy: current $(describe "$new"), previous $(describe "$old")"
}

cmd_rollback() {
	[ $# -eq 0 ] || usage
	lock
	cur=$(image_id "$CURRENT")
	prev=$(image_id "$PREVIOUS")
	if [ -z "$prev" ]; then
		echo "deploy: nothing to roll back to: $PREVIOUS does not exist" \
			"(current is $(describe "$cur"); only the current image and" \
			"the one before it are kept, so a rollback cannot be repeated)" >&2
		exit 3
	fi
	set_tag "$prev" "$CURRENT"
	set_tag "" "$PREVIOUS"
	write_state
	run_hook || restore "$cur" "$prev"
	echo "deploy: rolled back to $(describe "$prev") (from $(describe "$cur"))"
}

cmd_status() {
	[ $# -eq 0 ] || usage
	for _st in "$CURRENT" "$PREVIOUS"; do
		_si=$(image_id "$_st")
		if [ -z "$_si" ]; then
			printf '%-9s none\n' "${_st##*:}"
			continue
		fi
		printf '%-9s %s id=%.12s version=%s revision=%s\n' "${_st##*:}" \
			"$(describe "$_si")" "$_si" "$(label "$_st" version)" \
			"$(label "$_st" revision)"
	done
}

cmd_list() {
	[ $# -eq 0 ] || usage
	$BUILDAH images --filter "reference=$REPO" \
		--format '{{.ID}}  {{.Name}}:{{.Tag}}  {{.CreatedAt}}  {{.Size}}'
}

[ $# -ge 1 ] || usage
command -v "$BUILDAH" >/dev/null 2>&1 || die "$BUILDAH is not installed"
cmd=$1
shift
case $cmd in
build) cmd_build "$@" ;;
deploy) cmd_deploy "$@" ;;
rollback) cmd_rollback "$@" ;;
status) cmd_status "$@" ;;
list) cmd_list "$@" ;;
-h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
*) usage ;;
esac
