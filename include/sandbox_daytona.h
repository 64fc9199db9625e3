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
 * Files: write_file uploads beside the target under a temporary name
 * (".<name>.tmp-<random hex>", same directory) and renames it over the
 * target with "mv -f --" through process/execute, so a reader sees the
 * old file or the new one.  A failed rename is SBX_EIO with mv's words in
 * the message; the temporary file is removed then (best effort), nothing
 * else is.
 *
 * Background jobs (sandbox.h) run in toolbox sessions (daytona.h): job
 * J's session is SBX_DAYTONA_JOB_SESSION J, made by job_start, which
 * execs one command into it (sbx_daytona_job_command) and returns.  A
 * session that exists already and has a command is the job started
 * before (*already = 1); one without a command is a start that died
 * between its two calls, and is used.  A job whose directory holds its
 * stdout, stderr or exit also started before, session or not: sessions
 * die with a sandbox restart, a job's files do not, and a job must not
 * run twice.  Two job_start of one job at the very same moment can both
 * find the session empty and both exec: the caller starts a job once and
 * retries only after a failure.
 *   The job's environment never goes into the command text, which
 * Daytona stores and shows: it is uploaded as SBX_JOB_DIR/J/env, a
 * script of "export NAME='value'" lines (sbx_daytona_job_env) that the
 * command sources and deletes before it runs the program.  The file
 * stays behind only when the exec fails after the upload; the next start
 * writes it again and its command deletes it.
 *   job_running asks the session whether its command has an exit code;
 * no session (never started, killed, or the sandbox restarted: the
 * daemon keeps sessions in memory) is "not running".  job_kill deletes
 * the session, which kills the job; it then has no 'exit' file and reads
 * as lost.
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

/* The toolbox session of job J is this prefix followed by J. */
#define SBX_DAYTONA_JOB_SESSION "omni-job-"

/* The longest job command (the client's cap on a command). */
#define SBX_DAYTONA_JOB_COMMAND_MAX DT_EXEC_SCRIPT_MAX

/*
 * The one line a job's session runs, into '*out' (new string, free()):
 *
 *   cd "$HOME" && { [ -f J/env ] && . ./J/env; rm -f J/env;
 *   'w0' 'w1' ... < J/input > J/stdout 2> J/stderr;
 *   echo $? > J/exit.tmp && mv -f J/exit.tmp J/exit; }
 *
 * (on one line) where J is SBX_JOB_DIR/<job_id> and each argv word is
 * single-quoted with shell_quote() (shell_quote.h), so the shell hands the program the
 * words exactly and expands nothing in them.  The exit code goes through
 * exit.tmp so that a reader never sees a half-written 'exit'.  Nothing
 * else is in the text: no value of the environment.
 *
 * SBX_EINVAL for a bad job id, no argv, an empty argv[0], more than
 * SBX_JOB_ARGV_MAX words, or a word holding a newline or carriage return
 * (the line would not be one line); SBX_ETOOLARGE past
 * SBX_DAYTONA_JOB_COMMAND_MAX bytes; SBX_ENOMEM.
 */
enum sbx_err sbx_daytona_job_command(const char *job_id,
    const char *const *argv, char **out);

/*
 * The job's environment file: "export NAME='value'\n" per "NAME=value"
 * of 'env' (values quoted with shell_quote() (shell_quote.h)), into '*out' (new string,
 * free()) and its length into '*len'.  An empty or NULL 'env' gives "".
 * SBX_EINVAL when 'env' fails sbx_env_valid(); SBX_ENOMEM.
 */
enum sbx_err sbx_daytona_job_env(const char *const *env, char **out,
    size_t *len);

/* The client inside a Daytona provider (borrowed), NULL for others. */
struct dt_client *sbx_daytona_client(struct sbx_provider *p);

/* Daytona's state and desired state -> the contract's state. */
enum sbx_state sbx_daytona_state(const char *state, const char *desired);

/* The client's error -> the provider interface's error. */
enum sbx_err sbx_daytona_err(enum dt_err err);

#endif
