/*
 * test_exec_views.c -- unit tests for app/executor/views.c: the runs list
 * and run pages (structure, escaping, links, bad input) and the choice
 * between HTML and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "exec_views.h"

#define EVIL "<script>alert(1)</script>"
#define EVIL_ESC "&lt;script&gt;alert(1)&lt;/script&gt;"

/* 2026-12-03T10:00:00.123Z */
#define T0 1796292000123LL

static struct json_object *
parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (o == NULL)
		print_error("unparsable test input: %s\n", text);
	assert_non_null(o);
	return o;
}

/* Render a run given as JSON text; checks the length it reports. */
static char *
run_page(const char *text)
{
	struct json_object *o = parse(text);
	size_t len = 0;
	char *html = exec_view_run_html(o, &len);

	json_object_put(o);
	assert_non_null(html);
	assert_int_equal(len, strlen(html));
	return html;
}

static char *
runs_page(const char *text)
{
	struct json_object *o = parse(text);
	size_t len = 0;
	char *html = exec_view_runs_html(o, &len);

	json_object_put(o);
	assert_non_null(html);
	assert_int_equal(len, strlen(html));
	return html;
}

/* Occurrences of 'needle', scanning forward only: strstr from each hit
 * would measure the rest of a megabytes-long page again every time
 * (ASan's strstr does), which made the large-page test quadratic. */
static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0, k = strlen(needle), left = strlen(hay);
	const char *p = hay, *hit;

	while ((hit = memmem(p, left, needle, k)) != NULL) {
		n++;
		left -= (size_t)(hit - p) + k;
		p = hit + k;
	}
	return n;
}

static void
has(const char *html, const char *needle)
{
	if (strstr(html, needle) == NULL)
		print_error("missing: %s\n", needle);
	assert_non_null(strstr(html, needle));
}

static void
lacks(const char *html, const char *needle)
{
	if (strstr(html, needle) != NULL)
		print_error("present: %s\n", needle);
	assert_null(strstr(html, needle));
}

/* The text between 'from' and the next 'to' after it, as a new string. */
static char *
between(const char *html, const char *from, const char *to)
{
	const char *a = strstr(html, from), *z;
	char *s;

	if (a == NULL)
		print_error("missing: %s\n", from);
	assert_non_null(a);
	a += strlen(from);
	z = strstr(a, to);
	assert_non_null(z);
	s = strndup(a, (size_t)(z - a));
	assert_non_null(s);
	return s;
}

/* What every page must be: HTML5 with its charset and title, styled
 * inline, no script and nothing fetched from elsewhere. */
static void
valid_page(const char *html)
{
	assert_int_equal(strncmp(html, "<!doctype html>\n", 16), 0);
	has(html, "<meta charset=\"utf-8\">");
	has(html, "<title>");
	has(html, "</title>");
	has(html, "<style>");
	lacks(html, "<script");
	lacks(html, "<link");
	lacks(html, "src=");
	lacks(html, "http://");
	lacks(html, "https://");
	lacks(html, "url(");
	assert_int_equal(count(html, "<html"), 1);
	has(html, "</body>\n</html>\n");
}

/* ---- the list --------------------------------------------------------- */

