/*
 * test_config_values.c -- unit tests for app/config_values.c.
 *
 * Each parser and check is called directly on literal text.  The checks
 * take a writable copy (they may normalise it), so check() copies the
 * literal into a buffer first and leaves the result there for asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config_values.h"

static char buf[512];

/* Run 'fn' on a writable copy of 'text'; the copy stays in 'buf'. */
static const char *
check(cfgval_check_fn *fn, const char *text)
{
	assert_true(strlen(text) < sizeof(buf));
	strcpy(buf, text);
	return fn(buf);
}

/* ---- cfgval_parse_int ---------------------------------------------- */

static void
test_int_accepts_plain_decimal(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long long value;
	} ok[] = {
		{"0", 0}, {"42", 42}, {"-5", -5}, {"+7", 7}, {"007", 7},
		{"9223372036854775807", INT64_MAX},
		{"-9223372036854775808", INT64_MIN},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long long x = 1;
		assert_int_equal(cfgval_parse_int(ok[i].text, &x), 0);
		assert_true(x == ok[i].value);
	}
}

static void
test_int_rejects_other_text_and_keeps_out(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", " 1", "\t1", "1 ", "1\n", "0x10", "1.5", "1e3", "abc", "-",
		"9223372036854775808", "-9223372036854775809",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long x = 99;
		assert_int_equal(cfgval_parse_int(bad[i], &x), -1);
		assert_true(x == 99);
	}
	assert_int_equal(cfgval_parse_int(NULL, &(long long){0}), -1);
}

/* ---- cfgval_parse_size --------------------------------------------- */

static void
test_size_suffixes_are_powers_of_1024(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		unsigned long long bytes;
	} ok[] = {
		{"0", 0}, {"1500", 1500}, {"1k", 1024}, {"1K", 1024},
		{"3m", 3ULL << 20}, {"3M", 3ULL << 20}, {"2g", 2ULL << 30},
		{"2G", 2ULL << 30}, {"0k", 0},
		{"18446744073709551615", 18446744073709551615ULL},
		{"17179869183g", 17179869183ULL << 30},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned long long z = 1;
		assert_int_equal(cfgval_parse_size(ok[i].text, &z), 0);
		assert_true(z == ok[i].bytes);
	}
}

static void
test_size_rejects_other_text_and_overflow(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "k", "-1", "+1", " 1", "1 ", "1 k", "1.5m", "1kb", "1mb",
		"1t", "1kk", "0x10", "18446744073709551616",
		"17179869184g", "18014398509481984k",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long long z = 99;
		assert_int_equal(cfgval_parse_size(bad[i], &z), -1);
		assert_true(z == 99);
	}
	assert_int_equal(cfgval_parse_size(NULL, &(unsigned long long){0}), -1);
}

/* ---- cfgval_parse_bool --------------------------------------------- */

static void
test_bool_spellings(void **state)
{
	(void)state;
	static const char *const yes[] = {"1", "true", "TRUE", "yes", "On"};
	static const char *const no[] = {"0", "false", "False", "no", "OFF"};
	for (size_t i = 0; i < 5; i++) {
		int b = -1;
		assert_int_equal(cfgval_parse_bool(yes[i], &b), 0);
		assert_int_equal(b, 1);
		assert_int_equal(cfgval_parse_bool(no[i], &b), 0);
		assert_int_equal(b, 0);
	}
}

static void
test_bool_rejects_other_text(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "2", "y", "n", "maybe", "true ", " 1", "enabled",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int b = 7;
		assert_int_equal(cfgval_parse_bool(bad[i], &b), -1);
		assert_int_equal(b, 7);
	}
	assert_int_equal(cfgval_parse_bool(NULL, &(int){0}), -1);
}

/* ---- cfgval_format_size -------------------------------------------- */

