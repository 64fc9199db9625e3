/*
 * test_json_util.c -- unit tests for app/json_util.c: strict parsing of
 * request bodies and the typed getters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/* Parse a NUL-terminated text; returns the error, '*out' as parsed. */
static enum json_err
parse(const char *text, struct json_object **out)
{
	return json_parse_object(text, strlen(text), out, NULL, 0);
}

/* Parse and expect 'want'; on JSON_OK the object is released. */
static void
expect(const char *text, enum json_err want)
{
	struct json_object *o = (struct json_object *)&o; /* not NULL */
	char why[160];
	enum json_err got = json_parse_object(text, strlen(text), &o, why,
	    sizeof(why));

	int have_obj = o != NULL;

	/* Released before asserting, so a failure leaks nothing. */
	json_object_put(o);
	if (got != want)
		print_error("input '%s': got %d (%s), want %d\n", text, got,
		    why, want);
	assert_int_equal(got, want);
	assert_int_equal(have_obj, want == JSON_OK);
}

/* "{...}" nested 'levels' deep counting the outer object:
 * {"a":[[...]]} has levels = 1 + number of '['. */
static char *
nested(int levels)
{
	size_t n = (size_t)levels * 2 + 16;
	char *s = malloc(n);
	size_t k = 0;

	assert_non_null(s);
	k += (size_t)snprintf(s, n, "{\"a\":");
	for (int i = 1; i < levels; i++)
		s[k++] = '[';
	for (int i = 1; i < levels; i++)
		s[k++] = ']';
	s[k++] = '}';
	s[k] = '\0';
	return s;
}

/* ---- json_parse_value ---- */

/* Any value under the same strict rules: arrays, scalars, and null as
 * JSON_OK with no object; what the object parser refuses stays refused. */
static void
test_parse_value_any_type(void **state)
{
	struct json_object *o = (struct json_object *)1;
	char why[160];

	(void)state;
	assert_int_equal(json_parse_value("[1,{\"a\":2}]", 11, &o, why,
	    sizeof(why)), JSON_OK);
	assert_true(json_object_is_type(o, json_type_array));
	assert_int_equal(json_object_array_length(o), 2);
	json_object_put(o);
	assert_int_equal(json_parse_value(" 42 ", 4, &o, NULL, 0), JSON_OK);
	assert_int_equal(json_object_get_int(o), 42);
	json_object_put(o);
	assert_int_equal(json_parse_value("\"s\"", 3, &o, NULL, 0), JSON_OK);
	assert_string_equal(json_object_get_string(o), "s");
	json_object_put(o);
	o = (struct json_object *)1;
	assert_int_equal(json_parse_value("null", 4, &o, NULL, 0), JSON_OK);
	assert_null(o);
	assert_int_equal(json_parse_value("[NaN]", 5, &o, why, sizeof(why)),
	    JSON_ESYNTAX);
	assert_null(o);
	assert_int_equal(json_parse_value("[1] [2]", 7, &o, NULL, 0),
	    JSON_ESYNTAX);
	assert_int_equal(json_parse_value("[\"\0\"]", 5, &o, NULL, 0),
	    JSON_ESYNTAX);
	assert_int_equal(json_parse_value("", 0, &o, NULL, 0), JSON_ESYNTAX);
	/* The object parser still wants an object. */
	assert_int_equal(json_parse_object("[1]", 3, &o, NULL, 0),
	    JSON_ENOT_OBJECT);
	assert_int_equal(json_parse_object("null", 4, &o, NULL, 0),
	    JSON_ENOT_OBJECT);
}

/* ---- json_parse_object ---- */