static void
test_runs_one_row_per_run_with_status(void **state)
{
	char *html = runs_page("["
	    "{\"run_id\":\"r3\",\"function_id\":\"app-f\",\"event_name\":\"e\","
	    "\"status\":\"running\",\"started_at\":1796292000123,"
	    "\"ended_at\":null},"
	    "{\"run_id\":\"r2\",\"function_id\":\"app-g\",\"status\":"
	    "\"failed\",\"started_at\":1796292000000,\"ended_at\":"
	    "1796292001000},"
	    "{\"run_id\":\"r1\",\"function_id\":\"app-f\",\"status\":"
	    "\"completed\",\"started_at\":0,\"ended_at\":1}]");
	const char *a, *b, *c;

	(void)state;
	valid_page(html);
	has(html, "<table id=\"runs\">");
	assert_int_equal(count(html, "<tr class=\"run\""), 3);
	/* Newest first as given. */
	a = strstr(html, "<tr class=\"run\" data-status=\"running\">");
	b = strstr(html, "<tr class=\"run\" data-status=\"failed\">");
	c = strstr(html, "<tr class=\"run\" data-status=\"completed\">");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	has(html, "<a href=\"/runs/r3\">");
	has(html, "<a href=\"/runs/r1\">");
	has(html, "status-running\">running</span>");
	has(html, "status-failed\">failed</span>");
	has(html, "status-completed\">completed</span>");
	has(html, "2026-12-03T10:00:00.123Z");
	has(html, "2026-12-03T10:00:01.000Z");
	has(html, "1970-01-01T00:00:00.001Z");
	has(html, "<td class=\"ended\">running</td>");
	has(html, "app-g");
	lacks(html, "No runs.");
	free(html);
}

static void
test_runs_empty_and_not_a_list(void **state)
{
	char *html = runs_page("[]");
	size_t len = 0;

	(void)state;
	valid_page(html);
	has(html, "<table id=\"runs\">");
	assert_int_equal(count(html, "<tr class=\"run\""), 0);
	has(html, "No runs.");
	free(html);

	html = runs_page("{\"runs\":[]}");
	valid_page(html);
	assert_int_equal(count(html, "<tr class=\"run\""), 0);
	free(html);

	html = exec_view_runs_html(NULL, &len);
	assert_non_null(html);
	assert_int_equal(len, strlen(html));
	valid_page(html);
	free(html);

	/* 'len' may be NULL. */
	html = exec_view_runs_html(NULL, NULL);
	assert_non_null(html);
	free(html);
}

static void
test_runs_wrong_types_render(void **state)
{
	char *html = runs_page("[5, null, \"x<y\", [], {},"
	    "{\"run_id\":7,\"function_id\":[1],\"status\":{\"a\":1},"
	    "\"started_at\":\"yesterday\",\"ended_at\":true}]");

	(void)state;
	valid_page(html);
	assert_int_equal(count(html, "<tr class=\"run\""), 6);
	has(html, "x&lt;y");
	has(html, "yesterday");
	has(html, "status-other");
	/* An id that is not a string is shown, not linked. */
	has(html, "<td class=\"id\">7</td>");
	lacks(html, "href=\"/runs/7\"");
	free(html);
}

static void
test_runs_escaped(void **state)
{
	char *html = runs_page("[{\"run_id\":\"" EVIL "\","
	    "\"function_id\":\"f\\\"&'" EVIL "\",\"status\":\"" EVIL "\"}]");

	(void)state;
	valid_page(html);
	lacks(html, "<script");
	has(html, EVIL_ESC);
	has(html, "f&quot;&amp;&#39;&lt;script");
	has(html, "data-status=\"" EVIL_ESC "\"");
	has(html, "<a href=\"/runs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E\">");
	free(html);
}

/* ---- one run ---------------------------------------------------------- */

