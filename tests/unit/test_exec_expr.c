/*
 * test_exec_expr.c -- unit tests for app/executor/expr.c: the CEL subset
 * (compile, evaluate, refuse).
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

#include "exec_expr.h"

/* The event and async objects most cases run against. */
static const char EVENT_JSON[] =
    "{\"name\":\"app/x\",\"data\":{"
    "\"n\":5,\"f\":2.5,\"one\":1,\"onef\":1.0,\"s\":\"abc\","
    "\"nul\":\"a\\u0000b\",\"b\":true,\"z\":null,"
    "\"obj\":{\"k\":1},\"obj2\":{\"k\":1},\"arr\":[1,2],"
    "\"big\":9223372036854775807,\"huge\":18446744073709551615,"
    "\"p53\":9007199254740993,"
    "\"user\":{\"id\":\"u1\"}}}";
static const char ASYNC_JSON[] =
    "{\"data\":{\"n\":5,\"s\":\"abc\",\"f\":2.5}}";

struct fixture {
	struct json_object *event;
	struct json_object *async;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->event = json_tokener_parse(EVENT_JSON);
	f->async = json_tokener_parse(ASYNC_JSON);
	if (f->event == NULL || f->async == NULL) {
		json_object_put(f->event);
		json_object_put(f->async);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	json_object_put(f->event);
	json_object_put(f->async);
	free(f);
	return 0;
}

struct bool_case {
	const char *text;
	int want;
};

/* Compile 'text' as EXPR_BOOL (must succeed) and evaluate it. */
static int
eval_text(const char *text, struct json_object *event,
    struct json_object *async)
{
	struct exec_expr *e = NULL;
	char why[160] = "";
	enum exec_expr_err rc;
	int got;

	rc = exec_expr_compile(text, EXPR_BOOL, &e, why, sizeof(why));
	if (rc != EXPR_OK)
		print_error("compile '%s': %d (%s)\n", text, rc, why);
	assert_int_equal(rc, EXPR_OK);
	assert_non_null(e);
	got = exec_expr_eval(e, event, async);
	exec_expr_free(e);
	return got;
}

static void
run_bool_cases(void **state, const struct bool_case *c, size_t n)
{
	struct fixture *f = *state;
	size_t k;
	int got;

	for (k = 0; k < n; k++) {
		got = eval_text(c[k].text, f->event, f->async);
		if (got != c[k].want)
			print_error("'%s': got %d, want %d\n", c[k].text, got,
			    c[k].want);
		assert_int_equal(got, c[k].want);
	}
}

#define RUN(state, cases) \
	run_bool_cases((state), (cases), sizeof(cases) / sizeof((cases)[0]))

/* Compile must fail with 'want'; '*out' NULL, a message with "column"
 * (except for the length limit, which has no column to name). */
static void
expect_refused(const char *text, enum exec_expr_kind kind,
    enum exec_expr_err want, const char *msg_part)
{
	struct exec_expr *e = (struct exec_expr *)&e;  /* not NULL */
	char why[160] = "";
	enum exec_expr_err rc;