static void
test_format_size_shortest_exact_spelling(void **state)
{
	(void)state;
	static const struct {
		unsigned long long n;
		const char *text;
	} cases[] = {
		{0, "0"}, {1023, "1023"}, {1024, "1k"}, {1536, "1536"},
		{1025ULL << 10, "1025k"}, {1ULL << 20, "1m"},
		{1ULL << 30, "1g"}, {3ULL << 30, "3g"},
		{(1ULL << 30) + (1ULL << 20), "1025m"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfgval_format_size(cases[i].n, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

static void
test_format_size_round_trips(void **state)
{
	(void)state;
	static const unsigned long long sizes[] = {
		1, 1000, 4096, 65536, 1ULL << 20, 5ULL << 30, 123456789,
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned long long z = 0;
		cfgval_format_size(sizes[i], buf, sizeof(buf));
		assert_int_equal(cfgval_parse_size(buf, &z), 0);
		assert_true(z == sizes[i]);
	}
}

static void
test_format_size_small_buffer(void **state)
{
	(void)state;
	char small[3] = "xx";
	cfgval_format_size(1ULL << 30, small, 2);
	assert_string_equal(small, "1");
	cfgval_format_size(1, small, 0);
	assert_string_equal(small, "1");
	cfgval_format_size(1, NULL, 10);
}

/* ---- cfgval_has_control -------------------------------------------- */

static void
test_has_control(void **state)
{
	(void)state;
	assert_int_equal(cfgval_has_control("plain text, spaces ok"), 0);
	assert_int_equal(cfgval_has_control(""), 0);
	assert_int_equal(cfgval_has_control("caf\xc3\xa9"), 0);
	assert_int_equal(cfgval_has_control(NULL), 0);
	assert_int_equal(cfgval_has_control("a\nb"), 1);
	assert_int_equal(cfgval_has_control("a\tb"), 1);
	assert_int_equal(cfgval_has_control("a\rb"), 1);
	assert_int_equal(cfgval_has_control("ab\x7f"), 1);
	assert_int_equal(cfgval_has_control("\x1b[0m"), 1);
}

/* ---- URLs ---------------------------------------------------------- */

static void
test_url_accepted(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"http://localhost", "https://app.daytona.io/api",
		"HTTPS://Example.COM:8443/x?y=1#z", "http://127.0.0.1:8288/",
		"http://[::1]:9000", "https://host/path@with-at",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(cfgval_url_problem(ok[i]));
}

static void
test_url_reasons(void **state)
{
	(void)state;
#define NOT_URL "must be an http:// or https:// URL"
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"ftp://files.example.com", NOT_URL},
		{"app.daytona.io/api", NOT_URL},
		{"", NOT_URL},
		{"https://", NOT_URL " with a host"},
		{"http:///path", NOT_URL " with a host"},
		{"http://:8080", NOT_URL " with a host"},
		{"https://user:pw@host/api",
		    "must not contain credentials (user@)"},
		{"https://a b.com", NOT_URL},
		{"https://a.com/x\ty", NOT_URL},
	};
#undef NOT_URL
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(cfgval_url_problem(bad[i].text),
		    bad[i].why);
	assert_non_null(cfgval_url_problem(NULL));
}

static void
test_strip_trailing_slashes(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"http://h/api//", "http://h/api"}, {"https://h/", "https://h"},
		{"https://h", "https://h"}, {"http://", "http://"},
		{"http:///", "http:///"}, {"http://h/a/b/", "http://h/a/b"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i].in);
		cfgval_strip_trailing_slashes(buf);
		assert_string_equal(buf, cases[i].out);
	}
	cfgval_strip_trailing_slashes(NULL);
}

/* ---- cfgval_check_origins ------------------------------------------ */

static void
test_origins_accepted(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"*", "", "https://app.example.com", "http://localhost:3000",
		"https://a.com, http://b.com:8080 ,\thttps://c-d.e",
		"http://[::1]:8080", "HTTP://A.COM", "https://a.com:65535",
		"http://[2001:db8::1]",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(check(cfgval_check_origins, ok[i]));
}