static void
test_parse_object_ok(void **state)
{
	struct json_object *o = NULL, *v;

	(void)state;
	assert_int_equal(parse("{\"a\":1,\"b\":[true,null,\"x\"]}", &o),
	    JSON_OK);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	assert_true(json_object_object_get_ex(o, "a", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(o);
}

static void
test_parse_surrounding_whitespace_ok(void **state)
{
	(void)state;
	expect(" \t\r\n{} \t\r\n", JSON_OK);
}

static void
test_parse_trailing_garbage_refused(void **state)
{
	(void)state;
	expect("{}x", JSON_ESYNTAX);
	expect("{}{}", JSON_ESYNTAX);
	expect("{\"a\":1} ,", JSON_ESYNTAX);
	expect("{}\x01", JSON_ESYNTAX);
}

static void
test_parse_nul_byte_refused(void **state)
{
	struct json_object *o = NULL;
	char why[160];

	(void)state;
	assert_int_equal(json_parse_object("{}\0", 3, &o, why, sizeof(why)),
	    JSON_ESYNTAX);
	assert_null(o);
	assert_int_equal(json_parse_object("{\"a\":\"\0\"}", 9, &o, why,
	    sizeof(why)), JSON_ESYNTAX);
	assert_null(o);
	assert_non_null(strstr(why, "NUL"));
}

static void
test_parse_empty_refused(void **state)
{
	struct json_object *o = NULL;
	char why[160];

	(void)state;
	assert_int_equal(json_parse_object("", 0, &o, why, sizeof(why)),
	    JSON_ESYNTAX);
	assert_null(o);
	assert_true(strlen(why) > 0);
	assert_int_equal(json_parse_object(NULL, 0, &o, NULL, 0),
	    JSON_ESYNTAX);
	assert_null(o);
	expect("   ", JSON_ESYNTAX);
}

static void
test_parse_truncated_refused(void **state)
{
	(void)state;
	expect("{", JSON_ESYNTAX);
	expect("{\"a\":", JSON_ESYNTAX);
	expect("{\"a\":\"unterminated", JSON_ESYNTAX);
}

static void
test_parse_non_json_refused(void **state)
{
	(void)state;
	expect("{\"a\":1,}", JSON_ESYNTAX);
	expect("{a:1}", JSON_ESYNTAX);
	expect("{\"a\":01}", JSON_ESYNTAX);
	expect("{\"a\":True}", JSON_ESYNTAX);
	expect("{\"a\":1}/*c*/", JSON_ESYNTAX);
	expect("{\"a\":\"\\x41\"}", JSON_ESYNTAX);
}

/* json-c accepts a single-quoted key even with JSON_TOKENER_STRICT;
 * 'strict' parsing of a request body must not. */
static void
test_parse_single_quoted_key_refused(void **state)
{
	(void)state;
	expect("{'a':1}", JSON_ESYNTAX);
}

/* NaN and Infinity are not JSON; accepted, they are echoed back by
 * json-c's serializer as bare NaN/Infinity, which no client parses. */
static void
test_parse_nan_and_infinity_refused(void **state)
{
	(void)state;
	expect("{\"a\":NaN}", JSON_ESYNTAX);
	expect("{\"a\":Infinity}", JSON_ESYNTAX);
	expect("{\"a\":-Infinity}", JSON_ESYNTAX);
}

/* Bytes that are not UTF-8 (RFC 3629) are refused, not passed on to a
 * sandbox or a log: overlong forms, encoded surrogates, past U+10FFFF,
 * a lone continuation byte, a sequence cut short. */
static void
test_parse_invalid_utf8_refused(void **state)
{
	static const char *bad[] = {
		"{\"a\":\"\xc0\xaf\"}",         /* overlong '/' */
		"{\"a\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
		"{\"a\":\"\xed\xa0\x80\"}",     /* U+D800 encoded */
		"{\"a\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
		"{\"a\":\"\x80\"}",             /* lone continuation */
		"{\"a\":\"\xe2\x82\"}",         /* truncated euro sign */
		"{\"a\":\"\xe2\x82",            /* truncated at the end */
		"{\"a\":\"\xff\"}",
		"{\"\xc0\xaf\":1}",             /* in a key too */
	};
	char why[160];
	struct json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], JSON_ESYNTAX);
	assert_int_equal(json_parse_object(bad[2], strlen(bad[2]), &o, why,
	    sizeof(why)), JSON_ESYNTAX);
	assert_string_equal(why, "invalid UTF-8 at byte 6");
}

static void
test_parse_valid_utf8_ok(void **state)
{
	(void)state;
	expect("{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", JSON_OK);
	expect("{\"a\":\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\"}",
	    JSON_OK); /* U+D7FF, U+E000, U+10FFFF */
}

/* A \u escape may not leave a surrogate unpaired: json-c would turn it
 * into U+FFFD, and the text would no longer be what the client sent. */
