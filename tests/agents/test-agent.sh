#!/bin/sh
# test-agent.sh -- the agent CLI of the integration tests (never shipped):
# the first line of the notes picks a behaviour, then the example agent
# does the real work.  Every start is counted in .omni/agent-starts.log so
# a test can tell that a restarted run did not start the agent twice.
#
#   #fail     print to stderr and exit 3
#   #hang     never finish (the deadline must kill it)
#   #slow     wait 4 s, then work (time to restart things under it)
#   #digest   answer the sha256 and byte count of the notes, as JSON
#   anything  the example agent
set -u
mkdir -p .omni
notes=$(mktemp .omni/agent-notes.XXXXXX) || exit 70
cat > "$notes"
echo "start" >> .omni/agent-starts.log
first=$(head -n 1 "$notes")
case "$first" in
'#fail')
	echo "the test agent failed on purpose" >&2
	rm -f "$notes"
	exit 3 ;;
'#hang')
	sleep 600
	exit 0 ;;
'#slow')
	sleep 4 ;;
'#digest')
	sum=$(sha256sum < "$notes" | cut -d' ' -f1)
	bytes=$(wc -c < "$notes" | tr -d ' ')
	rm -f "$notes"
	printf '{"result": {"sha256": "%s", "bytes": %s}, "files": []}\n' \
	    "$sum" "$bytes"
	exit 0 ;;
esac
sh .omni-system/example-agent.sh "$@" < "$notes"
rc=$?
rm -f "$notes"
exit $rc
