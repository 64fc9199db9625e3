/*
 * test_envfile.c -- unit tests for app/envfile.c.
 *
 * Two groups.  The first reads env files through cfg_load(), as Omni does
 * at start-up: syntax, precedence of the real environment, error lines.
 * The second calls the envfile API directly: the table it builds, every
 * error value and message, envfile_get/lookup/free/strerror.
 *
 * Each test starts from an environment with none of Omni's variables set
 * (setup); files are created under a private mkdtemp directory.
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
#include "env_clear.h"
#include "envfile.h"

/* used by the direct tests */
static const char *const extra_names[] = { "EFT_A", "EFT_B", NULL };

#define JWT_OK "0123456789abcdef0123456789abcdef-jwt"
#define DAYTONA_KEY "dtn_live_key_4f9a8b7c"
#define SIGN_KEY "signkey-prod-" \
    "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define EVENT_KEY "event-key-77aa"

static char tmpdir[64];
static char errbuf[512];
static struct omni_config cfg;
static struct envfile ef;

static void
clear_env(void)
{
	env_clear(extra_names);
}

static int
setup(void **state)
{
	(void)state;
	clear_env();
	memset(&cfg, 0, sizeof(cfg));
	memset(&ef, 0, sizeof(ef));
	errbuf[0] = '\0';
	strcpy(tmpdir, "/tmp/omni-test-envfile-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	cfg_free(&cfg);
	envfile_free(&ef);
	clear_env();
	/* write_file() only ever creates this name. */
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

/* Write 'len' bytes of 'data' to a file named 'name' in the test directory. */
static const char *
write_bytes(const char *name, const char *data, size_t len)
{
	static char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static const char *
write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* Read 'text' as the env file into 'ef'. */
static enum envfile_err
read_text(const char *text)
{
	envfile_free(&ef);
	return envfile_read(&ef, write_file("env", text), errbuf,
	    sizeof(errbuf));
}

#define assert_err_prefix(prefix) \
	assert_int_equal(strncmp(errbuf, prefix, strlen(prefix)), 0)

/* "<path>:<line>: <why>" for the file write_file("env", ...) made. */
static void
assert_line_error(unsigned line, const char *why)
{
	char expect[256];

	snprintf(expect, sizeof(expect), "%s/env:%u: %s", tmpdir, line, why);
	assert_string_equal(errbuf, expect);
}

/* ---- through cfg_load (moved from test_config.c) --------------- */

static void
test_env_file_syntax(void **state)
{
	(void)state;
	const char *path = write_file("env",
	    "# a comment\n"
	    "\n"
	    "   # indented comment\n"
	    "OMNI_THREADS=8\n"
	    "export OMNI_WORKERS=3\n"
	    "OMNI_DATA_DIR = \"/srv/omni data\"\n"
	    "OMNI_AGENT_CMD='claude -p --verbose'  \n"
	    "DAYTONA_TARGET=eu   \r\n"
	    "OMNI_MAX_BODY=\"\"\n"
	    "OMNI_SHUTDOWN_TIMEOUT=7\n"
	    "OMNI_SHUTDOWN_TIMEOUT=9\n"
	    "JWT_SECRET=with#hash=and=equals-000000000000000\n");
	assert_int_equal(load(path), CFG_OK);
	assert_int_equal(cfg.threads, 8);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.data_dir, "/srv/omni data");
	assert_string_equal(cfg.agent_cmd, "claude -p --verbose");
	assert_string_equal(cfg.daytona_target, "eu");
	assert_int_equal(cfg.max_body, 1048576);
	assert_int_equal(cfg.shutdown_timeout, 9);
	assert_string_equal(cfg.jwt_secret,
	    "with#hash=and=equals-000000000000000");
}

static void
test_env_file_environment_wins(void **state)
{
	(void)state;
	const char *path = write_file("env", "OMNI_THREADS=8\nPORT=9000\n");
	setenv("OMNI_THREADS", "12", 1);
	assert_int_equal(load(path), CFG_OK);
	assert_int_equal(cfg.threads, 12);
	assert_int_equal(cfg.port, 9000);
}

static void
test_env_file_leaves_environ_alone(void **state)
{
	(void)state;
	const char *path = write_file("env", "OMNI_THREADS=8\nFOO_OMNI_T=1\n");
	assert_int_equal(load(path), CFG_OK);
	assert_int_equal(cfg.threads, 8);
	assert_null(getenv("OMNI_THREADS"));
	assert_null(getenv("FOO_OMNI_T"));
}

static void
test_env_file_selects_profile(void **state)
{
	(void)state;
	const char *path = write_file("env",
	    "OMNI_ENV=production\n"
	    "DAYTONA_API_KEY=" DAYTONA_KEY "\n"
	    "INNGEST_SIGNING_KEY=" SIGN_KEY "\n"
	    "INNGEST_EVENT_KEY=" EVENT_KEY "\n"
	    "INNGEST_SERVE_ORIGIN=https://api.example.com\n"
	    "JWT_SECRET=" JWT_OK "\n");
	assert_int_equal(load(path), CFG_OK);
	assert_int_equal(cfg.env, CFG_ENV_PRODUCTION);
	assert_string_equal(cfg.allowed_origins, "");
	assert_int_equal(cfg.provider, CFG_PROVIDER_DAYTONA);
}

static void
test_env_file_malformed_line_reports_line(void **state)
{
	(void)state;
	char expect[256];
	const char *path = write_file("env",
	    "OMNI_THREADS=8\n# ok\nJWT_SECRET supersecretvalue\n");
	snprintf(expect, sizeof(expect), "%s:3: expected KEY=VALUE", path);
	assert_int_equal(load(path), CFG_EFILE);
	assert_string_equal(errbuf, expect);
	assert_null(strstr(errbuf, "supersecret"));
}

static void
test_env_file_unterminated_quote(void **state)
{
	(void)state;
	char expect[256];
	const char *path = write_file("env", "OMNI_DATA_DIR=\"/srv\n");
	snprintf(expect, sizeof(expect), "%s:1: unterminated quote", path);
	assert_int_equal(load(path), CFG_EFILE);
	assert_string_equal(errbuf, expect);
}

static void
test_env_file_text_after_quote(void **state)
{
	(void)state;
	const char *path = write_file("env", "A=ok\nOMNI_DATA_DIR='/srv' x\n");
	assert_int_equal(load(path), CFG_EFILE);
	assert_non_null(strstr(errbuf, ":2: "));
}

static void
test_env_file_bad_name(void **state)
{
	(void)state;
	const char *path = write_file("env", "1ABC=2\n");
	assert_int_equal(load(path), CFG_EFILE);
	assert_non_null(strstr(errbuf, ":1: "));
}

static void
test_env_file_missing(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/none.env", tmpdir);
	assert_int_equal(load(path), CFG_EFILE);
	assert_err_prefix(path);
}

static void
test_env_file_bad_value_names_variable(void **state)
{
	(void)state;
	const char *path = write_file("env", "OMNI_THREADS=lots\n");
	assert_int_equal(load(path), CFG_EINVAL);
	assert_string_equal(errbuf,
	    "OMNI_THREADS: must be an integer between 1 and 1024 (got 'lots')");
}

/* ---- envfile_read: the table ----------------------------------------- */

static void
test_read_plain_assignment(void **state)
{
	(void)state;
	assert_int_equal(read_text("EFT_A=1\n"), ENVFILE_OK);
	assert_int_equal(ef.nvars, 1);
	assert_string_equal(ef.vars[0].key, "EFT_A");
	assert_string_equal(ef.vars[0].value, "1");
}

static void
test_read_skips_blank_and_comment_lines(void **state)
{
	(void)state;
	assert_int_equal(read_text("\n   \n\t\n# A=1\n  \t# B=2\nC=3\n"),
	    ENVFILE_OK);
	assert_int_equal(ef.nvars, 1);
	assert_string_equal(ef.vars[0].key, "C");
}

static void
test_read_empty_file(void **state)
{
	(void)state;
	assert_int_equal(read_text(""), ENVFILE_OK);
	assert_int_equal(ef.nvars, 0);
}

static void
test_read_export_prefix_dropped(void **state)
{
	(void)state;
	assert_int_equal(read_text("export A=1\n  export\t B=2\n"), ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "A"), "1");
	assert_string_equal(envfile_get(&ef, "B"), "2");
	assert_null(envfile_get(&ef, "export"));
}

static void
test_read_export_without_blank_is_a_key(void **state)
{
	(void)state;
	assert_int_equal(read_text("export=1\nexportA=2\n"), ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "export"), "1");
	assert_string_equal(envfile_get(&ef, "exportA"), "2");
}