static const char full_run[] =
	"{\"run_id\":\"01J-run\",\"function_id\":\"app-hello\","
	"\"event_name\":\"demo/hello\",\"status\":\"completed\","
	"\"started_at\":1796292000123,\"ended_at\":1796292001623,"
	"\"parent_run_id\":\"01J-parent\","
	"\"event\":{\"name\":\"demo/hello\",\"data\":{\"who\":\"a/b\"}},"
	"\"output\":{\"greeting\":\"hi\"},\"error\":null,"
	"\"calls\":["
	"{\"seq\":1,\"step\":\"step\",\"step_name\":null,\"attempt\":0,"
	"\"started_at\":1796292000123,\"duration_ms\":30,"
	"\"http_status\":206,\"outcome\":\"ops\","
	"\"ops\":[{\"op\":\"StepRun\",\"id\":\"h1\",\"name\":\"fetch\"},"
	"{\"op\":\"Sleep\",\"id\":\"h2\",\"name\":null}],\"error\":null},"
	"{\"seq\":2,\"step\":\"h9\",\"step_name\":\"charge\",\"attempt\":1,"
	"\"started_at\":1796292000243,\"duration_ms\":5,\"http_status\":0,"
	"\"outcome\":\"network\",\"ops\":[],\"error\":\"connection refused\"},"
	"{\"seq\":3,\"step\":\"h9\",\"attempt\":2,"
	"\"started_at\":1796292001123,\"duration_ms\":12,"
	"\"http_status\":200,\"outcome\":\"completed\",\"ops\":[],"
	"\"error\":null}],"
	"\"steps\":[{\"id\":\"h1\",\"name\":\"fetch\",\"data\":{\"n\":42}},"
	"{\"id\":\"h3\",\"name\":null,\"error\":{\"message\":\"boom\"}}],"
	"\"waiting\":[{\"id\":\"h4\",\"event\":\"demo/paid\","
	"\"if\":\"async.data.id == event.data.id\",\"until\":1796292060123}],"
	"\"sleeping\":[{\"id\":\"h2\",\"until\":1796295600123}]}";

static void
test_run_page_structure(void **state)
{
	char *html = run_page(full_run), *s;

	(void)state;
	valid_page(html);
	s = between(html, "<h1>", "</h1>");
	has(s, "01J-run");
	free(s);
	s = between(html, "<title>", "</title>");
	has(s, "01J-run");
	free(s);
	has(html, "app-hello");
	has(html, "demo/hello");
	has(html, "status-completed\">completed</span>");
	has(html, "<time datetime=\"2026-12-03T10:00:00.123Z\">");
	has(html, "2026-12-03T10:00:01.623Z");
	has(html, "<dd class=\"duration\">1500 ms</dd>");
	has(html, "<a href=\"/runs/01J-parent\">");
	has(html, "<a href=\"/runs\">");

	/* The event, pretty-printed without escaped slashes. */
	s = between(html, "<section id=\"event\">", "</section>");
	has(s, "<pre");
	has(s, "&quot;who&quot;:&quot;a/b&quot;");
	lacks(s, "\\/");
	has(s, "\n");
	free(s);

	/* Memoized steps: data and error. */
	s = between(html, "<section id=\"steps\">", "</section>");
	assert_int_equal(count(s, "<tr class=\"step "), 2);
	has(s, "<tr class=\"step data\">");
	has(s, "<tr class=\"step error\">");
	has(s, "&quot;n&quot;:42");
	has(s, "&quot;message&quot;:&quot;boom&quot;");
	has(s, "fetch");
	free(s);

	/* What it waits for and until when. */
	s = between(html, "<section id=\"waiting\">", "</section>");
	has(s, "demo/paid");
	has(s, "async.data.id == event.data.id");
	has(s, "2026-12-03T10:01:00.123Z");
	free(s);
	s = between(html, "<section id=\"sleeping\">", "</section>");
	has(s, "h2");
	has(s, "2026-12-03T11:00:00.123Z");
	free(s);

	/* The output, no error section. */
	s = between(html, "<section id=\"output\">", "</section>");
	has(s, "&quot;greeting&quot;:&quot;hi&quot;");
	free(s);
	lacks(html, "<section id=\"error\">");
	free(html);
}

