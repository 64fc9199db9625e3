/*
 * expr.c -- the CEL subset of exec_expr.h.
 *
 * Compilation is a lazy tokenizer feeding a recursive-descent parser
 * that builds a small AST in arrays owned by the compiled expression.
 * The parser follows CEL's precedence (|| below &&, below the
 * relations, below unary ! and -) so that a refused expression is never
 * one we would have read differently from CEL, and every construct
 * outside the subset is reported where it starts, in text order.
 *
 * Evaluation walks the AST against borrowed json-c objects; nothing is
 * allocated or modified, so a compiled expression may be shared.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "exec_expr.h"

/* ---- the compiled form ------------------------------------------------ */

enum node_type {
	N_PATH, N_STR, N_INT, N_DBL, N_BOOL, N_NULL,   /* operands */
	N_CMP, N_AND, N_OR, N_NOT                      /* conditions */
};

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

enum path_root { ROOT_EVENT, ROOT_ASYNC };

struct node {
	unsigned char type;     /* enum node_type */
	unsigned char op;       /* enum cmp_op, for N_CMP */
	unsigned char root;     /* enum path_root, for N_PATH */
	size_t col;             /* 1-based column, for messages */
	union {
		struct { int l, r; } kids;              /* r unused by N_NOT */
		int64_t i;
		double d;
		int b;
		struct { size_t off, len; } str;        /* into bytes[] */
		struct { size_t first, n; } path;       /* into segs[] */
	} u;
};

/* A path segment: a NUL-terminated key at bytes[off]. */
struct seg {
	size_t off;
};

struct exec_expr {
	enum exec_expr_kind kind;
	int root;               /* index of the top node */
	struct node *nodes;
	struct seg *segs;
	char *bytes;            /* string literals and path keys */
};

/* ---- tokens ----------------------------------------------------------- */

enum tok_type {
	T_EOF, T_IDENT, T_STR, T_INT, T_DBL, T_TRUE, T_FALSE, T_NULL, T_IN,
	T_LP, T_RP, T_LBRACK, T_DOT, T_NOT, T_MINUS, T_AND, T_OR,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE
};

struct tok {
	enum tok_type type;
	size_t pos;             /* 0-based offset of the first byte */
	size_t len;             /* bytes of text */
	uint64_t mag;           /* T_INT: magnitude; the sign is the parser's */
	double d;               /* T_DBL: value without sign */
	size_t off, slen;       /* T_STR: decoded bytes; T_IDENT: its key */
};

struct parser {
	const char *text;
	size_t len;
	size_t pos;             /* next byte for the tokenizer */
	enum exec_expr_kind kind;
	struct tok tok;         /* the current (lookahead) token */
	enum tok_type prev;     /* the token before it */
	int depth;
	struct exec_expr *e;
	int nnodes, cap_nodes;
	size_t nsegs, cap_segs;
	size_t nbytes, cap_bytes;
	enum exec_expr_err err;
	char *msg;
	size_t msglen;
};

