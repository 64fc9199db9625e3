/*
 * test_exec_duration.c -- exec_duration_ms() (exec_duration.h): Go-style
 * durations, RFC 3339 times, and what is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_duration.h"

struct dur_case {
	const char *text;
	int64_t want;           /* -1: refused */
};

/* 2026-12-03T10:00:00Z */
#define NOW_MS INT64_C(1796292000000)

static void
run_dur_cases(const struct dur_case *c, size_t n)
{
	size_t k;
	int64_t got;
	int rc;

	for (k = 0; k < n; k++) {
		got = 12345;
		rc = exec_duration_ms(c[k].text, NOW_MS, &got);
		if ((c[k].want < 0 && (rc != -1 || got != 12345)) ||
		    (c[k].want >= 0 && (rc != 0 || got != c[k].want)))
			print_error("'%s': rc %d, got %lld, want %lld\n",
			    c[k].text, rc, (long long)got,
			    (long long)c[k].want);
		if (c[k].want < 0) {
			assert_int_equal(rc, -1);
			assert_int_equal(got, 12345);  /* left alone */
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(got, c[k].want);
		}
	}
}

static void
test_durations(void **state)
{
	static const struct dur_case cases[] = {
		{ "1m30s", 90000 }, { "250ms", 250 }, { "1.5s", 1500 },
		{ "2h", 7200000 }, { "1d", 86400000 }, { "1w", 604800000 },
		{ "1h30m", 5400000 }, { "0s", 0 }, { "+1s", 1000 },
		{ "1500us", 1 }, { "1500\xc2\xb5s", 1 }, { "1500\xce\xbcs", 1 },
		{ "2000000ns", 2 }, { "999999ns", 0 }, { ".5s", 500 },
		{ "1.s", 1000 }, { "0.001s", 1 }, { "1.1s", 1100 },
		{ "1s1s", 2000 }, { "1h1m1s1ms", 3661001 },
		{ "1.5h", 5400000 }, { "0.1ms", 0 },
		{ "3652d", INT64_C(315532800000) },
		{ "87660h", INT64_C(315576000000) },   /* exactly 10 years */
		{ "", -1 }, { "5", -1 }, { "-1s", -1 }, { "1x", -1 },
		{ "1s5", -1 }, { "s", -1 }, { ".s", -1 }, { "1.5.5s", -1 },
		{ " 1s", -1 }, { "1s ", -1 }, { "1 s", -1 }, { "1S", -1 },
		{ "1M", -1 }, { "1mss", -1 }, { "3653d", -1 },
		{ "87660h1ms", -1 }, { "99999999999999999999999h", -1 },
		{ "9223372036854775807ns1w", -1 },
		{ "1e3s", -1 }, { "0x10s", -1 }, { "--1s", -1 },
	};

	(void)state;
	run_dur_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_times(void **state)
{
	static const struct dur_case cases[] = {
		{ "2026-12-03T10:00:30Z", 30000 },
		{ "2026-12-03T10:00:00Z", 0 },
		{ "2026-12-03T10:00:00.250Z", 250 },
		{ "2026-12-03T10:00:00.2509Z", 250 },
		{ "2026-12-03T10:00:01.5Z", 1500 },
		{ "2026-12-03t10:00:30z", 30000 },
		{ "2026-12-03T11:00:00+01:00", 0 },
		{ "2026-12-03T10:00:00-01:00", 3600000 },
		{ "2026-12-03T10:30:00+00:30", 0 },
		{ "2026-12-04T10:00:00Z", 86400000 },
		{ "2027-01-01T00:00:00Z", INT64_C(2469600000) },
		{ "2028-02-29T10:00:00Z", INT64_C(39139200000) },
		/* Past: clamped at 0. */
		{ "2026-12-03T09:59:59Z", 0 }, { "2000-01-01T00:00:00Z", 0 },
		{ "2000-02-29T00:00:00Z", 0 }, { "1970-01-01T00:00:00Z", 0 },
		/* Invalid dates and times. */
		{ "2026-02-30T00:00:00Z", -1 }, { "2027-02-29T00:00:00Z", -1 },
		{ "2100-02-29T00:00:00Z", -1 }, { "2026-04-31T00:00:00Z", -1 },
		{ "2026-13-01T00:00:00Z", -1 }, { "2026-00-01T00:00:00Z", -1 },
		{ "2026-12-00T00:00:00Z", -1 }, { "2026-12-03T24:00:00Z", -1 },
		{ "2026-12-03T10:60:00Z", -1 }, { "2026-12-03T10:00:60Z", -1 },
		{ "2026-12-03T10:00:00+24:00", -1 },
		{ "2026-12-03T10:00:00+01:60", -1 },
		/* Malformed. */
		{ "2026-12-03T10:00:00", -1 }, { "2026-12-03", -1 },
		{ "2026-", -1 }, { "2026-12-03T10:00:00+1:00", -1 },
		{ "2026-12-03T10:00:00+0100", -1 },
		{ "2026-12-03T10:00:00.Z", -1 },
		{ "2026-12-03T10:00:30Zx", -1 },
		{ "2026-12-03 10:00:30Z", -1 }, { "2026-1-03T10:00:30Z", -1 },
		/* Over ten years ahead. */
		{ "2040-01-01T00:00:00Z", -1 }, { "9999-12-31T23:59:59Z", -1 },
	};

	(void)state;
	run_dur_cases(cases, sizeof(cases) / sizeof(cases[0]));
}


static void
test_null_arguments(void **state)
{
	(void)state;
	assert_int_equal(exec_duration_ms(NULL, 0, (int64_t[1]){ 0 }), -1);
	assert_int_equal(exec_duration_ms("1s", 0, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
