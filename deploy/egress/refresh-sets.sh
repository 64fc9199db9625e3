#!/bin/sh
# deploy/egress/refresh-sets.sh -- fill the address sets of omni-egress.nft.
#
#   refresh-sets.sh [-c CONF] [-s STATE_DIR] [-n]
#
# Reads CONF (default /etc/omni/egress.conf, shell syntax):
#   DAYTONA_HOSTS="app.daytona.io proxy.app.daytona.io"
#   INNGEST_HOSTS="api.inngest.com inn.gs"
#   AGENT_HOSTS=""            # only if the pool itself calls the agent's API
#   RESOLVERS=""              # DNS servers; empty: the nameservers of
#                             # /etc/resolv.conf
#   KEEP_SECONDS=86400        # how long an address stays after it was
#                             # last seen in an answer
# Each word is a host name (resolved here with getent, as the pool's own
# libc resolver would), an IPv4 or IPv6 address, or a CIDR prefix.
#
# For every set (resolvers, daytona, inngest, agent; each in an IPv4 and an
# IPv6 variant) it writes one nft transaction that empties the set and adds
# the addresses resolved now plus those seen within KEEP_SECONDS (names
# behind DNS round robin or a CDN answer differently from one query to the
# next; the memory is in STATE_DIR, default /var/lib/omni-egress), and
# applies the whole transaction at once, so the pool never sees a half-
# filled set.  A name that resolves to nothing keeps its set's remembered
# addresses, is reported on stderr, and makes the exit status 1; the other
# sets are still refreshed.  Exit status 2: bad usage, or nft refused the
# transaction (is omni-egress.nft loaded?).
#
#   -n   print the transaction instead of applying it (nothing changes,
#        STATE_DIR included)
#
# Environment: NFT (default nft), OMNI_EGRESS_TABLE (default
# "inet omni_egress"), RESOLV_CONF (default /etc/resolv.conf).
set -eu

CONF=/etc/omni/egress.conf
STATE=/var/lib/omni-egress
DRY=0
NFT=${NFT:-nft}
TABLE=${OMNI_EGRESS_TABLE:-inet omni_egress}
RESOLV_CONF=${RESOLV_CONF:-/etc/resolv.conf}

usage() {
	echo "usage: refresh-sets.sh [-c CONF] [-s STATE_DIR] [-n]" >&2
	exit 2
}

while getopts c:s:n opt; do
	case $opt in
	c) CONF=$OPTARG ;;
	s) STATE=$OPTARG ;;
	n) DRY=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

DAYTONA_HOSTS=""
INNGEST_HOSTS=""
AGENT_HOSTS=""
RESOLVERS=""
KEEP_SECONDS=86400
if [ -r "$CONF" ]; then
	# shellcheck disable=SC1090
	. "$CONF"
else
	echo "refresh-sets: cannot read $CONF" >&2
	exit 2
fi
case $KEEP_SECONDS in
'' | *[!0-9]*) echo "refresh-sets: KEEP_SECONDS must be a number" >&2; exit 2 ;;
esac
if [ -z "$RESOLVERS" ] && [ -r "$RESOLV_CONF" ]; then
	RESOLVERS=$(awk '$1 == "nameserver" { sub(/%.*/, "", $2); print $2 }' \
		"$RESOLV_CONF")
fi

now=$(date +%s)
status=0
work=$(mktemp -d "${TMPDIR:-/tmp}/omni-egress.XXXXXX")
trap 'rm -rf "$work"' EXIT
tx=$work/tx.nft
: >"$tx"

if [ "$DRY" -eq 0 ]; then
	mkdir -p "$STATE"
	chmod 0755 "$STATE"
	# One run at a time (the timer and a hand-run one).
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$STATE/lock"
		flock -w 60 9 || { echo "refresh-sets: $STATE/lock is held" >&2; exit 2; }
	fi
fi

is_v4() { # address or prefix
	case $1 in
	*[!0-9./]* | '') return 1 ;;
	*.*.*.*) return 0 ;;
	*) return 1 ;;
	esac
}
is_v6() {
	case $1 in
	*:*) case $1 in *[!0-9A-Fa-f:./]*) return 1 ;; *) return 0 ;; esac ;;
	*) return 1 ;;
	esac
}

# resolve WORD -> lines "4 ADDR" / "6 ADDR" on stdout; status 1 if none.
resolve() {
	if is_v4 "$1"; then
		echo "4 $1"
		return 0
	fi
	if is_v6 "$1"; then
		echo "6 $1"
		return 0
	fi
	out=$( {
		getent ahostsv4 "$1" 2>/dev/null | awk '{ print "4 " $1 }'
		getent ahostsv6 "$1" 2>/dev/null |
			awk 'tolower($1) !~ /^::ffff:/ { print "6 " $1 }'
	} | sort -u)
	[ -n "$out" ] || return 1
	printf '%s\n' "$out"
}

# refresh NAME "WORDS": add the transaction lines for NAME4 and NAME6.
refresh() {
	name=$1
	words=$2
	found=$work/$name.found
	: >"$found"
	for w in $words; do
		if ! resolve "$w" >>"$found"; then
			echo "refresh-sets: $name: $w resolves to no address" >&2
			status=1
		fi
	done
	for fam in 4 6; do
		set_name=$name$fam
		seen=$STATE/$set_name.seen
		merged=$work/$set_name.merged
		{
			awk -v f="$fam" -v t="$now" '$1 == f { print $2, t }' "$found"
			if [ -r "$seen" ]; then
				awk -v t="$now" -v keep="$KEEP_SECONDS" \
					'NF == 2 && t - $2 < keep { print $1, $2 }' "$seen"
			fi
		} | sort -k1,1 -k2,2nr | awk '!done[$1]++' >"$merged"
		echo "flush set $TABLE $set_name" >>"$tx"
		if [ -s "$merged" ]; then
			elements=$(awk '{ printf "%s%s", sep, $1; sep = ", " }' "$merged")
			echo "add element $TABLE $set_name { $elements }" >>"$tx"
		fi
		if [ "$DRY" -eq 0 ]; then
			cp "$merged" "$work/$set_name.new"
		fi
	done
}

refresh resolvers "$RESOLVERS"
refresh daytona "$DAYTONA_HOSTS"
refresh inngest "$INNGEST_HOSTS"
refresh agent "$AGENT_HOSTS"

if [ "$DRY" -eq 1 ]; then
	cat "$tx"
	exit $status
fi

if ! $NFT -f "$tx"; then
	echo "refresh-sets: nft refused the update (is omni-egress.nft loaded?)" >&2
	exit 2
fi
# Remember what is in the sets now, only once nft took it.
for f in "$work"/*.new; do
	[ -e "$f" ] || continue
	base=$(basename "$f" .new)
	mv "$f" "$STATE/$base.seen"
done
count=$(cat "$STATE"/*.seen 2>/dev/null | wc -l)
echo "refresh-sets: $count addresses in $TABLE"
exit $status
