/*
 * config.h -- Omni's configuration: one immutable struct read once.
 *
 * Every variable of the contract (docs/configuration.md) is described by
 * one row of a descriptor table in app/config.c: name, type, bounds, default
 * per profile, whether it is a secret.  cfg_load() reads the process
 * environment (and, first, an optional env file whose values the real
 * environment overrides), applies the defaults of the chosen profile
 * (OMNI_ENV), validates every value and the rules between them, and fills a
 * struct omni_config.  Nothing else in Omni calls getenv() for these names.
 *
 * Ownership: the struct owns every string it points to; cfg_free() releases
 * them.  On failure cfg_load() leaves nothing to free and writes one line
 * naming the offending variable (or, for a bad env file, the file and
 * line; see envfile.h) into the caller's buffer; main() prints it and
 * exits with CFG_EXIT_CODE (78, EX_CONFIG).  The text of single values is
 * parsed and checked by config_values.h.
 *
 * Profile rules (docs/configuration.md has the table): staging and
 * production refuse OMNI_LOCAL_UNSANDBOXED, OMNI_DEBUG_ROUTES and Inngest
 * dev mode; production also refuses OMNI_AUTH=none, http:// URLs to
 * anything but a loopback host, and signing keys shorter than Inngest's
 * 32 bytes.  Outside dev mode INNGEST_SERVE_ORIGIN is required (in
 * development only once cloud mode is configured), so that the sync URL
 * never comes from a request header.
 */
#ifndef OMNI_CONFIG_H
#define OMNI_CONFIG_H

#include <stddef.h>

#include "log.h"

#define CFG_EXIT_CODE 78 /* sysexits.h EX_CONFIG */

enum cfg_env {
	CFG_ENV_DEVELOPMENT = 0,
	CFG_ENV_STAGING,
	CFG_ENV_PRODUCTION,
	CFG_ENV__MAX
};

enum cfg_provider {
	CFG_PROVIDER_LOCAL = 0,
	CFG_PROVIDER_DAYTONA,
	CFG_PROVIDER__MAX
};

enum cfg_auth {
	CFG_AUTH_NONE = 0,
	CFG_AUTH_JWT,
	CFG_AUTH__MAX
};

enum cfg_err {
	CFG_OK = 0,      /* loaded and valid */
	CFG_EINVAL,      /* a value does not parse or is out of bounds */
	CFG_EMISSING,    /* the profile needs a variable that is not set */
	CFG_ECONFLICT,   /* values are each valid but not together */
	CFG_EFILE,       /* the env file or a key file cannot be read */
	CFG_ENOMEM,      /* out of memory */
	CFG__MAX
};

struct omni_config {
	enum cfg_env env;             /* OMNI_ENV */
	int port;                     /* PORT: front server port for make run */
	enum log_level log_level;     /* LOG_LEVEL */
	int workers;                  /* OMNI_WORKERS (0 = number of cores) */
	int threads;                  /* OMNI_THREADS per worker */
	size_t max_body;              /* OMNI_MAX_BODY in bytes */
	int shutdown_timeout;         /* OMNI_SHUTDOWN_TIMEOUT in seconds */
	char *allowed_origins;        /* OMNI_ALLOWED_ORIGINS, comma list or "*" */
	int debug_routes;             /* OMNI_DEBUG_ROUTES: /debug/ routes
	                               * (development only) */

	enum cfg_provider provider;   /* SANDBOX_PROVIDER */
	char *data_dir;               /* OMNI_DATA_DIR */
	int local_unsandboxed;        /* OMNI_LOCAL_UNSANDBOXED (development
	                               * only) */
	char *sandbox_user;           /* OMNI_SANDBOX_USER: local commands run
	                               * as this user when Omni is root */
	char *workspace_template;     /* OMNI_WORKSPACE_TEMPLATE: directory laid
	                               * into every new local sandbox home
	                               * ("" none) */
	char *sandbox_cgroup;         /* OMNI_SANDBOX_CGROUP: auto, off, or a
	                               * delegated cgroup v2 directory */
	int sandbox_pids;             /* OMNI_SANDBOX_PIDS: processes per sandbox */
	size_t sandbox_memory;        /* OMNI_SANDBOX_MEMORY: bytes per sandbox */

	char *daytona_api_url;        /* DAYTONA_API_URL */
	char *daytona_api_key;        /* DAYTONA_API_KEY (secret) */
	char *daytona_api_key_fallback; /* DAYTONA_API_KEY_FALLBACK (secret) */
	char *daytona_api_key_file;   /* DAYTONA_API_KEY_FILE (path) */
	char *daytona_snapshot;       /* DAYTONA_SNAPSHOT */
	char *daytona_target;         /* DAYTONA_TARGET */
	char *daytona_org_id;         /* DAYTONA_ORGANIZATION_ID */

