/*
 * jobs.c -- the provider-independent half of background jobs
 * (sandbox.h): checking a job's spec before any provider sees it, and
 * telling a job's state from the provider's "still running?" and the job's
 * own 'exit' file, so both providers answer alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

/* An 'exit' file holds a decimal code and a newline: a few bytes. */
#define EXIT_FILE_MAX 32

int sbx_job_id_valid(const char *job_id)
{
	size_t n;

	if (job_id == NULL || (n = strlen(job_id)) == 0 ||
	    n > SBX_JOB_ID_CHARS)
		return 0;
	return strspn(job_id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int sbx_job_path(char *buf, size_t len, const char *job_id, const char *file)
{
	int n = snprintf(buf, len, SBX_JOB_DIR "/%s/%s", job_id, file);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static enum sbx_err done(struct sbx_error *why, enum sbx_err rc)
{
	if (why != NULL) {
		if (rc == SBX_OK)
			sbx_error_clear(why);
		why->code = rc;
	}
	return rc;
}

static int spec_valid(const struct sbx_job_spec *s)
{
	size_t n;

	if (s == NULL || !sbx_job_id_valid(s->job_id) || s->argv == NULL ||
	    s->argv[0] == NULL || s->argv[0][0] == '\0')
		return 0;
	for (n = 0; s->argv[n] != NULL; n++)
		if (n >= SBX_JOB_ARGV_MAX)
			return 0;
	return sbx_env_valid(s->env);
}

enum sbx_err sbx_job_start(struct sbx_provider *p, const char *id,
    const struct sbx_job_spec *spec, int *already, struct sbx_error *why)
{
	int dummy = 0;

	sbx_error_clear(why);
	if (p == NULL || p->ops == NULL || p->ops->job_start == NULL ||
	    id == NULL || !spec_valid(spec))
		return done(why, SBX_EINVAL);
	if (already == NULL)
		already = &dummy;
	*already = 0;
	return done(why, p->ops->job_start(p, id, spec, already, why));
}

/* The code in an 'exit' file: 0 with '*code', or -1 for junk. */
static int parse_exit(const char *s, int *code)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (end == s || v < 0 || v > 255 + 128)
		return -1;
	while (*end == '\n' || *end == '\r' || *end == ' ')
		end++;
	if (*end != '\0')
		return -1;
	*code = (int)v;
	return 0;
}

enum sbx_err sbx_job_status(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_job_status *out, struct sbx_error *why)
{
	char path[128], *data = NULL;
	struct sbx_file_list list;
	size_t len = 0;
	enum sbx_err err;
	int running = 0, code;

	sbx_error_clear(why);
	if (p == NULL || p->ops == NULL || p->ops->job_running == NULL ||
	    id == NULL || out == NULL || !sbx_job_id_valid(job_id))
		return done(why, SBX_EINVAL);
	memset(out, 0, sizeof(*out));
	/* Ask first, read second: a job that ends in between has written
	 * its exit before its supervisor stops running. */
	if ((err = p->ops->job_running(p, id, job_id, &running, why)) !=
	    SBX_OK)
		return done(why, err);
	if (sbx_job_path(path, sizeof(path), job_id, "exit") != 0)
		return done(why, SBX_EINVAL);
	err = p->ops->read_file(p, id, path, EXIT_FILE_MAX, &data, &len, why);
	if (err == SBX_OK) {
		if (parse_exit(data, &code) == 0) {
			out->state = SBX_JOB_EXITED;
			out->exit_code = code;
		} else {
			/* Not ours (the job wrote over it): it ended, how is
			 * unknown. */
			out->state = SBX_JOB_LOST;
		}
		free(data);
		return done(why, SBX_OK);
	}
	if (err != SBX_ENOTFOUND)
		return done(why, err);
	if (running) {
		out->state = SBX_JOB_RUNNING;
		return done(why, SBX_OK);
	}
	/* Neither running nor ended: lost, or never started at all. */
	snprintf(path, sizeof(path), SBX_JOB_DIR "/%s", job_id);
	err = p->ops->list_files(p, id, path, &list, why);
	if (err == SBX_OK) {
		sbx_file_list_free(&list);
		out->state = SBX_JOB_LOST;
	}
	return done(why, err);
}

enum sbx_err sbx_job_kill(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_error *why)
{
	sbx_error_clear(why);
	if (p == NULL || p->ops == NULL || p->ops->job_kill == NULL ||
	    id == NULL || !sbx_job_id_valid(job_id))
		return done(why, SBX_EINVAL);
	return done(why, p->ops->job_kill(p, id, job_id, why));
}