/* Record the first error only: later ones are consequences. */
static int fail(struct parser *p, enum exec_expr_err err, size_t pos,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err != EXPR_OK)
		return -1;
	p->err = err;
	if (p->msg != NULL && p->msglen > 0) {
		n = snprintf(p->msg, p->msglen, "column %zu: ", pos + 1);
		if (n >= 0 && (size_t)n < p->msglen) {
			va_start(ap, fmt);
			vsnprintf(p->msg + n, p->msglen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -1;
}

static int is_ident_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(int c)
{
	return is_ident_start(c) || is_digit(c);
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append to the byte arena; capacity was sized from the text length, so
 * running out is a bug rather than input, but stay bounded anyway. */
static int put_byte(struct parser *p, unsigned char c)
{
	if (p->nbytes >= p->cap_bytes)
		return fail(p, EXPR_ENOMEM, p->pos, "out of space");
	p->e->bytes[p->nbytes++] = (char)c;
	return 0;
}

static int put_utf8(struct parser *p, unsigned long cp)
{
	if (cp < 0x80)
		return put_byte(p, (unsigned char)cp);
	if (cp < 0x800)
		return put_byte(p, (unsigned char)(0xc0 | (cp >> 6))) ||
		    put_byte(p, (unsigned char)(0x80 | (cp & 0x3f))) ? -1 : 0;
	return put_byte(p, (unsigned char)(0xe0 | (cp >> 12))) ||
	    put_byte(p, (unsigned char)(0x80 | ((cp >> 6) & 0x3f))) ||
	    put_byte(p, (unsigned char)(0x80 | (cp & 0x3f))) ? -1 : 0;
}

/*
 * A quoted string starting at p->pos.  Only the escapes the header lists
 * are read; other escapes CEL knows are refused as unsupported rather
 * than guessed at, and anything else is a syntax error.
 */
static int lex_string(struct parser *p, struct tok *t)
{
	const char *s = p->text;
	size_t i = p->pos + 1, start = p->pos;
	char q = s[p->pos];
	unsigned long cp;
	int k, h;

	if (i + 1 < p->len && s[i] == q && s[i + 1] == q)
		return fail(p, EXPR_EUNSUPPORTED, start,
		    "triple-quoted strings are not supported");
	t->type = T_STR;
	t->off = p->nbytes;
	for (;;) {
		if (i >= p->len)
			return fail(p, EXPR_ESYNTAX, start,
			    "unterminated string");
		if (s[i] == q)
			break;
		if (s[i] == '\n' || s[i] == '\r')
			return fail(p, EXPR_ESYNTAX, i, "newline in string");
		if (s[i] != '\\') {
			if (put_byte(p, (unsigned char)s[i++]))
				return -1;
			continue;
		}
		if (i + 1 >= p->len)
			return fail(p, EXPR_ESYNTAX, start,
			    "unterminated string");
		switch (s[i + 1]) {
		case '"': case '\'': case '\\':
			if (put_byte(p, (unsigned char)s[i + 1]))
				return -1;
			i += 2;
			break;
		case 'n':
			if (put_byte(p, '\n'))
				return -1;
			i += 2;
			break;
		case 't':
			if (put_byte(p, '\t'))
				return -1;
			i += 2;
			break;
		case 'u':
			cp = 0;
			for (k = 0; k < 4; k++) {
				h = i + 2 + k < p->len ?
				    hex_value((unsigned char)s[i + 2 + k]) : -1;
				if (h < 0)
					return fail(p, EXPR_ESYNTAX, i,
					    "\\u needs four hex digits");
				cp = cp << 4 | (unsigned long)h;
			}
			/* CEL strings are Unicode: a lone surrogate is not. */
			if (cp >= 0xd800 && cp <= 0xdfff)
				return fail(p, EXPR_ESYNTAX, i,
				    "\\u%04lx is not a character", cp);
			if (put_utf8(p, cp))
				return -1;
			i += 6;
			break;
		case 'r': case 'a': case 'b': case 'f': case 'v': case '?':
		case '`': case 'x': case 'X': case 'U':
		case '0': case '1': case '2': case '3':
			return fail(p, EXPR_EUNSUPPORTED, i,
			    "the escape \\%c is not supported", s[i + 1]);
		default:
			return fail(p, EXPR_ESYNTAX, i, "invalid escape");
		}
	}
	t->slen = p->nbytes - t->off;
	t->len = i + 1 - start;
	return 0;
}

/*
 * A number starting at p->pos: digits, an optional fraction and an
 * optional exponent.  A leading '-' is the parser's business, since
 * CEL reads it as an operator.
 */
static int lex_number(struct parser *p, struct tok *t)
{
	const char *s = p->text;
	size_t i = p->pos, start = p->pos;
	int is_dbl = 0;
	char buf[EXPR_MAX_LEN + 1];
	char *end;

	if (s[i] == '0' && i + 1 < p->len && (s[i + 1] == 'x' ||
	    s[i + 1] == 'X'))
		return fail(p, EXPR_EUNSUPPORTED, start,
		    "hexadecimal literals are not supported");
	while (i < p->len && is_digit((unsigned char)s[i]))
		i++;
	if (i + 1 < p->len && s[i] == '.' &&
	    is_digit((unsigned char)s[i + 1])) {
		is_dbl = 1;
		for (i++; i < p->len && is_digit((unsigned char)s[i]); i++)
			;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		is_dbl = 1;
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || !is_digit((unsigned char)s[i]))
			return fail(p, EXPR_ESYNTAX, start,
			    "malformed exponent");
		while (i < p->len && is_digit((unsigned char)s[i]))
			i++;
	}
	if (!is_dbl && i < p->len && (s[i] == 'u' || s[i] == 'U'))
		return fail(p, EXPR_EUNSUPPORTED, start,
		    "unsigned literals are not supported");
	if (i < p->len && is_ident_char((unsigned char)s[i]))
		return fail(p, EXPR_ESYNTAX, start, "malformed number");
	t->len = i - start;
	if (!is_dbl) {
		uint64_t v = 0;
		size_t k;

		/* Up to 2^63, the magnitude of the most negative int64. */
		for (k = start; k < i; k++) {
			unsigned d = (unsigned)(s[k] - '0');

			if (v > ((UINT64_C(1) << 63) - d) / 10)
				return fail(p, EXPR_ESYNTAX, start,
				    "integer out of range");
			v = v * 10 + d;
		}
		t->type = T_INT;
		t->mag = v;
		return 0;
	}
	memcpy(buf, s + start, t->len);
	buf[t->len] = '\0';
	errno = 0;
	t->d = strtod(buf, &end);
	/* A short read would mean a locale with another decimal point:
	 * refuse rather than misread. */
	if (end != buf + t->len || errno == ERANGE || isinf(t->d))
		return fail(p, EXPR_ESYNTAX, start, "number out of range");
	t->type = T_DBL;
	return 0;
}

/* An identifier or keyword; keys are copied NUL-terminated for json-c. */
static int lex_ident(struct parser *p, struct tok *t)
{
	const char *s = p->text;
	size_t i = p->pos, start = p->pos, k;

	while (i < p->len && is_ident_char((unsigned char)s[i]))
		i++;
	t->len = i - start;
	/* r"..", b"..", rb".." and the like: CEL's raw and byte strings. */
	if (t->len <= 2 && i < p->len && (s[i] == '"' || s[i] == '\'') &&
	    strspn(s + start, "rRbB") >= t->len)
		return fail(p, EXPR_EUNSUPPORTED, start,
		    "raw and byte strings are not supported");
	if (t->len == 4 && memcmp(s + start, "true", 4) == 0)
		t->type = T_TRUE;
	else if (t->len == 5 && memcmp(s + start, "false", 5) == 0)
		t->type = T_FALSE;
	else if (t->len == 4 && memcmp(s + start, "null", 4) == 0)
		t->type = T_NULL;
	else if (t->len == 2 && memcmp(s + start, "in", 2) == 0)
		t->type = T_IN;
	else
		t->type = T_IDENT;
	if (t->type != T_IDENT)
		return 0;
	t->off = p->nbytes;
	for (k = start; k < i; k++)
		if (put_byte(p, (unsigned char)s[k]))
			return -1;
	t->slen = t->len;
	return put_byte(p, '\0');
}

/* Operators and punctuation; CEL-only ones are refused here. */
static int lex_punct(struct parser *p, struct tok *t)
{
	const char *s = p->text;
	size_t i = p->pos;
	char c = s[i], n = i + 1 < p->len ? s[i + 1] : '\0';

	t->len = 1;
	switch (c) {
	case '(': t->type = T_LP; return 0;
	case ')': t->type = T_RP; return 0;
	case '[': t->type = T_LBRACK; return 0;
	case '.': t->type = T_DOT; return 0;
	case '-': t->type = T_MINUS; return 0;
	case '!':
		t->type = n == '=' ? T_NE : T_NOT;
		t->len = n == '=' ? 2 : 1;
		return 0;
	case '<':
		t->type = n == '=' ? T_LE : T_LT;
		t->len = n == '=' ? 2 : 1;
		return 0;
	case '>':
		t->type = n == '=' ? T_GE : T_GT;
		t->len = n == '=' ? 2 : 1;
		return 0;
	case '=':
		if (n == '=') {
			t->type = T_EQ;
			t->len = 2;
			return 0;
		}
		return fail(p, EXPR_ESYNTAX, i, "'=' is not an operator "
		    "(comparison is '==')");
	case '&':
		if (n == '&') {
			t->type = T_AND;
			t->len = 2;
			return 0;
		}
		return fail(p, EXPR_ESYNTAX, i, "'&' is not an operator");
	case '|':
		if (n == '|') {
			t->type = T_OR;
			t->len = 2;
			return 0;
		}
		return fail(p, EXPR_ESYNTAX, i, "'|' is not an operator");
	case '/':
		if (n == '/')
			return fail(p, EXPR_EUNSUPPORTED, i,
			    "comments are not supported");
		/* fall through */
	case '+': case '*': case '%':
		return fail(p, EXPR_EUNSUPPORTED, i,
		    "arithmetic is not supported");
	case '?':
		if (p->prev == T_DOT)
			return fail(p, EXPR_EUNSUPPORTED, i,
			    "optional field selection is not supported");
		return fail(p, EXPR_EUNSUPPORTED, i,
		    "the conditional operator is not supported");
	case '{':
		return fail(p, EXPR_EUNSUPPORTED, i,
		    "map and message literals are not supported");
	case '`':
		return fail(p, EXPR_EUNSUPPORTED, i,
		    "quoted field names are not supported");
	}
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return fail(p, EXPR_ESYNTAX, i, "unexpected '%c'", c);
	return fail(p, EXPR_ESYNTAX, i, "unexpected byte 0x%02x",
	    (unsigned)(unsigned char)c);
}

/* Move to the next token. */
static int advance(struct parser *p)
{
	const char *s = p->text;
	struct tok *t = &p->tok;
	unsigned char c;
	int rc;

	p->prev = t->type;
	p->pos += t->len;
	/* CEL's whitespace. */
	while (p->pos < p->len && strchr(" \t\n\r\f", s[p->pos]) != NULL)
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->pos = p->pos;
	if (p->pos >= p->len) {
		t->type = T_EOF;
		return 0;
	}
	c = (unsigned char)s[p->pos];
	if (c == '"' || c == '\'')
		rc = lex_string(p, t);
	else if (is_digit(c) || (c == '.' && p->pos + 1 < p->len &&
	    is_digit((unsigned char)s[p->pos + 1])))
		rc = lex_number(p, t);
	else if (is_ident_start(c))
		rc = lex_ident(p, t);
	else
		rc = lex_punct(p, t);
	return rc;
}

/* ---- parser ----------------------------------------------------------- */

static int new_node(struct parser *p, enum node_type type, size_t pos)
{
	struct node *n;

	if (p->nnodes >= p->cap_nodes)
		return fail(p, EXPR_ENOMEM, pos, "out of space");
	n = &p->e->nodes[p->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = (unsigned char)type;
	n->col = pos + 1;
	return p->nnodes++;
}

static int is_operand(const struct node *n)
{
	return n->type <= N_NULL;
}

static const char *op_text(enum tok_type t)
{
	switch (t) {
	case T_EQ: return "==";
	case T_NE: return "!=";
	case T_LT: return "<";
	case T_LE: return "<=";
	case T_GT: return ">";
	case T_GE: return ">=";
	case T_AND: return "&&";
	case T_OR: return "||";
	default: return "!";
	}
}

/* An EXPR_VALUE expression is one path, so any operator is refused at
 * the operator itself. */
static int value_refuses(struct parser *p, size_t pos)
{
	if (p->kind != EXPR_VALUE)
		return 0;
	return fail(p, EXPR_EUNSUPPORTED, pos,
	    "a value expression must be a single path");
}

/* && || ! apply to conditions, never to bare operands. */
static int need_condition(struct parser *p, int idx)
{
	const struct node *n = &p->e->nodes[idx];

	if (!is_operand(n))
		return 0;
	return fail(p, EXPR_EUNSUPPORTED, n->col - 1,
	    "a condition must be a comparison");
}

/* Something an operand may not be followed by, in CEL terms. */
static int refuse_postfix(struct parser *p)
{
	switch (p->tok.type) {
	case T_LBRACK:
		return fail(p, EXPR_EUNSUPPORTED, p->tok.pos,
		    "indexing is not supported");
	case T_LP:
		return fail(p, EXPR_EUNSUPPORTED, p->tok.pos,
		    "function calls are not supported");
	case T_DOT:
		return fail(p, EXPR_EUNSUPPORTED, p->tok.pos,
		    "field selection is supported only on event and async "
		    "paths");
	default:
		return 0;
	}
}

static int parse_or(struct parser *p);

/* event.a.b or async.a.b; the identifier is the current token. */
static int parse_path(struct parser *p)
{
	struct tok id = p->tok;
	const char *key = p->e->bytes + id.off;
	int idx;
	struct node *n;

	if (advance(p))
		return -1;
	if (p->tok.type == T_LP)
		return fail(p, EXPR_EUNSUPPORTED, id.pos,
		    "function calls are not supported");
	if (strcmp(key, "event") != 0 && strcmp(key, "async") != 0)
		return fail(p, EXPR_EUNSUPPORTED, id.pos,
		    "only paths under event and async are supported "
		    "(not '%.32s')", key);
	if ((idx = new_node(p, N_PATH, id.pos)) < 0)
		return -1;
	n = &p->e->nodes[idx];
	n->root = key[0] == 'e' ? ROOT_EVENT : ROOT_ASYNC;
	n->u.path.first = p->nsegs;
	while (p->tok.type == T_DOT) {
		if (advance(p))
			return -1;
		if (p->tok.type != T_IDENT)
			return fail(p, EXPR_ESYNTAX, p->tok.pos,
			    "expected a field name after '.'");
		if (p->nsegs >= p->cap_segs)
			return fail(p, EXPR_ENOMEM, p->tok.pos,
			    "out of space");
		p->e->segs[p->nsegs++].off = p->tok.off;
		id = p->tok;
		if (advance(p))
			return -1;
		if (p->tok.type == T_LP)
			return fail(p, EXPR_EUNSUPPORTED, id.pos,
			    "function calls are not supported");
	}
	p->e->nodes[idx].u.path.n = p->nsegs - p->e->nodes[idx].u.path.first;
	if (refuse_postfix(p))
		return -1;
	return idx;
}

/* A literal; 'neg' when a unary minus came before a number. */
static int parse_literal(struct parser *p, int neg, size_t pos)
{
	struct tok *t = &p->tok;
	int idx;
	struct node *n;

	switch (t->type) {
	case T_INT:
		if (!neg && t->mag > (uint64_t)INT64_MAX)
			return fail(p, EXPR_ESYNTAX, pos,
			    "integer out of range");
		if ((idx = new_node(p, N_INT, pos)) < 0)
			return -1;
		n = &p->e->nodes[idx];
		/* -(2^63) is representable, its magnitude is not. */
		if (neg)
			n->u.i = t->mag == (UINT64_C(1) << 63) ? INT64_MIN :
			    -(int64_t)t->mag;
		else
			n->u.i = (int64_t)t->mag;
		break;
	case T_DBL:
		if ((idx = new_node(p, N_DBL, pos)) < 0)
			return -1;
		p->e->nodes[idx].u.d = neg ? -t->d : t->d;
		break;
	case T_STR:
		if ((idx = new_node(p, N_STR, pos)) < 0)
			return -1;
		n = &p->e->nodes[idx];
		n->u.str.off = t->off;
		n->u.str.len = t->slen;
		break;
	case T_TRUE: case T_FALSE:
		if ((idx = new_node(p, N_BOOL, pos)) < 0)
			return -1;
		p->e->nodes[idx].u.b = t->type == T_TRUE;
		break;
	default:
		if ((idx = new_node(p, N_NULL, pos)) < 0)
			return -1;
		break;
	}
	if (advance(p) || refuse_postfix(p))
		return -1;
	return idx;
}

static int enter(struct parser *p, size_t pos)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return fail(p, EXPR_ETOOLONG, pos,
		    "nesting deeper than %d levels", EXPR_MAX_DEPTH);
	return 0;
}

static int parse_primary(struct parser *p)
{
	struct tok *t = &p->tok;
	size_t open = t->pos;
	int idx;

	switch (t->type) {
	case T_LP:
		if (enter(p, open) || advance(p))
			return -1;
		if ((idx = parse_or(p)) < 0)
			return -1;
		if (p->tok.type != T_RP)
			return fail(p, EXPR_ESYNTAX, open, "unbalanced '('");
		p->depth--;
		if (advance(p) || refuse_postfix(p))
			return -1;
		return idx;
	case T_IDENT:
		return parse_path(p);
	case T_INT: case T_DBL: case T_STR: case T_TRUE: case T_FALSE:
	case T_NULL:
		return parse_literal(p, 0, t->pos);
	case T_LBRACK:
		return fail(p, EXPR_EUNSUPPORTED, t->pos,
		    "list literals are not supported");
	case T_DOT:
		return fail(p, EXPR_EUNSUPPORTED, t->pos,
		    "names with a leading '.' are not supported");
	case T_EOF:
		return fail(p, EXPR_ESYNTAX, t->pos,
		    "expected an operand at the end");
	case T_RP:
		return fail(p, EXPR_ESYNTAX, t->pos, "unbalanced ')'");
	default:
		return fail(p, EXPR_ESYNTAX, t->pos, "expected an operand");
	}
}

static int parse_unary(struct parser *p)
{
	size_t pos = p->tok.pos;
	int idx, kid;

	if (p->tok.type == T_MINUS) {
		if (advance(p))
			return -1;
		if (p->tok.type == T_INT || p->tok.type == T_DBL)
			return parse_literal(p, 1, pos);
		return fail(p, EXPR_EUNSUPPORTED, pos,
		    "arithmetic is not supported");
	}
	if (p->tok.type != T_NOT)
		return parse_primary(p);
	if (value_refuses(p, pos) || enter(p, pos) || advance(p))
		return -1;
	if ((kid = parse_unary(p)) < 0 || need_condition(p, kid))
		return -1;
	p->depth--;
	if ((idx = new_node(p, N_NOT, pos)) < 0)
		return -1;
	p->e->nodes[idx].u.kids.l = kid;
	return idx;
}

static int is_relop(enum tok_type t)
{
	return t >= T_EQ && t <= T_GE;
}

/* Operands of a comparison are paths and literals only. */
static int check_cmp_operand(struct parser *p, int idx, enum tok_type op,
    size_t pos)
{
	const struct node *n = &p->e->nodes[idx];

	if (is_operand(n))
		return 0;
	if (n->type == N_CMP)
		return fail(p, EXPR_EUNSUPPORTED, pos,
		    "comparisons of comparisons are not supported");
	return fail(p, EXPR_EUNSUPPORTED, pos,
	    "the operands of '%s' must be paths or literals", op_text(op));
}

static int parse_rel(struct parser *p)
{
	int l, r, idx;
	enum tok_type op;
	size_t pos;
	struct node *n;

	if ((l = parse_unary(p)) < 0)
		return -1;
	for (;;) {
		if (p->tok.type == T_IN)
			return fail(p, EXPR_EUNSUPPORTED, p->tok.pos,
			    "the 'in' operator is not supported");
		if (p->tok.type == T_MINUS)
			return fail(p, EXPR_EUNSUPPORTED, p->tok.pos,
			    "arithmetic is not supported");
		if (!is_relop(p->tok.type))
			return l;
		op = p->tok.type;
		pos = p->tok.pos;
		if (value_refuses(p, pos) || advance(p))
			return -1;
		if ((r = parse_unary(p)) < 0)
			return -1;
		if (check_cmp_operand(p, l, op, pos) ||
		    check_cmp_operand(p, r, op, pos))
			return -1;
		if ((idx = new_node(p, N_CMP, pos)) < 0)
			return -1;
		n = &p->e->nodes[idx];
		n->op = (unsigned char)(OP_EQ + (op - T_EQ));
		n->u.kids.l = l;
		n->u.kids.r = r;
		l = idx;
	}
}

/* One level of && or ||: 'sub' parses the tighter level. */
static int parse_logic(struct parser *p, enum tok_type op,
    enum node_type type, int (*sub)(struct parser *))
{
	int l, r, idx;
	size_t pos;

	if ((l = sub(p)) < 0)
		return -1;
	while (p->tok.type == op) {
		pos = p->tok.pos;
		if (value_refuses(p, pos) || advance(p))
			return -1;
		if ((r = sub(p)) < 0)
			return -1;
		if (need_condition(p, l) || need_condition(p, r))
			return -1;
		if ((idx = new_node(p, type, pos)) < 0)
			return -1;
		p->e->nodes[idx].u.kids.l = l;
		p->e->nodes[idx].u.kids.r = r;
		l = idx;
	}
	return l;
}

static int parse_and(struct parser *p)
{
	return parse_logic(p, T_AND, N_AND, parse_rel);
}

static int parse_or(struct parser *p)
{
	return parse_logic(p, T_OR, N_OR, parse_and);
}

/* The whole text: an expression, then nothing. */
static int parse_top(struct parser *p)
{
	int idx;
	const struct node *n;

	if (advance(p))
		return -1;
	if (p->tok.type == T_EOF)
		return fail(p, EXPR_ESYNTAX, p->tok.pos, "empty expression");
	if ((idx = parse_or(p)) < 0)
		return -1;
	switch (p->tok.type) {
	case T_EOF:
		break;
	case T_RP:
		return fail(p, EXPR_ESYNTAX, p->tok.pos, "unbalanced ')'");
	default:
		return fail(p, EXPR_ESYNTAX, p->tok.pos,
		    "expected an operator");
	}
	n = &p->e->nodes[idx];
	if (p->kind == EXPR_VALUE && n->type != N_PATH)
		return fail(p, EXPR_EUNSUPPORTED, n->col - 1,
		    "a value expression must be a single path");
	if (p->kind == EXPR_BOOL && need_condition(p, idx))
		return -1;
	return idx;
}

static void set_msg(char *err, size_t errlen, const char *text)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", text);
}

enum exec_expr_err exec_expr_compile(const char *text,
    enum exec_expr_kind kind, struct exec_expr **out, char *err,
    size_t errlen)
{
	struct parser p;
	struct exec_expr *e;
	struct node *nodes;
	size_t len;
	int idx;

	if (out != NULL)
		*out = NULL;
	if (text == NULL || out == NULL ||
	    (kind != EXPR_BOOL && kind != EXPR_VALUE)) {
		set_msg(err, errlen, "no expression");
		return EXPR_ESYNTAX;
	}
	len = strnlen(text, EXPR_MAX_LEN + 1);
	if (len > EXPR_MAX_LEN) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "expression longer than %d bytes",
			    EXPR_MAX_LEN);
		return EXPR_ETOOLONG;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		set_msg(err, errlen, "out of memory");
		return EXPR_ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = len;
	p.kind = kind;
	p.e = e;
	p.msg = err;
	p.msglen = errlen;
	p.tok.type = T_EOF;
	/* Each node and each segment takes at least one byte of text, and
	 * decoded strings and keys (plus NULs) at most two per byte. */
	p.cap_nodes = (int)len + 1;
	p.cap_segs = len + 1;
	p.cap_bytes = 2 * len + 1;
	e->kind = kind;
	e->nodes = malloc(sizeof(*e->nodes) * (size_t)p.cap_nodes);
	e->segs = malloc(sizeof(*e->segs) * p.cap_segs);
	e->bytes = malloc(p.cap_bytes);
	if (e->nodes == NULL || e->segs == NULL || e->bytes == NULL) {
		exec_expr_free(e);
		set_msg(err, errlen, "out of memory");
		return EXPR_ENOMEM;
	}
	if ((idx = parse_top(&p)) < 0) {
		exec_expr_free(e);
		return p.err != EXPR_OK ? p.err : EXPR_ESYNTAX;
	}
	e->root = idx;
	/* Give back the unused tail of the worst-case node array. */
	if ((nodes = realloc(e->nodes, sizeof(*nodes) * (size_t)p.nnodes))
	    != NULL)
		e->nodes = nodes;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = e;
	return EXPR_OK;
}