static void
test_run_timeline_in_order_with_offsets(void **state)
{
	char *html = run_page(full_run), *tl, *li[3];
	const char *p;

	(void)state;
	tl = between(html, "<ol id=\"timeline\">", "</ol>");
	assert_int_equal(count(tl, "<li class=\"call\""), 3);
	/* Split into the three items, in order. */
	p = tl;
	for (int i = 0; i < 3; i++) {
		li[i] = between(p, "<li class=\"call\"", "</li>");
		p = strstr(p, "<li class=\"call\"") + 1;
	}
	assert_int_equal(strncmp(li[0], " data-outcome=\"ops\">", 20), 0);
	assert_int_equal(strncmp(li[1], " data-outcome=\"network\">", 24), 0);
	assert_int_equal(strncmp(li[2], " data-outcome=\"completed\">", 26),
	    0);

	has(li[0], ">+0 ms<");
	has(li[0], "(function)");
	has(li[0], "attempt 0");
	has(li[0], "HTTP 206");
	has(li[0], "StepRun fetch");
	has(li[0], "StepRun fetch</span>, <span class=\"op\">Sleep h2");
	has(li[0], "took 30 ms");
	lacks(li[0], "call-error");

	has(li[1], ">+120 ms<");
	has(li[1], ">charge<");
	has(li[1], "title=\"h9\"");
	has(li[1], "attempt 1");
	has(li[1], "HTTP no answer");
	has(li[1], "outcome-network");
	has(li[1], "connection refused");
	lacks(li[1], "(function)");

	has(li[2], ">+1000 ms<");
	has(li[2], ">h9<");      /* no name: the id */
	has(li[2], "HTTP 200");
	has(li[2], "attempt 2");
	for (int i = 0; i < 3; i++)
		free(li[i]);
	free(tl);
	free(html);
}

static void
test_run_escapes_everything(void **state)
{
	char *html = run_page("{\"run_id\":\"" EVIL "\","
	    "\"function_id\":\"" EVIL "\",\"event_name\":\"" EVIL "\","
	    "\"status\":\"failed\",\"started_at\":0,"
	    "\"parent_run_id\":\"x\\\"onmouseover=1 " EVIL "\","
	    "\"event\":{\"data\":{\"k\":\"" EVIL "\",\"q\":\"a\\\"b&c'd\"}},"
	    "\"error\":{\"message\":\"" EVIL "\"},"
	    "\"calls\":[{\"step\":\"" EVIL "\",\"step_name\":\"" EVIL "\","
	    "\"attempt\":\"" EVIL "\",\"started_at\":5,"
	    "\"http_status\":\"" EVIL "\",\"outcome\":\"x\\\" onclick=\\\"y\","
	    "\"ops\":[{\"op\":\"" EVIL "\",\"id\":\"" EVIL "\","
	    "\"name\":\"" EVIL "\"}],\"error\":\"" EVIL " & \\\"q\\\"\"}],"
	    "\"steps\":[{\"id\":\"" EVIL "\",\"name\":\"" EVIL "\","
	    "\"data\":\"" EVIL "\"}],"
	    "\"waiting\":[{\"id\":\"" EVIL "\",\"event\":\"" EVIL "\","
	    "\"if\":\"a < b && c > 'd'\",\"until\":\"" EVIL "\"}],"
	    "\"sleeping\":[{\"id\":\"" EVIL "\",\"until\":\"" EVIL "\"}]}");
	char *s;

	(void)state;
	valid_page(html);
	lacks(html, "<script");
	lacks(html, "<SCRIPT");
	lacks(html, "\"onmouseover");
	lacks(html, "\" onclick");
	has(html, "x&quot;onmouseover=1");
	has(html, "data-outcome=\"x&quot; onclick=&quot;y\"");
	has(html, "a &lt; b &amp;&amp; c &gt; &#39;d&#39;");
	has(html, EVIL_ESC " &amp; &quot;q&quot;");
	/* In the pretty JSON: the JSON's own quotes and escapes, escaped. */
	s = between(html, "<section id=\"event\">", "</section>");
	has(s, "&quot;k&quot;:&quot;" EVIL_ESC "&quot;");
	has(s, "&quot;a\\&quot;b&amp;c&#39;d&quot;");
	free(s);
	s = between(html, "<section id=\"error\">", "</section>");
	has(s, EVIL_ESC);
	free(s);
	lacks(html, "<section id=\"output\">");
	s = between(html, "<h1>", "</h1>");
	has(s, EVIL_ESC);
	free(s);
	s = between(html, "<ol id=\"timeline\">", "</ol>");
	assert_int_equal(count(s, "<li class=\"call\""), 1);
	/* Every input string in the call shows, escaped: step name, id in
	 * the title, attempt, status, op, op name, error. */
	assert_true(count(s, EVIL_ESC) >= 7);
	free(s);
	/* The parent link's id is percent-encoded, then escaped. */
	has(html, "<a href=\"/runs/x%22onmouseover%3D1%20%3Cscript%3E");
	free(html);
}

