/*
 * test_inngest_functions.c -- the SDK test functions (functions.h):
 * registered only with debug routes, events carry the configured prefix,
 * and a few of them driven through ing_serve() to their end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "functions.h"
#include "inngest.h"
#include "inngest_jcs.h"
#include "inngest_step.h"
#include "log.h"

static struct ing_app *app;
static struct ing_response res;
static struct omni_config cfg;      /* what the functions read */
static struct ing_config icfg;      /* what the SDK reads */

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	memset(&cfg, 0, sizeof(cfg));
	memset(&res, 0, sizeof(res));
	memset(&icfg, 0, sizeof(icfg));
	icfg.app_id = "omni";
	icfg.dev = "1";
	cfg.event_prefix = (char *)"acme";
	cfg.debug_routes = 1;
	if (ing_app_new(&icfg, NULL, &app) != ING_OK)
		return -1;
	return functions_register_testing(app, &cfg) == ING_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ing_response_free(&res);
	ing_app_free(app);
	return 0;
}

static const char *h(const char *id)
{
	static char out[4][ING_STEP_HASH_LEN];
	static int k;
	char *p = out[k++ % 4];

	assert_int_equal(ing_step_hash(id, 0, p), 0);
	return p;
}

static struct json_object *call(const char *fn, const char *steps, int attempt,
    const char *data)
{
	char query[128], body[2048];
	struct ing_request req;
	struct json_object *out = NULL;

	snprintf(query, sizeof(query), "fnId=omni-%s&stepId=step", fn);
	snprintf(body, sizeof(body), "{\"event\":{\"name\":\"x\",\"data\":%s},"
	    "\"steps\":%s,\"ctx\":{\"run_id\":\"r\",\"attempt\":%d}}",
	    data != NULL ? data : "{}", steps != NULL ? steps : "{}", attempt);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.query = query;
	req.body = body;
	req.body_len = strlen(body);
	ing_response_free(&res);
	assert_int_equal(ing_serve(app, &req, &res), ING_OK);
	assert_int_equal(ing_json_parse(res.body, res.body_len, &out), 0);
	return out;
}

static void test_not_registered_without_debug_routes(void **state)
{
	struct ing_app *a = NULL;

	(void)state;
	cfg.debug_routes = 0;
	assert_int_equal(ing_app_new(&icfg, NULL, &a), ING_OK);
	assert_int_equal(functions_register_testing(a, &cfg), ING_OK);
	assert_int_equal(ing_app_function_count(a), 0);
	ing_app_free(a);
}

static void test_registered_with_prefixed_events(void **state)
{
	struct json_object *p = NULL, *fns;
	int found = 0;

	(void)state;
	assert_int_equal(ing_app_function_count(app), 10);
	assert_int_equal(ing_app_sync_payload(app, "http://h/api/inngest", &p),
	    ING_OK);
	fns = json_object_object_get(p, "functions");
	for (size_t i = 0; i < json_object_array_length(fns); i++) {
		struct json_object *f = json_object_array_get_idx(fns, i);
		const char *ev = json_object_get_string(json_object_object_get(
		    json_object_array_get_idx(json_object_object_get(f,
		    "triggers"), 0), "event"));

		assert_memory_equal(ev, "acme/test.", 10);
		if (strcmp(json_object_get_string(json_object_object_get(f,
		    "id")), "omni-test-three-steps") == 0)
			found = 1;
	}
	assert_true(found);
	json_object_put(p);
}

static void test_three_steps_completes(void **state)
{
	char steps[512];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":\"first\"},\"%s\":"
	    "{\"data\":\"second\"},\"%s\":{\"data\":\"third\"}}", h("first"),
	    h("second"), h("third"));
	o = call("test-three-steps", steps, 0, NULL);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"steps\":[\"first\",\"second\","
	    "\"third\"]}");
	json_object_put(o);
}

static void test_flaky_fails_first_then_succeeds(void **state)
{
	struct json_object *o;

	(void)state;
	o = call("test-flaky", NULL, 0, NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(o, 0), "op")), "StepError");
	json_object_put(o);
	o = call("test-flaky", NULL, 1, NULL);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(o, 0), "op")), "StepRun");
	json_object_put(o);
}

