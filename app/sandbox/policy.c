/*
 * policy.c -- the provider-independent half of the sandbox interface: the
 * per-user policy (one sandbox per user, found again by its derived name,
 * never remembered in memory), waiting for readiness, and the sbx_*
 * wrappers that leave every caller a complete struct sbx_error.
 *
 * It only calls the primitives of struct sbx_ops, so it is the same for
 * Daytona and the local provider, and unit tests drive it with an
 * in-memory fake provider.
 */
#include <string.h>

#include "metrics.h"
#include "sandbox.h"
#include "timeutil.h"

/*
 * How many find/create/replace rounds sbx_ensure_for_user() makes before
 * giving up with SBX_ECONFLICT.  Each round only repeats when another
 * worker changed the sandbox between two of our calls, so a handful is
 * plenty; the bound keeps a misbehaving provider from looping forever.
 */
#define ENSURE_ROUNDS 4

/* sbx_wait_ready() polls with this back-off (ms), doubling to the max. */
#define WAIT_POLL_FIRST_MS 100
#define WAIT_POLL_MAX_MS 1000
/* ... and asks for a start at most this many times. */
#define WAIT_MAX_STARTS 3

/*
 * The provider calls that metrics.h times, wherever the policy makes
 * them: a start inside a wait counts as a start.
 */
static void timed(struct sbx_provider *p, enum metrics_sbx_op op,
    long long t0, enum sbx_err err)
{
	metrics_observe_sandbox(op, p->ops->name, err == SBX_OK,
	    time_mono_us() - t0);
}

static enum sbx_err op_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	long long t0 = time_mono_us();
	enum sbx_err err = p->ops->start(p, id, why);

	timed(p, METRICS_SBX_START, t0, err);
	return err;
}

static enum sbx_err op_create(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why)
{
	long long t0 = time_mono_us();
	enum sbx_err err = p->ops->create_for_user(p, user_id, out, why);

	timed(p, METRICS_SBX_CREATE, t0, err);
	return err;
}


/*
 * Bring a sandbox that was found (or just created) to a usable state.
 * Returns SBX_OK when '*info' is settled, SBX_ECONFLICT when the caller
 * should look again (somebody else changed it under us), or an error.
 */
static enum sbx_err settle(struct sbx_provider *p, struct sbx_info *info,
    struct sbx_error *why)
{
	struct sbx_info fresh;
	enum sbx_err err;

	switch (info->state) {
	case SBX_STATE_READY:
	case SBX_STATE_CREATING:
		return SBX_OK;
	case SBX_STATE_STOPPED:
		err = op_start(p, info->id, why);
		if (err != SBX_OK)
			return err;
		/* Report the state the provider now gives (a Daytona start
		 * is asynchronous: usually "creating"); 'fresh' because an
		 * op must not get its id and its output in one struct. */
		if (p->ops->get(p, info->id, &fresh, why) == SBX_OK)
			*info = fresh;
		if (info->state == SBX_STATE_STOPPED)
			info->state = SBX_STATE_CREATING;
		return SBX_OK;
	case SBX_STATE_ERROR:
	default:
		/* Replace it.  NOTFOUND: a concurrent request already removed
		 * it; either way look again, which finds the replacement or
		 * creates it. */
		err = p->ops->remove(p, info->id, why);
		if (err != SBX_OK && err != SBX_ENOTFOUND)
			return err;
		return SBX_ECONFLICT;
	}
}

static enum sbx_err ensure(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why)
{
	struct sbx_info info;
	enum sbx_err err;
	int round;

	if (p == NULL || p->ops == NULL || out == NULL ||
	    !sbx_user_id_valid(user_id))
		return SBX_EINVAL;
	for (round = 0; round < ENSURE_ROUNDS; round++) {
		memset(&info, 0, sizeof(info));
		err = p->ops->find_for_user(p, user_id, &info, why);
		if (err == SBX_ENOTFOUND) {
			err = op_create(p, user_id, &info, why);
			if (err == SBX_ECONFLICT)
				continue; /* another worker created it first */
			if (err != SBX_OK)
				return err;
			/* A fresh sandbox is creating or ready. */
			*out = info;
			return SBX_OK;
		}
		if (err != SBX_OK)
			return err;
		err = settle(p, &info, why);
		if (err == SBX_ECONFLICT)
			continue;
		if (err != SBX_OK)
			return err;
		*out = info;
		return SBX_OK;
	}
	return SBX_ECONFLICT;
}