	rc = exec_expr_compile(text, kind, &e, why, sizeof(why));
	if (rc != want || (msg_part != NULL && strstr(why, msg_part) == NULL))
		print_error("'%s': got %d (%s), want %d with '%s'\n", text,
		    rc, why, want, msg_part != NULL ? msg_part : "");
	assert_int_equal(rc, want);
	assert_null(e);
	if (msg_part != NULL)
		assert_non_null(strstr(why, msg_part));
}

static void
test_each_operator(void **state)
{
	static const struct bool_case cases[] = {
		{ "event.data.n == 5", 1 }, { "event.data.n == 6", 0 },
		{ "event.data.n != 6", 1 }, { "event.data.n != 5", 0 },
		{ "event.data.n < 6", 1 }, { "event.data.n < 5", 0 },
		{ "event.data.n <= 5", 1 }, { "event.data.n <= 4", 0 },
		{ "event.data.n > 4", 1 }, { "event.data.n > 5", 0 },
		{ "event.data.n >= 5", 1 }, { "event.data.n >= 6", 0 },
		{ "5 == event.data.n", 1 }, { "6 > event.data.n", 1 },
		{ "event.data.n==5", 1 }, { " \tevent.data.n\n==\r5 ", 1 },
		{ "event.data. n == 5", 1 },
		{ "-1 < 0", 1 }, { "event.data.n > -3", 1 },
		{ "event.data.n > - 3", 1 }, { "-3 > event.data.n", 0 },
	};

	RUN(state, cases);
}

static void
test_numbers_compare_numerically(void **state)
{
	static const struct bool_case cases[] = {
		{ "1 == 1.0", 1 }, { "1.0 == 1", 1 }, { "1 != 1.0", 0 },
		{ "event.data.one == 1.0", 1 }, { "event.data.onef == 1", 1 },
		{ "event.data.one == event.data.onef", 1 },
		{ "event.data.f == 2.5", 1 }, { "event.data.f == 2", 0 },
		{ "event.data.f > 2", 1 }, { "event.data.f < 3", 1 },
		{ "event.data.f < 2", 0 }, { "2.5 == event.data.f", 1 },
		{ "event.data.f == -2.5", 0 }, { "-2.5 < event.data.f", 1 },
		{ "1e3 == 1000", 1 }, { ".5 == 0.5", 1 }, { "2.5e-1 < 1", 1 },
		/* Exact int/double comparison: 2^53 + 1 is not 2^53. */
		{ "event.data.p53 == 9007199254740992.0", 0 },
		{ "event.data.p53 > 9007199254740992.0", 1 },
		{ "event.data.p53 == 9007199254740993", 1 },
		{ "event.data.big == 9223372036854775807", 1 },
		{ "-9223372036854775808 < -9223372036854775807", 1 },
		{ "-9223372036854775808 == -9223372036854775808", 1 },
		{ "event.data.huge > event.data.big", 1 },
		{ "event.data.huge > 9223372036854775807", 1 },
	};

	RUN(state, cases);
}

static void
test_strings(void **state)
{
	struct fixture *f = *state;
	struct json_object *nul = NULL;
	static const struct bool_case cases[] = {
		{ "event.data.s == \"abc\"", 1 },
		{ "event.data.s == 'abc'", 1 },
		{ "event.data.s == \"abd\"", 0 },
		{ "event.data.s == \"ab\"", 0 },
		{ "event.data.s != \"abd\"", 1 },
		{ "\"abc\" < \"abd\"", 1 }, { "\"abd\" < \"abc\"", 0 },
		{ "\"ab\" < \"abc\"", 1 }, { "\"abc\" <= \"abc\"", 1 },
		{ "\"b\" > \"abc\"", 1 }, { "event.data.s >= \"abc\"", 1 },
		{ "event.data.s > \"abc\"", 0 },
		{ "\"\" < \"a\"", 1 }, { "\"\" == ''", 1 },
		{ "event.name == \"app/x\"", 1 },
		{ "\"a\\\"b\" == 'a\"b'", 1 }, { "'\\'' == \"'\"", 1 },
		{ "\"\\\\\" == '\\\\'", 1 }, { "\"\\n\" == \"\\u000a\"", 1 },
		{ "\"\\t\" == \"\\u0009\"", 1 }, { "\"\\t\" == \"t\"", 0 },
		{ "\"\xc3\xa9\" == \"\\u00e9\"", 1 },
		{ "\"\xe2\x82\xac\" == \"\\u20AC\"", 1 },
		/* Embedded NUL: byte for byte, length included. */
		{ "event.data.nul == \"a\"", 0 },
		{ "event.data.nul == \"a\\u0000b\"", 1 },
		{ "event.data.nul == \"a\\u0000c\"", 0 },
		{ "event.data.nul > \"a\"", 1 },
		{ "\"a\" == \"a\\u0000\"", 0 },
		{ "\"a\\u0000\" == \"a\\u0000\"", 1 },
		{ "\"a\" < \"a\\u0000\"", 1 },
	};

	/* The fixture really holds a NUL, or the cases prove nothing. */
	assert_true(json_object_object_get_ex(
	    json_object_object_get(f->event, "data"), "nul", &nul));
	assert_int_equal(json_object_get_string_len(nul), 3);
	RUN(state, cases);
}

static void
test_type_mismatch(void **state)
{
	static const struct bool_case cases[] = {
		{ "event.data.n == \"5\"", 0 }, { "event.data.n != \"5\"", 1 },
		{ "event.data.b == 1", 0 }, { "event.data.b != 1", 1 },
		{ "event.data.b == true", 1 }, { "event.data.b != false", 1 },
		{ "event.data.b == false", 0 }, { "true == true", 1 },
		{ "event.data.s == null", 0 }, { "event.data.s != null", 1 },
		{ "event.data.n == null", 0 },
		/* Orderings only between numbers or between strings. */
		{ "event.data.s < 5", 0 }, { "event.data.s > 5", 0 },
		{ "event.data.s >= 5", 0 }, { "event.data.s <= 5", 0 },
		{ "true > false", 0 }, { "false < true", 0 },
		{ "null <= null", 0 }, { "null < 1", 0 },
		{ "event.data.obj < event.data.obj", 0 },
		/* Objects and arrays: equal by content, never to scalars. */
		{ "event.data.obj == event.data.obj2", 1 },
		{ "event.data.obj == event.data.arr", 0 },
		{ "event.data.obj == 1", 0 }, { "event.data.arr != null", 1 },
	};

	RUN(state, cases);
}

static void
test_missing_is_null(void **state)
{
	static const struct bool_case cases[] = {
		{ "event.data.missing == null", 1 },
		{ "event.data.missing != null", 0 },
		{ "event.data.z == null", 1 },
		{ "event.nope.deeper.still == null", 1 },
		{ "event.data.s.sub == null", 1 },      /* under a string */
		{ "event.data.arr.x == null", 1 },      /* under an array */
		{ "event.data.missing == 0", 0 },
		{ "event.data.missing == \"\"", 0 },
		{ "event.data.missing == false", 0 },
		{ "event.data.missing < 1", 0 },
		{ "event.data.n != null", 1 },
		{ "async.data.missing == event.data.missing", 1 },
		{ "event.data.s == async.data.missing", 0 },
		{ "event.data.n == async.data.n", 1 },
		{ "event.data.s == async.data.s", 1 },
		{ "event.data.f == async.data.f", 1 },
		{ "async.data.n < event.data.n", 0 },
		{ "event == null", 0 }, { "async.data != null", 1 },
	};

	RUN(state, cases);
}

static void
test_logic_and_precedence(void **state)
{
	static const struct bool_case cases[] = {
		{ "event.data.n == 5 && event.data.s == \"abc\"", 1 },
		{ "event.data.n == 5 && event.data.s == \"x\"", 0 },
		{ "event.data.n == 6 && event.data.s == \"abc\"", 0 },
		{ "event.data.n == 6 || event.data.s == \"abc\"", 1 },
		{ "event.data.n == 5 || event.data.s == \"x\"", 1 },
		{ "event.data.n == 6 || event.data.s == \"x\"", 0 },
		{ "!(event.data.n == 5)", 0 }, { "!(event.data.n == 6)", 1 },
		{ "!!(event.data.n == 5)", 1 }, { "! (event.data.n == 5)", 0 },
		/* && binds tighter than ||: T || (F && F). */
		{ "1 == 1 || 1 == 2 && 1 == 2", 1 },
		/* ... and (F && F) || T is the same reading. */
		{ "1 == 2 && 1 == 2 || 1 == 1", 1 },
		/* Parentheses override it: (T || F) && F. */
		{ "(1 == 1 || 1 == 2) && 1 == 2", 0 },
		{ "1 == 1 || (1 == 2 && 1 == 2)", 1 },
		/* ! applies to its parenthesised operand only. */
		{ "!(event.data.n == 5) || event.data.s == \"abc\"", 1 },
		{ "!(event.data.n == 5 || event.data.s == \"abc\")", 0 },
		{ "!(event.data.n == 5) && event.data.s == \"abc\"", 0 },
		{ "((event.data.n == 5))", 1 },
		{ "(event.data.n) == (5)", 1 },
		{ "1 == 2 || 1 == 2 || 1 == 2 || 3 == 3", 1 },
		{ "1 == 1 && 2 == 2 && 3 == 3 && 4 == 5", 0 },
	};

	RUN(state, cases);
}

static void
test_unsupported_refused(void **state)
{
	static const char *const bool_texts[] = {
		"vars.x == 1", "now > 1", "size(event.data) == 1",
		"event.data.s.startsWith(\"a\")", "has(event.data.s)",
		"event.data.n in [1, 2]", "\"a\" in event.data.arr",
		"event.data.n + 1 == 6", "event.data.n - 1 == 4",
		"event.data.n == 5 - 1", "event.data.n * 2 == 10",
		"event.data.n / 5 == 1", "event.data.n % 2 == 1",
		"-event.data.n == -5", "event.data.arr[0] == 1",
		"event.data[\"n\"] == 5", "event.data.n == 5 ? true : false",
		"[1] == [1]", "{\"a\": 1} == event.data",
		"event.data.n", "true", "null", "\"x\"", "(event.data.n)",
		"event.data.n == 5 && event.data.b",
		"event.data.b || event.data.n == 5", "!event.data.b",
		"(event.data.n == 5) == true", "event.data.n == 5 == true",
		"!event.data.b == false", "event.data.n == 0x5",
		"event.data.n == 5u", "r\"abc\" == event.data.s",
		"b'abc' == event.data.s", "\"\"\"abc\"\"\" == event.data.s",
		"\"\\r\" == event.data.s", "\"\\x41\" == event.data.s",
		"\"\\101\" == event.data.s", "\"\\U0001F600\" == event.data.s",
		"event.data.n == 5 // a comment", "event.data.?n == 5",
		".event.data.n == 5", "event.`data`.n == 5",
		"1.x == 1", "(event).data == 1", "Event.data.n == 5",
		"events.data.n == 5", "_.x == 1", "event.data.n == dyn(5)",
	};
	static const char *const value_texts[] = {
		"event.data.n == 5", "\"key\"", "5", "event.data.a && 1 == 1",
		"!event.data.b", "vars.x", "size(event.data)",
		"event.data.arr[0]", "event.data.s + \"x\"", "-5",
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bool_texts) / sizeof(bool_texts[0]); k++)
		expect_refused(bool_texts[k], EXPR_BOOL, EXPR_EUNSUPPORTED,
		    "column ");
	for (k = 0; k < sizeof(value_texts) / sizeof(value_texts[0]); k++)
		expect_refused(value_texts[k], EXPR_VALUE, EXPR_EUNSUPPORTED,
		    "column ");
}

