/*
 * sandbox_daytona.h -- the Daytona sandbox provider: struct sbx_ops over
 * the REST client of daytona.h.
 *
 * A user's sandbox is the Daytona sandbox named sbx_name_for_user(userId),
 * labelled SBX_LABEL_USER=userId and SBX_DAYTONA_LABEL_MANAGED=true, made
 * from DAYTONA_SNAPSHOT in DAYTONA_TARGET with an auto-stop interval.
 * Nothing is remembered in memory: find_for_user asks Daytona for the name
 * (GET /sandbox/{name}, strongly consistent, unlike the label search), so
 * every thread, worker and replica finds the same one.  Daytona keeps
 * names unique per organisation: the loser of two concurrent creates gets
 * 409, returned as SBX_ECONFLICT, and the per-user policy (policy.c)
 * finds the winner.  A create whose answer is lost (network error, 5xx)
 * is not sent again; the provider looks the name up instead and answers
 * SBX_ECONFLICT when the sandbox exists after all.
 *
 * States (Daytona state, desiredState -> contract state):
 *   started (desired started or unset)             -> ready
 *   stopped, archived, archiving, paused            -> stopped
 *     (unless the desired state is "started": then it is starting)
 *   error, build_failed, destroyed, destroying,
 *     or any state with desired state "destroyed"   -> error
 *   everything else (creating, starting, stopping, restoring,
 *     pending_build, pulling_snapshot, unknown, new names) -> creating
 *
 * Ownership guard: get() and remove() only act on sandboxes that carry
 * the SBX_LABEL_USER label; any other sandbox of the organisation reads
 * as SBX_ENOTFOUND, so the API cannot be used to see or delete them.
 * exec and file calls trust the id (callers obtain it from get/ensure).
 *
 * Errors: enum dt_err maps onto enum sbx_err one to one (a request
 * Daytona refused with 400 is SBX_EUPSTREAM).  Organisation limits become
 * SBX_EQUOTA and are logged with Daytona's message.  Every operation
 * fills its struct sbx_error (sandbox.h) with the HTTP status, Daytona's
 * message and any Retry-After, for a caller that wants to say more than
 * the error value.
 *
 * Keys: DAYTONA_API_KEY, then DAYTONA_API_KEY_FALLBACK on 401 (daytona.h).
 * reload() swaps the keys of a running provider; the master also restarts
 * workers with a fresh configuration on SIGHUP, which re-reads
 * DAYTONA_API_KEY_FILE.
 */
#ifndef OMNI_SANDBOX_DAYTONA_H
#define OMNI_SANDBOX_DAYTONA_H

#include "daytona.h"
#include "sandbox.h"

struct omni_config;

/* Auto-stop interval in minutes given to new sandboxes: an idle
 * sandbox stops and the per-user policy starts it on the next use. */
#define SBX_DAYTONA_AUTO_STOP_MIN 30

/* Second label on every Omni sandbox (value "true"), for operators. */
#define SBX_DAYTONA_LABEL_MANAGED "omni.managed"

/* read_file() with max 0 reads up to this many bytes. */
#define SBX_DAYTONA_READ_DEFAULT ((size_t)16 << 20)

/* check() (for /ready) is one GET /sandbox?limit=1, not retried, bounded
 * by this deadline. */
#define SBX_DAYTONA_CHECK_TIMEOUT_MS 3000

/*
 * Make the provider from cfg (daytona_api_url, daytona_api_key,
 * daytona_api_key_fallback, daytona_org_id, daytona_snapshot,
 * daytona_target).  On SBX_OK '*out' is freed with sbx_provider_free().
 * SBX_EINVAL when the URL or key is missing or unusable.
 */
enum sbx_err sbx_daytona_new(const struct omni_config *cfg,
    struct sbx_provider **out);

/*
 * The same around a client the caller made (tests: a client with a fake
 * transport or pointed at the fake server).  Takes 'client', also on
 * failure.
 */
enum sbx_err sbx_daytona_new_with_client(const struct omni_config *cfg,
    struct dt_client *client, struct sbx_provider **out);

/* The client inside a Daytona provider (borrowed), NULL for others. */
struct dt_client *sbx_daytona_client(struct sbx_provider *p);

/* Daytona's state and desired state -> the contract's state. */
enum sbx_state sbx_daytona_state(const char *state, const char *desired);

/* The client's error -> the provider interface's error. */
enum sbx_err sbx_daytona_err(enum dt_err err);

#endif
