#!/bin/sh
# example-agent.sh -- an EXAMPLE agent for machines with no AI account.
#
# A small, deterministic stand-in for the real agent CLI (Claude Code):
# `make run` uses it (OMNI_AGENT_CMD="sh .omni-system/example-agent.sh",
# OMNI_AGENT_KEY_NAME=""); the Daytona image ships the real CLI and leaves
# this file out.  It does not think: it picks metrics out of the notes with
# fixed patterns, updates metrics/, files the notes as a memo and prints
# the final JSON line that .omni-system/README.md asks for.
#
#   sh .omni-system/example-agent.sh --model MODEL < notes
#
# Runs in the workspace home.  The notes are data: saved to a file that
# only awk reads, never part of a command line or eval.  POSIX sh (dash,
# busybox), POSIX awk, sed, grep, tr, date, mkdir, mv, cat, mktemp.
# Exit 0 done, 2 no notes or no workspace (metrics/), 1 anything else.
#
# Patterns, case-insensitive; the first match of each metric wins:
#   mrr             "MRR $48k", "MRR: 48,000", "MRR is 48k", "48k MRR"
#   arr             "ARR 576k", "$576k ARR", "annual recurring revenue 576k"
#   customers       "12 customers", "12 paying customers", "customers: 12"
#   burn            "burn 30k/month", "burn rate $30,000", "30k burn" (a
#                   burn per year, quarter, week or day is skipped)
#   cash            "cash $1.2M", "$1.2M cash", "$1.2 million in the bank"
#   runway_months   "runway 14 months", "14 months of runway", "runway: 14"
#                   (years count 12 months; weeks, days are skipped)
#   headcount       "headcount 8", "team of 8", "8 employees", "8-person team"
#   growth_mom_pct  "grew 12.5% MoM", "growth: 12.5%", "12.5% MoM" (needs a
#                   %; YoY, weekly, quarterly, "churn 3% MoM" are skipped)
# Between keyword and number only : = ~ - ( ) * _ and the words is, was,
# are, of, at, now, currently, about, around, roughly, approximately, by,
# hit, reached, stands, sits.  Numbers: 48000, 48,000, 1.2; k = 1e3, m or
# mm = 1e6, b or bn = 1e9, or thousand/million/billion; $ and commas go.
# Money beside %, EUR, GBP, CHF, € or £ is skipped, as is a bare 19xx/20xx
# before a money word (a year: "2025 MRR 48k" gives 48000).
set -u
LC_ALL=C # bytes are bytes: any input, any locale
export LC_ALL
me=example-agent

say() { printf '%s: %s\n' "$me" "$1" >&2; }
die() { say "$1"; exit "${2:-1}"; }

model=none
while [ $# -gt 0 ]; do
	case $1 in
	--model) [ $# -ge 2 ] && { model=$2; shift; } ;;
	--model=*) model=${1#--model=} ;;
	esac # anything else is ignored, as the real CLI's flags would be
	shift
done
model=$(printf '%s' "$model" | tr -d '\000-\037') # one line in the memo

[ -d metrics ] || die "no metrics/ directory here: run me in the workspace home" 2
mkdir -p .omni metrics/history deliverables/memos || die "cannot create folders"
today=$(date -u +%Y-%m-%d)
case $today in
[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]) ;;
*) die "date -u failed" ;;
esac

