/*
 * test_sandbox.c -- the provider-independent sandbox layer (sandbox.c):
 * the per-user policy of sbx_ensure_for_user(, NULL), sbx_wait_ready(, NULL), the
 * derived name, user id validation and the names of states and errors.
 *
 * The policy is driven through an in-memory fake provider whose hooks can
 * play "another worker": create a sandbox between our find and our create,
 * remove or start one between two of our calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "sandbox.h"
#include "sandbox_path.h"

/* ---- the fake provider ---- */

#define FAKE_MAX 8

struct fake_sbx {
	int live;
	struct sbx_info info;
};

struct fake {
	struct fake_sbx s[FAKE_MAX];
	int next_id;
	/* counters */
	int n_find, n_create, n_get, n_start, n_remove;
	/* scripted behaviour */
	enum sbx_err find_err;          /* returned by find when set */
	int create_race;                /* another worker wins the create */
	int create_always_conflict;     /* create keeps failing: ECONFLICT */
	int remove_race;                /* another worker replaced it */
	int start_race;                 /* another worker started it */
	enum sbx_state start_to;        /* state after start */
	enum sbx_state *get_script;     /* successive states returned by get */
	int get_script_len;
	char last_removed[SBX_ID_MAX];
};

static struct fake_sbx *fake_add(struct fake *f, const char *user,
    enum sbx_state st)
{
	int i;

	for (i = 0; i < FAKE_MAX; i++) {
		if (!f->s[i].live) {
			memset(&f->s[i], 0, sizeof(f->s[i]));
			f->s[i].live = 1;
			snprintf(f->s[i].info.id, SBX_ID_MAX, "sbx-%d",
			    ++f->next_id);
			snprintf(f->s[i].info.user_id, SBX_USER_MAX, "%s",
			    user);
			f->s[i].info.state = st;
			snprintf(f->s[i].info.created_at, SBX_TIME_MAX,
			    "2025-01-01T00:00:0%dZ", f->next_id % 10);
			return &f->s[i];
		}
	}
	return NULL;
}

static struct fake_sbx *fake_by_id(struct fake *f, const char *id)
{
	int i;

	for (i = 0; i < FAKE_MAX; i++)
		if (f->s[i].live && strcmp(f->s[i].info.id, id) == 0)
			return &f->s[i];
	return NULL;
}

static int fake_count(struct fake *f, const char *user)
{
	int i, n = 0;

	for (i = 0; i < FAKE_MAX; i++)
		if (f->s[i].live && strcmp(f->s[i].info.user_id, user) == 0)
			n++;
	return n;
}

static struct fake *F(struct sbx_provider *p)
{
	return p->impl;
}

static enum sbx_err fk_find(struct sbx_provider *p, const char *user,
    struct sbx_info *out, struct sbx_error *why)
{
	(void)why;
	struct fake *f = F(p);
	int i;

	f->n_find++;
	if (f->find_err != SBX_OK)
		return f->find_err;
	for (i = 0; i < FAKE_MAX; i++)
		if (f->s[i].live && strcmp(f->s[i].info.user_id, user) == 0) {
			*out = f->s[i].info;
			return SBX_OK;
		}
	return SBX_ENOTFOUND;
}

static enum sbx_err fk_create(struct sbx_provider *p, const char *user,
    struct sbx_info *out, struct sbx_error *why)
{
	(void)why;
	struct fake *f = F(p);
	struct fake_sbx *s;

	f->n_create++;
	if (f->create_always_conflict)
		return SBX_ECONFLICT;
	if (f->create_race) {
		/* Another worker created it just before us. */
		f->create_race = 0;
		fake_add(f, user, SBX_STATE_CREATING);
		return SBX_ECONFLICT;
	}
	if (fake_count(f, user) > 0)
		return SBX_ECONFLICT;
	if ((s = fake_add(f, user, SBX_STATE_CREATING)) == NULL)
		return SBX_EQUOTA;
	*out = s->info;
	return SBX_OK;
}

