/*
 * test_inngest_event.c -- the event client (inngest_event.h): payload
 * shape (generated id and ts, default data), URL and headers, retries on
 * 5xx and network errors with backoff, none on 4xx, keys and modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "inngest.h"
#include "inngest_event.h"
#include "inngest_jcs.h"
#include "inngest_transport.h"
#include "log.h"

#define NOW_MS INT64_C(1700000000123)
#define MAXREQ 6
#define FAKE_MAXREQ MAXREQ
#include "fake_transport.h"

static long long fake_now(void)
{
	return NOW_MS;
}

static struct ing_app *app;

static struct ing_app *make_app(const char *dev, const char *key)
{
	struct ing_config cfg;
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fake_now,
	    .sleep_ms = fake_sleep };
	struct ing_app *a = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "omni";
	cfg.event_key = key;
	cfg.env = "staging-2";
	cfg.dev = dev;
	cfg.base_url = "http://inngest.test:8288/";
	assert_int_equal(ing_app_new(&cfg, &hooks, &a), ING_OK);
	return a;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	memset(&fake, 0, sizeof(fake));
	app = make_app(NULL, "ek-123");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAXREQ; i++)
		free(fake.req[i].body);
	ing_app_free(app);
	return 0;
}

static struct json_object *event(const char *name)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "name", json_object_new_string(name));
	return e;
}

static struct json_object *sent(int i)
{
	struct json_object *o = NULL;

	assert_int_equal(ing_json_parse(fake.req[i].body,
	    strlen(fake.req[i].body), &o), 0);
	assert_true(json_object_is_type(o, json_type_array));
	return o;
}

static void test_send_fills_id_ts_and_data(void **state)
{
	struct json_object *e = event("omni/process.knowledge"), *p, *ids;
	struct json_object *first;
	const char *id;

	(void)state;
	fake.status[0] = 200;
	fake.reply[0] = "{\"ids\":[\"srv-1\"],\"status\":200}";
	assert_int_equal(ing_event_send(app, e, &ids), ING_OK);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    ids, 0)), "srv-1");
	json_object_put(ids);

	assert_string_equal(fake.req[0].url,
	    "http://inngest.test:8288/e/ek-123");
	assert_non_null(strstr(fake.req[0].headers,
	    "X-Inngest-Env: staging-2\n"));
	/* Spec 4.1.4: what responses carry, requests carry too. */
	assert_non_null(strstr(fake.req[0].headers, "X-Inngest-Sdk: "
	    ING_SDK_HEADER "\n"));
	assert_non_null(strstr(fake.req[0].headers, "X-Inngest-Req-Version: "
	    ING_REQ_VERSION "\n"));
	/* The event key is in the URL, never a bearer token. */
	assert_null(strstr(fake.req[0].headers, "Authorization"));
	p = sent(0);
	first = json_object_array_get_idx(p, 0);
	id = json_object_get_string(json_object_object_get(first, "id"));
	assert_int_equal(strlen(id), 26);
	assert_int_equal(json_object_get_int64(json_object_object_get(first,
	    "ts")), NOW_MS);
	assert_true(json_object_is_type(json_object_object_get(first, "data"),
	    json_type_object));
	json_object_put(p);
	/* The caller's object is left alone. */
	assert_null(json_object_object_get(e, "id"));
	json_object_put(e);
}

static void test_send_keeps_given_id_ts_and_sends_arrays(void **state)
{
	struct json_object *arr = json_object_new_array(), *e, *p;

	(void)state;
	e = event("a");
	json_object_object_add(e, "id", json_object_new_string("mine"));
	json_object_object_add(e, "ts", json_object_new_int64(42));
	json_object_array_add(arr, e);
	json_object_array_add(arr, event("b"));
	fake.status[0] = 200;
	fake.reply[0] = "{\"ids\":[\"mine\",\"x\"],\"status\":200}";
	assert_int_equal(ing_event_send(app, arr, NULL), ING_OK);
	p = sent(0);
	assert_int_equal(json_object_array_length(p), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(p, 0), "id")), "mine");
	assert_int_equal(json_object_get_int64(json_object_object_get(
	    json_object_array_get_idx(p, 0), "ts")), 42);
	json_object_put(p);
	json_object_put(arr);
}

static void test_answer_without_ids_returns_the_ids_sent(void **state)
{
	struct json_object *e = event("a"), *ids, *p;

	(void)state;
	fake.status[0] = 200;
	fake.reply[0] = "";
	assert_int_equal(ing_event_send(app, e, &ids), ING_OK);
	p = sent(0);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    ids, 0)), json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(p, 0), "id")));
	json_object_put(p);
	json_object_put(ids);
	json_object_put(e);
}

