/*
 * sandbox.c -- the small helpers of sandbox.h that every provider and
 * caller shares: names, validators, error details, frees, state names.
 * It knows no provider (factory.c does) and no policy (policy.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hex.h"
#include "sandbox.h"

void sbx_error_clear(struct sbx_error *why)
{
	if (why == NULL)
		return;
	memset(why, 0, sizeof(*why));
	why->retry_after_s = -1;
}


void sbx_name_for_user(const char *user_id, char out[SBX_NAME_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n;

	n = user_id != NULL ? strlen(user_id) : 0;
	if (EVP_Digest(user_id != NULL ? user_id : "", n, md, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen < 16) {
		/* Cannot happen with a working libcrypto; never hand back an
		 * uninitialised name. */
		memset(md, 0, sizeof(md));
	}
	memcpy(out, "omni-", 5);
	hex_encode(md, 16, out + 5, 0);
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