static void
test_origins_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"app.example.com", "https://app.example.com/",
		"https://*.example.com", "https://a.com,,https://b.com",
		"https://a.com,", ",https://a.com", "*,https://a.com",
		"https://a.com:0", "https://a.com:99999", "https://a.com:",
		"https://a.com:80x", "https://a.com:000080", "https://[::1",
		"https://[]",
		"https://", "ws://a.com", "https://a.com?x",
		"https://user@a.com", "**",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = check(cfgval_check_origins, bad[i]);
		assert_non_null(why);
		assert_int_equal(strncmp(why, "must be '*' or", 14), 0);
	}
	assert_non_null(cfgval_check_origins(NULL));
}

/* ---- identifiers, serve path --------------------------------------- */

static void
test_ident(void **state)
{
	(void)state;
	char long_id[70];
	assert_null(check(cfgval_check_ident, "omni-staging_2.x"));
	memset(long_id, 'a', 64);
	long_id[64] = '\0';
	assert_null(check(cfgval_check_ident, long_id));
	long_id[64] = 'a';
	long_id[65] = '\0';
	assert_string_equal(check(cfgval_check_ident, long_id),
	    "must be at most 64 characters");
	static const char *const bad[] = {
		"my app", "omni/x", "a:b", "\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(check(cfgval_check_ident, bad[i]),
		    "must contain only letters, digits, '.', '_' and '-'");
	assert_non_null(cfgval_check_ident(NULL));
}