/* The message names the column and the construct. */
static void
test_unsupported_messages(void **state)
{
	(void)state;
	expect_refused("size(event.data) == 1", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 1: function calls are not supported");
	expect_refused("event.data.s.startsWith(\"a\")", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 14: function calls");
	expect_refused("event.data.n + 1 == 6", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 14: arithmetic");
	expect_refused("vars.x == 1", EXPR_BOOL, EXPR_EUNSUPPORTED,
	    "column 1: only paths under event and async");
	expect_refused("event.data.n == 1 && now > 1", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 22: only paths");
	expect_refused("event.data.arr[0] == 1", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 15: indexing");
	expect_refused("event.data.n in [1]", EXPR_BOOL, EXPR_EUNSUPPORTED,
	    "column 14: the 'in' operator");
	expect_refused("event.data.n == 5 ? 1 : 2", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 19: the conditional operator");
	expect_refused("event.data.n", EXPR_BOOL, EXPR_EUNSUPPORTED,
	    "column 1: a condition must be a comparison");
	expect_refused("1 == 1 && event.data.b", EXPR_BOOL,
	    EXPR_EUNSUPPORTED, "column 11: a condition must be a comparison");
	expect_refused("(1 == 1) == true", EXPR_BOOL, EXPR_EUNSUPPORTED,
	    "column 10: comparisons of comparisons");
	expect_refused("\"\\r\"", EXPR_BOOL, EXPR_EUNSUPPORTED,
	    "column 2: the escape \\r");
	expect_refused("event.data.n == 1", EXPR_VALUE, EXPR_EUNSUPPORTED,
	    "column 14: a value expression must be a single path");
}

static void
test_syntax_errors(void **state)
{
	static const char *const texts[] = {
		"", "   ", "(event.data.n == 5", "event.data.n == 5)",
		"((event.data.n == 5)", "event.data.n ==", "== 5",
		"event.data.n = 5", "event.data.n == 'abc",
		"event.data.n == \"abc", "event.data.s == \"a\\qb\"",
		"\"\\u12\" == event.data.s", "\"\\u12g4\" == event.data.s",
		"\"\\ud800\" == event.data.s", "event. == 1",
		"event..data == 1", "event.data.n == 5 &&",
		"&& event.data.n == 5", "event.data.n == 5 ||",
		"event.data.n & 1", "event.data.n | 1",
		"event.data.n == 5 event.data.n == 5", "event.data.n == 1abc",
		"event.data.n == 1e", "event.data.n == 1e+",
		"event.data.n == 99999999999999999999",
		"9223372036854775808 == 1", "-9223372036854775809 == 1",
		"event.data.n == 1e999", "# == 1", "()", "!",
		"event.true == 1", "event.in == 1", "event.data.n == 5 !",
		"event.data.s == \"a\nb\"", "event.data.s == \"a\\",
		"event.data.n == 5,", "event.data.n == 5 ]", "1 == 1)",
		"event.data.n @ 5", "event.data.n == \x01",
		"event.data.n == 5 && ()",
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
		expect_refused(texts[k], EXPR_BOOL, EXPR_ESYNTAX, "column ");
	expect_refused("event.data.n == 'abc", EXPR_BOOL, EXPR_ESYNTAX,
	    "column 17: unterminated string");
	expect_refused("(event.data.n == 5", EXPR_BOOL, EXPR_ESYNTAX,
	    "column 1: unbalanced '('");
	expect_refused("event.data.n == 5)", EXPR_BOOL, EXPR_ESYNTAX,
	    "column 18: unbalanced ')'");
	expect_refused("event.data.n ==", EXPR_BOOL, EXPR_ESYNTAX,
	    "column 16:");
	expect_refused("", EXPR_VALUE, EXPR_ESYNTAX, "column 1");
	expect_refused("event.data.", EXPR_VALUE, EXPR_ESYNTAX, "column 12");
}

/* Fill 'buf' with "event.data.s == \"aaa...\"" of exactly 'len' bytes. */
static void
string_of_len(char *buf, size_t len)
{
	static const char head[] = "event.data.s == \"";
	size_t h = sizeof(head) - 1;

	assert_true(len > h + 1);
	memcpy(buf, head, h);
	memset(buf + h, 'a', len - h - 1);
	buf[len - 1] = '"';
	buf[len] = '\0';
}

/* 'levels' parentheses around a comparison. */
static void
parens(char *buf, size_t size, int levels)
{
	size_t k = 0;
	int i;

	for (i = 0; i < levels; i++)
		buf[k++] = '(';
	k += (size_t)snprintf(buf + k, size - k, "event.data.n == 5");
	for (i = 0; i < levels; i++)
		buf[k++] = ')';
	buf[k] = '\0';
	assert_true(k < size);
}

static void
test_limits(void **state)
{
	struct fixture *f = *state;
	char buf[EXPR_MAX_LEN + 2];
	char big[4 * EXPR_MAX_LEN];
	struct exec_expr *e = NULL;
	size_t k;

	string_of_len(buf, EXPR_MAX_LEN);
	assert_int_equal(exec_expr_compile(buf, EXPR_BOOL, &e, NULL, 0),
	    EXPR_OK);
	assert_int_equal(exec_expr_eval(e, f->event, f->async), 0);
	exec_expr_free(e);
	string_of_len(buf, EXPR_MAX_LEN + 1);
	expect_refused(buf, EXPR_BOOL, EXPR_ETOOLONG, "1024");

	/* Whitespace counts: it is text. */
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big + sizeof(big) - 8, "1 == 1", 7);
	expect_refused(big, EXPR_BOOL, EXPR_ETOOLONG, NULL);

	parens(buf, sizeof(buf), EXPR_MAX_DEPTH);
	assert_int_equal(eval_text(buf, f->event, f->async), 1);
	parens(buf, sizeof(buf), EXPR_MAX_DEPTH + 1);
	expect_refused(buf, EXPR_BOOL, EXPR_ETOOLONG, "column ");

	/* ! nests too: 30 of them and two parentheses are 32 levels. */
	for (k = 0; k < EXPR_MAX_DEPTH - 2; k++)
		buf[k] = '!';
	snprintf(buf + k, sizeof(buf) - k, "((event.data.n == 5))");
	assert_int_equal(eval_text(buf, f->event, f->async), 1);
	for (k = 0; k < EXPR_MAX_DEPTH; k++)
		buf[k] = '!';
	snprintf(buf + k, sizeof(buf) - k, "(event.data.n == 5)");
	expect_refused(buf, EXPR_BOOL, EXPR_ETOOLONG, "column ");

	/* Many comparisons at one level are length, not depth. */
	k = 0;
	while (k + 12 < EXPR_MAX_LEN) {
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s1 == 1",
		    k == 0 ? "" : "&&");
	}
	assert_int_equal(eval_text(buf, f->event, f->async), 1);
}

static void
test_value(void **state)
{
	struct fixture *f = *state;
	struct exec_expr *e = NULL;
	struct json_object *data, *user, *id, *got;

	assert_true(json_object_object_get_ex(f->event, "data", &data));
	assert_true(json_object_object_get_ex(data, "user", &user));
	assert_true(json_object_object_get_ex(user, "id", &id));

	assert_int_equal(exec_expr_compile("event.data.user.id", EXPR_VALUE,
	    &e, NULL, 0), EXPR_OK);
	got = exec_expr_value(e, f->event, f->async);
	assert_ptr_equal(got, id);     /* borrowed, not a copy */
	assert_string_equal(json_object_get_string(got), "u1");
	/* An EXPR_VALUE expression is no condition. */
	assert_int_equal(exec_expr_eval(e, f->event, f->async), 0);
	exec_expr_free(e);

	assert_int_equal(exec_expr_compile(" ( event.data.user ) ",
	    EXPR_VALUE, &e, NULL, 0), EXPR_OK);
	assert_ptr_equal(exec_expr_value(e, f->event, f->async), user);
	exec_expr_free(e);

	assert_int_equal(exec_expr_compile("async.data.n", EXPR_VALUE, &e,
	    NULL, 0), EXPR_OK);
	got = exec_expr_value(e, f->event, f->async);
	assert_non_null(got);
	assert_int_equal(json_object_get_int64(got), 5);
	assert_null(exec_expr_value(e, f->event, NULL));
	exec_expr_free(e);

	assert_int_equal(exec_expr_compile("event", EXPR_VALUE, &e, NULL,
	    0), EXPR_OK);
	assert_ptr_equal(exec_expr_value(e, f->event, f->async), f->event);
	exec_expr_free(e);

	assert_int_equal(exec_expr_compile("event.data.missing", EXPR_VALUE,
	    &e, NULL, 0), EXPR_OK);
	assert_null(exec_expr_value(e, f->event, f->async));
	exec_expr_free(e);
	assert_int_equal(exec_expr_compile("event.data.z", EXPR_VALUE, &e,
	    NULL, 0), EXPR_OK);
	assert_null(exec_expr_value(e, f->event, f->async));
	exec_expr_free(e);

	/* And an EXPR_BOOL expression has no value. */
	assert_int_equal(exec_expr_compile("event.data.n == 5", EXPR_BOOL,
	    &e, NULL, 0), EXPR_OK);
	assert_null(exec_expr_value(e, f->event, f->async));
	assert_int_equal(exec_expr_eval(e, f->event, f->async), 1);
	exec_expr_free(e);
}

static void
test_null_safety(void **state)
{
	struct fixture *f = *state;
	struct exec_expr *e = (struct exec_expr *)&e;
	char why[8];
	size_t k;

	assert_int_equal(eval_text("event.data.x == null", NULL, NULL), 1);
	assert_int_equal(eval_text("event.data.x != null", NULL, NULL), 0);
	assert_int_equal(eval_text("event == null", NULL, f->async), 1);
	assert_int_equal(eval_text("async.data.n == 5", f->event, NULL), 0);
	assert_int_equal(eval_text("async.data.n == null", f->event, NULL),
	    1);
	assert_int_equal(eval_text("event.data.n == 5", f->event, NULL), 1);

	assert_int_equal(exec_expr_compile("event.data.n", EXPR_VALUE, &e,
	    NULL, 0), EXPR_OK);
	assert_null(exec_expr_value(e, NULL, NULL));
	exec_expr_free(e);

	assert_int_equal(exec_expr_eval(NULL, f->event, f->async), 0);
	assert_null(exec_expr_value(NULL, f->event, f->async));
	exec_expr_free(NULL);

	e = (struct exec_expr *)&e;
	assert_int_equal(exec_expr_compile(NULL, EXPR_BOOL, &e, NULL, 0),
	    EXPR_ESYNTAX);
	assert_null(e);
	assert_int_equal(exec_expr_compile("1 == 1", EXPR_BOOL, NULL, NULL,
	    0), EXPR_ESYNTAX);
	/* A short buffer is truncated, still terminated. */
	assert_int_equal(exec_expr_compile("size(event) == 1", EXPR_BOOL, &e,
	    why, sizeof(why)), EXPR_EUNSUPPORTED);
	assert_null(e);
	assert_string_equal(why, "column ");
	assert_int_equal(exec_expr_compile("vars.x == 1", EXPR_BOOL, &e,
	    why, 0), EXPR_EUNSUPPORTED);

	for (k = 0; k <= EXPR_ENOMEM + 1; k++) {
		const char *s = exec_expr_strerror((enum exec_expr_err)k);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
	assert_string_not_equal(exec_expr_strerror(EXPR_ESYNTAX),
	    exec_expr_strerror(EXPR_EUNSUPPORTED));

}

/* Compiled once, evaluated against different objects: no state kept. */
static void
test_reuse(void **state)
{
	struct fixture *f = *state;
	struct exec_expr *e = NULL;
	struct json_object *other = json_tokener_parse(
	    "{\"data\":{\"n\":6}}");

	assert_non_null(other);
	assert_int_equal(exec_expr_compile("event.data.n == async.data.n",
	    EXPR_BOOL, &e, NULL, 0), EXPR_OK);
	assert_int_equal(exec_expr_eval(e, f->event, f->async), 1);
	assert_int_equal(exec_expr_eval(e, other, f->async), 0);
	assert_int_equal(exec_expr_eval(e, f->event, f->async), 1);
	exec_expr_free(e);
	json_object_put(other);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_operator, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_numbers_compare_numerically, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_type_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_is_null, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_logic_and_precedence,
		    setup, teardown),
		cmocka_unit_test(test_unsupported_refused),
		cmocka_unit_test(test_unsupported_messages),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_safety, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
