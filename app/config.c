/*
 * config.c -- read, default and validate Omni's configuration.
 *
 * One static descriptor table, vars[], has a row per environment variable:
 * its name, the struct field it fills, its type and bounds, its default in
 * each profile (OMNI_ENV) and whether it is a secret.  cfg_load() walks the
 * table once, then applies the rules that involve several variables
 * (rules()).  Defaults are written as text and go through the same parsers
 * as the environment, so a default can never bypass validation.
 *
 * The env file (--env-file) is read into a private table (envfile.h)
 * consulted only when getenv() has nothing: the process environment is
 * never modified, because libfcgi workers and their threads must not see
 * environ change.  The text of each value is parsed and checked by
 * config_values.h; this file adds the variable's name, bounds and
 * default, and the rules between variables.
 *
 * Secrets (flag VF_SECRET) never appear in an error message or in the
 * summary line; an error about one says "(value hidden)".
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client_ip.h"
#include "config_values.h"
#include "envfile.h"

extern char **environ;

/* Enum fields are stored through an int: make sure that is their size. */
_Static_assert(sizeof(enum cfg_env) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_provider) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");

#define KEY_FILE_MAX (64 * 1024) /* a key file larger than this is wrong */
#define ECHO_MAX 80              /* bytes of a bad value echoed back */

enum var_type {
	VT_STRING, /* char *, no control characters */
	VT_INT,    /* int within [min, max] */
	VT_SIZE,   /* size_t within [min, max]; k, m, g suffixes */
	VT_BOOL,   /* int 0 or 1: 0/1, true/false, yes/no, on/off */
	VT_ENUM,   /* an enum stored as int, from 'names' */
	VT_URL,    /* char *, http:// or https://, trailing '/' removed */
	VT_PATH,   /* char *, a file system path */
};

#define VF_SECRET   0x1u /* never echoed, summarised as set/unset */
#define VF_EMPTY_OK 0x2u /* "" is a value, not "unset" */

struct enum_name {
	const char *name;
	int value;
};

struct cfg_var {
	const char *name;              /* environment variable */
	const char *key;               /* struct field, key in the summary */
	size_t offset;                 /* of the field in struct omni_config */
	enum var_type type;
	unsigned flags;                /* VF_* */
	long long min, max;            /* VT_INT, VT_SIZE */
	const struct enum_name *names; /* VT_ENUM, NULL-terminated */
	cfgval_check_fn *check;        /* VT_STRING, optional */
	const char *def[CFG_ENV__MAX]; /* default per profile, NULL = none */
};

static const struct enum_name env_names[] = {
	{"development", CFG_ENV_DEVELOPMENT},
	{"staging", CFG_ENV_STAGING},
	{"production", CFG_ENV_PRODUCTION},
	{NULL, 0},
};

static const struct enum_name level_names[] = {
	{"debug", LOG_DEBUG},
	{"info", LOG_INFO},
	{"warn", LOG_WARN},
	{"error", LOG_ERROR},
	{"warning", LOG_WARN}, /* accepted, not advertised */
	{NULL, 0},
};

static const struct enum_name provider_names[] = {
	{"local", CFG_PROVIDER_LOCAL},
	{"daytona", CFG_PROVIDER_DAYTONA},
	{NULL, 0},
};

static const struct enum_name auth_names[] = {
	{"none", CFG_AUTH_NONE},
	{"jwt", CFG_AUTH_JWT},
	{NULL, 0},
};

#define FIELD(f) .key = #f, .offset = offsetof(struct omni_config, f)
#define ALL(v) .def = {v, v, v}
/* development, staging, production */
#define PER(d, s, p) .def = {d, s, p}