static void test_retries_5xx_with_same_payload_then_succeeds(void **state)
{
	struct json_object *e = event("a");

	(void)state;
	fake.status[0] = 502;
	fake.status[1] = 0; /* connection refused */
	fake.status[2] = 200;
	fake.reply[2] = "{\"ids\":[\"1\"],\"status\":200}";
	assert_int_equal(ing_event_send(app, e, NULL), ING_OK);
	assert_int_equal(fake.calls, 3);
	/* Same ids on every attempt: the server deduplicates. */
	assert_string_equal(fake.req[0].body, fake.req[2].body);
	/* Exponential backoff with jitter: 100-200 ms, then 200-300 ms. */
	assert_int_equal(fake.nsleeps, 2);
	assert_in_range(fake.slept[0], 100, 200);
	assert_in_range(fake.slept[1], 200, 300);
	json_object_put(e);
}

static void test_gives_up_after_all_attempts(void **state)
{
	struct json_object *e = event("a");

	(void)state;
	for (int i = 0; i < MAXREQ; i++)
		fake.status[i] = 503;
	assert_int_equal(ing_event_send(app, e, NULL), ING_EUPSTREAM);
	assert_int_equal(fake.calls, ING_EVENT_ATTEMPTS);
	memset(&fake.status, 0, sizeof(fake.status));
	for (int i = 0; i < MAXREQ; i++) {
		free(fake.req[i].body);
		fake.req[i].body = NULL;
	}
	fake.calls = 0;
	assert_int_equal(ing_event_send(app, e, NULL), ING_ETRANSPORT);
	assert_int_equal(fake.calls, ING_EVENT_ATTEMPTS);
	json_object_put(e);
}

static void test_4xx_is_not_retried(void **state)
{
	struct json_object *e = event("a");

	(void)state;
	fake.status[0] = 401;
	fake.reply[0] = "{\"error\":\"bad key\"}";
	assert_int_equal(ing_event_send(app, e, NULL), ING_EREJECTED);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.nsleeps, 0);
	json_object_put(e);
}

static void test_status_field_other_than_200_is_rejection(void **state)
{
	struct json_object *e = event("a");

	(void)state;
	fake.status[0] = 200;
	fake.reply[0] = "{\"ids\":[],\"status\":400,\"error\":\"no\"}";
	assert_int_equal(ing_event_send(app, e, NULL), ING_EREJECTED);
	json_object_put(e);
}

static void test_invalid_events_refused_before_sending(void **state)
{
	struct json_object *e = json_object_new_object(), *arr;

	(void)state;
	assert_int_equal(ing_event_send(app, e, NULL), ING_EINVAL);
	json_object_object_add(e, "name", json_object_new_string("a"));
	json_object_object_add(e, "data", json_object_new_int(1));
	assert_int_equal(ing_event_send(app, e, NULL), ING_EINVAL);
	arr = json_object_new_array();
	assert_int_equal(ing_event_send(app, arr, NULL), ING_EINVAL);
	assert_int_equal(ing_event_send(app, NULL, NULL), ING_EINVAL);
	assert_int_equal(fake.calls, 0);
	json_object_put(arr);
	json_object_put(e);
}

static void test_cloud_without_event_key_refuses(void **state)
{
	struct json_object *e = event("a");

	(void)state;
	ing_app_free(app);
	app = make_app(NULL, NULL);
	assert_int_equal(ing_event_send(app, e, NULL), ING_ENOKEY);
	assert_int_equal(fake.calls, 0);
	json_object_put(e);
}

static void test_dev_without_event_key_uses_placeholder(void **state)
{
	struct json_object *e = event("a");
	struct ing_config cfg;
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fake_now,
	    .sleep_ms = fake_sleep };

	(void)state;
	ing_app_free(app);
	memset(&cfg, 0, sizeof(cfg));
	cfg.dev = "1";
	assert_int_equal(ing_app_new(&cfg, &hooks, &app), ING_OK);
	fake.status[0] = 200;
	assert_int_equal(ing_event_send(app, e, NULL), ING_OK);
	assert_string_equal(fake.req[0].url,
	    "http://localhost:8288/e/NO_EVENT_KEY_SET");
	assert_null(strstr(fake.req[0].headers, "X-Inngest-Env"));
	json_object_put(e);
}

static void test_ulid_shape(void **state)
{
	char a[27], b[27];

	(void)state;
	assert_int_equal(ing_ulid(NOW_MS, a), 0);
	assert_int_equal(ing_ulid(NOW_MS, b), 0);
	assert_int_equal(strlen(a), 26);
	assert_int_equal(strspn(a, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 26);
	/* Same millisecond: same time prefix, different randomness. */
	assert_memory_equal(a, b, 10);
	assert_string_not_equal(a, b);
	assert_int_equal(ing_ulid(0, a), 0);
	assert_memory_equal(a, "0000000000", 10);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_send_fills_id_ts_and_data),
		T(test_send_keeps_given_id_ts_and_sends_arrays),
		T(test_answer_without_ids_returns_the_ids_sent),
		T(test_retries_5xx_with_same_payload_then_succeeds),
		T(test_gives_up_after_all_attempts),
		T(test_4xx_is_not_retried),
		T(test_status_field_other_than_200_is_rejection),
		T(test_invalid_events_refused_before_sending),
		T(test_cloud_without_event_key_refuses),
		T(test_dev_without_event_key_uses_placeholder),
		T(test_ulid_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
