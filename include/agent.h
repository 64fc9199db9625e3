/*
 * agent.h -- what process-knowledge (functions.h) needs to run the agent
 * CLI for a task and read back what it did: its argv, the reading of its
 * output, and the documents of the workspace it created or changed.
 * app/functions/agent.c; no state, thread safe.
 *
 * Ownership: every struct json_object * returned is a new reference the
 * caller puts; NULL only out of memory (or as documented).
 */
#ifndef OMNI_AGENT_H
#define OMNI_AGENT_H

#include <stddef.h>

#include "sandbox.h"

struct json_object;

/* The argv of one agent run: the words of OMNI_AGENT_CMD (config_values.h
 * normalised them: single spaces, no shell characters), then "--model"
 * and the model.  No shell ever reads them. */
#define AGENT_CMD_MAX 1024
struct agent_argv {
	char words[AGENT_CMD_MAX];
	const char *v[SBX_JOB_ARGV_MAX + 1];
	int n;
};

/* 0, or -1 when 'cmd' is empty, too long or has too many words. */
int agent_argv_build(struct agent_argv *a, const char *cmd,
    const char *model);

/*
 * The agent's answer from its stdout ('len' bytes, may hold anything):
 * when the whole output, or else its last non-empty line, is a JSON
 * object, its "result" member (the object itself when it has none), and
 * '*is_error' = 1 when the object says "is_error": true (Claude Code's
 * envelope); otherwise the output as text, trimmed, cut at 'max_text'
 * bytes on a UTF-8 boundary.  Never NULL but out of memory.
 */
struct json_object *agent_parse_output(const char *out, size_t len,
    size_t max_text, int *is_error);

/* The last 'max' bytes of 's' (at a UTF-8 boundary, trimmed), as a new
 * string. */
struct json_object *agent_tail(const char *s, size_t len, size_t max);

/* Bounds of a collection (agent_collect_files). */
#define AGENT_WALK_DEPTH 8          /* directories below the home */
#define AGENT_WALK_ENTRIES 2000     /* entries looked at */
#define AGENT_FILES_MAX 100         /* files reported */
#define AGENT_FILE_TEXT_MAX (32u << 10)   /* text kept per file */
#define AGENT_TEXT_TOTAL_MAX (512u << 10) /* text kept in all */

/*
 * The files of the home of 'sandbox_id' modified after 'since_ms'
 * (milliseconds since the epoch, by the sandbox's clock), outside .omni/ (the
 * task and job files): an array of {path, name, type, directory, size,
 * mtime, content}, where type is "markdown", "json", "text" or "binary",
 * and content is the text (up to AGENT_FILE_TEXT_MAX; null for binary or
 * once AGENT_TEXT_TOTAL_MAX is spent) with "truncated": true when cut.
 * Sorted by path.  Errors are the provider's.
 */
enum sbx_err agent_collect_files(struct sbx_provider *p,
    const char *sandbox_id, long long since_ms, struct json_object **out,
    struct sbx_error *why);

#endif