static enum sbx_err fk_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out, struct sbx_error *why)
{
	(void)why;
	struct fake *f = F(p);
	struct fake_sbx *s;

	/* Like a real provider, clear the output first: a caller passing
	 * an id that lives in 'out' is caught here. */
	memset(out, 0, sizeof(*out));
	s = fake_by_id(f, id);
	f->n_get++;
	if (s == NULL)
		return SBX_ENOTFOUND;
	if (f->get_script_len > 0) {
		s->info.state = f->get_script[0];
		f->get_script++;
		f->get_script_len--;
	}
	*out = s->info;
	return SBX_OK;
}

static enum sbx_err fk_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	(void)why;
	struct fake *f = F(p);
	struct fake_sbx *s = fake_by_id(f, id);

	f->n_start++;
	if (s == NULL)
		return SBX_ENOTFOUND;
	if (f->start_race) {
		f->start_race = 0;
		s->info.state = SBX_STATE_CREATING;
		return SBX_ECONFLICT;
	}
	s->info.state = f->start_to;
	return SBX_OK;
}

static enum sbx_err fk_remove(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	(void)why;
	struct fake *f = F(p);
	struct fake_sbx *s = fake_by_id(f, id);
	char user[SBX_USER_MAX];

	f->n_remove++;
	snprintf(f->last_removed, sizeof(f->last_removed), "%s", id);
	if (s == NULL)
		return SBX_ENOTFOUND;
	if (f->remove_race) {
		/* Another worker removed it and made the replacement. */
		f->remove_race = 0;
		snprintf(user, sizeof(user), "%s", s->info.user_id);
		s->live = 0;
		fake_add(f, user, SBX_STATE_READY);
		return SBX_ENOTFOUND;
	}
	s->live = 0;
	return SBX_OK;
}

static void fk_destroy(struct sbx_provider *p)
{
	(void)p;
}

static const struct sbx_ops fake_ops = {
	.name = "fake",
	.find_for_user = fk_find,
	.create_for_user = fk_create,
	.get = fk_get,
	.start = fk_start,
	.stop = NULL,
	.remove = fk_remove,
	.destroy = fk_destroy,
};

struct fixture {
	struct fake fake;
	struct sbx_provider p;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->p.ops = &fake_ops;
	fx->p.impl = &fx->fake;
	fx->fake.start_to = SBX_STATE_READY;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

#define FX ((struct fixture *)*state)

/* ---- sbx_ensure_for_user ---- */

static void ensure_creates_when_missing(void **state)
{
	struct sbx_info info;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(FX->fake.n_create, 1);
	assert_string_equal(info.user_id, "alice");
	assert_int_equal(info.state, SBX_STATE_CREATING);
	assert_int_equal(fake_count(&FX->fake, "alice"), 1);
}

static void ensure_reuses_existing(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "alice", SBX_STATE_READY);
	struct sbx_info info;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_string_equal(info.id, s->info.id);
	assert_int_equal(info.state, SBX_STATE_READY);
	assert_int_equal(FX->fake.n_create, 0);
	assert_int_equal(FX->fake.n_start, 0);
	assert_int_equal(FX->fake.n_remove, 0);
}

static void ensure_reuses_creating_without_start(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "alice", SBX_STATE_CREATING);
	struct sbx_info info;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_string_equal(info.id, s->info.id);
	assert_int_equal(FX->fake.n_start, 0);
	assert_int_equal(FX->fake.n_create, 0);
}

static void ensure_starts_stopped(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "alice", SBX_STATE_STOPPED);
	struct sbx_info info;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(FX->fake.n_start, 1);
	assert_string_equal(info.id, s->info.id);
	assert_int_equal(info.state, SBX_STATE_READY);
	assert_int_equal(FX->fake.n_create, 0);
}