static enum sbx_err wait_ready(struct sbx_provider *p, const char *id,
    int deadline_ms, struct sbx_info *out, struct sbx_error *why)
{
	struct sbx_info info;
	long long end, left, delay = WAIT_POLL_FIRST_MS;
	int starts = 0;
	enum sbx_err err;

	if (p == NULL || p->ops == NULL || id == NULL || *id == '\0' ||
	    out == NULL)
		return SBX_EINVAL;
	end = time_mono_ms() + (deadline_ms > 0 ? deadline_ms : 0);
	for (;;) {
		memset(&info, 0, sizeof(info));
		err = p->ops->get(p, id, &info, why);
		if (err != SBX_OK)
			return err;
		switch (info.state) {
		case SBX_STATE_READY:
			*out = info;
			return SBX_OK;
		case SBX_STATE_ERROR:
			*out = info;
			return SBX_ECONFLICT;
		case SBX_STATE_STOPPED:
			if (starts < WAIT_MAX_STARTS) {
				starts++;
				err = op_start(p, id, why);
				/* CONFLICT: it is already starting. */
				if (err != SBX_OK && err != SBX_ECONFLICT)
					return err;
				continue; /* look at the new state now */
			}
			break;
		case SBX_STATE_CREATING:
		default:
			break;
		}
		left = end - time_mono_ms();
		if (left <= 0) {
			*out = info;
			return SBX_ETIMEOUT;
		}
		time_sleep_ms(delay < left ? delay : left);
		delay = delay * 2 > WAIT_POLL_MAX_MS ? WAIT_POLL_MAX_MS :
		    delay * 2;
	}
}

/*
 * Leave 'why' consistent with 'rc': the provider's detail stays on a
 * failure (it belongs to the op that failed), success leaves nothing.
 */
static enum sbx_err finish(struct sbx_error *why, enum sbx_err rc)
{
	if (why != NULL) {
		if (rc == SBX_OK)
			sbx_error_clear(why);
		why->code = rc;
	}
	return rc;
}

/* A call without a provider fails before any detail could exist. */
static int usable(const struct sbx_provider *p, struct sbx_error *why)
{
	sbx_error_clear(why);
	return p != NULL && p->ops != NULL;
}

enum sbx_err sbx_ensure_for_user(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why)
{
	return finish(why, usable(p, why) ? ensure(p, user_id, out, why) :
	    SBX_EINVAL);
}

enum sbx_err sbx_wait_ready(struct sbx_provider *p, const char *id,
    int deadline_ms, struct sbx_info *out, struct sbx_error *why)
{
	long long t0 = time_mono_us();
	enum sbx_err err;

	if (!usable(p, why))
		return finish(why, SBX_EINVAL);
	err = wait_ready(p, id, deadline_ms, out, why);
	timed(p, METRICS_SBX_READY, t0, err);
	return finish(why, err);
}

enum sbx_err sbx_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out, struct sbx_error *why)
{
	return finish(why, usable(p, why) ? p->ops->get(p, id, out, why) :
	    SBX_EINVAL);
}

enum sbx_err sbx_remove(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	return finish(why, usable(p, why) ? p->ops->remove(p, id, why) :
	    SBX_EINVAL);
}

enum sbx_err sbx_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out, struct sbx_error *why)
{
	long long t0 = time_mono_us();
	enum sbx_err err;

	if (!usable(p, why))
		return finish(why, SBX_EINVAL);
	err = p->ops->exec(p, id, command, opts, out, why);
	timed(p, METRICS_SBX_EXEC, t0, err);
	return finish(why, err);
}

enum sbx_err sbx_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len, struct sbx_error *why)
{
	return finish(why, usable(p, why) ?
	    p->ops->write_file(p, id, path, data, len, why) : SBX_EINVAL);
}

enum sbx_err sbx_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why)
{
	return finish(why, usable(p, why) ?
	    p->ops->read_file(p, id, path, max, data, len, why) : SBX_EINVAL);
}

enum sbx_err sbx_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out, struct sbx_error *why)
{
	return finish(why, usable(p, why) ?
	    p->ops->list_files(p, id, path, out, why) : SBX_EINVAL);
}

enum sbx_err sbx_find_for_user(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why)
{
	return finish(why, usable(p, why) ?
	    p->ops->find_for_user(p, user_id, out, why) : SBX_EINVAL);
}

enum sbx_err sbx_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	return finish(why, usable(p, why) ? op_start(p, id, why) :
	    SBX_EINVAL);
}