static void
test_parse_unpaired_surrogate_escape_refused(void **state)
{
	(void)state;
	expect("{\"a\":\"\\ud800\"}", JSON_ESYNTAX);
	expect("{\"a\":\"\\ud800x\"}", JSON_ESYNTAX);
	expect("{\"a\":\"\\udc00\"}", JSON_ESYNTAX);
	expect("{\"a\":\"\\ud800\\u0041\"}", JSON_ESYNTAX);
	expect("{\"a\":\"\\ud800\\ud800\"}", JSON_ESYNTAX);
	expect("{\"a\":\"\\ud83d\\ude00\"}", JSON_OK);
	expect("{\"a\":\"\\\\ud800\"}", JSON_OK); /* an escaped backslash */
}

/* Integers must fit in int64: json-c saturates the others, so 2^64
 * would read as 2^63 - 1 without a word. */
static void
test_parse_integer_overflow_refused(void **state)
{
	struct json_object *o;
	char why[160];

	(void)state;
	expect("{\"a\":18446744073709551616}", JSON_ESYNTAX); /* 2^64 */
	expect("{\"a\":9223372036854775808}", JSON_ESYNTAX);  /* 2^63 */
	expect("{\"a\":-9223372036854775809}", JSON_ESYNTAX); /* -2^63-1 */
	expect("{\"a\":[1,99999999999999999999999]}", JSON_ESYNTAX);
	assert_int_equal(json_parse_object("{\"a\":9223372036854775808}", 25,
	    &o, why, sizeof(why)), JSON_ESYNTAX);
	assert_string_equal(why, "integer out of range at byte 5");
	/* the bounds themselves, and numbers that are not integers */
	assert_int_equal(parse("{\"a\":9223372036854775807,"
	    "\"b\":-9223372036854775808,\"c\":1e300,\"d\":0.5}", &o), JSON_OK);
	assert_true(json_object_get_int64(json_object_object_get(o, "a")) ==
	    INT64_MAX);
	assert_true(json_object_get_int64(json_object_object_get(o, "b")) ==
	    INT64_MIN);
	json_object_put(o);
}

static void
test_parse_array_is_not_object(void **state)
{
	(void)state;
	expect("[]", JSON_ENOT_OBJECT);
	expect("[{\"a\":1}]", JSON_ENOT_OBJECT);
	expect("\"text\"", JSON_ENOT_OBJECT);
	expect("1 ", JSON_ENOT_OBJECT);
}

/* A scalar that ends the input is valid JSON and not an object; json-c
 * reports it as "continue" (the number or literal might go on), which the
 * parser maps to a syntax error ("unexpected end of data"). */
static void
test_parse_scalar_at_end_is_not_object(void **state)
{
	(void)state;
	expect("true", JSON_ENOT_OBJECT);
	expect("1", JSON_ENOT_OBJECT);
}

/* json-c returns no object and "success" for a JSON null; the parser
 * reports it as a syntax error whose text is "success at byte N". */
static void
test_parse_null_is_not_object(void **state)
{
	struct json_object *o = NULL;
	char why[160];

	(void)state;
	enum json_err err = json_parse_object("null ", 5, &o, why,
	    sizeof(why));

	assert_null(o);
	assert_null(strstr(why, "success"));
	assert_int_equal(err, JSON_ENOT_OBJECT);
	expect("null", JSON_ENOT_OBJECT);
}

static void
test_parse_depth_at_limit_ok(void **state)
{
	char *s = nested(JSON_MAX_DEPTH);

	(void)state;
	expect(s, JSON_OK);
	free(s);
}

static void
test_parse_depth_over_limit_refused(void **state)
{
	char *s = nested(JSON_MAX_DEPTH + 1);
	char *deep = nested(5000);

	(void)state;
	expect(s, JSON_EDEPTH);
	expect(deep, JSON_EDEPTH);
	free(s);
	free(deep);
}

static void
test_parse_why_names_byte_offset(void **state)
{
	struct json_object *o = NULL;
	char why[160];

	(void)state;
	assert_int_equal(json_parse_object("{}  x", 5, &o, why, sizeof(why)),
	    JSON_ESYNTAX);
	assert_non_null(strstr(why, "byte 4"));
	assert_int_equal(json_parse_object("[1]", 3, &o, why, sizeof(why)),
	    JSON_ENOT_OBJECT);
	assert_non_null(strstr(why, "object"));
}