static void ensure_reports_creating_while_start_pending(void **state)
{
	struct sbx_info info;

	/* A provider whose start leaves it "stopped" for a moment (Daytona
	 * is asynchronous): the answer must not say stopped. */
	fake_add(&FX->fake, "alice", SBX_STATE_STOPPED);
	FX->fake.start_to = SBX_STATE_STOPPED;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(info.state, SBX_STATE_CREATING);
}

static void ensure_replaces_errored(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "alice", SBX_STATE_ERROR);
	char old[SBX_ID_MAX];
	struct sbx_info info;

	snprintf(old, sizeof(old), "%s", s->info.id);
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(FX->fake.n_remove, 1);
	assert_string_equal(FX->fake.last_removed, old);
	assert_int_equal(FX->fake.n_create, 1);
	assert_string_not_equal(info.id, old);
	assert_int_equal(fake_count(&FX->fake, "alice"), 1);
}

static void ensure_replace_race_finds_replacement(void **state)
{
	struct sbx_info info;

	fake_add(&FX->fake, "alice", SBX_STATE_ERROR);
	FX->fake.remove_race = 1;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(FX->fake.n_create, 0);
	assert_int_equal(info.state, SBX_STATE_READY);
	assert_int_equal(fake_count(&FX->fake, "alice"), 1);
}

static void ensure_create_conflict_finds_winner(void **state)
{
	struct sbx_info info;

	FX->fake.create_race = 1;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(FX->fake.n_create, 1);
	assert_int_equal(FX->fake.n_find, 2);
	assert_int_equal(fake_count(&FX->fake, "alice"), 1);
	assert_string_equal(info.id,
	    FX->fake.s[0].live ? FX->fake.s[0].info.id : "?");
}

static void ensure_start_conflict_looks_again(void **state)
{
	struct sbx_info info;

	fake_add(&FX->fake, "alice", SBX_STATE_STOPPED);
	FX->fake.start_race = 1;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL), SBX_OK);
	assert_int_equal(info.state, SBX_STATE_CREATING);
	assert_int_equal(FX->fake.n_start, 1);
	assert_int_equal(FX->fake.n_create, 0);
}

static void ensure_gives_up_after_bounded_rounds(void **state)
{
	struct sbx_info info;

	FX->fake.create_always_conflict = 1;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL),
	    SBX_ECONFLICT);
	assert_true(FX->fake.n_create >= 2);
	assert_true(FX->fake.n_create <= 8);
}

static void ensure_propagates_provider_error(void **state)
{
	struct sbx_info info;

	FX->fake.find_err = SBX_EUNAVAILABLE;
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &info, NULL),
	    SBX_EUNAVAILABLE);
	assert_int_equal(FX->fake.n_create, 0);
}

static void ensure_rejects_bad_user_id(void **state)
{
	struct sbx_info info;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "", &info, NULL), SBX_EINVAL);
	assert_int_equal(sbx_ensure_for_user(&FX->p, "a/b", &info, NULL),
	    SBX_EINVAL);
	assert_int_equal(sbx_ensure_for_user(&FX->p, NULL, &info, NULL),
	    SBX_EINVAL);
	assert_int_equal(FX->fake.n_find, 0);
}

static void ensure_keeps_users_apart(void **state)
{
	struct sbx_info a, b;

	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &a, NULL), SBX_OK);
	assert_int_equal(sbx_ensure_for_user(&FX->p, "bob", &b, NULL), SBX_OK);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(sbx_ensure_for_user(&FX->p, "alice", &b, NULL), SBX_OK);
	assert_string_equal(a.id, b.id);
	assert_int_equal(FX->fake.n_create, 2);
}

/* ---- sbx_wait_ready ---- */

