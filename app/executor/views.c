/*
 * views.c -- the executor's HTML pages of exec_views.h: a growable buffer,
 * escaping for text and attributes, and the two pages.
 *
 * Everything taken from the input goes through esc() (or url_esc() for a
 * path segment, whose result esc() then escapes again): the markup around
 * it is all literal.  A member of the wrong type is shown as its JSON text,
 * a missing one as a dash; nothing in the input makes a page fail, only
 * running out of memory does.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "exec_views.h"
#include "http_client.h"
#include "json_util.h"

/* Shown for a member that is missing or null. */
#define DASH "\xe2\x80\x94"
/* U+FFFD, for bytes HTML must not carry. */
#define REPLACEMENT "\xef\xbf\xbd"

/* The page grows in Omni's buffer (http_client.h); after a failed
 * allocation every append is a no-op and finish() gives NULL. */
static void buf_addn(struct hc_buf *b, const char *s, size_t n)
{
	if (!b->failed && n > 0)
		hc_buf_put(b, s, n);
}

/* Literal markup. */
static void add(struct hc_buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

/* Literal markup, formatted; never used on input text. */
__attribute__((format(printf, 2, 3)))
static void addf(struct hc_buf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		buf_addn(b, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_addn(b, big, (size_t)n);
	free(big);
}

/*
 * 'n' bytes of input as HTML text or attribute value: the five markup
 * characters become references; NUL, the other control characters but
 * tab, LF and CR, DEL and invalid UTF-8 become U+FFFD (HTML refuses them,
 * and a browser would guess).
 */
static void esc(struct hc_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		const char *rep = NULL;
		size_t k = 1;
		unsigned char c = p[i];

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\t': case '\n': case '\r': break;
		default:
			if (c < 0x20 || c == 0x7f)
				rep = REPLACEMENT;
			else if (c >= 0x80) {
				k = json_utf8_sequence(p + i, n - i);
				if (k == 0) {
					rep = REPLACEMENT;
					k = 1;
				} else if (k == 2 && c == 0xc2 &&
				    p[i + 1] < 0xa0)
					rep = REPLACEMENT;  /* C1 control */
			}
		}
		if (rep != NULL) {
			buf_addn(b, s + i - run, run);
			run = 0;
			add(b, rep);
		} else
			run += k;
		i += k;
	}
	buf_addn(b, s + n - run, run);
}

static void esc_str(struct hc_buf *b, const char *s)
{
	esc(b, s, strlen(s));
}

/* A path segment: every byte but the unreserved ones percent-encoded,
 * which leaves nothing an attribute would need escaped. */
static void url_esc(struct hc_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char pct[3];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf_addn(b, (const char *)&c, 1);
		else {
			pct[0] = '%';
			pct[1] = hex[c >> 4];
			pct[2] = hex[c & 15];
			buf_addn(b, pct, 3);
		}
	}
}

/* ---- reading the input ------------------------------------------------ */

/* Member 'key' of 'o', NULL when 'o' is not an object or has none (or it
 * is null). */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* Member 'key' when it is a string, else NULL. */
static const char *member_str(struct json_object *o, const char *key,
    size_t *n)
{
	struct json_object *v = member(o, key);

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	if (n != NULL)
		*n = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* Member 'key' when it is an integer, into '*out'. */
static int member_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = member(o, key);

	if (!json_object_is_type(v, json_type_int))
		return 0;
	*out = json_object_get_int64(v);
	return 1;
}

/* A member whose name is known, as an array; NULL when it is not one. */
static struct json_object *member_array(struct json_object *o,
    const char *key)
{
	struct json_object *v = member(o, key);

	return json_object_is_type(v, json_type_array) ? v : NULL;
}

/* Whether a string member equals 's'. */
static int member_is(struct json_object *o, const char *key, const char *s)
{
	const char *v = member_str(o, key, NULL);

	return v != NULL && strcmp(v, s) == 0;
}

/* ---- showing values --------------------------------------------------- */

/* A value as text: a string as itself, anything else as compact JSON, a
 * missing one as a dash. */