static void
test_read_blanks_trimmed_around_equals_and_value(void **state)
{
	(void)state;
	assert_int_equal(read_text("A \t= \t x  y \t\n"), ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "A"), "x  y");
}

static void
test_read_hash_and_equals_in_value_kept(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=x # not a comment\nB=c=d\n"),
	    ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "A"), "x # not a comment");
	assert_string_equal(envfile_get(&ef, "B"), "c=d");
}

static void
test_read_quotes_removed_content_literal(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=\"  a # 'b' \\n \"\nB='x\"y'  \t\n"),
	    ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "A"), "  a # 'b' \\n ");
	assert_string_equal(envfile_get(&ef, "B"), "x\"y");
}

static void
test_read_empty_values_are_empty_strings(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=\nB=\"\"\nC=''\nD=   \n"), ENVFILE_OK);
	assert_int_equal(ef.nvars, 4);
	for (size_t i = 0; i < ef.nvars; i++)
		assert_string_equal(ef.vars[i].value, "");
}

static void
test_read_crlf_and_missing_final_newline(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\r\nB='2'\r\nC=3"), ENVFILE_OK);
	assert_string_equal(envfile_get(&ef, "A"), "1");
	assert_string_equal(envfile_get(&ef, "B"), "2");
	assert_string_equal(envfile_get(&ef, "C"), "3");
}