void exec_expr_free(struct exec_expr *e)
{
	if (e == NULL)
		return;
	free(e->nodes);
	free(e->segs);
	free(e->bytes);
	free(e);
}

const char *exec_expr_strerror(enum exec_expr_err err)
{
	switch (err) {
	case EXPR_OK: return "ok";
	case EXPR_ESYNTAX: return "malformed expression";
	case EXPR_EUNSUPPORTED:
		return "expression outside the supported subset";
	case EXPR_ETOOLONG: return "expression too long or too deeply nested";
	case EXPR_ENOMEM: return "out of memory";
	}
	return "unknown expression error";
}

/* ---- evaluation ------------------------------------------------------- */

enum val_type { V_NULL, V_BOOL, V_INT, V_DBL, V_STR, V_OTHER };

struct val {
	enum val_type type;
	int64_t i;
	double d;
	int b;
	const char *s;
	size_t n;
	struct json_object *o;  /* V_OTHER: an object or array */
};

/* The JSON value at a path, or NULL for missing and null alike.  A step
 * through anything but an object is missing, as the header's "a missing
 * member is null" reads. */
static struct json_object *resolve(const struct exec_expr *e,
    const struct node *n, struct json_object *event,
    struct json_object *async)
{
	struct json_object *cur = n->root == ROOT_EVENT ? event : async;
	struct json_object *next;
	size_t k;

