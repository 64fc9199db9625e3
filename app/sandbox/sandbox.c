/*
 * sandbox.c -- the provider-independent half of the sandbox interface:
 * choosing the provider, the per-user policy (one sandbox per user, found
 * again by its derived name, never remembered in memory), waiting for
 * readiness, and the small helpers of sandbox.h.
 *
 * The policy only calls the primitives of struct sbx_ops, so it is the
 * same for Daytona and the local provider, and unit tests drive it with an
 * in-memory fake provider.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "sandbox_local.h"
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

enum sbx_err sbx_provider_new(const struct omni_config *cfg,
    struct sbx_provider **out, char *detail, size_t detail_len)
{
	if (detail != NULL && detail_len > 0)
		detail[0] = '\0';
	if (out == NULL)
		return SBX_EINVAL;
	*out = NULL;
	if (cfg == NULL)
		return SBX_EINVAL;
	switch (cfg->provider) {
	case CFG_PROVIDER_LOCAL:
		return sbx_local_new(cfg, out, detail, detail_len);
	case CFG_PROVIDER_DAYTONA:
		return sbx_daytona_new(cfg, out);
	default:
		return SBX_EINVAL;
	}
}

void sbx_provider_free(struct sbx_provider *p)
{
	if (p != NULL && p->ops != NULL && p->ops->destroy != NULL)
		p->ops->destroy(p);
}

/*
 * Bring a sandbox that was found (or just created) to a usable state.
 * Returns SBX_OK when '*info' is settled, SBX_ECONFLICT when the caller
 * should look again (somebody else changed it under us), or an error.
 */
static enum sbx_err settle(struct sbx_provider *p, struct sbx_info *info)
{
	struct sbx_info fresh;
	enum sbx_err err;

	switch (info->state) {
	case SBX_STATE_READY:
	case SBX_STATE_CREATING:
		return SBX_OK;
	case SBX_STATE_STOPPED:
		err = p->ops->start(p, info->id);
		if (err != SBX_OK)
			return err;
		/* Report the state the provider now gives (a Daytona start
		 * is asynchronous: usually "creating"); 'fresh' because an
		 * op must not get its id and its output in one struct. */
		if (p->ops->get(p, info->id, &fresh) == SBX_OK)
			*info = fresh;
		if (info->state == SBX_STATE_STOPPED)
			info->state = SBX_STATE_CREATING;
		return SBX_OK;
	case SBX_STATE_ERROR:
	default:
		/* Replace it.  NOTFOUND: a concurrent request already removed
		 * it; either way look again, which finds the replacement or
		 * creates it. */
		err = p->ops->remove(p, info->id);
		if (err != SBX_OK && err != SBX_ENOTFOUND)
			return err;
		return SBX_ECONFLICT;
	}
}

enum sbx_err sbx_ensure_for_user(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out)
{
	struct sbx_info info;
	enum sbx_err err;
	int round;