static void
test_run_ids_percent_encoded(void **state)
{
	char *html = run_page("{\"run_id\":\"a/b c\","
	    "\"parent_run_id\":\"p/../q r?x=1&y#z\\u00e9~._-\"}");

	(void)state;
	has(html, "<a href=\"/runs/p%2F..%2Fq%20r%3Fx%3D1%26y%23z%C3%A9~._-\">");
	has(html, "p/../q r?x=1&amp;y#z\xc3\xa9~._-");
	lacks(html, "href=\"/runs/p/");
	free(html);

	html = runs_page("[{\"run_id\":\"a/b c\",\"status\":\"queued\"},"
	    "{\"run_id\":\"\",\"status\":\"queued\"}]");
	has(html, "<a href=\"/runs/a%2Fb%20c\"><code>a/b c</code></a>");
	lacks(html, "href=\"/runs/a/b");
	lacks(html, "href=\"/runs/a%2Fb c");
	has(html, "<a href=\"/runs/\">");
	free(html);
}

static void
test_run_missing_and_wrong_types(void **state)
{
	static const char *const inputs[] = {
		"{}",
		"[]",
		"5",
		"\"run\"",
		"null",
		"{\"calls\":5,\"steps\":null,\"started_at\":\"yesterday\"}",
		"{\"run_id\":[1,2],\"status\":7,\"event\":\"x\",\"calls\":{},"
		"\"steps\":\"s\",\"waiting\":{},\"sleeping\":[1,\"a\",null],"
		"\"output\":5,\"error\":false,\"parent_run_id\":9,"
		"\"ended_at\":1.5,\"started_at\":{}}",
		"{\"started_at\":10,\"calls\":[5,null,\"c\",[],{},"
		"{\"started_at\":\"t\",\"attempt\":\"x\",\"ops\":3,"
		"\"step\":5,\"step_name\":6,\"http_status\":null,"
		"\"outcome\":9,\"error\":[1]},"
		"{\"started_at\":9,\"ops\":[1,{\"op\":5},{},null]}],"
		"\"steps\":[1,{},{\"error\":null}],"
		"\"waiting\":[1,{},{\"until\":\"never\"}]}",
		"{\"started_at\":9223372036854775807,\"ended_at\":"
		"-9223372036854775807,\"calls\":[{\"started_at\":"
		"-9223372036854775807}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char *html;
		struct json_object *o = json_tokener_parse(inputs[i]);
		size_t len = 0;

		/* "null" parses to NULL: the page takes that too. */
		html = exec_view_run_html(o, &len);
		json_object_put(o);
		if (html == NULL)
			print_error("input %zu failed\n", i);
		assert_non_null(html);
		assert_int_equal(len, strlen(html));
		valid_page(html);
		has(html, "<h1>");
		free(html);
	}
}