static void
test_read_last_assignment_wins_in_first_place(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\nB=2\nA=3\n"), ENVFILE_OK);
	assert_int_equal(ef.nvars, 2);
	assert_string_equal(ef.vars[0].key, "A");
	assert_string_equal(ef.vars[0].value, "3");
	assert_string_equal(ef.vars[1].key, "B");
}

static void
test_read_long_line(void **state)
{
	(void)state;
	size_t n = 20000;
	char *text = malloc(n + 4);
	assert_non_null(text);
	memcpy(text, "A=", 2);
	memset(text + 2, 'v', n);
	memcpy(text + 2 + n, "\n", 2);
	assert_int_equal(read_text(text), ENVFILE_OK);
	assert_int_equal(strlen(envfile_get(&ef, "A")), n);
	free(text);
}

static void
test_read_leaves_environ_alone(void **state)
{
	(void)state;
	assert_int_equal(read_text("EFT_A=1\n"), ENVFILE_OK);
	assert_null(getenv("EFT_A"));
}

/* ---- envfile_read: errors ------------------------------------------- */

static void
test_error_missing_equals(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\nB 2\n"), ENVFILE_ESYNTAX);
	assert_line_error(2, "expected KEY=VALUE");
}

static void
test_error_bad_key(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"1A=2\n", "=x\n", "-A=1\n", "A-B=1\n", "A.B=1\n", "export\n",
		"\"A\"=1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(read_text(bad[i]), ENVFILE_ESYNTAX);
		assert_line_error(1, "expected KEY=VALUE");
	}
}

