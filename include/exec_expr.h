/*
 * exec_expr.h -- the expression subset of the local executor (app/executor/).
 *
 * Inngest writes trigger filters (`expression`), wait matches (`if`),
 * cancellation matches and concurrency keys in CEL.  The local executor
 * understands a documented subset and refuses everything else when a
 * function registers, so that an expression is never silently misread:
 *
 *   operands   paths rooted at `event` or `async` (event.data.user.id;
 *              a missing member is null), string literals ("..." or '...'
 *              with \" \' \\ \n \t \uXXXX escapes), numbers (integers and
 *              decimals, optionally negative), true, false, null
 *   operators  == != < <= > >=   between two operands
 *              && || !           between comparisons; ( ) to group
 *
 * Anything else -- function calls, `in`, arithmetic, indexing, other
 * roots (`vars`, `now`) -- is EXPR_EUNSUPPORTED; a malformed expression
 * is EXPR_ESYNTAX.  Either way 'err' names the problem and its column.
 *
 * Semantics: == and != compare numbers numerically (integer or decimal),
 * strings byte for byte (NULs included), booleans and null by value;
 * operands of different types are unequal.  < <= > >= compare two numbers
 * or two strings; any other pair is false.  A missing path is null.
 *
 * Limits: EXPR_MAX_LEN bytes of text and EXPR_MAX_DEPTH levels of nesting
 * (EXPR_ETOOLONG beyond either).
 *
 * Ownership: a compiled expression is owned by the caller and freed with
 * exec_expr_free(); it borrows nothing from the text.  The json-c objects
 * passed to evaluation are borrowed; exec_expr_value() returns a value
 * borrowed from them.  Compiled expressions are immutable: evaluation is
 * thread safe.
 */
#ifndef OMNI_EXEC_EXPR_H
#define OMNI_EXEC_EXPR_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct exec_expr;

#define EXPR_MAX_LEN   1024
#define EXPR_MAX_DEPTH 32

enum exec_expr_err {
	EXPR_OK = 0,
	EXPR_ESYNTAX,       /* not a well-formed expression */
	EXPR_EUNSUPPORTED,  /* well formed CEL, outside the subset */
	EXPR_ETOOLONG,      /* past EXPR_MAX_LEN or EXPR_MAX_DEPTH */
	EXPR_ENOMEM
};

/* What a compiled expression must be. */
enum exec_expr_kind {
	EXPR_BOOL = 0,   /* a condition: a comparison, or && || ! of them */
	EXPR_VALUE       /* a single path (a concurrency key) */
};

/*
 * Compile 'text' (NUL-terminated) as 'kind'.  On EXPR_OK '*out' is set;
 * otherwise '*out' is NULL and 'err' (if not NULL) holds a one-line
 * message such as "column 12: function calls are not supported".
 */
enum exec_expr_err exec_expr_compile(const char *text,
    enum exec_expr_kind kind, struct exec_expr **out, char *err,
    size_t errlen);

/* An EXPR_BOOL expression against 'event' and 'async' (either may be
 * NULL: every path under it is null).  1 true, 0 false. */
int exec_expr_eval(const struct exec_expr *e, struct json_object *event,
    struct json_object *async);

/* An EXPR_VALUE expression's value (borrowed from 'event'/'async'), or
 * NULL when the path is missing or null. */
struct json_object *exec_expr_value(const struct exec_expr *e,
    struct json_object *event, struct json_object *async);

void exec_expr_free(struct exec_expr *e);

/* Text for an error value, never NULL. */
const char *exec_expr_strerror(enum exec_expr_err err);

#endif