static void
test_run_wrong_types_shown(void **state)
{
	char *html = run_page("{\"run_id\":\"r\",\"calls\":5,\"steps\":null,"
	    "\"started_at\":\"yesterday\",\"status\":\"running\","
	    "\"sleeping\":[1]}");
	char *s;

	(void)state;
	s = between(html, "<ol id=\"timeline\">", "</ol>");
	assert_int_equal(count(s, "<li"), 0);
	free(s);
	has(html, "No calls: 5.");
	has(html, "<dd class=\"started\">yesterday</dd>");
	has(html, "<dd class=\"ended\">running</dd>");
	has(html, "<dd class=\"duration\">\xe2\x80\x94</dd>");
	s = between(html, "<section id=\"steps\">", "</section>");
	has(s, "No memoized steps.");
	free(s);
	has(html, "<section id=\"output\">");
	has(html, "No output yet.");
	/* No parent: no parent row. */
	lacks(html, "class=\"parent\"");
	free(html);

	/* Calls whose offsets cannot be computed show a dash. */
	html = run_page("{\"run_id\":\"r\",\"calls\":[{\"started_at\":5},"
	    "{\"started_at\":\"x\"}],\"started_at\":9}");
	s = between(html, "<ol id=\"timeline\">", "</ol>");
	assert_int_equal(count(s, "<li class=\"call\""), 2);
	has(s, ">-4 ms<");
	has(s, ">\xe2\x80\x94<");
	free(s);
	free(html);
}

static void
test_run_completed_null_output(void **state)
{
	char *html = run_page("{\"run_id\":\"r\",\"status\":\"completed\","
	    "\"output\":null,\"error\":null}");
	char *s;

	(void)state;
	s = between(html, "<section id=\"output\">", "</section>");
	has(s, ">null</pre>");
	free(s);
	lacks(html, "<section id=\"error\">");
	free(html);
}

static void
test_control_bytes_and_bad_utf8_replaced(void **state)
{
	struct json_object *o = json_object_new_object();
	static const char name[] = "a\0b\x01" "c\x7f" "d\xff" "e\xc2\x85"
	    "f\xc3\xa9";
	char *html;
	size_t len;

	(void)state;
	json_object_object_add(o, "run_id", json_object_new_string_len(name,
	    (int)sizeof(name) - 1));
	html = exec_view_run_html(o, &len);
	json_object_put(o);
	assert_non_null(html);
	/* The NUL did not cut the page short, and nothing raw got in. */
	assert_int_equal(len, strlen(html));
	has(html, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd"
	    "d\xef\xbf\xbd" "e\xef\xbf\xbd" "f\xc3\xa9");
	lacks(html, "\x01");
	lacks(html, "\x7f");
	lacks(html, "\xff");
	free(html);
}

static void
test_times_edges(void **state)
{
	char *html = runs_page("[{\"run_id\":\"a\",\"started_at\":-1,"
	    "\"ended_at\":253402300800000},"
	    "{\"run_id\":\"b\",\"started_at\":253402300799999,"
	    "\"status\":\"failed\"}]");

	(void)state;
	has(html, "1969-12-31T23:59:59.999Z");
	/* Past year 9999: the number as given. */
	has(html, "<td class=\"ended\">253402300800000</td>");
	has(html, "9999-12-31T23:59:59.999Z");
	/* A finished run without an end: a dash, not "running". */
	has(html, "<td class=\"ended\">\xe2\x80\x94</td>");
	free(html);
}

static void
test_large_input(void **state)
{
	struct json_object *run = json_object_new_object();
	struct json_object *calls = json_object_new_array();
	size_t big = 1 << 20, len = 0;
	char *s = malloc(big + 1), *html, *tl;

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < big; i++)
		s[i] = "<&>x"[i % 4];
	s[big] = '\0';
	json_object_object_add(run, "run_id", json_object_new_string("big"));
	json_object_object_add(run, "started_at", json_object_new_int64(0));
	json_object_object_add(run, "output", json_object_new_string(s));
	for (int i = 0; i < 20000; i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "started_at",
		    json_object_new_int64(i));
		json_object_object_add(c, "outcome",
		    json_object_new_string("ops"));
		json_object_array_add(calls, c);
	}
	json_object_object_add(run, "calls", calls);
	free(s);
	html = exec_view_run_html(run, &len);
	json_object_put(run);
	assert_non_null(html);
	assert_int_equal(len, strlen(html));
	assert_true(len > big * 4);
	assert_int_equal(count(html, "&lt;&amp;&gt;x"), big / 4);
	tl = between(html, "<ol id=\"timeline\">", "</ol>");
	assert_int_equal(count(tl, "<li class=\"call\""), 20000);
	has(tl, ">+19999 ms<");
	free(tl);
	free(html);
}