static void
test_serve_path(void **state)
{
	(void)state;
	assert_null(check(cfgval_check_serve_path, "/api/inngest"));
	assert_null(check(cfgval_check_serve_path, "/"));
	static const char *const bad[] = {
		"", "api/inngest", "/a?b", "/a#b", "/a b", "https://h/api",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(check(cfgval_check_serve_path, bad[i]),
		    "must be a path starting with '/' (no query or fragment)");
	assert_non_null(cfgval_check_serve_path(NULL));
}

/* ---- secrets --------------------------------------------------------- */

static void
test_signing_key_shapes(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"signkey-test-00ff", "signkey-prod-0A1b2C3d", "deadbeef", "00",
	};
	static const char *const bad[] = {
		"", "abc", "nothex", "signkey-prod-nothex!", "signkey-prod-",
		"signkey-prod", "signkey--00ff", "signkey-prod-0a1",
		"evt-key-1234", " deadbeef",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(check(cfgval_check_signing_key, ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(check(cfgval_check_signing_key, bad[i]),
		    "must look like signkey-<env>-<hex>");
	assert_non_null(cfgval_check_signing_key(NULL));
}

static void
test_jwt_secret_length(void **state)
{
	(void)state;
	char secret[CFGVAL_JWT_SECRET_MIN + 1];
	assert_int_equal(CFGVAL_JWT_SECRET_MIN, 32);
	memset(secret, 's', sizeof(secret) - 1);
	secret[sizeof(secret) - 1] = '\0';
	assert_null(check(cfgval_check_jwt_secret, secret));
	secret[sizeof(secret) - 2] = '\0';
	assert_string_equal(check(cfgval_check_jwt_secret, secret),
	    "must be at least 32 bytes");
	assert_non_null(check(cfgval_check_jwt_secret, ""));
	assert_non_null(cfgval_check_jwt_secret(NULL));
}

/* ---- cfgval_check_inngest_dev ---------------------------------------- */

static void
test_inngest_dev_normalised(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"1", "1"}, {"true", "1"}, {"TRUE", "1"}, {"0", "0"},
		{"false", "0"}, {"False", "0"},
		{"http://127.0.0.1:8288/", "http://127.0.0.1:8288"},
		{"https://dev.example.com//", "https://dev.example.com"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(check(cfgval_check_inngest_dev, cases[i].in));
		assert_string_equal(buf, cases[i].out);
	}
}

static void
test_inngest_dev_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "2", "yes", "on", "maybe", "localhost:8288",
		"http://user:pw@localhost:8288",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(check(cfgval_check_inngest_dev, bad[i]),
		    "must be 0, 1, true, false or the http(s):// URL of a dev "
		    "server");
	assert_non_null(cfgval_check_inngest_dev(NULL));
}

/* ---- production gates ------------------------------------------------ */

/* 64 hex digits: the secret part of a real Inngest signing key. */
#define HEX62 "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
#define HEX64 HEX62 "f9"
#define HEX64_UPPER \
    "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9"

static void
test_url_loopback_hosts(void **state)
{
	(void)state;
	static const char *const loop[] = {
		"http://localhost", "http://LocalHost:8288", "http://localhost/x",
		"https://localhost?q=1", "http://127.0.0.1", "http://127.0.0.1:1",
		"http://127.255.255.254:65535/api", "http://[::1]",
		"http://[::1]:8288/", "http://[0:0:0:0:0:0:0:1]#f",
	};
	static const char *const other[] = {
		"http://127.0.0.1.attacker.com", "http://127.0.0.1.attacker.com:80",
		"http://localhost.attacker.com", "http://attacker.com/127.0.0.1",
		"http://attacker.com?h=localhost", "http://127.1", "http://0x7f.0.0.1",
		"http://2130706433", "http://0177.0.0.1", "http://128.0.0.1",
		"http://10.0.0.1", "http://[::2]", "http://[::ffff:127.0.0.1]",
		"http://[::1%25lo]", "http://[::1", "http://::1",
		"http://localhost:", "http://localhost:0", "http://localhost:65536",
		"http://localhost:80x", "http://localhost:123456",
		"http://localhost.", "http://user@localhost", "localhost",
		"ftp://localhost", "http://[::1]x",
	};
	for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
		if (!cfgval_url_is_loopback(loop[i]))
			fail_msg("not taken for loopback: %s", loop[i]);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (cfgval_url_is_loopback(other[i]))
			fail_msg("taken for loopback: %s", other[i]);
	assert_int_equal(cfgval_url_is_loopback(NULL), 0);
}

static void
test_prod_url_needs_https_or_loopback(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"https://api.inngest.com", "HTTPS://inn.gs/e", "https://10.0.0.1",
		"http://127.0.0.1:8288", "http://localhost", "http://[::1]:9",
	};
	static const char *const bad[] = {
		"http://api.inngest.com", "HTTP://app.daytona.io/api",
		"http://127.0.0.1.attacker.com", "http://10.0.0.1:8288",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(cfgval_prod_url_problem(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(cfgval_prod_url_problem(bad[i]),
		    "must be an https:// URL in production (http:// only to "
		    "localhost, 127.0.0.0/8 or [::1]): keys and run data would "
		    "cross the network in clear text");
	assert_non_null(cfgval_prod_url_problem(NULL));
}

static void
test_prod_signing_key_length(void **state)
{
	(void)state;
	char key[160];
	static const char *const ok[] = {
		("signkey-prod-" HEX64),
		("signkey-branch-" HEX64_UPPER),
		HEX64,
		("signkey-prod-" HEX64 "00"), /* a floor, not an exact length */
	};
	static const char *const bad[] = {
		"signkey-prod-00", "signkey-prod-0a1b2c3d4e5f", "deadbeef",
		("signkey-prod-" HEX62),       /* one byte short */
		("signkey-prod-" HEX62 "g9"),  /* 64 digits, one not hex */
		"signkey-prod-", "",
	};
	assert_int_equal(CFGVAL_SIGNING_KEY_PROD_HEX, 64);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(cfgval_prod_signing_key_problem(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(cfgval_prod_signing_key_problem(bad[i]),
		    "must be a real Inngest signing key in production: "
		    "signkey-<env>- and at least 64 hex digits (32 bytes)");
	assert_string_equal(cfgval_prod_signing_key_problem("signkey--00"),
	    "must look like signkey-<env>-<hex>");
	assert_non_null(cfgval_prod_signing_key_problem(NULL));
	/* Exactly at the floor, built here so the count is not by eye. */
	memcpy(key, "signkey-prod-", 13);
	memset(key + 13, 'a', 64);
	key[13 + 64] = '\0';
	assert_null(cfgval_prod_signing_key_problem(key));
	key[13 + 63] = '\0';
	assert_non_null(cfgval_prod_signing_key_problem(key));
}

/* ---- cfgval_check_metrics_token / cfgval_check_probe_list ---------- */

static void
test_metrics_token(void **state)
{
	(void)state;
	assert_null(check(cfgval_check_metrics_token, "0123456789abcdef"));
	assert_null(check(cfgval_check_metrics_token,
	    "A-Za-z0-9._~+/=xxxxxxxxx"));
	assert_non_null(check(cfgval_check_metrics_token, "0123456789abcde"));
	assert_non_null(check(cfgval_check_metrics_token,
	    "0123456789abcdef with space"));
	assert_non_null(check(cfgval_check_metrics_token,
	    "0123456789abcdef\"quote"));
	assert_non_null(cfgval_check_metrics_token(NULL));
}

static void
test_probe_list_accepted_and_normalised(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"api.daytona.io:443", "api.daytona.io:443"},
		{"a:1, b.example:65535 ,10.0.0.1:80",
		    "a:1,b.example:65535,10.0.0.1:80"},
		{"[::1]:443", "[::1]:443"},
		{" [2001:db8::1]:8080 ", "[2001:db8::1]:8080"},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_null(check(cfgval_check_probe_list, ok[i].in));
		assert_string_equal(buf, ok[i].out);
	}
}

static void
test_probe_list_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "host", "host:", ":443", "host:0", "host:65536",
		"host:44a", "a:1,", "a:1,,b:2", "a b:1", "http://a:1",
		"a:1/x", "[::1]", "[]:1", "[zz]:1", "a_b:1",
		"a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(check(cfgval_check_probe_list, bad[i]));
	assert_non_null(cfgval_check_probe_list(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_accepts_plain_decimal),
		cmocka_unit_test(test_int_rejects_other_text_and_keeps_out),
		cmocka_unit_test(test_size_suffixes_are_powers_of_1024),
		cmocka_unit_test(test_size_rejects_other_text_and_overflow),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_bool_rejects_other_text),
		cmocka_unit_test(test_format_size_shortest_exact_spelling),
		cmocka_unit_test(test_format_size_round_trips),
		cmocka_unit_test(test_format_size_small_buffer),
		cmocka_unit_test(test_has_control),
		cmocka_unit_test(test_url_accepted),
		cmocka_unit_test(test_url_reasons),
		cmocka_unit_test(test_strip_trailing_slashes),
		cmocka_unit_test(test_origins_accepted),
		cmocka_unit_test(test_origins_refused),
		cmocka_unit_test(test_ident),
		cmocka_unit_test(test_serve_path),
		cmocka_unit_test(test_signing_key_shapes),
		cmocka_unit_test(test_jwt_secret_length),
		cmocka_unit_test(test_inngest_dev_normalised),
		cmocka_unit_test(test_inngest_dev_refused),
		cmocka_unit_test(test_url_loopback_hosts),
		cmocka_unit_test(test_prod_url_needs_https_or_loopback),
		cmocka_unit_test(test_prod_signing_key_length),
		cmocka_unit_test(test_metrics_token),
		cmocka_unit_test(test_probe_list_accepted_and_normalised),
		cmocka_unit_test(test_probe_list_refused),
	};
	return cmocka_run_group_tests_name("config_values", tests, NULL, NULL);
}