/* OMNI_ENV must stay first: the profile chooses every other default. */
static const struct cfg_var vars[] = {
	{.name = "OMNI_ENV", FIELD(env), .type = VT_ENUM,
	    .names = env_names, ALL("development")},
	{.name = "PORT", FIELD(port), .type = VT_INT,
	    .min = 1, .max = 65535, ALL("8080")},
	{.name = "LOG_LEVEL", FIELD(log_level), .type = VT_ENUM,
	    .names = level_names, PER("debug", "info", "info")},
	{.name = "OMNI_WORKERS", FIELD(workers), .type = VT_INT,
	    .min = 0, .max = 256, ALL("0")},
	{.name = "OMNI_THREADS", FIELD(threads), .type = VT_INT,
	    .min = 1, .max = 1024, ALL("16")},
	{.name = "OMNI_MAX_BODY", FIELD(max_body), .type = VT_SIZE,
	    .min = 1024, .max = 1024LL * 1024 * 1024, ALL("1m")},
	{.name = "OMNI_SHUTDOWN_TIMEOUT", FIELD(shutdown_timeout),
	    .type = VT_INT, .min = 1, .max = 3600, ALL("30")},
	{.name = "OMNI_ALLOWED_ORIGINS", FIELD(allowed_origins),
	    .type = VT_STRING, .flags = VF_EMPTY_OK,
	    .check = cfgval_check_origins, PER("*", "", "")},
	{.name = "OMNI_DEBUG_ROUTES", FIELD(debug_routes), .type = VT_BOOL,
	    ALL("0")},

	/* No static default: it depends on whether a Daytona key is set. */
	{.name = "SANDBOX_PROVIDER", FIELD(provider), .type = VT_ENUM,
	    .names = provider_names},
	{.name = "OMNI_DATA_DIR", FIELD(data_dir), .type = VT_PATH,
	    PER("./data", "/var/lib/omni", "/var/lib/omni")},
	{.name = "OMNI_LOCAL_UNSANDBOXED", FIELD(local_unsandboxed),
	    .type = VT_BOOL, ALL("0")},
	{.name = "OMNI_SANDBOX_USER", FIELD(sandbox_user), .type = VT_STRING,
	    ALL("omni-sandbox")},
	{.name = "OMNI_WORKSPACE_TEMPLATE", FIELD(workspace_template),
	    .type = VT_PATH, .flags = VF_EMPTY_OK, ALL("")},
	{.name = "OMNI_SANDBOX_CGROUP", FIELD(sandbox_cgroup),
	    .type = VT_STRING, ALL("auto")},
	{.name = "OMNI_SANDBOX_PIDS", FIELD(sandbox_pids), .type = VT_INT,
	    .min = 16, .max = 1000000, ALL("512")},
	{.name = "OMNI_SANDBOX_MEMORY", FIELD(sandbox_memory), .type = VT_SIZE,
	    .min = 64LL * 1024 * 1024, .max = 1024LL * 1024 * 1024 * 1024,
	    ALL("4g")},

	{.name = "DAYTONA_API_URL", FIELD(daytona_api_url), .type = VT_URL,
	    ALL("https://app.daytona.io/api")},
	{.name = "DAYTONA_API_KEY", FIELD(daytona_api_key),
	    .type = VT_STRING, .flags = VF_SECRET},
	{.name = "DAYTONA_API_KEY_FALLBACK", FIELD(daytona_api_key_fallback),
	    .type = VT_STRING, .flags = VF_SECRET},
	{.name = "DAYTONA_API_KEY_FILE", FIELD(daytona_api_key_file),
	    .type = VT_PATH},
	{.name = "DAYTONA_SNAPSHOT", FIELD(daytona_snapshot),
	    .type = VT_STRING},
	{.name = "DAYTONA_TARGET", FIELD(daytona_target), .type = VT_STRING},
	{.name = "DAYTONA_ORGANIZATION_ID", FIELD(daytona_org_id),
	    .type = VT_STRING},

	{.name = "INNGEST_APP_ID", FIELD(inngest_app_id), .type = VT_STRING,
	    .check = cfgval_check_ident, ALL("omni")},
	{.name = "INNGEST_SIGNING_KEY", FIELD(inngest_signing_key),
	    .type = VT_STRING, .flags = VF_SECRET,
	    .check = cfgval_check_signing_key},
	{.name = "INNGEST_SIGNING_KEY_FALLBACK",
	    FIELD(inngest_signing_key_fallback), .type = VT_STRING,
	    .flags = VF_SECRET, .check = cfgval_check_signing_key},
	{.name = "INNGEST_EVENT_KEY", FIELD(inngest_event_key),
	    .type = VT_STRING, .flags = VF_SECRET},
	{.name = "INNGEST_ENV", FIELD(inngest_env), .type = VT_STRING},
	{.name = "INNGEST_DEV", FIELD(inngest_dev), .type = VT_STRING,
	    .check = cfgval_check_inngest_dev},
	{.name = "INNGEST_BASE_URL", FIELD(inngest_base_url), .type = VT_URL},
	{.name = "INNGEST_API_ORIGIN", FIELD(inngest_api_origin),
	    .type = VT_URL},
	{.name = "INNGEST_EVENT_API_ORIGIN", FIELD(inngest_event_api_origin),
	    .type = VT_URL},
	{.name = "INNGEST_SERVE_ORIGIN", FIELD(inngest_serve_origin),
	    .type = VT_URL},
	{.name = "INNGEST_SERVE_PATH", FIELD(inngest_serve_path),
	    .type = VT_STRING, .check = cfgval_check_serve_path,
	    ALL("/api/inngest")},
	{.name = "OMNI_EVENT_PREFIX", FIELD(event_prefix), .type = VT_STRING,
	    .check = cfgval_check_ident, ALL("omni")},

	{.name = "OMNI_AGENT_CMD", FIELD(agent_cmd), .type = VT_STRING,
	    .check = cfgval_check_agent_cmd,
	    ALL("claude -p --output-format json")},
	{.name = "OMNI_AGENT_MODELS", FIELD(agent_models), .type = VT_STRING,
	    .check = cfgval_check_models,
	    ALL("claude-sonnet-4-5,claude-opus-4-1,claude-haiku-4-5")},
	{.name = "OMNI_AGENT_DEADLINE", FIELD(agent_deadline_s),
	    .type = VT_INT, .min = 5, .max = 86400, ALL("1800")},
	{.name = "OMNI_AGENT_POLL", FIELD(agent_poll_s), .type = VT_INT,
	    .min = 1, .max = 600, ALL("5")},
	{.name = "OMNI_AGENT_KEY_NAME", FIELD(agent_key_name),
	    .type = VT_STRING, .flags = VF_EMPTY_OK,
	    .check = cfgval_check_env_name, ALL("ANTHROPIC_API_KEY")},
	{.name = "OMNI_AGENT_KEY", FIELD(agent_key), .type = VT_STRING,
	    .flags = VF_SECRET},
	{.name = "OMNI_AGENT_KEY_FILE", FIELD(agent_key_file),
	    .type = VT_PATH},
	{.name = "OMNI_AGENT_NETWORK", FIELD(agent_network), .type = VT_BOOL,
	    ALL("0")},
	{.name = "OMNI_AUTH", FIELD(auth), .type = VT_ENUM,
	    .names = auth_names, PER("none", "jwt", "jwt")},
	{.name = "JWT_SECRET", FIELD(jwt_secret), .type = VT_STRING,
	    .flags = VF_SECRET, .check = cfgval_check_jwt_secret},
	{.name = "RATE_LIMIT_RPM", FIELD(rate_limit_rpm), .type = VT_INT,
	    .min = 0, .max = 1000000, ALL("0")},
	/* 0: RATE_LIMIT_RPM / 6, at least 1 (rate_gate_limit). */
	{.name = "RATE_LIMIT_STRICT_RPM", FIELD(rate_limit_strict_rpm),
	    .type = VT_INT, .min = 0, .max = 1000000, ALL("0")},
	{.name = "OMNI_METRICS", FIELD(metrics), .type = VT_BOOL, ALL("1")},
	{.name = "OMNI_METRICS_TOKEN", FIELD(metrics_token), .type = VT_STRING,
	    .flags = VF_SECRET, .check = cfgval_check_metrics_token},
	{.name = "OMNI_METRICS_TOKEN_FILE", FIELD(metrics_token_file),
	    .type = VT_PATH},
	{.name = "OMNI_DRAIN_DELAY", FIELD(drain_delay), .type = VT_INT,
	    .min = 0, .max = 300, ALL("0")},
	{.name = "OMNI_EGRESS_PROBE", FIELD(egress_probe), .type = VT_STRING,
	    .check = cfgval_check_probe_list},
	/* "" trusts no proxy: REMOTE_ADDR is always the client. */
	{.name = "OMNI_TRUSTED_PROXIES", FIELD(trusted_proxies),
	    .type = VT_STRING, .flags = VF_EMPTY_OK,
	    .check = client_ip_check_list, ALL("127.0.0.1,::1")},
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

struct load {
	struct omni_config cfg;         /* being built; freed on failure */
	unsigned char isset[NVARS];     /* given by environment or file */
	struct envfile file;            /* env file, or empty */
	char *err;                      /* caller's buffer */
	size_t errlen;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void *field_ptr(struct omni_config *cfg, const struct cfg_var *v)
{
	return (char *)cfg + v->offset;
}

static const void *field_cptr(const struct omni_config *cfg,
    const struct cfg_var *v)
{
	return (const char *)cfg + v->offset;
}

static int is_string_type(enum var_type t)
{
	return t == VT_STRING || t == VT_URL || t == VT_PATH;
}

static const struct cfg_var *var_by_offset(size_t offset, size_t *index)
{
	for (size_t i = 0; i < NVARS; i++) {
		if (vars[i].offset == offset) {
			if (index != NULL)
				*index = i;
			return &vars[i];
		}
	}
	return NULL;
}

#define WAS_SET(ld, f) was_set((ld), offsetof(struct omni_config, f))

static int was_set(const struct load *ld, size_t offset)
{
	size_t i;

	return var_by_offset(offset, &i) != NULL && ld->isset[i];
}

/* Write one error line into the caller's buffer; returns 'err'. */
static enum cfg_err fail(struct load *ld, enum cfg_err err,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum cfg_err fail(struct load *ld, enum cfg_err err,
    const char *fmt, ...)
{
	va_list ap;

	if (ld->err != NULL && ld->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(ld->err, ld->errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/*
 * "(got 'value')" for a public variable, "(value hidden)" for a secret.
 * The echo is cut to ECHO_MAX bytes and control characters become '?',
 * so that the error stays one readable line.
 */
static void describe_value(const struct cfg_var *v, const char *value,
    char *buf, size_t len)
{
	char clean[ECHO_MAX + 4];
	size_t n = 0;

	if (v->flags & VF_SECRET) {
		snprintf(buf, len, "(value hidden)");
		return;
	}
	for (const char *p = value; *p != '\0' && n < ECHO_MAX; p++)
		clean[n++] = iscntrl((unsigned char)*p) ? '?' : *p;
	if (value[n] != '\0' && n == ECHO_MAX) {
		memcpy(clean + n, "...", 3);
		n += 3;
	}
	clean[n] = '\0';
	snprintf(buf, len, "(got '%s')", clean);
}

static enum cfg_err fail_value(struct load *ld, const struct cfg_var *v,
    const char *value, const char *reason)
{
	char desc[ECHO_MAX + 32];

	describe_value(v, value, desc, sizeof(desc));
	return fail(ld, CFG_EINVAL, "%s: %s %s", v->name, reason, desc);
}

/* ------------------------------------------------------------------ */
/* Unknown variables                                                    */
/* ------------------------------------------------------------------ */

static int known_name(const char *name, size_t len)
{
	/* The local executor's settings share the environment of `make
	 * run` (build/omni-executor reads them, not the pool). */
	if (len > 14 && memcmp(name, "OMNI_EXECUTOR_", 14) == 0)
		return 1;
	for (size_t i = 0; i < NVARS; i++)
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return 1;
	return 0;
}

/*
 * A misspelt OMNI_ variable would otherwise be silently ignored: warn
 * about names with our prefix that the table does not know.
 */
static void warn_unknown(const struct load *ld)
{
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		size_t len = strcspn(*e, "=");
		if (strncmp(*e, "OMNI_", 5) == 0 && !known_name(*e, len))
			log_msg(LOG_WARN, "config_unknown_variable",
			    "unknown variable %.*s in the environment is ignored",
			    (int)len, *e);
	}
	for (size_t i = 0; i < ld->file.nvars; i++) {
		const char *k = ld->file.vars[i].key;
		if (strncmp(k, "OMNI_", 5) == 0 && !known_name(k, strlen(k)))
			log_msg(LOG_WARN, "config_unknown_variable",
			    "unknown variable %s in the env file is ignored", k);
	}
}

/* ------------------------------------------------------------------ */
/* Loading one variable                                                 */
/* ------------------------------------------------------------------ */

static enum cfg_err store_enum(struct load *ld, const struct cfg_var *v,
    const char *s)
{
	char list[256];
	size_t used = 0;

	for (const struct enum_name *e = v->names; e->name != NULL; e++) {
		if (strcasecmp(s, e->name) == 0) {
			memcpy(field_ptr(&ld->cfg, v), &e->value, sizeof(int));
			return CFG_OK;
		}
	}
	list[0] = '\0';
	for (const struct enum_name *e = v->names; e->name != NULL; e++) {
		if (v->names == level_names && strcmp(e->name, "warning") == 0)
			continue;
		int n = snprintf(list + used, sizeof(list) - used, "%s%s",
		    used > 0 ? ", " : "", e->name);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	char reason[300];
	snprintf(reason, sizeof(reason), "must be one of %s", list);
	return fail_value(ld, v, s, reason);
}

static enum cfg_err store_string(struct load *ld, const struct cfg_var *v,
    const char *s)
{
	const char *why = NULL;
	char *copy;

	if (cfgval_has_control(s))
		return fail_value(ld, v, s, "must not contain control characters");
	if (v->type == VT_URL)
		why = cfgval_url_problem(s);
	if (why != NULL)
		return fail_value(ld, v, s, why);
	copy = strdup(s);
	if (copy == NULL)
		return fail(ld, CFG_ENOMEM, "%s: out of memory", v->name);
	if (v->type == VT_URL)
		cfgval_strip_trailing_slashes(copy);
	if (v->check != NULL && (why = v->check(copy)) != NULL) {
		free(copy);
		return fail_value(ld, v, s, why);
	}
	memcpy(field_ptr(&ld->cfg, v), &copy, sizeof(copy));
	return CFG_OK;
}

/* Parse the text 's' for row 'v' and store it in the struct. */
static enum cfg_err store(struct load *ld, const struct cfg_var *v,
    const char *s)
{
	long long i;
	unsigned long long z;
	size_t sz;
	int b;
	char reason[160], lo[32], hi[32];

	switch (v->type) {
	case VT_INT:
		if (cfgval_parse_int(s, &i) != 0 || i < v->min || i > v->max) {
			snprintf(reason, sizeof(reason),
			    "must be an integer between %lld and %lld",
			    v->min, v->max);
			return fail_value(ld, v, s, reason);
		}
		b = (int)i;
		memcpy(field_ptr(&ld->cfg, v), &b, sizeof(b));
		return CFG_OK;
	case VT_SIZE:
		if (cfgval_parse_size(s, &z) != 0 ||
		    z < (unsigned long long)v->min ||
		    z > (unsigned long long)v->max) {
			cfgval_format_size((unsigned long long)v->min, lo,
			    sizeof(lo));
			cfgval_format_size((unsigned long long)v->max, hi,
			    sizeof(hi));
			snprintf(reason, sizeof(reason),
			    "must be a size between %s and %s (bytes, or a "
			    "number with a k, m or g suffix)", lo, hi);
			return fail_value(ld, v, s, reason);
		}
		sz = (size_t)z;
		memcpy(field_ptr(&ld->cfg, v), &sz, sizeof(sz));
		return CFG_OK;
	case VT_BOOL:
		if (cfgval_parse_bool(s, &b) != 0)
			return fail_value(ld, v, s,
			    "must be 0 or 1 (or true/false, yes/no, on/off)");
		memcpy(field_ptr(&ld->cfg, v), &b, sizeof(b));
		return CFG_OK;
	case VT_ENUM:
		return store_enum(ld, v, s);
	case VT_STRING:
	case VT_URL:
	case VT_PATH:
		return store_string(ld, v, s);
	}
	return fail(ld, CFG_EINVAL, "%s: unknown type", v->name);
}

/*
 * Load row 'idx' for profile 'env'.  An empty value counts as unset unless
 * the row says "" is meaningful (VF_EMPTY_OK); an unset variable takes the
 * profile's default, or stays zero/NULL when there is none.
 */
static enum cfg_err load_var(struct load *ld, size_t idx, enum cfg_env env)
{
	const struct cfg_var *v = &vars[idx];
	const char *s = envfile_lookup(&ld->file, v->name);

	if (s != NULL && s[0] == '\0' && !(v->flags & VF_EMPTY_OK))
		s = NULL;
	ld->isset[idx] = s != NULL;
	if (s == NULL)
		s = v->def[env];
	if (s == NULL)
		return CFG_OK;
	return store(ld, v, s);
}

/* ------------------------------------------------------------------ */
/* Rules between variables                                              */
/* ------------------------------------------------------------------ */

/* Read the key file 'path' (named by the variable 'name'), trimmed, into
 * '*dest' (a secret field). */
static enum cfg_err read_key_file(struct load *ld, const char *name,
    const char *path, char **dest)
{
	char *buf, *start, *end;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(ld, CFG_EFILE, "%s: cannot read '%s': %s", name, path,
		    strerror(errno));
	buf = malloc(KEY_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return fail(ld, CFG_ENOMEM, "%s: out of memory", name);
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return fail(ld, CFG_EFILE, "%s: cannot read '%s': %s",
			    name, path, strerror(e));
		}
		if (n == 0 || (len += (size_t)n) > KEY_FILE_MAX)
			break;
	}
	close(fd);
	if (len > KEY_FILE_MAX) {
		free(buf);
		return fail(ld, CFG_EFILE, "%s: '%s' is larger than %d bytes",
		    name, path, KEY_FILE_MAX);
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return fail(ld, CFG_EFILE, "%s: '%s' is not a text file", name,
		    path);
	}
	start = buf;
	while (*start != '\0' && isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (start == end) {
		free(buf);
		return fail(ld, CFG_EFILE, "%s: '%s' holds no key", name, path);
	}
	if (cfgval_has_control(start)) {
		free(buf);
		return fail(ld, CFG_EINVAL,
		    "%s: the key in '%s' must be a single line", name, path);
	}
	memmove(buf, start, (size_t)(end - start) + 1);
	*dest = buf;
	return CFG_OK;
}

/* INNGEST_DEV set to anything but "0": dev mode. */
static int inngest_dev_mode(const struct omni_config *cfg)
{
	return cfg->inngest_dev != NULL && strcmp(cfg->inngest_dev, "0") != 0;
}

/*
 * Is this development configuration meant for an Inngest server in cloud
 * mode: INNGEST_DEV=0, a signing key, or an origin to sync with?  A
 * development start with no Inngest setting at all (`make run`, most
 * tests) has nobody to register with; it starts, and a PUT /api/inngest
 * answers 500 naming INNGEST_SERVE_ORIGIN, because handlers/inngest.c
 * never lets the Host header choose the URL in cloud mode.
 */
static int inngest_cloud_configured(const struct omni_config *c)
{
	return c->inngest_dev != NULL || c->inngest_signing_key != NULL ||
	    c->inngest_base_url != NULL || c->inngest_api_origin != NULL;
}

/* The URLs that carry keys or run data, held to https in production. */
static const size_t prod_url_fields[] = {
	offsetof(struct omni_config, daytona_api_url),
	offsetof(struct omni_config, inngest_base_url),
	offsetof(struct omni_config, inngest_api_origin),
	offsetof(struct omni_config, inngest_event_api_origin),
	offsetof(struct omni_config, inngest_serve_origin),
};

/* The signing keys, held to Inngest's real length in production. */
static const size_t prod_key_fields[] = {
	offsetof(struct omni_config, inngest_signing_key),
	offsetof(struct omni_config, inngest_signing_key_fallback),
};

/*
 * The production gates of config_values.h: values every profile parses
 * but production must not run with.  CFG_ECONFLICT: each is valid, just
 * not in this profile.
 */
static enum cfg_err production_gates(struct load *ld)
{
	char desc[ECHO_MAX + 32];
	const char *why, *value;

	for (size_t i = 0; i < sizeof(prod_url_fields) /
	    sizeof(prod_url_fields[0]); i++) {
		const struct cfg_var *v = var_by_offset(prod_url_fields[i], NULL);
		memcpy(&value, field_cptr(&ld->cfg, v), sizeof(value));
		if (value == NULL || (why = cfgval_prod_url_problem(value)) == NULL)
			continue;
		describe_value(v, value, desc, sizeof(desc));
		return fail(ld, CFG_ECONFLICT, "%s: %s %s", v->name, why, desc);
	}
	for (size_t i = 0; i < sizeof(prod_key_fields) /
	    sizeof(prod_key_fields[0]); i++) {
		const struct cfg_var *v = var_by_offset(prod_key_fields[i], NULL);
		memcpy(&value, field_cptr(&ld->cfg, v), sizeof(value));
		if (value == NULL ||
		    (why = cfgval_prod_signing_key_problem(value)) == NULL)
			continue;
		describe_value(v, value, desc, sizeof(desc));
		return fail(ld, CFG_ECONFLICT, "%s: %s %s", v->name, why, desc);
	}
	return CFG_OK;
}

/*
 * The rules that involve several variables or the profile.  Each failure
 * names the variable the operator has to change.
 */
static enum cfg_err rules(struct load *ld)
{
	struct omni_config *c = &ld->cfg;
	enum cfg_err err;
	int prod = c->env == CFG_ENV_PRODUCTION;
	int dev = c->env == CFG_ENV_DEVELOPMENT;

	if (c->daytona_api_key_file != NULL) {
		if (c->daytona_api_key != NULL)
			return fail(ld, CFG_ECONFLICT,
			    "DAYTONA_API_KEY_FILE: set either DAYTONA_API_KEY or "
			    "DAYTONA_API_KEY_FILE, not both");
		if ((err = read_key_file(ld, "DAYTONA_API_KEY_FILE",
		    c->daytona_api_key_file, &c->daytona_api_key)) != CFG_OK)
			return err;
	}
	if (c->agent_key_file != NULL) {
		if (c->agent_key != NULL)
			return fail(ld, CFG_ECONFLICT,
			    "OMNI_AGENT_KEY_FILE: set either OMNI_AGENT_KEY or "
			    "OMNI_AGENT_KEY_FILE, not both");
		if ((err = read_key_file(ld, "OMNI_AGENT_KEY_FILE",
		    c->agent_key_file, &c->agent_key)) != CFG_OK)
			return err;
	}
	if (c->metrics_token_file != NULL) {
		const char *why;

		if (c->metrics_token != NULL)
			return fail(ld, CFG_ECONFLICT,
			    "OMNI_METRICS_TOKEN_FILE: set either "
			    "OMNI_METRICS_TOKEN or OMNI_METRICS_TOKEN_FILE, "
			    "not both");
		if ((err = read_key_file(ld, "OMNI_METRICS_TOKEN_FILE",
		    c->metrics_token_file, &c->metrics_token)) != CFG_OK)
			return err;
		if ((why = cfgval_check_metrics_token(c->metrics_token)) != NULL)
			return fail(ld, CFG_EINVAL,
			    "OMNI_METRICS_TOKEN_FILE: the token %s", why);
	}
	if (c->agent_key != NULL && (c->agent_key_name == NULL ||
	    c->agent_key_name[0] == '\0'))
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_AGENT_KEY_NAME: required when OMNI_AGENT_KEY is set "
		    "(the variable the agent reads it from)");
	if (c->agent_key != NULL && strlen(c->agent_key) > 4096)
		return fail(ld, CFG_EINVAL,
		    "OMNI_AGENT_KEY: longer than 4096 bytes");

	if (!WAS_SET(ld, provider))
		c->provider = prod || c->daytona_api_key != NULL ?
		    CFG_PROVIDER_DAYTONA : CFG_PROVIDER_LOCAL;

	if (prod && c->provider == CFG_PROVIDER_LOCAL)
		return fail(ld, CFG_ECONFLICT,
		    "SANDBOX_PROVIDER: 'local' is not allowed in production "
		    "(use daytona)");
	/* Staging holds real users' data too: no command outside the
	 * sandbox, no unsigned Inngest calls, no thread-holding or
	 * command-running test endpoints. */
	if (!dev && c->local_unsandboxed)
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_LOCAL_UNSANDBOXED: not allowed in %s (development "
		    "only)", cfg_env_name(c->env));
	if (!dev && c->agent_network)
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_AGENT_NETWORK: not allowed in %s (a trusted "
		    "development machine only)", cfg_env_name(c->env));
	if (!dev && c->debug_routes)
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_DEBUG_ROUTES: not allowed in %s (development only)",
		    cfg_env_name(c->env));
	if (!dev && inngest_dev_mode(c))
		return fail(ld, CFG_ECONFLICT,
		    "INNGEST_DEV: dev mode is not allowed in %s: it turns "
		    "signature checks off (unset it or set it to 0)",
		    cfg_env_name(c->env));
	if (prod && c->auth == CFG_AUTH_NONE)
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_AUTH: 'none' is not allowed in production (bearer "
		    "tokens are what binds a request to its user; use jwt)");

	if (!dev && c->allowed_origins != NULL &&
	    strcmp(c->allowed_origins, "*") == 0)
		return fail(ld, CFG_ECONFLICT,
		    "OMNI_ALLOWED_ORIGINS: '*' is only allowed in development; "
		    "list the allowed origins");

	if (c->provider == CFG_PROVIDER_DAYTONA && c->daytona_api_key == NULL)
		return fail(ld, CFG_EMISSING,
		    "DAYTONA_API_KEY: required %s (or set DAYTONA_API_KEY_FILE)",
		    prod ? "in production" : "when SANDBOX_PROVIDER=daytona");

	/* Staging and production are always in cloud mode (dev mode is
	 * refused above), which refuses every call without a key. */
	if (c->inngest_signing_key == NULL && !dev)
		return fail(ld, CFG_EMISSING,
		    "INNGEST_SIGNING_KEY: required in %s",
		    cfg_env_name(c->env));
	if (c->inngest_signing_key_fallback != NULL &&
	    c->inngest_signing_key == NULL)
		return fail(ld, CFG_ECONFLICT,
		    "INNGEST_SIGNING_KEY_FALLBACK: set without "
		    "INNGEST_SIGNING_KEY");
	if (prod && c->inngest_event_key == NULL)
		return fail(ld, CFG_EMISSING,
		    "INNGEST_EVENT_KEY: required in production (events are "
		    "sent to Inngest)");
	/* An unsigned PUT starts a sync (spec 4.3.1).  Without this origin
	 * the URL would come from the request -- the Host header of whoever
	 * sent the PUT -- and Inngest would send call requests, with run
	 * data, wherever that header points. */
	if (!inngest_dev_mode(c) && c->inngest_serve_origin == NULL &&
	    (!dev || inngest_cloud_configured(c))) {
		if (dev)
			return fail(ld, CFG_EMISSING,
			    "INNGEST_SERVE_ORIGIN: required in cloud mode (the "
			    "origin Inngest calls, e.g. http://127.0.0.1:8080), "
			    "or set INNGEST_DEV for a dev server");
		return fail(ld, CFG_EMISSING,
		    "INNGEST_SERVE_ORIGIN: required in %s (the public origin "
		    "Inngest calls, e.g. https://api.example.com)",
		    cfg_env_name(c->env));
	}
	if (prod && (err = production_gates(ld)) != CFG_OK)
		return err;

	if (c->auth == CFG_AUTH_JWT && c->jwt_secret == NULL)
		return fail(ld, CFG_EMISSING,
		    "JWT_SECRET: required when OMNI_AUTH=jwt (at least %d bytes)",
		    CFGVAL_JWT_SECRET_MIN);
	return CFG_OK;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

enum cfg_err cfg_load(struct omni_config *out, const char *env_file,
    char *errbuf, size_t errlen)
{
	struct load ld;
	enum cfg_err err = CFG_OK;

	memset(&ld, 0, sizeof(ld));
	ld.err = errbuf;
	ld.errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	memset(out, 0, sizeof(*out));

	if (env_file != NULL) {
		switch (envfile_read(&ld.file, env_file, errbuf, errlen)) {
		case ENVFILE_OK:
			break;
		case ENVFILE_ENOMEM:
			err = CFG_ENOMEM;
			break;
		default:
			err = CFG_EFILE;
			break;
		}
	}
	/* Row 0 is OMNI_ENV: its value picks the defaults of the rest. */
	if (err == CFG_OK)
		err = load_var(&ld, 0, CFG_ENV_DEVELOPMENT);
	for (size_t i = 1; i < NVARS && err == CFG_OK; i++)
		err = load_var(&ld, i, ld.cfg.env);
	if (err == CFG_OK)
		err = rules(&ld);
	if (err == CFG_OK)
		warn_unknown(&ld);
	envfile_free(&ld.file);
	if (err != CFG_OK) {
		cfg_free(&ld.cfg);
		return err;
	}
	*out = ld.cfg;
	return CFG_OK;
}

void cfg_free(struct omni_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NVARS; i++) {
		char *s;
		if (!is_string_type(vars[i].type))
			continue;
		memcpy(&s, field_ptr(cfg, &vars[i]), sizeof(s));
		free(s);
	}
	memset(cfg, 0, sizeof(*cfg));
}

const char *cfg_strerror(enum cfg_err err)
{
	switch (err) {
	case CFG_OK:
		return "configuration loaded";
	case CFG_EINVAL:
		return "invalid value";
	case CFG_EMISSING:
		return "required variable not set";
	case CFG_ECONFLICT:
		return "conflicting variables";
	case CFG_EFILE:
		return "cannot read a configuration file";
	case CFG_ENOMEM:
		return "out of memory";
	case CFG__MAX:
		break;
	}
	return "unknown configuration error";
}

const char *cfg_env_name(enum cfg_env env)
{
	if ((unsigned)env >= CFG_ENV__MAX)
		return "unknown";
	return env_names[env].name;
}

const char *cfg_origin_allowed(const struct omni_config *cfg,
    const char *origin)
{
	const char *p;
	size_t olen;

	if (cfg == NULL || origin == NULL || cfg->allowed_origins == NULL)
		return NULL;
	if (strcmp(cfg->allowed_origins, "*") == 0)
		return "*";
	olen = strlen(origin);
	if (olen == 0)
		return NULL;
	/* Scheme and host compare case-insensitively; ports are digits. */
	for (p = cfg->allowed_origins; *p != '\0';) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ",");
		size_t next = len;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == olen && strncasecmp(p, origin, len) == 0)
			return origin;
		p += next;
	}
	return NULL;
}

static const char *enum_label(const struct cfg_var *v, int value)
{
	for (const struct enum_name *e = v->names; e->name != NULL; e++)
		if (e->value == value)
			return e->name;
	return "unknown";
}

void cfg_log_summary(const struct omni_config *cfg)
{
	struct json_object *line = log_begin(LOG_INFO, "config");

	if (line == NULL)
		return;
	for (size_t i = 0; i < NVARS; i++) {
		const struct cfg_var *v = &vars[i];
		struct json_object *val = NULL;
		const void *p = field_cptr(cfg, v);
		char *s;
		int n;
		size_t z;

		switch (v->type) {
		case VT_STRING:
		case VT_URL:
		case VT_PATH:
			memcpy(&s, p, sizeof(s));
			if (v->flags & VF_SECRET)
				val = json_object_new_string(s != NULL ? "set" :
				    "unset");
			else if (s != NULL)
				val = json_object_new_string(s);
			break;
		case VT_INT:
			memcpy(&n, p, sizeof(n));
			val = json_object_new_int(n);
			break;
		case VT_BOOL:
			memcpy(&n, p, sizeof(n));
			val = json_object_new_boolean(n);
			break;
		case VT_SIZE:
			memcpy(&z, p, sizeof(z));
			val = json_object_new_int64((int64_t)z);
			break;
		case VT_ENUM:
			memcpy(&n, p, sizeof(n));
			val = json_object_new_string(enum_label(v, n));
			break;
		}
		json_object_object_add(line, v->key, val);
	}
	log_end(line);
}