static void wait_ready_polls_until_ready(void **state)
{
	static enum sbx_state script[] = { SBX_STATE_CREATING,
		SBX_STATE_CREATING, SBX_STATE_READY };
	struct fake_sbx *s = fake_add(&FX->fake, "a", SBX_STATE_CREATING);
	struct sbx_info info;

	FX->fake.get_script = script;
	FX->fake.get_script_len = 3;
	assert_int_equal(sbx_wait_ready(&FX->p, s->info.id, 5000, &info, NULL),
	    SBX_OK);
	assert_int_equal(info.state, SBX_STATE_READY);
	assert_int_equal(FX->fake.n_get, 3);
}

static void wait_ready_times_out(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "a", SBX_STATE_CREATING);
	struct sbx_info info;
	struct timespec t0, t1;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sbx_wait_ready(&FX->p, s->info.id, 250, &info, NULL),
	    SBX_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 240);
	assert_true(ms < 2000);
}

static void wait_ready_starts_stopped(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "a", SBX_STATE_STOPPED);
	struct sbx_info info;

	assert_int_equal(sbx_wait_ready(&FX->p, s->info.id, 1000, &info, NULL),
	    SBX_OK);
	assert_int_equal(FX->fake.n_start, 1);
}

static void wait_ready_error_is_conflict(void **state)
{
	struct fake_sbx *s = fake_add(&FX->fake, "a", SBX_STATE_ERROR);
	struct sbx_info info;

	assert_int_equal(sbx_wait_ready(&FX->p, s->info.id, 1000, &info, NULL),
	    SBX_ECONFLICT);
	assert_int_equal(info.state, SBX_STATE_ERROR);
}

static void wait_ready_unknown_is_not_found(void **state)
{
	struct sbx_info info;

	assert_int_equal(sbx_wait_ready(&FX->p, "nope", 1000, &info, NULL),
	    SBX_ENOTFOUND);
}

/* ---- names and validation ---- */

static void name_is_prefix_and_sha256(void **state)
{
	char name[SBX_NAME_MAX];

	(void)state;
	/* SHA-256("alice") = 2bd806c97f0e00af1a1fc3328fa763a9... */
	sbx_name_for_user("alice", name);
	assert_string_equal(name, "omni-2bd806c97f0e00af1a1fc3328fa763a9");
	sbx_name_for_user("user-123", name);
	assert_string_equal(name, "omni-fcdec6df4d44dbc637c7c5b58efface5");
}

static void name_differs_per_user(void **state)
{
	char a[SBX_NAME_MAX], b[SBX_NAME_MAX];

	(void)state;
	sbx_name_for_user("alice", a);
	sbx_name_for_user("alicf", b);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 37);
}

static void user_id_validation(void **state)
{
	char id[200];

	(void)state;
	assert_true(sbx_user_id_valid("u"));
	assert_true(sbx_user_id_valid("user@example.com"));
	assert_true(sbx_user_id_valid("a b"));
	assert_false(sbx_user_id_valid(NULL));
	assert_false(sbx_user_id_valid(""));
	assert_false(sbx_user_id_valid("a/b"));
	assert_false(sbx_user_id_valid("tab\there"));
	assert_false(sbx_user_id_valid("caf\xc3\xa9"));
	memset(id, 'x', sizeof(id));
	id[SBX_USER_MAX - 1] = '\0'; /* 127 bytes: fits sbx_info */
	assert_true(sbx_user_id_valid(id));
	id[SBX_USER_MAX - 1] = 'x';
	id[SBX_USER_MAX] = '\0';     /* 128 bytes: does not */
	assert_false(sbx_user_id_valid(id));
}

static void state_and_error_names(void **state)
{
	int i;

	(void)state;
	assert_string_equal(sbx_state_name(SBX_STATE_CREATING), "creating");
	assert_string_equal(sbx_state_name(SBX_STATE_READY), "ready");
	assert_string_equal(sbx_state_name(SBX_STATE_STOPPED), "stopped");
	assert_string_equal(sbx_state_name(SBX_STATE_ERROR), "error");
	assert_string_equal(sbx_state_name((enum sbx_state)99), "error");
	for (i = 0; i < SBX__MAX; i++)
		assert_non_null(sbx_strerror((enum sbx_err)i));
	assert_string_equal(sbx_strerror((enum sbx_err)-1),
	    "unknown sandbox error");
	assert_string_not_equal(sbx_strerror(SBX_EQUOTA),
	    sbx_strerror(SBX_EUPSTREAM));
}