	for (k = 0; k < n->u.path.n && cur != NULL; k++) {
		if (json_object_get_type(cur) != json_type_object)
			return NULL;
		if (!json_object_object_get_ex(cur,
		    e->bytes + e->segs[n->u.path.first + k].off, &next))
			return NULL;
		cur = next;
	}
	return cur;
}

static void json_val(struct json_object *o, struct val *v)
{
	uint64_t u;

	memset(v, 0, sizeof(*v));
	switch (o == NULL ? json_type_null : json_object_get_type(o)) {
	case json_type_null:
		v->type = V_NULL;
		break;
	case json_type_boolean:
		v->type = V_BOOL;
		v->b = json_object_get_boolean(o) != 0;
		break;
	case json_type_int:
		v->type = V_INT;
		v->i = json_object_get_int64(o);
		/* json-c keeps integers past INT64_MAX as unsigned; a double
		 * still orders them above every int64. */
		if (v->i == INT64_MAX &&
		    (u = json_object_get_uint64(o)) > (uint64_t)INT64_MAX) {
			v->type = V_DBL;
			v->d = (double)u;
		}
		break;
	case json_type_double:
		v->type = V_DBL;
		v->d = json_object_get_double(o);
		break;
	case json_type_string:
		v->type = V_STR;
		v->s = json_object_get_string(o);
		v->n = (size_t)json_object_get_string_len(o);
		break;
	default:
		v->type = V_OTHER;
		v->o = o;
		break;
	}
}