/* data.failures sets how many attempts fail: 2 means attempts 0 and 1. */
static void test_flaky_failure_count_from_data(void **state)
{
	const char *twice = "{\"failures\":2}";
	struct json_object *o;

	(void)state;
	for (int attempt = 0; attempt < 3; attempt++) {
		o = call("test-flaky", NULL, attempt, twice);
		assert_string_equal(json_object_get_string(json_object_object_get(
		    json_object_array_get_idx(o, 0), "op")), attempt < 2 ?
		    "StepError" : "StepRun");
		json_object_put(o);
	}
}

/* The function entry of 'id' in the sync payload (a new reference to the
 * whole payload in '*payload'). */
static struct json_object *synced_function(const char *id,
    struct json_object **payload)
{
	struct json_object *fns;

	assert_int_equal(ing_app_sync_payload(app, "http://h/api/inngest",
	    payload), ING_OK);
	fns = json_object_object_get(*payload, "functions");
	for (size_t i = 0; i < json_object_array_length(fns); i++) {
		struct json_object *f = json_object_array_get_idx(fns, i);

		if (strcmp(json_object_get_string(json_object_object_get(f,
		    "id")), id) == 0)
			return f;
	}
	fail_msg("no function %s", id);
	return NULL;
}

static void test_cancel_and_serial_flow_control(void **state)
{
	struct json_object *p = NULL, *f, *c;

	(void)state;
	f = synced_function("omni-test-cancel", &p);
	c = json_object_array_get_idx(json_object_object_get(f, "cancel"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(c,
	    "event")), "acme/test.cancel");
	assert_string_equal(json_object_get_string(json_object_object_get(c,
	    "if")), "async.data.id == event.data.id");
	json_object_put(p);
	f = synced_function("omni-test-serial", &p);
	c = json_object_array_get_idx(json_object_object_get(f,
	    "concurrency"), 0);
	assert_int_equal(json_object_get_int(json_object_object_get(c,
	    "limit")), 1);
	assert_null(json_object_object_get(f, "cancel"));
	json_object_put(p);
}

static void test_fatal_fails_without_retry(void **state)
{
	struct json_object *o;

	(void)state;
	o = call("test-fatal", NULL, 0, NULL);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(o, 0), "op")), "StepFailed");
	json_object_put(o);
	o = call("test-fatal", NULL, 0, "{\"where\":\"function\"}");
	assert_int_equal(res.status, 400);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	json_object_put(o);
}

static void test_wait_reports_prefixed_event(void **state)
{
	struct json_object *o, *opts;

	(void)state;
	o = call("test-wait", NULL, 0, "{\"id\":7,\"timeout\":\"5s\"}");
	opts = json_object_object_get(json_object_array_get_idx(o, 0), "opts");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "event")), "acme/test.approve");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "timeout")), "5s");
	json_object_put(o);
}

static void test_parallel_then_join(void **state)
{
	char steps[512];
	struct json_object *o;

	(void)state;
	o = call("test-parallel", NULL, 0, NULL);
	assert_int_equal(json_object_array_length(o), 2);
	json_object_put(o);
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":\"left\"},\"%s\":"
	    "{\"data\":\"right\"}}", h("left"), h("right"));
	o = call("test-parallel", steps, 0, NULL);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(o, 0), "id")), h("join"));
	assert_string_equal(json_object_to_json_string_ext(
	    json_object_object_get(json_object_array_get_idx(o, 0), "data"),
	    JSON_C_TO_STRING_PLAIN), "[\"left\",\"right\"]");
	json_object_put(o);
}

static void test_invoke_targets_composite_id(void **state)
{
	struct json_object *o, *opts;

	(void)state;
	o = call("test-invoke", NULL, 0, NULL);
	opts = json_object_object_get(json_object_array_get_idx(o, 0), "opts");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "function_id")), "omni-test-three-steps");
	json_object_put(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_not_registered_without_debug_routes),
		T(test_registered_with_prefixed_events),
		T(test_three_steps_completes),
		T(test_flaky_fails_first_then_succeeds),
		T(test_flaky_failure_count_from_data),
		T(test_cancel_and_serial_flow_control),
		T(test_fatal_fails_without_retry),
		T(test_wait_reports_prefixed_event),
		T(test_parallel_then_join),
		T(test_invoke_targets_composite_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