static void free_helpers_accept_empty(void **state)
{
	struct sbx_exec_result r = { 0, 0, 0, NULL, 0 };
	struct sbx_file_list l = { NULL, 0 };

	(void)state;
	sbx_exec_result_free(&r);
	sbx_exec_result_free(NULL);
	sbx_file_list_free(&l);
	sbx_file_list_free(NULL);
	l.entries = calloc(1, sizeof(*l.entries));
	assert_non_null(l.entries);
	l.entries[0].name = strdup("x");
	l.count = 1;
	sbx_file_list_free(&l);
	assert_null(l.entries);
	assert_int_equal(l.count, 0);
}

static void provider_new_rejects_bad_config(void **state)
{
	struct omni_config cfg;
	struct sbx_provider *p = (struct sbx_provider *)1;

	(void)state;
	assert_int_equal(sbx_provider_new(NULL, &p, NULL, 0), SBX_EINVAL);
	assert_null(p);
	memset(&cfg, 0, sizeof(cfg));
	cfg.provider = (enum cfg_provider)42;
	assert_int_equal(sbx_provider_new(&cfg, &p, NULL, 0), SBX_EINVAL);
	/* local without a data directory */
	cfg.provider = CFG_PROVIDER_LOCAL;
	assert_int_equal(sbx_provider_new(&cfg, &p, NULL, 0), SBX_EINVAL);
	assert_null(p);
	sbx_provider_free(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The one path rule (sandbox_path.h) every layer applies. */
static void test_sandbox_path_rule(void **state)
{
	char longp[SANDBOX_PATH_MAX + 1];

	(void)state;
	assert_true(sandbox_path_ok("notes/today.md"));
	assert_true(sandbox_path_ok("/home/omni/notes"));
	assert_true(sandbox_path_ok("./a/..b/c.."));
	assert_false(sandbox_path_ok(NULL));
	assert_false(sandbox_path_ok(""));
	assert_false(sandbox_path_ok(".."));
	assert_false(sandbox_path_ok("a/../b"));
	assert_false(sandbox_path_ok("a//../"));
	assert_false(sandbox_path_ok("a\nb"));
	assert_false(sandbox_path_ok("a\x7f"));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_false(sandbox_path_ok(longp));
	longp[SANDBOX_PATH_MAX - 1] = '\0';
	assert_true(sandbox_path_ok(longp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ensure_creates_when_missing),
		T(ensure_reuses_existing),
		T(ensure_reuses_creating_without_start),
		T(ensure_starts_stopped),
		T(ensure_reports_creating_while_start_pending),
		T(ensure_replaces_errored),
		T(ensure_replace_race_finds_replacement),
		T(ensure_create_conflict_finds_winner),
		T(ensure_start_conflict_looks_again),
		T(ensure_gives_up_after_bounded_rounds),
		T(ensure_propagates_provider_error),
		T(ensure_rejects_bad_user_id),
		T(ensure_keeps_users_apart),
		T(wait_ready_polls_until_ready),
		T(wait_ready_times_out),
		T(wait_ready_starts_stopped),
		T(wait_ready_error_is_conflict),
		T(wait_ready_unknown_is_not_found),
		cmocka_unit_test(test_sandbox_path_rule),
		cmocka_unit_test(name_is_prefix_and_sha256),
		cmocka_unit_test(name_differs_per_user),
		cmocka_unit_test(user_id_validation),
		cmocka_unit_test(state_and_error_names),
		cmocka_unit_test(free_helpers_accept_empty),
		cmocka_unit_test(provider_new_rejects_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
