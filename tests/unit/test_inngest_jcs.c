/*
 * test_inngest_jcs.c -- RFC 8785 canonicalisation (inngest_jcs.h), with
 * the RFC's own vectors: the number table of Appendix B, the member
 * sorting example of 3.2.3 and the full example of 3.2.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "inngest_jcs.h"

static double bits(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* Canonicalise 'in' and compare with 'want'. */
static void assert_jcs(const char *in, const char *want)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(ing_jcs_canonicalize(in, strlen(in), &out, &len),
	    ING_JCS_OK);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void assert_jcs_err(const char *in, enum ing_jcs_err want)
{
	char *out = (char *)1;
	size_t len = 7;

	assert_int_equal(ing_jcs_canonicalize(in, strlen(in), &out, &len),
	    want);
	assert_null(out);
	assert_int_equal(len, 0);
}

static void test_numbers_rfc8785_appendix_b(void **state)
{
	static const struct {
		uint64_t bits;
		const char *want;
	} v[] = {
		{ 0x0000000000000000ULL, "0" },
		{ 0x8000000000000000ULL, "0" },
		{ 0x0000000000000001ULL, "5e-324" },
		{ 0x8000000000000001ULL, "-5e-324" },
		{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
		{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
		{ 0x4340000000000000ULL, "9007199254740992" },
		{ 0xc340000000000000ULL, "-9007199254740992" },
		{ 0x4430000000000000ULL, "295147905179352830000" },
		{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6ULL, "1e+23" },
		{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
		{ 0x41b3de4355555553ULL, "333333333.3333332" },
		{ 0x41b3de4355555554ULL, "333333333.33333325" },
		{ 0x41b3de4355555555ULL, "333333333.3333333" },
		{ 0x41b3de4355555556ULL, "333333333.3333334" },
		{ 0x41b3de4355555557ULL, "333333333.33333343" },
		{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
	};
	char buf[40];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_true(ing_jcs_format_double(bits(v[i].bits), buf,
		    sizeof(buf)) > 0);
		assert_string_equal(buf, v[i].want);
	}
}

static void test_number_literals_become_es_numbers(void **state)
{
	(void)state;
	assert_jcs("[1.0, -0, -0.0, 1E2, 1e21, 1e-7, 0.1, 100, -12]",
	    "[1,0,0,100,1e+21,1e-7,0.1,100,-12]");
	/* Integers past 2^53 print as the double they round to. */
	assert_jcs("[9007199254740993, 12345678901234567890]",
	    "[9007199254740992,12345678901234567000]");
}

static void test_numbers_json_c_cannot_hold_are_refused(void **state)
{
	(void)state;
	assert_jcs_err("[123456789012345678901234567890]", ING_JCS_ENUMBER);
	assert_jcs_err("[-99999999999999999999]", ING_JCS_ENUMBER);
	assert_jcs_err("[1e400]", ING_JCS_ENUMBER);
}

/*
 * Found by tests/fuzz (FUZZ_JCS): 18446744073709551614 rounds to 2^64,
 * which prints as 18446744073709552000, a literal json-c clamps; such a
 * value is refused rather than canonicalised to text that cannot be
 * canonicalised again.  The largest values on either side still pass and
 * their canonical text is a fixed point.
 */
static void test_canonical_text_is_a_fixed_point_at_int_bounds(void **state)
{
	static const char *const ok[][2] = {
		{ "18446744073709549568", "18446744073709550000" },
		{ "-9223372036854774784", "-9223372036854775000" },
		{ "9223372036854775807", "9223372036854776000" },
		{ "1e21", "1e+21" },
	};
	char *again = NULL;
	size_t len = 0;

	(void)state;
	assert_jcs_err("18446744073709551614", ING_JCS_ENUMBER);
	assert_jcs_err("[1e20]", ING_JCS_ENUMBER);
	assert_jcs_err("[1.8446744073709552e19]", ING_JCS_ENUMBER);
	assert_jcs_err("[-9223372036854775807]", ING_JCS_ENUMBER);
	assert_jcs_err("[-9.2233720368547758e18]", ING_JCS_ENUMBER);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_jcs(ok[i][0], ok[i][1]);
		assert_int_equal(ing_jcs_canonicalize(ok[i][1],
		    strlen(ok[i][1]), &again, &len), ING_JCS_OK);
		assert_string_equal(again, ok[i][1]);
		free(again);
	}
}

static void test_members_sorted_by_utf16_units_rfc8785_3_2_3(void **state)
{
	(void)state;
	assert_jcs("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
	    "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
	    "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":"
	    "\"Control\",\"\\u00f6\":\"Latin Small Letter O With "
	    "Diaeresis\"}",
	    "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":"
	    "\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With "
	    "Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":"
	    "\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet "
	    "With Dagesh\"}");
}

static void test_key_cmp_puts_astral_before_high_bmp(void **state)
{
	(void)state;
	/* U+1F600 (surrogates D83D DE00) sorts before U+FB33. */
	assert_true(ing_jcs_key_cmp("\xf0\x9f\x98\x80", "\xef\xac\xb3") < 0);
	/* ...but after U+20AC. */
	assert_true(ing_jcs_key_cmp("\xf0\x9f\x98\x80", "\xe2\x82\xac") > 0);
	assert_true(ing_jcs_key_cmp("a", "ab") < 0);
	assert_int_equal(ing_jcs_key_cmp("same", "same"), 0);
}

static void test_full_example_rfc8785_3_2_2(void **state)
{
	(void)state;
	assert_jcs("{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
	    "0.000000000000000000000000001],\n  \"string\": \"\\u20ac$\\u000F"
	    "\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n  \"literals\": "
	    "[null, true, false]\n}",
	    "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,"
	    "1e+30,4.5,0.002,1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B"
	    "\\\"\\\\\\\\\\\"/\"}");
}

static void test_string_escapes_match_json_stringify(void **state)
{
	(void)state;
	assert_jcs("[\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f/\\u2028\"]",
	    "[\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xe2\x80\xa8\"]");
}

static void test_whitespace_and_nesting_removed(void **state)
{
	(void)state;
	assert_jcs(" { \"b\" : [ 1 , { \"d\" : 2 , \"c\" : 3 } ] , \"a\" : "
	    "{ } , \"e\" : [ ] } \n", "{\"a\":{},\"b\":[1,{\"c\":3,\"d\":2}],"
	    "\"e\":[]}");
	assert_jcs("null", "null");
	assert_jcs("\"x\"", "\"x\"");
}

static void test_invalid_json_refused(void **state)
{
	(void)state;
	assert_jcs_err("{\"a\":1", ING_JCS_EPARSE);
	assert_jcs_err("{\"a\":1} x", ING_JCS_EPARSE);
	assert_jcs_err("[1,]x", ING_JCS_EPARSE);
	assert_jcs_err("[NaN]", ING_JCS_ENUMBER); /* json-c reads NaN */
	assert_jcs_err("", ING_JCS_EPARSE);
	assert_jcs_err("[\"\xff\"]", ING_JCS_EPARSE);
}

static void test_lone_surrogates_refused(void **state)
{
	(void)state;
	assert_jcs_err("[\"\\ud800\"]", ING_JCS_EPARSE);
	assert_jcs_err("[\"\\udc00x\"]", ING_JCS_EPARSE);
	assert_jcs_err("[\"\\ud800\\u0041\"]", ING_JCS_EPARSE);
	assert_jcs("[\"\\\\ud800\"]", "[\"\\\\ud800\"]");
}

static void nest(char *buf, size_t n)
{
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	buf[2 * n] = '\0';
}

static void test_depth_limit_enforced(void **state)
{
	char deep[2 * (ING_JSON_MAX_DEPTH + 1) + 1];

	(void)state;
	nest(deep, ING_JSON_MAX_DEPTH);
	assert_jcs(deep, deep);
	nest(deep, ING_JSON_MAX_DEPTH + 1);
	assert_jcs_err(deep, ING_JCS_EPARSE);
}

static void test_from_object_matches_text(void **state)
{
	struct json_object *o = json_object_new_object();
	char *out;
	size_t len;

	(void)state;
	json_object_object_add(o, "z", json_object_new_double(0.5));
	json_object_object_add(o, "a", json_object_new_string("\"q\""));
	assert_int_equal(ing_jcs_from_object(o, &out, &len), ING_JCS_OK);
	assert_string_equal(out, "{\"a\":\"\\\"q\\\"\",\"z\":0.5}");
	free(out);
	json_object_put(o);
}

static void test_strerror_total(void **state)
{
	(void)state;
	for (int i = 0; i <= ING_JCS__MAX; i++)
		assert_non_null(ing_jcs_strerror((enum ing_jcs_err)i));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_rfc8785_appendix_b),
		cmocka_unit_test(test_number_literals_become_es_numbers),
		cmocka_unit_test(test_numbers_json_c_cannot_hold_are_refused),
		cmocka_unit_test(
		    test_canonical_text_is_a_fixed_point_at_int_bounds),
		cmocka_unit_test(
		    test_members_sorted_by_utf16_units_rfc8785_3_2_3),
		cmocka_unit_test(test_key_cmp_puts_astral_before_high_bmp),
		cmocka_unit_test(test_full_example_rfc8785_3_2_2),
		cmocka_unit_test(test_string_escapes_match_json_stringify),
		cmocka_unit_test(test_whitespace_and_nesting_removed),
		cmocka_unit_test(test_invalid_json_refused),
		cmocka_unit_test(test_lone_surrogates_refused),
		cmocka_unit_test(test_depth_limit_enforced),
		cmocka_unit_test(test_from_object_matches_text),
		cmocka_unit_test(test_strerror_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