/* ---- negotiation ------------------------------------------------------ */

#define CHROMIUM "text/html,application/xhtml+xml,application/xml;q=0.9," \
	"image/avif,image/webp,image/apng,*/*;q=0.8," \
	"application/signed-exchange;v=b3;q=0.7"

static void
test_wants_html_accept(void **state)
{
	(void)state;
	assert_int_equal(exec_view_wants_html(CHROMIUM, NULL), 1);
	assert_int_equal(exec_view_wants_html("text/html,application/xhtml+xml,"
	    "application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8",
	    NULL), 1);
	assert_int_equal(exec_view_wants_html("*/*", NULL), 0);
	assert_int_equal(exec_view_wants_html("text/*", NULL), 0);
	assert_int_equal(exec_view_wants_html("application/json", NULL), 0);
	assert_int_equal(exec_view_wants_html(NULL, NULL), 0);
	assert_int_equal(exec_view_wants_html("", NULL), 0);
	assert_int_equal(exec_view_wants_html("application/json, text/html",
	    NULL), 0);
	assert_int_equal(exec_view_wants_html("text/html, application/json",
	    NULL), 1);
	assert_int_equal(exec_view_wants_html(" TEXT/HTML ;charset=utf-8",
	    NULL), 1);
	assert_int_equal(exec_view_wants_html("application/problem+json,"
	    "text/html", NULL), 0);
	/* Refused with q=0, it does not count. */
	assert_int_equal(exec_view_wants_html("text/html;q=0,"
	    "application/json", NULL), 0);
	assert_int_equal(exec_view_wants_html("text/html; q=0.0", NULL), 0);
	assert_int_equal(exec_view_wants_html("application/json;q=0,"
	    "text/html", NULL), 1);
	assert_int_equal(exec_view_wants_html("text/html;q=0.5", NULL), 1);
	/* Not the type, only like it. */
	assert_int_equal(exec_view_wants_html("text/htmlx", NULL), 0);
	assert_int_equal(exec_view_wants_html("xtext/html", NULL), 0);
}

static void
test_wants_html_format_overrides(void **state)
{
	(void)state;
	assert_int_equal(exec_view_wants_html(NULL, "html"), 1);
	assert_int_equal(exec_view_wants_html("application/json", "html"), 1);
	assert_int_equal(exec_view_wants_html("*/*", "html"), 1);
	assert_int_equal(exec_view_wants_html(CHROMIUM, "json"), 0);
	assert_int_equal(exec_view_wants_html(NULL, "json"), 0);
	/* Any other value leaves it to Accept. */
	assert_int_equal(exec_view_wants_html(CHROMIUM, "xml"), 1);
	assert_int_equal(exec_view_wants_html("application/json", ""), 0);
	assert_int_equal(exec_view_wants_html(CHROMIUM, ""), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_one_row_per_run_with_status),
		cmocka_unit_test(test_runs_empty_and_not_a_list),
		cmocka_unit_test(test_runs_wrong_types_render),
		cmocka_unit_test(test_runs_escaped),
		cmocka_unit_test(test_run_page_structure),
		cmocka_unit_test(test_run_timeline_in_order_with_offsets),
		cmocka_unit_test(test_run_escapes_everything),
		cmocka_unit_test(test_run_ids_percent_encoded),
		cmocka_unit_test(test_run_missing_and_wrong_types),
		cmocka_unit_test(test_run_wrong_types_shown),
		cmocka_unit_test(test_run_completed_null_output),
		cmocka_unit_test(test_control_bytes_and_bad_utf8_replaced),
		cmocka_unit_test(test_times_edges),
		cmocka_unit_test(test_large_input),
		cmocka_unit_test(test_wants_html_accept),
		cmocka_unit_test(test_wants_html_format_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