	if (p == NULL || p->ops == NULL || out == NULL ||
	    !sbx_user_id_valid(user_id))
		return SBX_EINVAL;
	for (round = 0; round < ENSURE_ROUNDS; round++) {
		memset(&info, 0, sizeof(info));
		err = p->ops->find_for_user(p, user_id, &info);
		if (err == SBX_ENOTFOUND) {
			err = p->ops->create_for_user(p, user_id, &info);
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
		err = settle(p, &info);
		if (err == SBX_ECONFLICT)
			continue;
		if (err != SBX_OK)
			return err;
		*out = info;
		return SBX_OK;
	}
	return SBX_ECONFLICT;
}

enum sbx_err sbx_wait_ready(struct sbx_provider *p, const char *id,
    int deadline_ms, struct sbx_info *out)
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
		err = p->ops->get(p, id, &info);
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
				err = p->ops->start(p, id);
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

void sbx_name_for_user(const char *user_id, char out[SBX_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i, n;

	n = user_id != NULL ? strlen(user_id) : 0;
	if (EVP_Digest(user_id != NULL ? user_id : "", n, md, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen < 16) {
		/* Cannot happen with a working libcrypto; never hand back an
		 * uninitialised name. */
		memset(md, 0, sizeof(md));
	}
	memcpy(out, "omni-", 5);
	for (i = 0; i < 16; i++) {
		out[5 + 2 * i] = hex[md[i] >> 4];
		out[5 + 2 * i + 1] = hex[md[i] & 0xf];
	}
	out[5 + 32] = '\0';
}

int sbx_id_valid(const char *id)
{
	size_t i;

	if (id == NULL || id[0] == '\0')
		return 0;
	for (i = 0; id[i] != '\0'; i++) {
		char c = id[i];

		if (i >= SBX_ID_MAX - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.'))
			return 0;
	}
	/* "." and ".." are path segments, not ids: in a Daytona URL libcurl
	 * would resolve them to another resource (found by fuzz_endpoints). */
	return id[strspn(id, ".")] != '\0';
}

int sbx_user_id_valid(const char *user_id)
{
	size_t i;

	if (user_id == NULL || user_id[0] == '\0')
		return 0;
	/* It must fit struct sbx_info's user_id with its NUL. */
	for (i = 0; user_id[i] != '\0'; i++) {
		unsigned char c = (unsigned char)user_id[i];

		if (i >= SBX_USER_MAX - 1)
			return 0;
		if (c < 0x20 || c > 0x7e || c == '/')
			return 0;
	}
	return 1;
}

/*
 * Names refused in a command's environment.  Exact names first: the
 * provider's own, then what a shell reads at start-up or while parsing,
 * then what glibc and the dynamic loader read (the loader ignores some of
 * them only for set-user-ID programs, which a sandbox command is not).
 */
static const char *const env_refused[] = {
	"PATH", "HOME",
	"ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PS4", "CDPATH",
	"GLOBIGNORE", "PROMPT_COMMAND", "BASH_XTRACEFD", "POSIXLY_CORRECT",
	"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
	"NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR",
	NULL,
};
/* Prefixes: the loader's and allocator's families, exported shell
 * functions. */
static const char *const env_refused_prefix[] = {
	"LD_", "MALLOC_", "GLIBC_", "BASH_FUNC_", NULL,
};

int sbx_env_entry_valid(const char *kv)
{
	const char *eq, *s;
	size_t n, i;

	if (kv == NULL || (eq = strchr(kv, '=')) == NULL || eq == kv)
		return 0;
	n = (size_t)(eq - kv);
	if (n > SBX_ENV_NAME_MAX || strlen(eq + 1) > SBX_ENV_VALUE_MAX ||
	    (kv[0] >= '0' && kv[0] <= '9'))
		return 0;
	for (s = kv; s < eq; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	for (i = 0; env_refused[i] != NULL; i++)
		if (strlen(env_refused[i]) == n &&
		    strncmp(kv, env_refused[i], n) == 0)
			return 0;
	for (i = 0; env_refused_prefix[i] != NULL; i++)
		if (strncmp(kv, env_refused_prefix[i],
		    strlen(env_refused_prefix[i])) == 0)
			return 0;
	return 1;
}

int sbx_env_valid(const char *const *env)
{
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (i >= SBX_ENV_MAX || !sbx_env_entry_valid(env[i]))
			return 0;
	return 1;
}

void sbx_exec_result_free(struct sbx_exec_result *r)
{
	if (r == NULL)
		return;
	free(r->output);
	r->output = NULL;
	r->output_len = 0;
}

void sbx_file_list_free(struct sbx_file_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->count; i++)
		free(l->entries[i].name);
	free(l->entries);
	l->entries = NULL;
	l->count = 0;
}

const char *sbx_state_name(enum sbx_state s)
{
	static const char *const names[SBX_STATE__MAX] = {
		[SBX_STATE_CREATING] = "creating",
		[SBX_STATE_READY] = "ready",
		[SBX_STATE_STOPPED] = "stopped",
		[SBX_STATE_ERROR] = "error",
	};

	if ((unsigned)s >= SBX_STATE__MAX)
		return "error";
	return names[s];
}

const char *sbx_strerror(enum sbx_err err)
{
	static const char *const text[SBX__MAX] = {
		[SBX_OK] = "success",
		[SBX_ENOTFOUND] = "no such sandbox or file",
		[SBX_EINVAL] = "invalid argument",
		[SBX_ECONFLICT] = "the sandbox's state does not allow this",
		[SBX_EAUTH] = "the sandbox provider refused our credentials",
		[SBX_ERATELIMIT] =
		    "the sandbox provider is throttling requests",
		[SBX_EUNAVAILABLE] = "the sandbox provider is unavailable",
		[SBX_ETIMEOUT] = "the sandbox provider did not answer in time",
		[SBX_EUPSTREAM] = "the sandbox provider answered with an error",
		[SBX_ENETWORK] = "the sandbox provider cannot be reached",
		[SBX_EQUOTA] = "the sandbox provider's quota is exhausted",
		[SBX_EISOLATION] =
		    "sandbox isolation (bubblewrap) cannot start",
		[SBX_EIO] = "sandbox storage error",
		[SBX_ENOMEM] = "out of memory",
		[SBX_ETOOLARGE] = "file or output too large",
	};

	if ((unsigned)err >= SBX__MAX || text[err] == NULL)
		return "unknown sandbox error";
	return text[err];
}
