/*
 * knowledge_query.h -- the search behind GET /api/knowledge/query: what a
 * user's sandbox knows, read from its files through the provider
 * (sandbox.h), with a literal query.  app/knowledge_query.c; no state,
 * thread safe.
 *
 * Three lists, each bounded, each read from the sandbox on every call
 * (the filesystem is the shared truth; nothing is indexed or cached):
 *
 *   entities  the stakeholders: .omni-system/entities.json ({"entities":
 *             [{id,type,name,company,path,updated}]}) merged by (type,id)
 *             with every stakeholders/investors/<id>.json (type "investor")
 *             and stakeholders/customers/<id>.json (type "customer"); a
 *             file's own non-null fields win over the index's.  Each
 *             {id, type, name, company, path}; at most KQ_ENTITIES_MAX.
 *   tasks     the stored results under TASK_DIR (tasks.h): at most
 *             KQ_TASKS_READ read (the most recently changed task
 *             directories), newest first by the result's "timestamp"
 *             (RFC 3339 text or ms since the epoch), each {taskId,
 *             success, timestamp, error, files: [path...]}; at most
 *             KQ_TASKS_MAX.
 *   patterns  the knowledge files (KQ_ROOTS, walked KQ_WALK_DEPTH levels
 *             down, KQ_WALK_FILES files seen in all, dot entries
 *             skipped): with a query, each text file up to KQ_FILE_MAX
 *             bytes whose lines match, {path, matches: [{line, text}]}
 *             (line from 1, text cut to KQ_LINE_TEXT bytes, at most
 *             KQ_FILE_MATCHES per file, KQ_PATTERN_FILES files); without
 *             one, the files as {path, size}, at most KQ_LISTED_FILES.
 *             A file holding a NUL byte is not text and is skipped.
 *
 * The query is a literal: matched as a plain substring, ASCII letters
 * compared without case, never handed to a shell, a regex or a glob.  An
 * empty (or NULL) query matches everything.  Entities match on id, name
 * or company; tasks on taskId or the result's text.
 *
 * The three lists together are bounded to about KQ_ANSWER_MAX bytes of
 * JSON: once past it, nothing more is added.  Text taken from files is
 * made valid UTF-8 (a stray byte becomes U+FFFD) so the answer always
 * serializes as JSON.
 *
 * Errors: a file or directory that is missing, too large, not a regular
 * file, not the JSON it should be, or unreadable only drops out of the
 * lists -- nothing a user keeps in the sandbox fails a query.  Any other
 * provider error (the sandbox is stopped, the provider is down or slow)
 * is returned as it is, with 'why' filled (sandbox.h).
 *
 * Ownership: on SBX_OK the arrays of 'out' are new references released
 * with kq_result_free(); on error 'out' holds nothing.
 */
#ifndef OMNI_KNOWLEDGE_QUERY_H
#define OMNI_KNOWLEDGE_QUERY_H

#include <stddef.h>

#include "sandbox.h"

struct json_object;

#define KQ_QUERY_MAX 256              /* bytes of a query */
#define KQ_TASKS_READ 50              /* results read */
#define KQ_TASKS_MAX 20               /* tasks answered */
#define KQ_ENTITIES_MAX 100           /* entities answered */
#define KQ_ENTITY_FILES 200           /* stakeholder files read per folder */
#define KQ_WALK_DEPTH 4               /* folder levels below a root */
#define KQ_WALK_FILES 300             /* files seen by the walk */
#define KQ_FILE_MAX (256u << 10)      /* largest file read */
#define KQ_FILE_MATCHES 5             /* matches per file */
#define KQ_PATTERN_FILES 50           /* files with matches answered */
#define KQ_LISTED_FILES 100           /* files listed for an empty query */
#define KQ_LINE_TEXT 240              /* bytes of a matching line kept */
#define KQ_ANSWER_MAX (1u << 20)      /* JSON bytes of the three lists */

/* The knowledge roots the walk covers, relative to the sandbox home. */
#define KQ_ROOTS { "metrics", "stakeholders", "updates", "deliverables", \
	"context", "profile" }

struct kq_result {
	struct json_object *entities;  /* array */
	struct json_object *tasks;     /* array */
	struct json_object *patterns;  /* array */
};

/* Is 'query' acceptable: NULL or at most KQ_QUERY_MAX bytes of
 * well-formed UTF-8 without control characters? */
int kq_query_valid(const char *query);

/*
 * Search the sandbox 'sandbox_id' of 'p' (which must be ready) for
 * 'query' (kq_query_valid; NULL or "" lists everything).  SBX_EINVAL for
 * an invalid query; otherwise as described above.
 */
enum sbx_err kq_search(struct sbx_provider *p, const char *sandbox_id,
    const char *query, struct kq_result *out, struct sbx_error *why);

/* Release the arrays of 'r' (NULL members allowed) and empty it. */
void kq_result_free(struct kq_result *r);

#endif