static void
test_error_unterminated_quote(void **state)
{
	(void)state;
	assert_int_equal(read_text("A='x\n"), ENVFILE_ESYNTAX);
	assert_line_error(1, "unterminated quote");
}

static void
test_error_text_after_quote(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\n\nB=\"x\" y\n"), ENVFILE_ESYNTAX);
	assert_line_error(3, "unexpected text after the closing quote");
}

static void
test_error_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "A=1\nB=x\0y\n";
	const char *path = write_bytes("env", text, sizeof(text) - 1);
	assert_int_equal(envfile_read(&ef, path, errbuf, sizeof(errbuf)),
	    ENVFILE_ESYNTAX);
	assert_line_error(2, "NUL byte in line");
}

static void
test_error_leaves_table_empty(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\nB=2\nC\nD=4\n"), ENVFILE_ESYNTAX);
	assert_line_error(3, "expected KEY=VALUE");
	assert_null(ef.vars);
	assert_int_equal(ef.nvars, 0);
}

static void
test_error_never_quotes_the_line(void **state)
{
	(void)state;
	assert_int_equal(read_text("API_KEY sk-live-0123\n"), ENVFILE_ESYNTAX);
	assert_null(strstr(errbuf, "sk-live"));
	assert_int_equal(read_text("API_KEY='sk-live-0123\n"), ENVFILE_ESYNTAX);
	assert_null(strstr(errbuf, "sk-live"));
}

static void
test_error_missing_file(void **state)
{
	(void)state;
	char path[128], expect[256];
	snprintf(path, sizeof(path), "%s/none.env", tmpdir);
	snprintf(expect, sizeof(expect),
	    "%s: cannot read env file: No such file or directory", path);
	assert_int_equal(envfile_read(&ef, path, errbuf, sizeof(errbuf)),
	    ENVFILE_EOPEN);
	assert_string_equal(errbuf, expect);
	assert_int_equal(ef.nvars, 0);
}

static void
test_error_directory_is_read_error(void **state)
{
	(void)state;
	char expect[128];
	snprintf(expect, sizeof(expect), "%s: read error", tmpdir);
	assert_int_equal(envfile_read(&ef, tmpdir, errbuf, sizeof(errbuf)),
	    ENVFILE_EREAD);
	assert_string_equal(errbuf, expect);
}

static void
test_error_null_arguments(void **state)
{
	(void)state;
	assert_int_equal(envfile_read(&ef, NULL, errbuf, sizeof(errbuf)),
	    ENVFILE_EOPEN);
	assert_string_equal(errbuf, "env file: no path given");
	assert_int_equal(envfile_read(NULL, write_file("env", "A=1\n"),
	    errbuf, sizeof(errbuf)), ENVFILE_EOPEN);
	assert_string_equal(errbuf, "env file: no table given");
}

static void
test_error_buffer_small_or_null(void **state)
{
	(void)state;
	char tiny[6];
	const char *path = write_file("env", "bad line\n");
	assert_int_equal(envfile_read(&ef, path, tiny, sizeof(tiny)),
	    ENVFILE_ESYNTAX);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_memory_equal(tiny, path, sizeof(tiny) - 1);
	assert_int_equal(envfile_read(&ef, path, NULL, 0), ENVFILE_ESYNTAX);
	assert_int_equal(envfile_read(&ef, path, tiny, 0), ENVFILE_ESYNTAX);
}

/* ---- get, lookup, free, strerror ----------------------------------- */

static void
test_get_absent_or_null(void **state)
{
	(void)state;
	assert_int_equal(read_text("A=1\n"), ENVFILE_OK);
	assert_null(envfile_get(&ef, "B"));
	assert_null(envfile_get(&ef, "a"));
	assert_null(envfile_get(&ef, NULL));
	assert_null(envfile_get(NULL, "A"));
}

static void
test_lookup_environment_wins(void **state)
{
	(void)state;
	assert_int_equal(read_text("EFT_A=file\n"), ENVFILE_OK);
	setenv("EFT_A", "env", 1);
	assert_string_equal(envfile_lookup(&ef, "EFT_A"), "env");
}