static void text(struct hc_buf *b, struct json_object *v)
{
	if (v == NULL)
		add(b, DASH);
	else if (json_object_is_type(v, json_type_string))
		esc(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	else
		esc_str(b, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A value as pretty-printed JSON in a <pre>. */
static void pre_json(struct hc_buf *b, struct json_object *v)
{
	add(b, "<pre class=\"json\">");
	esc_str(b, json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	add(b, "</pre>");
}

/* Epoch milliseconds as RFC 3339 UTC with milliseconds; 0 when out of the
 * years 0000..9999. */
static int rfc3339(int64_t ms, char *out, size_t len)
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac);
	return 1;
}

/* A time member: a <time> when it is epoch ms, else what is there; when
 * missing, 'missing' (literal markup). */
static void time_of(struct hc_buf *b, struct json_object *o, const char *key,
    const char *missing)
{
	struct json_object *v = member(o, key);
	char when[40];
	int64_t ms;

	if (v == NULL)
		add(b, missing);
	else if (member_int(o, key, &ms) && rfc3339(ms, when, sizeof(when)))
		addf(b, "<time datetime=\"%s\">%s</time>", when, when);
	else
		text(b, v);
}

/* 'a' - 'b' of two integer members, into '*out'; 0 when either is not
 * an integer or the difference overflows. */
static int diff_ms(struct json_object *a, const char *ka,
    struct json_object *b, const char *kb, int64_t *out)
{
	int64_t x, y;

	return member_int(a, ka, &x) && member_int(b, kb, &y) &&
	    !__builtin_sub_overflow(x, y, out);
}

static const char *const statuses[] = {
	"queued", "running", "completed", "failed", "cancelled", NULL
};

static const char *const outcomes[] = {
	"ops", "completed", "retry", "failed", "network", "cancelled", NULL
};

/* The class suffix for a value of a known set, "other" for the rest: the
 * input never reaches a class attribute. */
static const char *known(const char *v, const char *const *set)
{
	if (v != NULL)
		for (size_t i = 0; set[i] != NULL; i++)
			if (strcmp(v, set[i]) == 0)
				return set[i];
	return "other";
}

/* The status of a run or call as a coloured badge. */
static void badge(struct hc_buf *b, struct json_object *o, const char *key,
    const char *const *set)
{
	struct json_object *v = member(o, key);

	addf(b, "<span class=\"badge %s-%s\">", key,
	    known(member_str(o, key, NULL), set));
	text(b, v);
	add(b, "</span>");
}

/* A data-<key> attribute with the member's string (empty when it is not
 * one). */
static void data_attr(struct hc_buf *b, struct json_object *o, const char *key)
{
	const char *s;
	size_t n = 0;

	addf(b, " data-%s=\"", key);
	s = member_str(o, key, &n);
	if (s != NULL)
		esc(b, s, n);
	add(b, "\"");
}

/* A link to a run's page; its id as text when it is not a string. */
static void run_link(struct hc_buf *b, struct json_object *o, const char *key)
{
	const char *id;
	size_t n = 0;

	id = member_str(o, key, &n);
	if (id == NULL) {
		text(b, member(o, key));
		return;
	}
	add(b, "<a href=\"/runs/");
	url_esc(b, id, n);
	add(b, "\"><code>");
	esc(b, id, n);
	add(b, "</code></a>");
}

/* ---- the page frame --------------------------------------------------- */

static const char style[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;"
	"max-width:72em;padding:0 1em;color:#1d1d1f;background:#fff}\n"
	"h1{font-size:1.35em;word-break:break-all}\n"
	"h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}\n"
	"table{border-collapse:collapse;width:100%}\n"
	"th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee;"
	"vertical-align:top}\n"
	"th{background:#f6f6f6}\n"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}\n"
	"dt{font-weight:600}dd{margin:0}\n"
	"pre{background:#f6f8fa;padding:.6em;overflow:auto;max-height:40em;"
	"white-space:pre-wrap;word-break:break-all}\n"
	"code,pre,time{font-family:ui-monospace,monospace;font-size:.95em}\n"
	".badge{display:inline-block;padding:0 .5em;border-radius:.8em;"
	"background:#eee}\n"
	".status-queued{background:#e8e8e8}\n"
	".status-running{background:#dbeafe;color:#1e40af}\n"
	".status-completed{background:#dcfce7;color:#166534}\n"
	".status-failed{background:#fee2e2;color:#991b1b}\n"
	".status-cancelled{background:#fef3c7;color:#92400e}\n"
	".outcome-ops{background:#e0e7ff;color:#3730a3}\n"
	".outcome-completed{background:#dcfce7;color:#166534}\n"
	".outcome-retry{background:#fef3c7;color:#92400e}\n"
	".outcome-failed,.outcome-network{background:#fee2e2;color:#991b1b}\n"
	".outcome-cancelled{background:#e8e8e8}\n"
	"#timeline{padding-left:2.5em}\n"
	"#timeline li{margin:.3em 0}\n"
	"#timeline .field{margin-right:1em}\n"
	".offset{display:inline-block;min-width:6em;"
	"font-family:ui-monospace,monospace}\n"
	".call-error{color:#991b1b;white-space:pre-wrap}\n"
	".empty{color:#777}\n";

/* The head and the start of the body; 'title' is literal markup and
 * 'title_value', when not NULL, input appended to it. */
static void page_start(struct hc_buf *b, const char *title,
    struct json_object *title_value)
{
	add(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>");
	add(b, title);
	if (title_value != NULL)
		text(b, title_value);
	add(b, " \xc2\xb7 Omni executor</title>\n<style>\n");
	add(b, style);
	add(b, "</style>\n</head>\n<body>\n");
}

static void page_end(struct hc_buf *b)
{
	add(b, "</body>\n</html>\n");
}

/* The page out of the buffer: NULL only when out of memory. */
static char *finish(struct hc_buf *b, size_t *len)
{
	size_t n = 0;
	char *page;

	if (b->failed) {
		hc_buf_free(b);
		return NULL;
	}
	page = hc_buf_take(b, &n);
	if (len != NULL)
		*len = n;
	return page;
}

/* ---- the list --------------------------------------------------------- */

static void run_row(struct hc_buf *b, struct json_object *r)
{
	add(b, "<tr class=\"run\"");
	data_attr(b, r, "status");
	add(b, ">\n<td class=\"id\">");
	if (json_object_is_type(r, json_type_object)) {
		run_link(b, r, "run_id");
		add(b, "</td><td class=\"function\">");
		text(b, member(r, "function_id"));
		add(b, "</td><td class=\"status\">");
		badge(b, r, "status", statuses);
		add(b, "</td><td class=\"started\">");
		time_of(b, r, "started_at", DASH);
		add(b, "</td><td class=\"ended\">");
		time_of(b, r, "ended_at", member_is(r, "status", "running") ?
		    "running" : DASH);
		add(b, "</td>");
	} else {
		text(b, r);
		add(b, "</td><td></td><td></td><td></td><td></td>");
	}
	add(b, "</tr>\n");
}

char *exec_view_runs_html(struct json_object *runs, size_t *len)
{
	struct hc_buf b = { 0 };
	size_t n = 0;

	page_start(&b, "Runs", NULL);
	add(&b, "<h1>Runs</h1>\n");
	if (json_object_is_type(runs, json_type_array))
		n = json_object_array_length(runs);
	add(&b, "<table id=\"runs\">\n<thead><tr><th>Run</th><th>Function"
	    "</th><th>Status</th><th>Started</th><th>Ended</th></tr></thead>\n"
	    "<tbody>\n");
	for (size_t i = 0; i < n; i++)
		run_row(&b, json_object_array_get_idx(runs, i));
	add(&b, "</tbody>\n</table>\n");
	if (n == 0)
		add(&b, "<p class=\"empty\">No runs.</p>\n");
	page_end(&b);
	return finish(&b, len);
}

/* ---- one run ---------------------------------------------------------- */

static void summary(struct hc_buf *b, struct json_object *run)
{
	int64_t d;

	add(b, "<section id=\"summary\">\n<h2>Summary</h2>\n<dl>\n"
	    "<dt>Function</dt><dd>");
	text(b, member(run, "function_id"));
	add(b, "</dd>\n<dt>Event</dt><dd>");
	text(b, member(run, "event_name"));
	add(b, "</dd>\n<dt>Status</dt><dd class=\"status\">");
	badge(b, run, "status", statuses);
	add(b, "</dd>\n<dt>Started</dt><dd class=\"started\">");
	time_of(b, run, "started_at", DASH);
	add(b, "</dd>\n<dt>Ended</dt><dd class=\"ended\">");
	time_of(b, run, "ended_at", member_is(run, "status", "running") ?
	    "running" : DASH);
	add(b, "</dd>\n<dt>Duration</dt><dd class=\"duration\">");
	if (diff_ms(run, "ended_at", run, "started_at", &d))
		addf(b, "%lld ms", (long long)d);
	else
		add(b, DASH);
	add(b, "</dd>\n");
	if (member(run, "parent_run_id") != NULL) {
		add(b, "<dt>Parent</dt><dd class=\"parent\">");
		run_link(b, run, "parent_run_id");
		add(b, "</dd>\n");
	}
	add(b, "</dl>\n</section>\n");
}

/* The step a call ran: its name, else its id; "step" is the function
 * itself. */
static void call_step(struct hc_buf *b, struct json_object *c)
{
	struct json_object *id = member(c, "step");
	const char *name;
	size_t n = 0;

	add(b, "<span class=\"field step\"");
	if (id != NULL) {
		add(b, " title=\"");
		text(b, id);
		add(b, "\"");
	}
	add(b, ">");
	name = member_str(c, "step_name", &n);
	if (name != NULL)
		esc(b, name, n);
	else if (member(c, "step_name") != NULL)
		text(b, member(c, "step_name"));
	else if (member_is(c, "step", "step"))
		add(b, "(function)");
	else
		text(b, id);
	add(b, "</span>");
}

/* The ops a call answered with: "op name" each, comma-separated. */
static void call_ops(struct hc_buf *b, struct json_object *c)
{
	struct json_object *ops = member(c, "ops");
	size_t n;

	if (ops == NULL)
		return;
	add(b, " <span class=\"field ops\">ops: ");
	if (!json_object_is_type(ops, json_type_array)) {
		text(b, ops);
		add(b, "</span>");
		return;
	}
	n = json_object_array_length(ops);
	if (n == 0)
		add(b, "none");
	for (size_t i = 0; i < n; i++) {
		struct json_object *op = json_object_array_get_idx(ops, i);
		struct json_object *name = member(op, "name");

		if (i > 0)
			add(b, ", ");
		if (!json_object_is_type(op, json_type_object)) {
			text(b, op);
			continue;
		}
		add(b, "<span class=\"op\">");
		text(b, member(op, "op"));
		add(b, " ");
		text(b, name != NULL ? name : member(op, "id"));
		add(b, "</span>");
	}
	add(b, "</span>");
}

static void call_item(struct hc_buf *b, struct json_object *run,
    struct json_object *c)
{
	struct json_object *v;
	int64_t off, st;

	add(b, "<li class=\"call\"");
	data_attr(b, c, "outcome");
	add(b, ">");
	if (!json_object_is_type(c, json_type_object)) {
		text(b, c);
		add(b, "</li>\n");
		return;
	}
	add(b, "<span class=\"field offset\">");
	if (diff_ms(c, "started_at", run, "started_at", &off))
		addf(b, "%s%lld ms", off >= 0 ? "+" : "", (long long)off);
	else
		add(b, DASH);
	add(b, "</span> ");
	call_step(b, c);
	add(b, " <span class=\"field attempt\">attempt ");
	text(b, member(c, "attempt"));
	add(b, "</span> <span class=\"field http\">HTTP ");
	if (member_int(c, "http_status", &st) && st == 0)
		add(b, "no answer");
	else
		text(b, member(c, "http_status"));
	add(b, "</span> <span class=\"field outcome\">");
	badge(b, c, "outcome", outcomes);
	add(b, "</span>");
	if ((v = member(c, "duration_ms")) != NULL) {
		add(b, " <span class=\"field took\">took ");
		text(b, v);
		if (json_object_is_type(v, json_type_int))
			add(b, " ms");
		add(b, "</span>");
	}
	call_ops(b, c);
	if ((v = member(c, "error")) != NULL) {
		add(b, "<div class=\"call-error\">");
		text(b, v);
		add(b, "</div>");
	}
	add(b, "</li>\n");
}

static void timeline(struct hc_buf *b, struct json_object *run)
{
	struct json_object *calls = member_array(run, "calls");
	size_t n = calls != NULL ? json_object_array_length(calls) : 0;

	add(b, "<section id=\"calls\">\n<h2>Timeline</h2>\n"
	    "<ol id=\"timeline\">\n");
	for (size_t i = 0; i < n; i++)
		call_item(b, run, json_object_array_get_idx(calls, i));
	add(b, "</ol>\n");
	if (n == 0) {
		add(b, "<p class=\"empty\">No calls");
		if (member(run, "calls") != NULL && calls == NULL) {
			add(b, ": ");
			text(b, member(run, "calls"));
		}
		add(b, ".</p>\n");
	}
	add(b, "</section>\n");
}

/* A list member that is not an array: shown as it is, if at all. */
static void not_a_list(struct hc_buf *b, struct json_object *run,
    const char *key, const char *none)
{
	struct json_object *v = member(run, key);

	addf(b, "<p class=\"empty\">%s", none);
	if (v != NULL) {
		add(b, ": ");
		text(b, v);
	}
	add(b, ".</p>\n");
}

static void steps(struct hc_buf *b, struct json_object *run)
{
	struct json_object *list = member_array(run, "steps");
	size_t n = list != NULL ? json_object_array_length(list) : 0;

	add(b, "<section id=\"steps\">\n<h2>Memoized steps</h2>\n");
	if (n == 0) {
		not_a_list(b, run, "steps", "No memoized steps");
		add(b, "</section>\n");
		return;
	}
	add(b, "<table class=\"steps\">\n<thead><tr><th>Step</th><th>Name"
	    "</th><th>Result</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(list, i);
		struct json_object *err = member(s, "error");
		int is_obj = json_object_is_type(s, json_type_object);
		int has_err = is_obj &&
		    json_object_object_get_ex(s, "error", NULL);

		addf(b, "<tr class=\"step %s\"><td class=\"id\"><code>",
		    has_err ? "error" : "data");
		if (!is_obj) {
			text(b, s);
			add(b, "</code></td><td></td><td></td></tr>\n");
			continue;
		}
		text(b, member(s, "id"));
		add(b, "</code></td><td class=\"name\">");
		text(b, member(s, "name"));
		if (has_err) {
			add(b, "</td><td class=\"result\">error:");
			pre_json(b, err);
		} else {
			add(b, "</td><td class=\"result\">");
			pre_json(b, member(s, "data"));
		}
		add(b, "</td></tr>\n");
	}
	add(b, "</tbody>\n</table>\n");
	add(b, "</section>\n");
}

static void waiting(struct hc_buf *b, struct json_object *run)
{
	struct json_object *list = member_array(run, "waiting");
	size_t n = list != NULL ? json_object_array_length(list) : 0;

	add(b, "<section id=\"waiting\">\n<h2>Waiting for events</h2>\n");
	if (n == 0) {
		not_a_list(b, run, "waiting", "Not waiting for an event");
		add(b, "</section>\n");
		return;
	}
	add(b, "<table class=\"waiting\">\n<thead><tr><th>Step</th>"
	    "<th>Event</th><th>If</th><th>Until</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *w = json_object_array_get_idx(list, i);

		add(b, "<tr class=\"wait\"><td class=\"id\"><code>");
		if (!json_object_is_type(w, json_type_object)) {
			text(b, w);
			add(b, "</code></td><td></td><td></td><td></td>"
			    "</tr>\n");
			continue;
		}
		text(b, member(w, "id"));
		add(b, "</code></td><td class=\"event\">");
		text(b, member(w, "event"));
		add(b, "</td><td class=\"if\"><code>");
		text(b, member(w, "if"));
		add(b, "</code></td><td class=\"until\">");
		time_of(b, w, "until", DASH);
		add(b, "</td></tr>\n");
	}
	add(b, "</tbody>\n</table>\n</section>\n");
}

static void sleeping(struct hc_buf *b, struct json_object *run)
{
	struct json_object *list = member_array(run, "sleeping");
	size_t n = list != NULL ? json_object_array_length(list) : 0;

	add(b, "<section id=\"sleeping\">\n<h2>Sleeping</h2>\n");
	if (n == 0) {
		not_a_list(b, run, "sleeping", "Not sleeping");
		add(b, "</section>\n");
		return;
	}
	add(b, "<table class=\"sleeping\">\n<thead><tr><th>Step</th>"
	    "<th>Until</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(list, i);

		add(b, "<tr class=\"sleep\"><td class=\"id\"><code>");
		if (!json_object_is_type(s, json_type_object)) {
			text(b, s);
			add(b, "</code></td><td></td></tr>\n");
			continue;
		}
		text(b, member(s, "id"));
		add(b, "</code></td><td class=\"until\">");
		time_of(b, s, "until", DASH);
		add(b, "</td></tr>\n");
	}
	add(b, "</tbody>\n</table>\n</section>\n");
}

/* The error when there is one, else the output (null shown as such for
 * a finished run, as not yet there for one that is not). */
static void result(struct hc_buf *b, struct json_object *run)
{
	struct json_object *err = member(run, "error");
	struct json_object *out = member(run, "output");

	if (err != NULL) {
		add(b, "<section id=\"error\">\n<h2>Error</h2>\n");
		pre_json(b, err);
		add(b, "\n</section>\n");
		return;
	}
	add(b, "<section id=\"output\">\n<h2>Output</h2>\n");
	if (out != NULL || member_is(run, "status", "completed"))
		pre_json(b, out);
	else
		add(b, "<p class=\"empty\">No output yet.</p>");
	add(b, "\n</section>\n");
}

char *exec_view_run_html(struct json_object *run, size_t *len)
{
	struct hc_buf b = { 0 };
	struct json_object *id = member(run, "run_id");

	page_start(&b, "Run ", id);
	add(&b, "<p><a href=\"/runs\">All runs</a></p>\n<h1>Run <code>");
	if (json_object_is_type(run, json_type_object))
		text(&b, id);
	else
		add(&b, "(not a run)");
	add(&b, "</code></h1>\n");
	if (!json_object_is_type(run, json_type_object)) {
		pre_json(&b, run);
		page_end(&b);
		return finish(&b, len);
	}
	summary(&b, run);
	add(&b, "<section id=\"event\">\n<h2>Event</h2>\n");
	pre_json(&b, member(run, "event"));
	add(&b, "\n</section>\n");
	timeline(&b, run);
	steps(&b, run);
	waiting(&b, run);
	sleeping(&b, run);
	result(&b, run);
	page_end(&b);
	return finish(&b, len);
}

/* ---- content negotiation ---------------------------------------------- */

/* Whether the media range 'p' (n bytes: "type/sub;params") has q=0. */
static int q_zero(const char *p, size_t n)
{
	const char *end = p + n;

	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') &&
		    p[1] == '=') {
			p += 2;
			if (p < end && *p == '0') {
				for (p++; p < end && (*p == '0' || *p == '.');
				    p++)
					;
				return p == end || *p == ';' || *p == ' ' ||
				    *p == '\t';
			}
			return 0;
		}
	}
	return 0;
}

/* Whether media type 'p' (n bytes, no parameters) is JSON:
 * application/json or any "+json" type. */
static int is_json(const char *p, size_t n)
{
	return (n == 16 && strncasecmp(p, "application/json", 16) == 0) ||
	    (n > 5 && strncasecmp(p + n - 5, "+json", 5) == 0);
}

int exec_view_wants_html(const char *accept, const char *format)
{
	const char *p;

	if (format != NULL && strcasecmp(format, "html") == 0)
		return 1;
	if (format != NULL && strcasecmp(format, "json") == 0)
		return 0;
	if (accept == NULL)
		return 0;
	/* The media ranges in order; the first of text/html or a JSON type
	 * that is acceptable (q > 0) decides.  "*" ranges decide nothing. */
	for (p = accept; *p != '\0';) {
		size_t item = strcspn(p, ","), n;
		const char *t = p;

		while (t < p + item && (*t == ' ' || *t == '\t'))
			t++;
		n = strcspn(t, ";,");
		while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		if (!q_zero(t, item - (size_t)(t - p))) {
			if (n == 9 && strncasecmp(t, "text/html", 9) == 0)
				return 1;
			if (is_json(t, n))
				return 0;
		}
		p += item;
		if (*p == ',')
			p++;
	}
	return 0;
}