static void operand_val(const struct exec_expr *e, const struct node *n,
    struct json_object *event, struct json_object *async, struct val *v)
{
	memset(v, 0, sizeof(*v));
	switch (n->type) {
	case N_PATH:
		json_val(resolve(e, n, event, async), v);
		break;
	case N_STR:
		v->type = V_STR;
		v->s = e->bytes + n->u.str.off;
		v->n = n->u.str.len;
		break;
	case N_INT:
		v->type = V_INT;
		v->i = n->u.i;
		break;
	case N_DBL:
		v->type = V_DBL;
		v->d = n->u.d;
		break;
	case N_BOOL:
		v->type = V_BOOL;
		v->b = n->u.b;
		break;
	default:
		v->type = V_NULL;
		break;
	}
}

#define UNORDERED 2

/* An int64 against a double, exactly: converting the integer would
 * round above 2^53.  -1, 0, 1, or UNORDERED for NaN. */
static int cmp_int_dbl(int64_t i, double d)
{
	int64_t t;
	double frac;

	if (isnan(d))
		return UNORDERED;
	if (d >= 0x1p63)
		return -1;
	if (d < -0x1p63)
		return 1;
	t = (int64_t)d;         /* in range, truncated toward zero */
	if (i != t)
		return i < t ? -1 : 1;
	frac = d - (double)t;   /* exact: t came from d */
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_num(const struct val *a, const struct val *b)
{
	int c;

	if (a->type == V_INT && b->type == V_INT)
		return a->i < b->i ? -1 : a->i > b->i;
	if (a->type == V_INT)
		return cmp_int_dbl(a->i, b->d);
	if (b->type == V_INT) {
		c = cmp_int_dbl(b->i, a->d);
		return c == UNORDERED ? c : -c;
	}
	if (isnan(a->d) || isnan(b->d))
		return UNORDERED;
	return a->d < b->d ? -1 : a->d > b->d;
}

static int cmp_str(const struct val *a, const struct val *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = n > 0 ? memcmp(a->s, b->s, n) : 0;

	if (c != 0)
		return c < 0 ? -1 : 1;
	return a->n < b->n ? -1 : a->n > b->n;
}

static int is_num(const struct val *v)
{
	return v->type == V_INT || v->type == V_DBL;
}

static int equal(const struct val *a, const struct val *b)
{
	if (is_num(a) && is_num(b))
		return cmp_num(a, b) == 0;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case V_NULL: return 1;
	case V_BOOL: return a->b == b->b;
	case V_STR: return a->n == b->n && cmp_str(a, b) == 0;
	case V_OTHER: return json_object_equal(a->o, b->o) != 0;
	default: return 0;
	}
}