static void
test_lookup_falls_back_to_file(void **state)
{
	(void)state;
	assert_int_equal(read_text("EFT_A=file\n"), ENVFILE_OK);
	assert_string_equal(envfile_lookup(&ef, "EFT_A"), "file");
	assert_null(envfile_lookup(&ef, "EFT_B"));
}

static void
test_lookup_empty_environment_value_hides_file(void **state)
{
	(void)state;
	assert_int_equal(read_text("EFT_A=file\n"), ENVFILE_OK);
	setenv("EFT_A", "", 1);
	assert_string_equal(envfile_lookup(&ef, "EFT_A"), "");
}

static void
test_lookup_without_table(void **state)
{
	(void)state;
	setenv("EFT_A", "env", 1);
	assert_string_equal(envfile_lookup(NULL, "EFT_A"), "env");
	assert_null(envfile_lookup(NULL, "EFT_B"));
	assert_null(envfile_lookup(NULL, NULL));
}

static void
test_free_empties_and_is_safe_twice(void **state)
{
	(void)state;
	struct envfile zero = ENVFILE_INIT;
	assert_int_equal(read_text("A=1\nB=2\n"), ENVFILE_OK);
	envfile_free(&ef);
	assert_null(ef.vars);
	assert_int_equal(ef.nvars, 0);
	envfile_free(&ef);
	envfile_free(&zero);
	envfile_free(NULL);
}

static void
test_strerror_texts(void **state)
{
	(void)state;
	for (int i = 0; i < ENVFILE__MAX; i++) {
		const char *text = envfile_strerror((enum envfile_err)i);
		assert_non_null(text);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(text,
			    envfile_strerror((enum envfile_err)j));
	}
	assert_string_equal(envfile_strerror(ENVFILE__MAX),
	    "unknown env file error");
	assert_string_equal(envfile_strerror((enum envfile_err)99),
	    "unknown env file error");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_env_file_syntax),
		T(test_env_file_environment_wins),
		T(test_env_file_leaves_environ_alone),
		T(test_env_file_selects_profile),
		T(test_env_file_malformed_line_reports_line),
		T(test_env_file_unterminated_quote),
		T(test_env_file_text_after_quote),
		T(test_env_file_bad_name),
		T(test_env_file_missing),
		T(test_env_file_bad_value_names_variable),
		T(test_read_plain_assignment),
		T(test_read_skips_blank_and_comment_lines),
		T(test_read_empty_file),
		T(test_read_export_prefix_dropped),
		T(test_read_export_without_blank_is_a_key),
		T(test_read_blanks_trimmed_around_equals_and_value),
		T(test_read_hash_and_equals_in_value_kept),
		T(test_read_quotes_removed_content_literal),
		T(test_read_empty_values_are_empty_strings),
		T(test_read_crlf_and_missing_final_newline),
		T(test_read_last_assignment_wins_in_first_place),
		T(test_read_long_line),
		T(test_read_leaves_environ_alone),
		T(test_error_missing_equals),
		T(test_error_bad_key),
		T(test_error_unterminated_quote),
		T(test_error_text_after_quote),
		T(test_error_nul_byte),
		T(test_error_leaves_table_empty),
		T(test_error_never_quotes_the_line),
		T(test_error_missing_file),
		T(test_error_directory_is_read_error),
		T(test_error_null_arguments),
		T(test_error_buffer_small_or_null),
		T(test_get_absent_or_null),
		T(test_lookup_environment_wins),
		T(test_lookup_falls_back_to_file),
		T(test_lookup_empty_environment_value_hides_file),
		T(test_lookup_without_table),
		T(test_free_empties_and_is_safe_twice),
		T(test_strerror_texts),
	};
	return cmocka_run_group_tests_name("envfile", tests, NULL, NULL);
}
