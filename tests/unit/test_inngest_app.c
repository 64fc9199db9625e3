/*
 * test_inngest_app.c -- the app (inngest.h): INNGEST_DEV / INNGEST_BASE_URL
 * / origin precedence (spec 3.2, 4.2.1), function registration checks,
 * lookup by composite and bare id, sync payload options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "inngest.h"
#include "log.h"

static enum ing_rc fn_noop(struct ing_ctx *ctx, struct json_object **result)
{
	(void)ctx;
	(void)result;
	return ING_RC_OK;
}

static struct ing_app *app_with(const char *dev, const char *base,
    const char *api, const char *evt)
{
	struct ing_config cfg;
	struct ing_app *a = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dev = dev;
	cfg.base_url = base;
	cfg.api_origin = api;
	cfg.event_api_origin = evt;
	assert_int_equal(ing_app_new(&cfg, NULL, &a), ING_OK);
	return a;
}

static void assert_origins(struct ing_app *a, enum ing_mode mode,
    const char *api, const char *evt)
{
	assert_int_equal(ing_app_mode(a), mode);
	assert_string_equal(ing_app_api_origin(a), api);
	assert_string_equal(ing_app_event_origin(a), evt);
	ing_app_free(a);
}

static void test_default_is_cloud(void **state)
{
	(void)state;
	assert_origins(app_with(NULL, NULL, NULL, NULL), ING_MODE_CLOUD,
	    "https://api.inngest.com", "https://inn.gs");
	assert_origins(app_with("", NULL, NULL, NULL), ING_MODE_CLOUD,
	    "https://api.inngest.com", "https://inn.gs");
}

static void test_inngest_dev_zero_means_cloud(void **state)
{
	(void)state;
	assert_origins(app_with("0", NULL, NULL, NULL), ING_MODE_CLOUD,
	    "https://api.inngest.com", "https://inn.gs");
	assert_origins(app_with("false", NULL, NULL, NULL), ING_MODE_CLOUD,
	    "https://api.inngest.com", "https://inn.gs");
}

static void test_inngest_dev_one_uses_default_dev_server(void **state)
{
	(void)state;
	assert_origins(app_with("1", NULL, NULL, NULL), ING_MODE_DEV,
	    "http://localhost:8288", "http://localhost:8288");
	assert_origins(app_with("true", NULL, NULL, NULL), ING_MODE_DEV,
	    "http://localhost:8288", "http://localhost:8288");
}

static void test_inngest_dev_origin_used_for_both(void **state)
{
	(void)state;
	assert_origins(app_with("http://10.0.0.5:9999/", NULL, NULL, NULL),
	    ING_MODE_DEV, "http://10.0.0.5:9999", "http://10.0.0.5:9999");
	assert_origins(app_with("devhost:8288", NULL, NULL, NULL),
	    ING_MODE_DEV, "http://devhost:8288", "http://devhost:8288");
}

static void test_base_url_sets_both_without_changing_mode(void **state)
{
	(void)state;
	assert_origins(app_with(NULL, "https://inngest.internal/", NULL, NULL),
	    ING_MODE_CLOUD, "https://inngest.internal",
	    "https://inngest.internal");
	assert_origins(app_with("1", "http://selfhost:8288", NULL, NULL),
	    ING_MODE_DEV, "http://selfhost:8288", "http://selfhost:8288");
}

static void test_explicit_origins_win(void **state)
{
	(void)state;
	assert_origins(app_with("1", "http://base", "http://api:1",
	    "http://evt:2"), ING_MODE_DEV, "http://api:1", "http://evt:2");
	assert_origins(app_with(NULL, "http://base", "http://api:1", NULL),
	    ING_MODE_CLOUD, "http://api:1", "http://base");
}

static void test_app_id_from_config_with_default(void **state)
{
	struct ing_config cfg;
	struct ing_app *a = NULL;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(ing_app_new(&cfg, NULL, &a), ING_OK);
	assert_string_equal(ing_app_id(a), "omni");
	ing_app_free(a);
	cfg.app_id = "omni-staging";
	assert_int_equal(ing_app_new(&cfg, NULL, &a), ING_OK);
	assert_string_equal(ing_app_id(a), "omni-staging");
	ing_app_free(a);
	assert_int_equal(ing_app_new(NULL, NULL, &a), ING_EINVAL);
	assert_null(a);
}

static void test_register_rejects_bad_definitions(void **state)
{
	static const struct ing_function no_id = {
		.triggers = { { .event = "e" } }, .handler = fn_noop };
	static const struct ing_function bad_id = { .id = "has space",
		.triggers = { { .event = "e" } }, .handler = fn_noop };
	static const struct ing_function no_handler = { .id = "a",
		.triggers = { { .event = "e" } } };
	static const struct ing_function no_trigger = { .id = "a",
		.handler = fn_noop };
	static const struct ing_function both = { .id = "a",
		.triggers = { { .event = "e", .cron = "* * * * *" } },
		.handler = fn_noop };
	static const struct ing_function expr_on_cron = { .id = "a",
		.triggers = { { .cron = "* * * * *", .expression = "x" } },
		.handler = fn_noop };
	static const struct ing_function bad_scope = { .id = "a",
		.triggers = { { .event = "e" } }, .handler = fn_noop,
		.concurrency = { { .limit = 1, .scope = "world" } } };
	static const struct ing_function bad_batch = { .id = "a",
		.triggers = { { .event = "e" } }, .handler = fn_noop,
		.batch_events = { .max_size = 10 } };
	static const struct ing_function bad_retries = { .id = "a",
		.triggers = { { .event = "e" } }, .handler = fn_noop,
		.has_retries = 1, .retries = 99 };
	static const struct ing_function throttle_no_period = { .id = "a",
		.triggers = { { .event = "e" } }, .handler = fn_noop,
		.throttle = { .limit = 3 } };
	const struct ing_function *bad[] = { &no_id, &bad_id, &no_handler,
		&no_trigger, &both, &expr_on_cron, &bad_scope, &bad_batch,
		&bad_retries, &throttle_no_period };
	struct ing_app *a = app_with(NULL, NULL, NULL, NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ing_app_register(a, bad[i]), ING_EINVAL);
	assert_int_equal(ing_app_function_count(a), 0);
	ing_app_free(a);
}

static void test_register_rejects_duplicates_and_finds_by_id(void **state)
{
	static const struct ing_function f = { .id = "create-task",
		.triggers = { { .event = "omni/create.task" } },
		.handler = fn_noop };
	static const struct ing_function g = { .id = "create-task",
		.triggers = { { .cron = "0 * * * *" } }, .handler = fn_noop };
	struct ing_app *a = app_with(NULL, NULL, NULL, NULL);

	(void)state;
	assert_int_equal(ing_app_register(a, &f), ING_OK);
	assert_int_equal(ing_app_register(a, &g), ING_EDUPLICATE);
	assert_int_equal(ing_app_function_count(a), 1);
	assert_ptr_equal(ing_app_find(a, "omni-create-task"), &f);
	assert_ptr_equal(ing_app_find(a, "create-task"), &f);
	assert_null(ing_app_find(a, "other-create-task"));
	assert_null(ing_app_find(a, "omni-"));
	assert_null(ing_app_find(a, NULL));
	ing_app_free(a);
}

static void test_sync_payload_carries_every_set_option(void **state)
{
	static const struct ing_function f = { .id = "busy",
		.triggers = { { .event = "e" } }, .handler = fn_noop,
		.concurrency = { { .limit = 2 }, { .limit = 1,
		    .key = "event.data.user", .scope = "account" } },
		.rate_limit = { .limit = 5, .period = "1h", .key = "k" },
		.debounce = { .period = "5s", .timeout = "1m" },
		.batch_events = { .max_size = 10, .timeout = "2s" },
		.idempotency = "event.data.id",
		.priority_run = "event.data.prio",
		.throttle = { .limit = 1, .period = "1s", .burst = 2 } };
	struct ing_app *a = app_with(NULL, NULL, NULL, NULL);
	struct json_object *p = NULL, *fn, *v;

	(void)state;
	assert_int_equal(ing_app_register(a, &f), ING_OK);
	assert_int_equal(ing_app_sync_payload(a, "http://h/api/inngest", &p),
	    ING_OK);
	fn = json_object_array_get_idx(json_object_object_get(p, "functions"),
	    0);
	v = json_object_object_get(fn, "concurrency");
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(v, 1), "scope")), "account");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_object_get(fn, "rateLimit"), "limit")), 5);
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(fn, "debounce"), "timeout")), "1m");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_object_get(fn, "batchEvents"), "maxSize")), 10);
	assert_string_equal(json_object_get_string(json_object_object_get(fn,
	    "idempotency")), "event.data.id");
	assert_string_equal(json_object_get_string(json_object_object_get(
	    json_object_object_get(fn, "priority"), "run")),
	    "event.data.prio");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_object_get(fn, "throttle"), "burst")), 2);
	json_object_put(p);
	assert_int_equal(ing_app_sync_payload(a, "", &p), ING_EINVAL);
	ing_app_free(a);
}

static void test_strerror_total(void **state)
{
	(void)state;
	for (int i = 0; i <= ING__MAX; i++)
		assert_non_null(ing_strerror((enum ing_err)i));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_cloud),
		cmocka_unit_test(test_inngest_dev_zero_means_cloud),
		cmocka_unit_test(test_inngest_dev_one_uses_default_dev_server),
		cmocka_unit_test(test_inngest_dev_origin_used_for_both),
		cmocka_unit_test(test_base_url_sets_both_without_changing_mode),
		cmocka_unit_test(test_explicit_origins_win),
		cmocka_unit_test(test_app_id_from_config_with_default),
		cmocka_unit_test(test_register_rejects_bad_definitions),
		cmocka_unit_test(test_register_rejects_duplicates_and_finds_by_id),
		cmocka_unit_test(test_sync_payload_carries_every_set_option),
		cmocka_unit_test(test_strerror_total),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