# 1. The notes, saved once; every later step reads this file.  NUL bytes
# are dropped: the memo would otherwise count as a binary file.
notes=$(mktemp .omni/example-agent.XXXXXX) || die "mktemp failed"
tag=${notes##*.}
found=$notes.found nums=$notes.nums
t_cur=metrics/.current.json.$tag t_hist=metrics/history/.$today.json.$tag
t_memo=deliverables/memos/.memo.$tag
# Temp files live next to their target, so mv is an atomic rename; none
# may outlive the run (Omni reports every new file of the home).
trap 'rm -f "$notes" "$found" "$nums" "$t_cur" "$t_hist" "$t_memo"' EXIT
trap 'exit 1' HUP INT TERM
tr -d '\000' > "$notes" || die "cannot save the notes"
grep -q '[^[:space:]]' "$notes" || die "no notes on stdin (empty input)" 2
say "notes saved, model $model"

# 2. The metrics, as "field value" lines, value a plain JSON number.
awk '
function numat(s, i, sfx,    t, r, w, e, d, ip, fp) {
	if (!match(substr(s, i), "^" N)) return ""
	TOK = substr(s, i, RLENGTH); NEND = i + RLENGTH; HASSFX = 0
	t = TOK; gsub(/[$,]/, "", t); r = substr(s, NEND); w = e = 0
	if (sfx && (match(r, /^[ \t]*(thousand|million|billion)/) || match(r, /^(mm|bn|k|m|b)/)))
		w = RLENGTH
	# a suffix counts only when no letter follows: "14 months" is not 14M
	if (w && substr(r, w + 1, 1) !~ /[a-z]/) {
		NEND += w; HASSFX = 1; r = substr(r, 1, w)
		e = r ~ /k|th/ ? 3 : r ~ /m/ ? 6 : 9
	}
	# shift the decimal point as text, so 1.2M is exactly 1200000
	ip = t; fp = ""
	if ((d = index(t, ".")) > 0) { ip = substr(t, 1, d - 1); fp = substr(t, d + 1) }
	while (length(fp) < e) fp = fp "0"
	ip = ip substr(fp, 1, e); fp = substr(fp, e + 1)
	sub(/^0+/, "", ip); if (ip == "") ip = "0"
	sub(/0+$/, "", fp)
	if (length(ip) > 15) return ""   # no metric has 16 digits: a serial
	return fp == "" ? ip : ip "." fp
}
function def(m, pre, kw, nk) {
	M[++NM] = m; PRE[m] = pre; KF[m] = B "(" kw ")" SEP N
	NB[m] = B N (m in NOSFX ? "" : S) nk "([^a-z]|$)"
}
# The value of a candidate match t[st, st+len) for metric m, or "".
function try(m, t, st, len, kf,    sub_, pos, v, rest, pre) {
	sub_ = substr(t, st, len)
	if (kf) { match(sub_, N "$"); pos = st + RSTART - 1 }  # keyword first
	else { match(sub_, /[$0-9]/); pos = st + RSTART - 1 }  # number first
	NEND = pos + 1
	if ((v = numat(t, pos, !(m in NOSFX))) == "") return ""
	rest = substr(t, NEND)
	if (m in MONEY) {
		if (rest ~ /^[ \t]*(%|percent|eur|euros?|gbp|chf|€|£)/) return ""
		if (!kf && !HASSFX && TOK ~ /^(19|20)[0-9][0-9]$/) return ""
	} else if (m != "growth_mom_pct" && rest ~ /^[ \t]*(%|percent)/) return ""
	if (m == "burn" && rest ~ /^[ \t]*(\/|per|a|an|each|every)?[ \t]*(years?|yr|annum|annual|annually|quarters?|qtr|weeks?|wk|days?)([^a-z]|$)/) return ""
	if (m == "runway_months") {
		if (rest ~ /^[ \t-]*(weeks?|wks?|days?|quarters?)([^a-z]|$)/) return ""
		if (rest ~ /^[ \t-]*(years?|yrs?)([^a-z]|$)/) v = sprintf("%.10g", v * 12)
	}
	if (m == "growth_mom_pct") {
		if (!match(rest, /^[ \t]*(%|percent)/)) return ""
		rest = substr(rest, RLENGTH + 1)
		if (rest ~ /^[ \t]*(yoy|y\/y|year|annual|wow|w\/w|week|qoq|q\/q|quarter|dod|d\/d|day)/) return ""
		# "churn 3% MoM" is no growth: look at the words just before
		pre = substr(t, 1, pos - 1)
		if (length(pre) > 25) pre = substr(pre, length(pre) - 24)
		if (!kf && pre ~ /churn|down|drop|declin|fell|lost|loss/) return ""
	}
	return v
}
BEGIN {
	N = "[$]?[0-9]+(,[0-9][0-9][0-9])*([.][0-9]+)?"
	S = "([ \t]*(thousand|million|billion)|mm|bn|[kmb])?"
	B = "(^|[ \t(){}:;=~,/*_\"<>|-])"   # what may stand before a word or number
	SEP = "([ \t:=~()*_-]|is |was |are |of |at |now |currently |about |around |roughly |approximately |by |hit |reached |stands |sits )*"
	MONEY["mrr"] = MONEY["arr"] = MONEY["burn"] = MONEY["cash"] = 1
	NOSFX["runway_months"] = NOSFX["growth_mom_pct"] = 1
	# metric, cheap pre-filter, keyword (then number), after the number
	def("mrr", "mrr|recurring", "mrr|monthly recurring revenue",
	    "[ \t]+(of[ \t]+)?(mrr|monthly recurring revenue)")
	def("arr", "arr|recurring", "arr|annual recurring revenue",
	    "[ \t]+(of[ \t]+)?(arr|annual recurring revenue)")
	def("customers", "customer", "customers|customer count",
	    "[ \t]+(paying[ \t]+|active[ \t]+)?customers?")
	def("burn", "burn", "burn rate|burn|burning", "(/[ \t]*mo(nth)?|[ \t]+(per|a)[ \t]+month)?[ \t]+(of[ \t]+)?(net[ \t]+|monthly[ \t]+)?burn")
	def("cash", "cash|bank", "cash in the bank|cash in bank|cash on hand|cash balance|cash|bank balance",
	    "[ \t]+(in[ \t]+)?(the[ \t]+)?(cash|bank)")
	def("runway_months", "runway", "runway",
	    "[ \t-]*(months?|mos?|m|years?|yrs?)[ \t]+(of[ \t]+)?runway")
	def("headcount", "head|team|employee|fte|full", "headcount|head count|team size|team of",
	    "[ \t-]*(employees|ftes?|full[ -]time employees|people on the team|person team|people team)")
	def("growth_mom_pct", "%|percent", "grew|growth|growing|grow",
	    "[ \t]*(%|percent)[ \t]*(mom|m/m|m-o-m|month[ -]over[ -]month|growth)")
}
{
	s = tolower($0); sub(/\r$/, "", s)
	for (i = 1; i in M; i++) {
		m = M[i]
		if ((m in FOUND) || s !~ PRE[m]) continue
		# the earlier of the two forms; on a rejected one, go on after its
		# number ("2025 MRR 48k": not the year, the 48k), 16 times at most
		# so that a long line of near misses stays linear
		for (off = tries = 1; tries++ <= 16 && off <= length(s); off += NEND - 1) {
			t = substr(s, off)
			a = match(t, KF[m]) ? RSTART : 0; al = RLENGTH
			b = match(t, NB[m]) ? RSTART : 0; bl = RLENGTH
			if (!a && !b) break
			if (a && (!b || a <= b)) { st = a; len = al; kf = 1 }
			else { st = b; len = bl; kf = 0 }
			if ((v = try(m, t, st, len, kf)) != "") { FOUND[m] = v; break }
		}
	}
}
END { for (i = 1; i in M; i++) if (M[i] in FOUND) print M[i], FOUND[M[i]] }
' "$notes" > "$found" || die "reading the metrics failed"
count=$(grep -c . "$found")
names=$(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$found")
say "metrics found: ${names:-none}"

# 3. metrics/current.json: every top-level member kept as written (its
# raw JSON text), the found ones and as_of replaced, missing known fields
# added.  The memo's "Numbers" lines are written on the way.
files=
if [ "$count" -gt 0 ]; then
	cur=metrics/current.json
	[ -f "$cur" ] || cur=/dev/null
	awk -v F="$found" -v DATE="$today" -v NUMS="$nums" '
	function ws() { while (p <= L && index(" \t\r\n", substr(J, p, 1))) p++ }
	function str(   c) {            # at a quote: skip the string
		for (p++; p <= L; p++)
			if ((c = substr(J, p, 1)) == "\\") p++
			else if (c == "\"") { p++; return 1 }
	}
	function value(   c, d, s0) {    # skip one value, nested or not
		if ((c = substr(J, p, 1)) == "\"") return str()
		if (c != "{" && c != "[") {
			for (s0 = p; p <= L && !index(",}] \t\r\n", substr(J, p, 1)); p++) ;
			return substr(J, s0, p - s0) ~ /^(true|false|null|-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?)$/
		}
		for (d = 0; p <= L; p++)
			if ((c = substr(J, p, 1)) == "\"") { if (!str()) return 0; p-- }
			else if (c == "{" || c == "[") d++
			else if ((c == "}" || c == "]") && --d == 0) { p++; return 1 }
	}
	function parse(   ks, vs, c) {   # top-level members into K[], V[]
		p = 1; L = length(J); ws()
		if (p > L) return 1                   # no file yet: start empty
		if (substr(J, p++, 1) != "{") return 0
		ws(); if (substr(J, p, 1) == "}") { p++; ws(); return p > L }
		for (;;) {
			ws(); ks = p
			if (substr(J, p, 1) != "\"" || !str()) return 0
			k = substr(J, ks, p - ks); ws()
			if (substr(J, p++, 1) != ":") return 0
			ws(); vs = p
			if (!value()) return 0
			if (!(k in V)) K[++n] = k
			V[k] = substr(J, vs, p - vs); ws()
			if ((c = substr(J, p++, 1)) == "}") { ws(); return p > L }
			if (c != ",") return 0
		}
	}
	FILENAME == F { NEW[$1] = $2; next }
	{ J = J $0 "\n" }
	END {
		if (!parse()) exit 3
		split("as_of currency mrr arr customers burn runway_months cash headcount growth_mom_pct custom", KN, " ")
		for (i = 1; i in KN; i++)
			if (!((k = "\"" KN[i] "\"") in V)) {
				K[++n] = k; V[k] = KN[i] == "currency" ? "\"USD\"" : KN[i] == "custom" ? "{}" : "null"
			}
		cu = V["\"currency\""]
		cu = cu ~ /^"[A-Za-z]+"$/ ? " " substr(cu, 2, length(cu) - 2) : ""
		# the memo lines, numbers first, with the previous value if known
		split("mrr MRR|arr ARR|customers Customers|burn Burn|cash Cash|runway_months Runway|headcount Headcount|growth_mom_pct Growth", LB, "|")
		for (i = 1; i in LB; i++) {
			f = substr(LB[i], 1, index(LB[i], " ") - 1)
			if (!(f in NEW)) continue
			k = "\"" f "\""; old = V[k]; V[k] = NEW[f]
			unit = f == "burn" ? cu " per month" : f ~ /^(mrr|arr|cash)$/ ? cu : f == "runway_months" ? " months" : f == "growth_mom_pct" ? "% month over month" : ""
			was = (old ~ /^-?[0-9]/ && old + 0 != NEW[f] + 0) ? " (was " old ")" : ""
			printf "- %s: %s%s%s\n", substr(LB[i], index(LB[i], " ") + 1), NEW[f], unit, was > NUMS
		}
		V["\"as_of\""] = "\"" DATE "\""
		print "{"
		for (i = 1; i <= n; i++) printf "  %s: %s%s\n", K[i], V[K[i]], (i < n ? "," : "")
		print "}"
	}' "$found" "$cur" > "$t_cur"
	rc=$?
	[ "$rc" -eq 3 ] && die "metrics/current.json is not a JSON object; left as it is"
	[ "$rc" -eq 0 ] || die "writing metrics failed"
	cat "$t_cur" > "$t_hist" || die "writing metrics history failed"
	mv -f "$t_cur" metrics/current.json || die "cannot replace metrics/current.json"
	mv -f "$t_hist" "metrics/history/$today.json" || die "cannot write the history"
	files="\"metrics/current.json\", \"metrics/history/$today.json\", "
	say "wrote metrics/current.json and metrics/history/$today.json"
fi

# 4. The memo: numbers first, then every non-empty line of the notes as a
# bullet, verbatim but trimmed (a line already "- x" stays as it is).
memo=deliverables/memos/$today-notes.md n=1
while [ -e "$memo" ]; do n=$((n + 1)); memo=deliverables/memos/$today-notes-$n.md; done
{
	printf '# Notes of %s\n\n' "$today"
	printf 'The numbers and notes the founder sent on %s.\n\n## Numbers\n\n' "$today"
	if [ "$count" -gt 0 ]; then cat "$nums"
	else printf 'The notes state no metric in a form the example agent reads.\n'; fi
	printf '\n## Notes\n\n'
	awk '{
		l = $0; sub(/^[ \t]+/, "", l)
		# trailing blanks by hand: sub(/[ \t]+$/) is quadratic in mawk
		for (n = length(l); n > 0; n--)
			if ((c = substr(l, n, 1)) != " " && c != "\t" && c != "\r") break
		if (n == 0) next
		l = substr(l, 1, n)
		printf "%s%s\n", (l ~ /^- / ? "" : "- "), l
	}' "$notes"
	printf '\nWritten by the example agent (.omni-system/example-agent.sh, no AI) for model %s.\n' "$model"
} > "$t_memo" || die "writing the memo failed"
mv -f "$t_memo" "$memo" || die "cannot write $memo"
say "wrote $memo"

# 5. The final line: one JSON object, the result escaped.
if [ "$count" -gt 0 ]; then
	[ "$count" -eq 1 ] && what="1 metric ($names)" || what="$count metrics ($names)"
	res="Updated $what in metrics/current.json and metrics/history/$today.json and wrote the memo $memo."
else
	res="Found no metric in the notes, left metrics/ as it was and wrote the memo $memo."
fi
res=$(printf '%s' "$res" | sed 's/\\/\\\\/g; s/"/\\"/g')
printf '{"result": "%s", "files": [%s"%s"]}\n' "$res" "$files" "$memo"
