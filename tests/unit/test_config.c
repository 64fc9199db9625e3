/*
 * test_config.c -- unit tests for app/config.c.
 *
 * Each test starts from an environment with none of Omni's variables set
 * (setup), sets what it needs with setenv(), and calls cfg_load().  Files
 * (env files, key files) are created under a private mkdtemp directory.
 * The env file's syntax is tested in test_envfile.c, single values in
 * test_config_values.c; this file tests the table, profiles and rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_values.h"
#include "env_clear.h"


#define JWT_OK "0123456789abcdef0123456789abcdef-jwt"
#define DAYTONA_KEY "dtn_live_key_4f9a8b7c"
/* The shape Inngest issues: signkey-<env>- and 64 hex digits (32 bytes). */
#define HEX64 "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define SIGN_KEY "signkey-prod-" HEX64
#define SIGN_KEY_OLD "signkey-prod-" \
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define EVENT_KEY "event-key-77aa"

static char tmpdir[64];
static char errbuf[512];
static struct omni_config cfg;

static FILE *cap_file;
static int cap_saved = -1;

static void
clear_env(void)
{
	env_clear(NULL);
}

static int
setup(void **state)
{
	(void)state;
	clear_env();
	memset(&cfg, 0, sizeof(cfg));
	errbuf[0] = '\0';
	strcpy(tmpdir, "/tmp/omni-test-config-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	if (cap_saved >= 0) {
		dup2(cap_saved, STDERR_FILENO);
		close(cap_saved);
		cap_saved = -1;
	}
	if (cap_file != NULL) {
		fclose(cap_file);
		cap_file = NULL;
	}
	cfg_free(&cfg);
	clear_env();
	/* write_file() only ever creates these two names. */
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/env", tmpdir);
	unlink(path);
	if (rmdir(tmpdir) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return 0;
}

static enum cfg_err
load(const char *env_file)
{
	cfg_free(&cfg);
	return cfg_load(&cfg, env_file, errbuf, sizeof(errbuf));
}

/* Write 'text' to a file named 'name' in the test directory. */
static const char *
write_file(const char *name, const char *text)
{
	static char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	fclose(fp);
	return path;
}

static void
capture_start(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	assert_non_null(cap_file);
	cap_saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(cap_file), STDERR_FILENO) >= 0);
}

static char *
capture_end(void)
{
	long len;
	char *buf;

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	cap_saved = -1;
	len = ftell(cap_file);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	rewind(cap_file);
	assert_int_equal(fread(buf, 1, (size_t)len, cap_file), (size_t)len);
	fclose(cap_file);
	cap_file = NULL;
	return buf;
}

/* A complete, valid production environment. */
static void
set_production(void)
{
	setenv("OMNI_ENV", "production", 1);
	setenv("DAYTONA_API_KEY", DAYTONA_KEY, 1);
	setenv("INNGEST_SIGNING_KEY", SIGN_KEY, 1);
	setenv("INNGEST_EVENT_KEY", EVENT_KEY, 1);
	setenv("INNGEST_SERVE_ORIGIN", "https://api.example.com", 1);
	setenv("JWT_SECRET", JWT_OK, 1);
	setenv("OMNI_ALLOWED_ORIGINS", "https://app.example.com", 1);
}

static void
set_staging(void)
{
	setenv("OMNI_ENV", "staging", 1);
	setenv("JWT_SECRET", JWT_OK, 1);
	setenv("INNGEST_SIGNING_KEY", SIGN_KEY, 1);
	setenv("INNGEST_SERVE_ORIGIN", "https://staging.example.com", 1);
}

#define assert_err_prefix(prefix) \
	assert_int_equal(strncmp(errbuf, prefix, strlen(prefix)), 0)

/* ---- profiles and defaults ---------------------------------------- */

static void
test_development_defaults(void **state)
{
	(void)state;
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(errbuf, "");
	assert_int_equal(cfg.env, CFG_ENV_DEVELOPMENT);
	assert_int_equal(cfg.port, 8080);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.workers, 0);
	assert_int_equal(cfg.threads, 16);
	assert_int_equal(cfg.max_body, 1048576);
	assert_int_equal(cfg.shutdown_timeout, 30);
	assert_string_equal(cfg.allowed_origins, "*");
	assert_int_equal(cfg.debug_routes, 0);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
	assert_string_equal(cfg.data_dir, "./data");
	assert_int_equal(cfg.local_unsandboxed, 0);
	assert_string_equal(cfg.daytona_api_url, "https://app.daytona.io/api");
	assert_null(cfg.daytona_api_key);
	assert_string_equal(cfg.inngest_app_id, "omni");
	assert_string_equal(cfg.inngest_serve_path, "/api/inngest");
	assert_string_equal(cfg.event_prefix, "omni");
	assert_string_equal(cfg.agent_cmd, "claude -p --output-format json");
	assert_string_equal(cfg.agent_models,
	    "claude-sonnet-4-5,claude-opus-4-1,claude-haiku-4-5");
	assert_int_equal(cfg.agent_deadline_s, 1800);
	assert_int_equal(cfg.agent_poll_s, 5);
	assert_string_equal(cfg.agent_key_name, "ANTHROPIC_API_KEY");
	assert_null(cfg.agent_key);
	assert_int_equal(cfg.agent_network, 0);
	assert_null(cfg.inngest_dev);
	assert_int_equal(cfg.auth, CFG_AUTH_NONE);
	assert_null(cfg.jwt_secret);
	assert_int_equal(cfg.rate_limit_rpm, 0);
}

static void
test_staging_defaults(void **state)
{
	(void)state;
	set_staging();
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.env, CFG_ENV_STAGING);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_string_equal(cfg.allowed_origins, "");
	assert_int_equal(cfg.auth, CFG_AUTH_JWT);
	assert_string_equal(cfg.jwt_secret, JWT_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
	assert_string_equal(cfg.data_dir, "/var/lib/omni");
}