	char *inngest_app_id;         /* INNGEST_APP_ID */
	char *inngest_signing_key;    /* INNGEST_SIGNING_KEY (secret) */
	char *inngest_signing_key_fallback; /* (secret) */
	char *inngest_event_key;      /* INNGEST_EVENT_KEY (secret) */
	char *inngest_env;            /* INNGEST_ENV */
	char *inngest_dev;            /* INNGEST_DEV: NULL, "0", "1" or origin;
	                               * dev mode only in development */
	char *inngest_base_url;       /* INNGEST_BASE_URL */
	char *inngest_api_origin;     /* INNGEST_API_ORIGIN */
	char *inngest_event_api_origin; /* INNGEST_EVENT_API_ORIGIN */
	char *inngest_serve_origin;   /* INNGEST_SERVE_ORIGIN: required outside
	                               * dev mode (profile rules above) */
	char *inngest_serve_path;     /* INNGEST_SERVE_PATH */
	char *event_prefix;           /* OMNI_EVENT_PREFIX */

	char *agent_cmd;              /* OMNI_AGENT_CMD: the agent's program
	                               * and arguments, separated by spaces
	                               * (no shell, no quoting) */
	char *agent_models;           /* OMNI_AGENT_MODELS: comma list of the
	                               * models a request may ask for; the
	                               * first is the default */
	int agent_deadline_s;         /* OMNI_AGENT_DEADLINE: seconds an agent
	                               * run may take before it is killed */
	int agent_poll_s;             /* OMNI_AGENT_POLL: seconds between
	                               * checks of a running agent */
	char *agent_key_name;         /* OMNI_AGENT_KEY_NAME: the variable the
	                               * agent reads its API key from ("" none) */
	char *agent_key;              /* OMNI_AGENT_KEY (secret), or read from
	                               * OMNI_AGENT_KEY_FILE */
	char *agent_key_file;         /* OMNI_AGENT_KEY_FILE (path) */
	int agent_network;            /* OMNI_AGENT_NETWORK: local agent runs
	                               * get the host's network (development
	                               * only) */
	enum cfg_auth auth;           /* OMNI_AUTH */
	char *jwt_secret;             /* JWT_SECRET (secret) */
	int rate_limit_rpm;           /* RATE_LIMIT_RPM (0 = off) */
	int rate_limit_strict_rpm;    /* RATE_LIMIT_STRICT_RPM (0 = RPM / 6) */
	char *trusted_proxies;        /* OMNI_TRUSTED_PROXIES (client_ip.h) */
	int metrics;                  /* OMNI_METRICS: count and serve
	                               * GET /metrics (metrics.h) */
	char *metrics_token;          /* OMNI_METRICS_TOKEN (secret), or read
	                               * from OMNI_METRICS_TOKEN_FILE: with it
	                               * /metrics wants this bearer token;
	                               * without, a loopback REMOTE_ADDR */
	char *metrics_token_file;     /* OMNI_METRICS_TOKEN_FILE (path) */
	int drain_delay;              /* OMNI_DRAIN_DELAY: seconds /ready
	                               * answers 503 after SIGTERM before the
	                               * pool stops accepting */
	char *egress_probe;           /* OMNI_EGRESS_PROBE: "host:port,..."
	                               * /ready must reach by TCP (NULL none) */
};

/*
 * Load the configuration from the environment, after the optional env file
 * 'env_file' (may be NULL).  On CFG_OK '*out' is filled and owned by the
 * caller (cfg_free).  On error '*out' holds nothing to free and 'errbuf'
 * holds one line such as "OMNI_MAX_BODY: not a size (got 'x')".
 */
enum cfg_err cfg_load(struct omni_config *out, const char *env_file,
    char *errbuf, size_t errlen);

/* Release the strings of 'cfg'; safe on a zeroed struct. */
void cfg_free(struct omni_config *cfg);

/* Text for an error value, never NULL. */
const char *cfg_strerror(enum cfg_err err);

/* "development", "staging", "production". */
const char *cfg_env_name(enum cfg_env env);

/*
 * Does 'origin' (the request's Origin header) match the allowlist?
 * Returns the value to send in Access-Control-Allow-Origin ("*", a static
 * string, or 'origin' itself, borrowed) or NULL when not allowed.
 */
const char *cfg_origin_allowed(const struct omni_config *cfg,
    const char *origin);

/*
 * Log the effective configuration as one JSON line at info level, secrets
 * shown only as "set" or "unset".
 */
void cfg_log_summary(const struct omni_config *cfg);

#endif