static int compare(enum cmp_op op, const struct val *a, const struct val *b)
{
	int c;

	if (op == OP_EQ)
		return equal(a, b);
	if (op == OP_NE)
		return !equal(a, b);
	if (is_num(a) && is_num(b))
		c = cmp_num(a, b);
	else if (a->type == V_STR && b->type == V_STR)
		c = cmp_str(a, b);
	else
		return 0;
	if (c == UNORDERED)
		return 0;
	switch (op) {
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	default: return c >= 0;
	}
}

/* Recursion is bounded by the node count, itself bounded by the text. */
static int eval_node(const struct exec_expr *e, int idx,
    struct json_object *event, struct json_object *async)
{
	const struct node *n = &e->nodes[idx];
	struct val a, b;

	switch (n->type) {
	case N_AND:
		return eval_node(e, n->u.kids.l, event, async) &&
		    eval_node(e, n->u.kids.r, event, async);
	case N_OR:
		return eval_node(e, n->u.kids.l, event, async) ||
		    eval_node(e, n->u.kids.r, event, async);
	case N_NOT:
		return !eval_node(e, n->u.kids.l, event, async);
	case N_CMP:
		operand_val(e, &e->nodes[n->u.kids.l], event, async, &a);
		operand_val(e, &e->nodes[n->u.kids.r], event, async, &b);
		return compare((enum cmp_op)n->op, &a, &b);
	default:
		return 0;       /* compile refuses bare operands */
	}
}

int exec_expr_eval(const struct exec_expr *e, struct json_object *event,
    struct json_object *async)
{
	if (e == NULL || e->kind != EXPR_BOOL)
		return 0;
	return eval_node(e, e->root, event, async);
}

struct json_object *exec_expr_value(const struct exec_expr *e,
    struct json_object *event, struct json_object *async)
{
	const struct node *n;

	if (e == NULL || e->kind != EXPR_VALUE)
		return NULL;
	n = &e->nodes[e->root];
	if (n->type != N_PATH)
		return NULL;
	return resolve(e, n, event, async);
}