static void
test_parse_why_truncated_to_buffer(void **state)
{
	struct json_object *o = NULL;
	char why[8];

	(void)state;
	memset(why, 'Z', sizeof(why));
	assert_int_equal(json_parse_object("{}  x", 5, &o, why, sizeof(why)),
	    JSON_ESYNTAX);
	assert_true(memchr(why, '\0', sizeof(why)) != NULL);
	assert_int_equal(strlen(why), sizeof(why) - 1);
}

static void
test_parse_respects_len(void **state)
{
	struct json_object *o = NULL;

	(void)state;
	/* Only the first 2 bytes are the body; what follows is not read. */
	assert_int_equal(json_parse_object("{}garbage", 2, &o, NULL, 0),
	    JSON_OK);
	assert_non_null(o);
	json_object_put(o);
}

static void
test_parse_duplicate_key_last_wins(void **state)
{
	struct json_object *o = NULL, *v;

	(void)state;
	assert_int_equal(parse("{\"a\":1,\"a\":2}", &o), JSON_OK);
	assert_true(json_object_object_get_ex(o, "a", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);
}

/* ---- getters ---- */

static struct json_object *
sample(void)
{
	struct json_object *o = NULL;

	assert_int_equal(parse("{\"s\":\"hello\",\"n\":null,\"i\":5,"
	    "\"b\":true,\"o\":{},\"a\":[],\"e\":\"\",\"z\":\"a\\u0000b\","
	    "\"u\":\"\\u00e9\"}", &o), JSON_OK);
	return o;
}

static void
test_get_string_ok_borrowed(void **state)
{
	struct json_object *o = sample(), *v;
	const char *s = NULL;

	(void)state;
	assert_int_equal(json_get_string(o, "s", 64, &s), JSON_OK);
	assert_string_equal(s, "hello");
	assert_true(json_object_object_get_ex(o, "s", &v));
	assert_ptr_equal(s, json_object_get_string(v));
	json_object_put(o);
}

static void
test_get_string_missing(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_equal(json_get_string(o, "absent", 64, &s), JSON_EMISSING);
	assert_null(s);
	json_object_put(o);
}

static void
test_get_string_null_is_missing(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_equal(json_get_string(o, "n", 64, &s), JSON_EMISSING);
	assert_null(s);
	json_object_put(o);
}

static void
test_get_string_wrong_type(void **state)
{
	static const char *keys[] = { "i", "b", "o", "a" };
	struct json_object *o = sample();
	const char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		s = "x";
		assert_int_equal(json_get_string(o, keys[i], 64, &s),
		    JSON_ETYPE);
		assert_null(s);
	}
	json_object_put(o);
}

static void
test_get_string_empty(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_equal(json_get_string(o, "e", 64, &s), JSON_EEMPTY);
	assert_null(s);
	json_object_put(o);
}

static void
test_get_string_too_long(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_equal(json_get_string(o, "s", 4, &s), JSON_ETOOLONG);
	assert_null(s);
	assert_int_equal(json_get_string(o, "s", 5, &s), JSON_OK);
	assert_string_equal(s, "hello");
	json_object_put(o);
}

static void
test_get_string_length_in_bytes(void **state)
{
	struct json_object *o = sample();
	const char *s = NULL;

	(void)state;
	assert_int_equal(json_get_string(o, "u", 1, &s), JSON_ETOOLONG);
	assert_int_equal(json_get_string(o, "u", 2, &s), JSON_OK);
	assert_string_equal(s, "\xc3\xa9");
	json_object_put(o);
}

static void
test_get_string_embedded_nul_refused(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_not_equal(json_get_string(o, "z", 64, &s), JSON_OK);
	assert_null(s);
	json_object_put(o);
}

static void
test_get_opt_string_absent_or_null_is_ok_null(void **state)
{
	struct json_object *o = sample();
	const char *s = "x";

	(void)state;
	assert_int_equal(json_get_opt_string(o, "absent", 64, &s), JSON_OK);
	assert_null(s);
	s = "x";
	assert_int_equal(json_get_opt_string(o, "n", 64, &s), JSON_OK);
	assert_null(s);
	json_object_put(o);
}

static void
test_get_opt_string_present_checked(void **state)
{
	struct json_object *o = sample();
	const char *s = NULL;

	(void)state;
	assert_int_equal(json_get_opt_string(o, "s", 64, &s), JSON_OK);
	assert_string_equal(s, "hello");
	assert_int_equal(json_get_opt_string(o, "i", 64, &s), JSON_ETYPE);
	assert_int_equal(json_get_opt_string(o, "e", 64, &s), JSON_EEMPTY);
	assert_int_equal(json_get_opt_string(o, "s", 2, &s), JSON_ETOOLONG);
	json_object_put(o);
}