static void
test_production_valid(void **state)
{
	(void)state;
	set_production();
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.env, CFG_ENV_PRODUCTION);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.auth, CFG_AUTH_JWT);
	assert_int_equal(cfg.provider, CFG_PROVIDER_DAYTONA);
	assert_string_equal(cfg.daytona_api_key, DAYTONA_KEY);
	assert_string_equal(cfg.inngest_signing_key, SIGN_KEY);
	assert_string_equal(cfg.data_dir, "/var/lib/omni");
}

static void
test_env_name_is_case_insensitive(void **state)
{
	(void)state;
	set_staging();
	setenv("OMNI_ENV", "Staging", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.env, CFG_ENV_STAGING);
}

static void
test_unknown_env_rejected(void **state)
{
	(void)state;
	setenv("OMNI_ENV", "prod", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf, "OMNI_ENV: must be one of development, "
	    "staging, production (got 'prod')");
}

static void
test_explicit_value_overrides_profile(void **state)
{
	(void)state;
	set_production();
	setenv("LOG_LEVEL", "debug", 1);
	setenv("OMNI_DATA_DIR", "/srv/omni", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_string_equal(cfg.data_dir, "/srv/omni");
}

static void
test_empty_value_counts_as_unset(void **state)
{
	(void)state;
	setenv("OMNI_THREADS", "", 1);
	setenv("DAYTONA_API_KEY", "", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.threads, 16);
	assert_null(cfg.daytona_api_key);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
}

static void
test_empty_origins_means_none(void **state)
{
	(void)state;
	setenv("OMNI_ALLOWED_ORIGINS", "", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.allowed_origins, "");
	assert_null(cfg_origin_allowed(&cfg, "http://localhost:3000"));
}

/* ---- integers, sizes, booleans, enums ---------------------------- */

static void
test_threads_not_integer_message(void **state)
{
	(void)state;
	setenv("OMNI_THREADS", "abc", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf,
	    "OMNI_THREADS: must be an integer between 1 and 1024 (got 'abc')");
}

static void
test_threads_bounds(void **state)
{
	(void)state;
	setenv("OMNI_THREADS", "0", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_THREADS: ");
	setenv("OMNI_THREADS", "1025", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	setenv("OMNI_THREADS", "1", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.threads, 1);
	setenv("OMNI_THREADS", "1024", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.threads, 1024);
}

static void
test_integer_rejects_trailing_text_and_overflow(void **state)
{
	(void)state;
	setenv("OMNI_THREADS", "16 ", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	setenv("OMNI_THREADS", " 16", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	setenv("OMNI_THREADS", "99999999999999999999999", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	setenv("OMNI_THREADS", "0x10", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
}

static void
test_workers_bounds(void **state)
{
	(void)state;
	setenv("OMNI_WORKERS", "256", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.workers, 256);
	setenv("OMNI_WORKERS", "257", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf,
	    "OMNI_WORKERS: must be an integer between 0 and 256 (got '257')");
	setenv("OMNI_WORKERS", "-1", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
}

static void
test_port_bounds(void **state)
{
	(void)state;
	setenv("PORT", "65536", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("PORT: ");
	setenv("PORT", "9090", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.port, 9090);
}

static void
test_shutdown_timeout(void **state)
{
	(void)state;
	setenv("OMNI_SHUTDOWN_TIMEOUT", "5", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.shutdown_timeout, 5);
	setenv("OMNI_SHUTDOWN_TIMEOUT", "0", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_SHUTDOWN_TIMEOUT: ");
}

static void
test_max_body_suffixes(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t bytes;
	} cases[] = {
		{"2m", 2097152}, {"2M", 2097152}, {"64k", 65536},
		{"64K", 65536}, {"1g", 1073741824}, {"1G", 1073741824},
		{"4096", 4096}, {"1024", 1024},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("OMNI_MAX_BODY", cases[i].text, 1);
		assert_int_equal(load(NULL), CFG_OK);
		assert_int_equal(cfg.max_body, cases[i].bytes);
	}
}

static void
test_max_body_rejects_bad_sizes(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"1023", "2g", "1025m", "10x", "1.5m", "-1", "m", "1mb", "1 m",
		"99999999999999999999g", "18014398509481984k",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OMNI_MAX_BODY", bad[i], 1);
		assert_int_equal(load(NULL), CFG_EINVAL);
		assert_err_prefix("OMNI_MAX_BODY: must be a size between 1k and 1g");
	}
}

static void
test_bool_values(void **state)
{
	(void)state;
	setenv("OMNI_DEBUG_ROUTES", "true", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.debug_routes, 1);
	setenv("OMNI_DEBUG_ROUTES", "off", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.debug_routes, 0);
	setenv("OMNI_DEBUG_ROUTES", "maybe", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_DEBUG_ROUTES: must be 0 or 1");
}

static void
test_log_level_unknown_rejected(void **state)
{
	(void)state;
	setenv("LOG_LEVEL", "verbose", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf, "LOG_LEVEL: must be one of debug, info, "
	    "warn, error (got 'verbose')");
}

static void
test_log_level_warning_alias(void **state)
{
	(void)state;
	setenv("LOG_LEVEL", "WARNING", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.log_level, LOG_WARN);
}

static void
test_auth_unknown_rejected(void **state)
{
	(void)state;
	setenv("OMNI_AUTH", "basic", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_AUTH: must be one of none, jwt");
}

static void
test_rate_limit(void **state)
{
	(void)state;
	setenv("RATE_LIMIT_RPM", "600", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.rate_limit_rpm, 600);
	setenv("RATE_LIMIT_RPM", "-5", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("RATE_LIMIT_RPM: ");
}

static void
test_long_bad_value_is_cut_and_one_line(void **state)
{
	(void)state;
	char value[300];
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	value[5] = '\n';
	setenv("OMNI_THREADS", value, 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_null(strchr(errbuf, '\n'));
	assert_non_null(strstr(errbuf, "...')"));
	assert_true(strlen(errbuf) < 200);
}

/* ---- strings, URLs, identifiers ---------------------------------- */

static void
test_url_requires_http_scheme(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"ftp://files.example.com", "app.daytona.io/api", "https://",
		"http:///path", "https://a b.com", "https://user:pw@host/api",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("DAYTONA_API_URL", bad[i], 1);
		assert_int_equal(load(NULL), CFG_EINVAL);
		assert_err_prefix("DAYTONA_API_URL: must");
	}
}

static void
test_url_trailing_slash_removed(void **state)
{
	(void)state;
	setenv("DAYTONA_API_URL", "http://127.0.0.1:9000/api//", 1);
	setenv("INNGEST_BASE_URL", "HTTPS://inngest.example.com/", 1);
	setenv("INNGEST_SERVE_ORIGIN", "http://127.0.0.1:8080/", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_serve_origin, "http://127.0.0.1:8080");
	assert_string_equal(cfg.daytona_api_url, "http://127.0.0.1:9000/api");
	assert_string_equal(cfg.inngest_base_url, "HTTPS://inngest.example.com");
}

static void
test_inngest_dev_values(void **state)
{
	(void)state;
	/* "0" is cloud mode, which needs it. */
	setenv("INNGEST_SERVE_ORIGIN", "http://127.0.0.1:8080", 1);
	setenv("INNGEST_DEV", "true", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_dev, "1");
	setenv("INNGEST_DEV", "FALSE", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_dev, "0");
	setenv("INNGEST_DEV", "http://127.0.0.1:8288/", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_dev, "http://127.0.0.1:8288");
	setenv("INNGEST_DEV", "maybe", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("INNGEST_DEV: ");
}

static void
test_serve_path_must_start_with_slash(void **state)
{
	(void)state;
	setenv("INNGEST_SERVE_PATH", "api/inngest", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("INNGEST_SERVE_PATH: ");
	setenv("INNGEST_SERVE_PATH", "/x/inngest", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_serve_path, "/x/inngest");
}

static void
test_app_id_and_prefix_are_identifiers(void **state)
{
	(void)state;
	setenv("INNGEST_APP_ID", "my app", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("INNGEST_APP_ID: ");
	unsetenv("INNGEST_APP_ID");
	setenv("OMNI_EVENT_PREFIX", "omni/x", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_EVENT_PREFIX: ");
	setenv("OMNI_EVENT_PREFIX", "omni-staging", 1);
	setenv("INNGEST_APP_ID", "omni_2", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.event_prefix, "omni-staging");
	assert_string_equal(cfg.inngest_app_id, "omni_2");
}

static void
test_control_characters_rejected(void **state)
{
	(void)state;
	setenv("OMNI_AGENT_CMD", "claude\n-p", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf, "OMNI_AGENT_CMD: must not contain control "
	    "characters (got 'claude?-p')");
}

/* ---- the agent ----------------------------------------------------- */

static void
test_agent_cmd_is_words_without_shell(void **state)
{
	static const char *const bad[] = {
		"claude -p; rm -rf /", "sh -c 'x'", "a|b", "a $(b)", "a `b`",
		"a > f", "a && b", "a\\ b", "\"a\"", "   ",
	};

	(void)state;
	setenv("OMNI_AGENT_CMD", "  sh   .omni-system/example-agent.sh  -v ", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.agent_cmd, "sh .omni-system/example-agent.sh -v");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OMNI_AGENT_CMD", bad[i], 1);
		assert_int_not_equal(load(NULL), CFG_OK);
		assert_err_prefix("OMNI_AGENT_CMD: ");
	}
}

static void
test_agent_models_list(void **state)
{
	(void)state;
	setenv("OMNI_AGENT_MODELS", "m-1,org/m:2", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_true(cfgval_model_allowed(cfg.agent_models, "m-1"));
	assert_true(cfgval_model_allowed(cfg.agent_models, "org/m:2"));
	assert_false(cfgval_model_allowed(cfg.agent_models, "m-"));
	assert_false(cfgval_model_allowed(cfg.agent_models, "m-1,org"));
	assert_false(cfgval_model_allowed(cfg.agent_models, ""));
	setenv("OMNI_AGENT_MODELS", "a,,b", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_AGENT_MODELS: ");
	setenv("OMNI_AGENT_MODELS", "a b", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	/* Empty is unset: the default list. */
	setenv("OMNI_AGENT_MODELS", "", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_true(cfgval_model_allowed(cfg.agent_models,
	    "claude-sonnet-4-5"));
}

static void
test_agent_key_rules(void **state)
{
	(void)state;
	setenv("OMNI_AGENT_KEY_FILE", write_file("key", "  sk-test-123\n"), 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.agent_key, "sk-test-123");
	setenv("OMNI_AGENT_KEY", "sk-other", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_AGENT_KEY_FILE: ");
	unsetenv("OMNI_AGENT_KEY_FILE");
	setenv("OMNI_AGENT_KEY_NAME", "", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_AGENT_KEY_NAME: ");
	setenv("OMNI_AGENT_KEY_NAME", "1BAD", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("OMNI_AGENT_KEY_NAME: ");
	/* The key is a secret: never in the message. */
	assert_null(strstr(errbuf, "sk-other"));
}

static void
test_agent_network_development_only(void **state)
{
	(void)state;
	setenv("OMNI_AGENT_NETWORK", "1", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.agent_network, 1);
	set_staging();
	setenv("OMNI_AGENT_NETWORK", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_string_equal(errbuf, "OMNI_AGENT_NETWORK: not allowed in "
	    "staging (a trusted development machine only)");
}

/* ---- secrets never echoed ---------------------------------------- */

static void
test_jwt_required_when_auth_jwt(void **state)
{
	(void)state;
	setenv("OMNI_AUTH", "jwt", 1);
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("JWT_SECRET: required when OMNI_AUTH=jwt");
}

static void
test_staging_requires_jwt_secret(void **state)
{
	(void)state;
	set_staging();
	unsetenv("JWT_SECRET");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("JWT_SECRET: ");
}

static void
test_jwt_secret_too_short_is_hidden(void **state)
{
	(void)state;
	setenv("OMNI_AUTH", "jwt", 1);
	setenv("JWT_SECRET", "short-secret-value", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf,
	    "JWT_SECRET: must be at least 32 bytes (value hidden)");
}

static void
test_signing_key_shape_checked_and_hidden(void **state)
{
	(void)state;
	setenv("INNGEST_SERVE_ORIGIN", "http://127.0.0.1:8080", 1);
	setenv("INNGEST_SIGNING_KEY", "signkey-prod-nothex!", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("INNGEST_SIGNING_KEY: ");
	assert_null(strstr(errbuf, "nothex"));
	setenv("INNGEST_SIGNING_KEY", "abc", 1); /* odd number of hex digits */
	assert_int_equal(load(NULL), CFG_EINVAL);
	setenv("INNGEST_SIGNING_KEY", "signkey-test-00ff", 1);
	assert_int_equal(load(NULL), CFG_OK);
	setenv("INNGEST_SIGNING_KEY", "deadbeef", 1);
	assert_int_equal(load(NULL), CFG_OK);
}

static void
test_secret_with_control_character_is_hidden(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY", "dtn_abc\r\nX-Injected: 1", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("DAYTONA_API_KEY: must not contain control");
	assert_null(strstr(errbuf, "dtn_abc"));
	assert_null(strstr(errbuf, "Injected"));
}

static void
test_signing_fallback_needs_primary(void **state)
{
	(void)state;
	setenv("INNGEST_SIGNING_KEY_FALLBACK", "signkey-prod-00aa", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("INNGEST_SIGNING_KEY_FALLBACK: ");
}

/* ---- provider ----------------------------------------------------- */

static void
test_provider_defaults_to_local_without_key(void **state)
{
	(void)state;
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
}

static void
test_provider_defaults_to_daytona_with_key(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY", DAYTONA_KEY, 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_DAYTONA);
}

static void
test_provider_defaults_to_daytona_with_key_file(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY_FILE", write_file("key", DAYTONA_KEY "\n"), 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_DAYTONA);
}

static void
test_provider_explicit_local_with_key(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY", DAYTONA_KEY, 1);
	setenv("SANDBOX_PROVIDER", "local", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
}

static void
test_provider_daytona_without_key_is_missing(void **state)
{
	(void)state;
	setenv("SANDBOX_PROVIDER", "daytona", 1);
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("DAYTONA_API_KEY: required");
}

static void
test_provider_unknown_rejected(void **state)
{
	(void)state;
	setenv("SANDBOX_PROVIDER", "docker", 1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_string_equal(errbuf, "SANDBOX_PROVIDER: must be one of local, "
	    "daytona (got 'docker')");
}

/* ---- key file ------------------------------------------------------ */

static void
test_key_file_is_read_and_trimmed(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY_FILE",
	    write_file("key", "  \n" DAYTONA_KEY " \r\n\n"), 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.daytona_api_key, DAYTONA_KEY);
	assert_non_null(cfg.daytona_api_key_file);
}

static void
test_key_file_reload_sees_rotated_key(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY_FILE", write_file("key", "old-key-1\n"), 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.daytona_api_key, "old-key-1");
	write_file("key", "new-key-2\n");
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.daytona_api_key, "new-key-2");
}

static void
test_key_file_unreadable(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	setenv("DAYTONA_API_KEY_FILE", path, 1);
	assert_int_equal(load(NULL), CFG_EFILE);
	assert_err_prefix("DAYTONA_API_KEY_FILE: cannot read");
}

static void
test_key_file_empty(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY_FILE", write_file("key", " \n\n"), 1);
	assert_int_equal(load(NULL), CFG_EFILE);
	assert_err_prefix("DAYTONA_API_KEY_FILE: ");
}

static void
test_key_file_two_lines_rejected_and_hidden(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY_FILE", write_file("key", "part-one\npart-two\n"),
	    1);
	assert_int_equal(load(NULL), CFG_EINVAL);
	assert_err_prefix("DAYTONA_API_KEY_FILE: ");
	assert_null(strstr(errbuf, "part-"));
}

static void
test_key_and_key_file_conflict(void **state)
{
	(void)state;
	setenv("DAYTONA_API_KEY", DAYTONA_KEY, 1);
	setenv("DAYTONA_API_KEY_FILE", write_file("key", "k\n"), 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("DAYTONA_API_KEY_FILE: ");
}

/* ---- production and staging rules -------------------------------- */

static void
test_production_refuses_local_provider(void **state)
{
	(void)state;
	set_production();
	setenv("SANDBOX_PROVIDER", "local", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("SANDBOX_PROVIDER: ");
}

static void
test_production_requires_daytona_key(void **state)
{
	(void)state;
	set_production();
	unsetenv("DAYTONA_API_KEY");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("DAYTONA_API_KEY: required in production");
}

static void
test_production_accepts_key_file(void **state)
{
	(void)state;
	set_production();
	unsetenv("DAYTONA_API_KEY");
	setenv("DAYTONA_API_KEY_FILE", write_file("key", "from-file\n"), 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.daytona_api_key, "from-file");
}

static void
test_production_requires_signing_key(void **state)
{
	(void)state;
	set_production();
	unsetenv("INNGEST_SIGNING_KEY");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("INNGEST_SIGNING_KEY: required in production");
}

static void
test_production_requires_event_key(void **state)
{
	(void)state;
	set_production();
	unsetenv("INNGEST_EVENT_KEY");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("INNGEST_EVENT_KEY: ");
}

static void
test_production_requires_serve_origin(void **state)
{
	(void)state;
	set_production();
	unsetenv("INNGEST_SERVE_ORIGIN");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("INNGEST_SERVE_ORIGIN: required in production");
}

static void
test_production_refuses_inngest_dev(void **state)
{
	(void)state;
	set_production();
	setenv("INNGEST_DEV", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("INNGEST_DEV: ");
	setenv("INNGEST_DEV", "http://127.0.0.1:8288", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
}

static void
test_production_accepts_inngest_dev_zero(void **state)
{
	(void)state;
	set_production();
	setenv("INNGEST_DEV", "0", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_dev, "0");
}

static void
test_production_refuses_debug_routes(void **state)
{
	(void)state;
	set_production();
	setenv("OMNI_DEBUG_ROUTES", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_DEBUG_ROUTES: ");
}

static void
test_production_refuses_unsandboxed(void **state)
{
	(void)state;
	set_production();
	setenv("OMNI_LOCAL_UNSANDBOXED", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_LOCAL_UNSANDBOXED: ");
}

static void
test_production_refuses_star_origins(void **state)
{
	(void)state;
	set_production();
	setenv("OMNI_ALLOWED_ORIGINS", "*", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_ALLOWED_ORIGINS: ");
}

static void
test_staging_refuses_star_origins(void **state)
{
	(void)state;
	set_staging();
	setenv("OMNI_ALLOWED_ORIGINS", "*", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_ALLOWED_ORIGINS: ");
}

static void
test_staging_requires_signing_key(void **state)
{
	(void)state;
	set_staging();
	unsetenv("INNGEST_SIGNING_KEY");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_string_equal(errbuf, "INNGEST_SIGNING_KEY: required in staging");
	/* Dev mode no longer stands in for a key: it is refused itself. */
	setenv("INNGEST_DEV", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("INNGEST_DEV: ");
}

static void
test_staging_allows_local_provider(void **state)
{
	(void)state;
	set_staging();
	setenv("SANDBOX_PROVIDER", "local", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.provider, CFG_PROVIDER_LOCAL);
	assert_int_equal(cfg.debug_routes, 0);
	assert_int_equal(cfg.local_unsandboxed, 0);
}

static void
test_staging_refuses_debug_routes(void **state)
{
	(void)state;
	set_staging();
	setenv("OMNI_DEBUG_ROUTES", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_string_equal(errbuf, "OMNI_DEBUG_ROUTES: not allowed in staging "
	    "(development only)");
	setenv("OMNI_DEBUG_ROUTES", "0", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.debug_routes, 0);
}

static void
test_staging_refuses_unsandboxed(void **state)
{
	(void)state;
	set_staging();
	setenv("OMNI_LOCAL_UNSANDBOXED", "1", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_string_equal(errbuf, "OMNI_LOCAL_UNSANDBOXED: not allowed in "
	    "staging (development only)");
	setenv("OMNI_LOCAL_UNSANDBOXED", "0", 1);
	assert_int_equal(load(NULL), CFG_OK);
}

static void
test_staging_refuses_inngest_dev(void **state)
{
	(void)state;
	static const char *const on[] = {
		"1", "true", "http://127.0.0.1:8288",
	};
	set_staging();
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		setenv("INNGEST_DEV", on[i], 1);
		assert_int_equal(load(NULL), CFG_ECONFLICT);
		assert_err_prefix("INNGEST_DEV: dev mode is not allowed in "
		    "staging");
	}
	setenv("INNGEST_DEV", "0", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_dev, "0");
}

static void
test_staging_requires_serve_origin(void **state)
{
	(void)state;
	set_staging();
	unsetenv("INNGEST_SERVE_ORIGIN");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_err_prefix("INNGEST_SERVE_ORIGIN: required in staging");
}

/* Staging keeps the key shapes of every profile: the length rule is
 * production's (a staging environment may use a test key). */
static void
test_staging_accepts_short_signing_key(void **state)
{
	(void)state;
	set_staging();
	setenv("INNGEST_SIGNING_KEY", "signkey-test-00ff", 1);
	assert_int_equal(load(NULL), CFG_OK);
}

static void
test_development_allows_debug_unsandboxed_and_dev_mode(void **state)
{
	(void)state;
	setenv("OMNI_DEBUG_ROUTES", "1", 1);
	setenv("OMNI_LOCAL_UNSANDBOXED", "1", 1);
	setenv("INNGEST_DEV", "1", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.debug_routes, 1);
	assert_int_equal(cfg.local_unsandboxed, 1);
	assert_string_equal(cfg.inngest_dev, "1");
	assert_null(cfg.inngest_serve_origin); /* dev mode: not needed */
}

/* Cloud mode in development syncs like production: each of these asks
 * for it, and each needs the serve origin. */
static void
test_development_cloud_mode_requires_serve_origin(void **state)
{
	(void)state;
	static const char *const cloud[][2] = {
		{"INNGEST_DEV", "0"},
		{"INNGEST_SIGNING_KEY", "signkey-test-00ff"},
		{"INNGEST_BASE_URL", "http://127.0.0.1:8288"},
		{"INNGEST_API_ORIGIN", "http://127.0.0.1:8288"},
	};
	for (size_t i = 0; i < sizeof(cloud) / sizeof(cloud[0]); i++) {
		clear_env();
		setenv(cloud[i][0], cloud[i][1], 1);
		assert_int_equal(load(NULL), CFG_EMISSING);
		assert_err_prefix("INNGEST_SERVE_ORIGIN: required in cloud mode");
		setenv("INNGEST_SERVE_ORIGIN", "http://127.0.0.1:8080", 1);
		assert_int_equal(load(NULL), CFG_OK);
	}
	/* Dev mode takes the place of the serve origin ... */
	clear_env();
	setenv("INNGEST_SIGNING_KEY", "signkey-test-00ff", 1);
	setenv("INNGEST_DEV", "http://127.0.0.1:8288", 1);
	assert_int_equal(load(NULL), CFG_OK);
	/* ... and with no Inngest setting at all there is nothing to sync
	 * with: development starts (test_development_defaults). */
	clear_env();
	assert_int_equal(load(NULL), CFG_OK);
	assert_null(cfg.inngest_serve_origin);
}

static void
test_production_refuses_auth_none(void **state)
{
	(void)state;
	set_production();
	unsetenv("JWT_SECRET");
	setenv("OMNI_AUTH", "none", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	assert_err_prefix("OMNI_AUTH: 'none' is not allowed in production");
	assert_null(strchr(errbuf, '\n'));
	/* The other spelling of the same value. */
	setenv("OMNI_AUTH", "NONE", 1);
	assert_int_equal(load(NULL), CFG_ECONFLICT);
	setenv("OMNI_AUTH", "jwt", 1);
	setenv("JWT_SECRET", JWT_OK, 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.auth, CFG_AUTH_JWT);
}

/* Staging keeps OMNI_AUTH=none: the rule is production's. */
static void
test_staging_allows_auth_none(void **state)
{
	(void)state;
	set_staging();
	setenv("OMNI_AUTH", "none", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_int_equal(cfg.auth, CFG_AUTH_NONE);
}

static const char *const prod_url_vars[] = {
	"DAYTONA_API_URL", "INNGEST_BASE_URL", "INNGEST_API_ORIGIN",
	"INNGEST_EVENT_API_ORIGIN", "INNGEST_SERVE_ORIGIN",
};

static void
test_production_refuses_plain_http_urls(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"http://api.example.com",
		"http://127.0.0.1.attacker.com",   /* a name, not 127.0.0.1 */
		"http://localhost.attacker.com:8288",
		"http://10.0.0.5:8288",
		"http://[::2]:8288",
		"http://127.1:8288",               /* not a full dotted quad */
	};
	char want[128];
	for (size_t v = 0; v < sizeof(prod_url_vars) / sizeof(prod_url_vars[0]);
	    v++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			clear_env();
			set_production();
			setenv(prod_url_vars[v], bad[i], 1);
			assert_int_equal(load(NULL), CFG_ECONFLICT);
			snprintf(want, sizeof(want), "%s: must be an https:// "
			    "URL in production", prod_url_vars[v]);
			assert_err_prefix(want);
			/* The URL is public: echoed so the operator sees it. */
			assert_non_null(strstr(errbuf, bad[i]));
		}
	}
}

static void
test_production_accepts_https_and_loopback_http(void **state)
{
	(void)state;
	static const char *const good[] = {
		"https://api.example.com", "HTTPS://inn.gs",
		"http://127.0.0.1:8288", "http://127.9.8.7", "http://localhost",
		"http://LOCALHOST:8288/api", "http://[::1]:8288",
	};
	for (size_t v = 0; v < sizeof(prod_url_vars) / sizeof(prod_url_vars[0]);
	    v++) {
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			clear_env();
			set_production();
			setenv(prod_url_vars[v], good[i], 1);
			assert_int_equal(load(NULL), CFG_OK);
		}
	}
}

/* The same URLs are fine outside production (a local dev server). */
static void
test_plain_http_urls_allowed_outside_production(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(prod_url_vars) / sizeof(prod_url_vars[0]);
	    v++) {
		set_staging();
		setenv(prod_url_vars[v], "http://inngest.internal:8288", 1);
		assert_int_equal(load(NULL), CFG_OK);
		clear_env();
	}
}

static void
test_production_refuses_short_signing_keys(void **state)
{
	(void)state;
	static const char *const weak[] = {
		"signkey-prod-00",                      /* the reported one */
		"signkey-prod-0a1b2c3d4e5f",
		/* 62 hex digits: one byte short */
		("signkey-prod-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"
		    "60718293a4b5c6d7e8"),
		"0a1b2c3d4e5f",                         /* bare, short */
	};
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		set_production();
		setenv("INNGEST_SIGNING_KEY", weak[i], 1);
		assert_int_equal(load(NULL), CFG_ECONFLICT);
		assert_err_prefix("INNGEST_SIGNING_KEY: must be a real Inngest "
		    "signing key in production");
		assert_non_null(strstr(errbuf, "(value hidden)"));
		assert_null(strstr(errbuf, weak[i]));
		/* The fallback is held to the same rule. */
		set_production();
		setenv("INNGEST_SIGNING_KEY_FALLBACK", weak[i], 1);
		assert_int_equal(load(NULL), CFG_ECONFLICT);
		assert_err_prefix("INNGEST_SIGNING_KEY_FALLBACK: must be a real "
		    "Inngest signing key in production");
		assert_null(strstr(errbuf, weak[i]));
		unsetenv("INNGEST_SIGNING_KEY_FALLBACK");
	}
}

static void
test_production_accepts_real_signing_keys(void **state)
{
	(void)state;
	set_production();
	setenv("INNGEST_SIGNING_KEY_FALLBACK", SIGN_KEY_OLD, 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_signing_key_fallback, SIGN_KEY_OLD);
	/* Bare hex (no prefix), and upper case, of the same length. */
	setenv("INNGEST_SIGNING_KEY", HEX64, 1);
	setenv("INNGEST_SIGNING_KEY_FALLBACK",
	    "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100",
	    1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg.inngest_signing_key, HEX64);
}

/* ---- unknown variables ------------------------------------------ */

static void
test_unknown_omni_variable_warns(void **state)
{
	(void)state;
	setenv("OMNI_THREAD", "4", 1); /* typo of OMNI_THREADS */
	log_set_level(LOG_INFO);
	capture_start();
	enum cfg_err err = load(NULL);
	char *out = capture_end();
	assert_int_equal(err, CFG_OK);
	assert_non_null(strstr(out, "OMNI_THREAD "));
	assert_non_null(strstr(out, "\"level\":\"warn\""));
	free(out);
}

/* The local executor's settings share `make run`'s environment: the pool
 * knows they are not its own and does not warn about them. */
static void
test_executor_variables_do_not_warn(void **state)
{
	(void)state;
	setenv("OMNI_EXECUTOR_PORT", "8288", 1);
	setenv("OMNI_EXECUTORX", "1", 1); /* not the executor's prefix */
	log_set_level(LOG_INFO);
	capture_start();
	enum cfg_err err = load(NULL);
	char *out = capture_end();
	assert_int_equal(err, CFG_OK);
	assert_null(strstr(out, "OMNI_EXECUTOR_PORT"));
	assert_non_null(strstr(out, "unknown variable OMNI_EXECUTORX "));
	unsetenv("OMNI_EXECUTOR_PORT");
	unsetenv("OMNI_EXECUTORX");
	free(out);
}

static void
test_unknown_omni_variable_in_env_file_warns(void **state)
{
	(void)state;
	const char *path = write_file("env", "OMNI_WORKER=2\nOMNI_THREADS=4\n");
	log_set_level(LOG_INFO);
	capture_start();
	enum cfg_err err = load(path);
	char *out = capture_end();
	assert_int_equal(err, CFG_OK);
	assert_int_equal(cfg.threads, 4);
	assert_non_null(strstr(out, "unknown variable OMNI_WORKER in the env "
	    "file"));
	assert_null(strstr(out, "OMNI_THREADS"));
	free(out);
}

static void
test_known_variable_does_not_warn(void **state)
{
	(void)state;
	setenv("OMNI_THREADS", "4", 1);
	log_set_level(LOG_INFO);
	capture_start();
	enum cfg_err err = load(NULL);
	char *out = capture_end();
	assert_int_equal(err, CFG_OK);
	assert_null(strstr(out, "config_unknown_variable"));
	free(out);
}

/* ---- ownership ----------------------------------------------------- */

static void
test_failure_leaves_nothing(void **state)
{
	(void)state;
	struct omni_config zero;
	memset(&zero, 0, sizeof(zero));
	/* Fails late (rules), after every string has been allocated. */
	set_production();
	unsetenv("INNGEST_EVENT_KEY");
	assert_int_equal(load(NULL), CFG_EMISSING);
	assert_memory_equal(&cfg, &zero, sizeof(cfg));
}

static void
test_free_is_safe_on_zeroed_and_twice(void **state)
{
	(void)state;
	struct omni_config c;
	memset(&c, 0, sizeof(c));
	cfg_free(&c);
	cfg_free(NULL);
	assert_int_equal(cfg_load(&c, NULL, errbuf, sizeof(errbuf)), CFG_OK);
	cfg_free(&c);
	assert_null(c.data_dir);
	cfg_free(&c);
}

static void
test_small_or_null_error_buffer(void **state)
{
	(void)state;
	struct omni_config c;
	char tiny[8];
	setenv("OMNI_THREADS", "abc", 1);
	assert_int_equal(cfg_load(&c, NULL, tiny, sizeof(tiny)), CFG_EINVAL);
	assert_string_equal(tiny, "OMNI_TH");
	assert_int_equal(cfg_load(&c, NULL, NULL, 0), CFG_EINVAL);
}

/* ---- origins ------------------------------------------------------- */

static void
test_origin_star_allows_any(void **state)
{
	(void)state;
	assert_int_equal(load(NULL), CFG_OK);
	assert_string_equal(cfg_origin_allowed(&cfg, "https://x.example"), "*");
	assert_null(cfg_origin_allowed(&cfg, NULL));
}

static void
test_origin_list_matches_exactly(void **state)
{
	(void)state;
	const char *o1 = "https://APP.example.com";
	const char *o2 = "http://localhost:3000";
	setenv("OMNI_ALLOWED_ORIGINS",
	    "https://app.example.com, http://localhost:3000", 1);
	assert_int_equal(load(NULL), CFG_OK);
	assert_ptr_equal(cfg_origin_allowed(&cfg, o1), o1);
	assert_ptr_equal(cfg_origin_allowed(&cfg, o2), o2);
	assert_null(cfg_origin_allowed(&cfg, "http://localhost:3001"));
	assert_null(cfg_origin_allowed(&cfg, "https://app.example.com.evil"));
	assert_null(cfg_origin_allowed(&cfg, "https://app.example.co"));
	assert_null(cfg_origin_allowed(&cfg, "http://app.example.com"));
	assert_null(cfg_origin_allowed(&cfg, ""));
	assert_null(cfg_origin_allowed(&cfg, NULL));
}

static void
test_origin_entries_validated(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"app.example.com", "https://app.example.com/", "https://*.example.com",
		"https://a.com,,https://b.com", "https://a.com:0", "*,https://a.com",
		"https://a.com:99999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OMNI_ALLOWED_ORIGINS", bad[i], 1);
		assert_int_equal(load(NULL), CFG_EINVAL);
		assert_err_prefix("OMNI_ALLOWED_ORIGINS: ");
	}
	setenv("OMNI_ALLOWED_ORIGINS", "http://[::1]:8080,https://a-b.c", 1);
	assert_int_equal(load(NULL), CFG_OK);
}

/* ---- summary, names ------------------------------------------------ */

static void
test_summary_hides_secrets(void **state)
{
	(void)state;
	set_production();
	assert_int_equal(load(NULL), CFG_OK);
	log_set_level(LOG_INFO);
	capture_start();
	cfg_log_summary(&cfg);
	char *out = capture_end();

	assert_null(strstr(out, DAYTONA_KEY));
	assert_null(strstr(out, SIGN_KEY));
	assert_null(strstr(out, EVENT_KEY));
	assert_null(strstr(out, JWT_OK));
	struct json_object *obj = json_tokener_parse(out), *v;
	assert_non_null(obj);
	static const struct {
		const char *key, *value;
	} expect[] = {
		{"event", "config"}, {"level", "info"}, {"env", "production"},
		{"provider", "daytona"}, {"auth", "jwt"}, {"log_level", "info"},
		{"daytona_api_key", "set"}, {"inngest_signing_key", "set"},
		{"inngest_event_key", "set"}, {"jwt_secret", "set"},
		{"daytona_api_key_fallback", "unset"},
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		assert_true(json_object_object_get_ex(obj, expect[i].key, &v));
		assert_string_equal(json_object_get_string(v), expect[i].value);
	}
	assert_true(json_object_object_get_ex(obj, "threads", &v));
	assert_int_equal(json_object_get_int(v), 16);
	assert_true(json_object_object_get_ex(obj, "workers", &v));
	assert_int_equal(json_object_get_int(v), 0);
	assert_true(json_object_object_get_ex(obj, "max_body", &v));
	assert_int_equal(json_object_get_int64(v), 1048576);
	json_object_put(obj);
	free(out);
}

static void
test_strerror_and_env_names(void **state)
{
	(void)state;
	for (int e = 0; e <= CFG__MAX; e++)
		assert_non_null(cfg_strerror((enum cfg_err)e));
	assert_string_not_equal(cfg_strerror(CFG_EINVAL),
	    cfg_strerror(CFG_EMISSING));
	assert_string_equal(cfg_env_name(CFG_ENV_DEVELOPMENT), "development");
	assert_string_equal(cfg_env_name(CFG_ENV_STAGING), "staging");
	assert_string_equal(cfg_env_name(CFG_ENV_PRODUCTION), "production");
	assert_string_equal(cfg_env_name((enum cfg_env)7), "unknown");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_development_defaults),
		T(test_staging_defaults),
		T(test_production_valid),
		T(test_env_name_is_case_insensitive),
		T(test_unknown_env_rejected),
		T(test_explicit_value_overrides_profile),
		T(test_empty_value_counts_as_unset),
		T(test_empty_origins_means_none),
		T(test_threads_not_integer_message),
		T(test_threads_bounds),
		T(test_integer_rejects_trailing_text_and_overflow),
		T(test_workers_bounds),
		T(test_port_bounds),
		T(test_shutdown_timeout),
		T(test_max_body_suffixes),
		T(test_max_body_rejects_bad_sizes),
		T(test_bool_values),
		T(test_log_level_unknown_rejected),
		T(test_log_level_warning_alias),
		T(test_auth_unknown_rejected),
		T(test_rate_limit),
		T(test_long_bad_value_is_cut_and_one_line),
		T(test_url_requires_http_scheme),
		T(test_url_trailing_slash_removed),
		T(test_inngest_dev_values),
		T(test_serve_path_must_start_with_slash),
		T(test_app_id_and_prefix_are_identifiers),
		T(test_control_characters_rejected),
		T(test_agent_cmd_is_words_without_shell),
		T(test_agent_models_list),
		T(test_agent_key_rules),
		T(test_agent_network_development_only),
		T(test_jwt_required_when_auth_jwt),
		T(test_staging_requires_jwt_secret),
		T(test_jwt_secret_too_short_is_hidden),
		T(test_signing_key_shape_checked_and_hidden),
		T(test_secret_with_control_character_is_hidden),
		T(test_signing_fallback_needs_primary),
		T(test_provider_defaults_to_local_without_key),
		T(test_provider_defaults_to_daytona_with_key),
		T(test_provider_defaults_to_daytona_with_key_file),
		T(test_provider_explicit_local_with_key),
		T(test_provider_daytona_without_key_is_missing),
		T(test_provider_unknown_rejected),
		T(test_key_file_is_read_and_trimmed),
		T(test_key_file_reload_sees_rotated_key),
		T(test_key_file_unreadable),
		T(test_key_file_empty),
		T(test_key_file_two_lines_rejected_and_hidden),
		T(test_key_and_key_file_conflict),
		T(test_production_refuses_local_provider),
		T(test_production_requires_daytona_key),
		T(test_production_accepts_key_file),
		T(test_production_requires_signing_key),
		T(test_production_requires_event_key),
		T(test_production_requires_serve_origin),
		T(test_production_refuses_inngest_dev),
		T(test_production_accepts_inngest_dev_zero),
		T(test_production_refuses_debug_routes),
		T(test_production_refuses_unsandboxed),
		T(test_production_refuses_star_origins),
		T(test_staging_refuses_star_origins),
		T(test_staging_requires_signing_key),
		T(test_staging_allows_local_provider),
		T(test_staging_refuses_debug_routes),
		T(test_staging_refuses_unsandboxed),
		T(test_staging_refuses_inngest_dev),
		T(test_staging_requires_serve_origin),
		T(test_staging_accepts_short_signing_key),
		T(test_development_allows_debug_unsandboxed_and_dev_mode),
		T(test_development_cloud_mode_requires_serve_origin),
		T(test_production_refuses_auth_none),
		T(test_staging_allows_auth_none),
		T(test_production_refuses_plain_http_urls),
		T(test_production_accepts_https_and_loopback_http),
		T(test_plain_http_urls_allowed_outside_production),
		T(test_production_refuses_short_signing_keys),
		T(test_production_accepts_real_signing_keys),
		T(test_unknown_omni_variable_warns),
		T(test_executor_variables_do_not_warn),
		T(test_unknown_omni_variable_in_env_file_warns),
		T(test_known_variable_does_not_warn),
		T(test_failure_leaves_nothing),
		T(test_free_is_safe_on_zeroed_and_twice),
		T(test_small_or_null_error_buffer),
		T(test_origin_star_allows_any),
		T(test_origin_list_matches_exactly),
		T(test_origin_entries_validated),
		T(test_summary_hides_secrets),
		T(test_strerror_and_env_names),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
