/*
 * test_agent.c -- the agent helpers of process-knowledge (agent.h): the
 * argv from OMNI_AGENT_CMD, the reading of the agent's output (Claude
 * Code's JSON envelope, the example agent's last line, plain text), and
 * the stderr tail.  The file collection runs in test_knowledge.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"

static void argv_is_the_words_then_the_model(void **state)
{
	struct agent_argv a;

	(void)state;
	assert_int_equal(agent_argv_build(&a, "claude -p --output-format json",
	    "claude-sonnet-4-5"), 0);
	assert_int_equal(a.n, 6);
	assert_string_equal(a.v[0], "claude");
	assert_string_equal(a.v[3], "json");
	assert_string_equal(a.v[4], "--model");
	assert_string_equal(a.v[5], "claude-sonnet-4-5");
	assert_null(a.v[6]);
	assert_int_equal(agent_argv_build(&a, "", "m"), -1);
	assert_int_equal(agent_argv_build(&a, "a", NULL), -1);
	/* More words than a job may have. */
	assert_int_equal(agent_argv_build(&a, "a a a a a a a a a a a a a a a a "
	    "a a a a a a a", "m"), -1);
}

static void claude_envelope_gives_its_result(void **state)
{
	static const char out[] = "{\"type\":\"result\",\"subtype\":\"success\","
	    "\"is_error\":false,\"result\":\"Wrote the memo.\"}\n";
	struct json_object *r;
	int is_error = -1;

	(void)state;
	r = agent_parse_output(out, sizeof(out) - 1, 1000, &is_error);
	assert_string_equal(json_object_get_string(r), "Wrote the memo.");
	assert_int_equal(is_error, 0);
	json_object_put(r);
}

static void envelope_error_is_reported(void **state)
{
	static const char out[] = "{\"is_error\":true,\"result\":\"API key "
	    "invalid\"}";
	struct json_object *r;
	int is_error = 0;

	(void)state;
	r = agent_parse_output(out, sizeof(out) - 1, 1000, &is_error);
	assert_int_equal(is_error, 1);
	assert_string_equal(json_object_get_string(r), "API key invalid");
	json_object_put(r);
}

static void last_line_json_after_progress(void **state)
{
	static const char out[] = "working...\nstill working\n"
	    "{\"result\": {\"n\": 3}, \"files\": []}\n\n";
	struct json_object *r, *n;
	int is_error = 0;

	(void)state;
	r = agent_parse_output(out, sizeof(out) - 1, 1000, &is_error);
	assert_true(json_object_is_type(r, json_type_object));
	assert_true(json_object_object_get_ex(r, "n", &n));
	assert_int_equal(json_object_get_int(n), 3);
	json_object_put(r);
}

static void object_without_result_is_kept_whole(void **state)
{
	static const char out[] = "{\"summary\": \"ok\"}";
	struct json_object *r, *v;
	int is_error = 0;

	(void)state;
	r = agent_parse_output(out, sizeof(out) - 1, 1000, &is_error);
	assert_true(json_object_object_get_ex(r, "summary", &v));
	json_object_put(r);
}

static void text_is_trimmed_and_cut_on_utf8(void **state)
{
	static const char out[] = "  \n\xc3\xa9t\xc3\xa9 result NaN {x\n\n";
	struct json_object *r;
	int is_error = 0;

	(void)state;
	r = agent_parse_output(out, sizeof(out) - 1, 1000, &is_error);
	assert_string_equal(json_object_get_string(r),
	    "\xc3\xa9t\xc3\xa9 result NaN {x");
	json_object_put(r);
	/* A cut inside "é" backs off to the boundary. */
	r = agent_parse_output(out, sizeof(out) - 1, 1, &is_error);
	assert_string_equal(json_object_get_string(r), "");
	json_object_put(r);
	r = agent_parse_output(out, sizeof(out) - 1, 2, &is_error);
	assert_string_equal(json_object_get_string(r), "\xc3\xa9");
	json_object_put(r);
	/* Not strict JSON (NaN) stays text. */
	r = agent_parse_output("{\"result\": NaN}", 15, 100, &is_error);
	assert_string_equal(json_object_get_string(r), "{\"result\": NaN}");
	json_object_put(r);
	r = agent_parse_output("", 0, 100, &is_error);
	assert_string_equal(json_object_get_string(r), "");
	json_object_put(r);
}

static void tail_keeps_the_end(void **state)
{
	struct json_object *t;
	static const char err[] = "first line\nError: \xe2\x82\xac failed\n";

	(void)state;
	t = agent_tail(err, strlen(err), 12);
	assert_string_equal(json_object_get_string(t), "\xe2\x82\xac failed");
	json_object_put(t);
	/* Starting inside the euro sign: from the next whole character. */
	t = agent_tail(err, strlen(err), 10);
	assert_string_equal(json_object_get_string(t), "failed");
	json_object_put(t);
	t = agent_tail("short\n", 6, 100);
	assert_string_equal(json_object_get_string(t), "short");
	json_object_put(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(argv_is_the_words_then_the_model),
		cmocka_unit_test(claude_envelope_gives_its_result),
		cmocka_unit_test(envelope_error_is_reported),
		cmocka_unit_test(last_line_json_after_progress),
		cmocka_unit_test(object_without_result_is_kept_whole),
		cmocka_unit_test(text_is_trimmed_and_cut_on_utf8),
		cmocka_unit_test(tail_keeps_the_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