/* ---- strerror, compact ---- */

static void
test_strerror_every_value(void **state)
{
	(void)state;
	for (int e = 0; e < JSON__MAX; e++) {
		const char *s = json_strerror((enum json_err)e);

		assert_non_null(s);
		assert_string_not_equal(s, "unknown error");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(s,
			    json_strerror((enum json_err)f));
	}
	assert_string_equal(json_strerror(JSON__MAX), "unknown error");
	assert_string_equal(json_strerror((enum json_err)-1),
	    "unknown error");
}

static void
test_compact_no_spaces_no_slash_escape(void **state)
{
	struct json_object *o = NULL;

	(void)state;
	assert_int_equal(parse("{ \"p\" : \"/a/b\" , \"l\" : [ 1 , 2 ] }", &o),
	    JSON_OK);
	assert_string_equal(json_compact(o), "{\"p\":\"/a/b\",\"l\":[1,2]}");
	json_object_put(o);
}

static void
test_utf8_clean_cuts_and_replaces(void **state)
{
	size_t n = 0;
	char *s;

	(void)state;
	/* Cut on the boundary: "é" is two bytes, never one. */
	s = json_utf8_clean("a\xc3\xa9" "b", 4, 2, &n);
	assert_string_equal(s, "a");
	assert_int_equal(n, 1);
	free(s);
	s = json_utf8_clean("a\xc3\xa9" "b", 4, 3, &n);
	assert_string_equal(s, "a\xc3\xa9");
	free(s);
	/* A stray byte becomes U+FFFD (three bytes). */
	s = json_utf8_clean("x\xff" "y", 3, 16, &n);
	assert_string_equal(s, "x\xef\xbf\xbd" "y");
	assert_int_equal(n, 5);
	free(s);
	s = json_utf8_clean("", 0, 0, NULL);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_value_any_type),
		cmocka_unit_test(test_parse_object_ok),
		cmocka_unit_test(test_parse_surrounding_whitespace_ok),
		cmocka_unit_test(test_parse_trailing_garbage_refused),
		cmocka_unit_test(test_parse_invalid_utf8_refused),
		cmocka_unit_test(test_parse_valid_utf8_ok),
		cmocka_unit_test(test_parse_unpaired_surrogate_escape_refused),
		cmocka_unit_test(test_parse_integer_overflow_refused),
		cmocka_unit_test(test_parse_nul_byte_refused),
		cmocka_unit_test(test_parse_empty_refused),
		cmocka_unit_test(test_parse_truncated_refused),
		cmocka_unit_test(test_parse_non_json_refused),
		cmocka_unit_test(test_parse_single_quoted_key_refused),
		cmocka_unit_test(test_parse_nan_and_infinity_refused),
		cmocka_unit_test(test_parse_array_is_not_object),
		cmocka_unit_test(test_parse_scalar_at_end_is_not_object),
		cmocka_unit_test(test_parse_null_is_not_object),
		cmocka_unit_test(test_parse_depth_at_limit_ok),
		cmocka_unit_test(test_parse_depth_over_limit_refused),
		cmocka_unit_test(test_parse_why_names_byte_offset),
		cmocka_unit_test(test_parse_why_truncated_to_buffer),
		cmocka_unit_test(test_parse_respects_len),
		cmocka_unit_test(test_parse_duplicate_key_last_wins),
		cmocka_unit_test(test_get_string_ok_borrowed),
		cmocka_unit_test(test_get_string_missing),
		cmocka_unit_test(test_get_string_null_is_missing),
		cmocka_unit_test(test_get_string_wrong_type),
		cmocka_unit_test(test_get_string_empty),
		cmocka_unit_test(test_get_string_too_long),
		cmocka_unit_test(test_get_string_length_in_bytes),
		cmocka_unit_test(test_get_string_embedded_nul_refused),
		cmocka_unit_test(test_get_opt_string_absent_or_null_is_ok_null),
		cmocka_unit_test(test_get_opt_string_present_checked),
		cmocka_unit_test(test_strerror_every_value),
		cmocka_unit_test(test_compact_no_spaces_no_slash_escape),
		cmocka_unit_test(test_utf8_clean_cuts_and_replaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
