/*
 * fuzz_exec_expr.c -- libFuzzer harness for the local executor's
 * expression subset (app/executor/expr.c, exec_expr.h) and its durations
 * (app/executor/duration.c, exec_duration.h).
 *
 * Input layout:
 *   byte 0   bit 0    compile as EXPR_VALUE (else EXPR_BOOL)
 *            bit 1    also compile as the other kind
 *            bit 2    also hand the text to exec_duration_ms
 *            bit 3    give the error buffer as NULL (else 160 bytes,
 *                     or 1 byte when bit 4 is set too)
 *   rest     the expression text (a NUL-terminated copy; a NUL inside
 *            cuts it, as the C string it would be)
 *
 * A compiled expression is evaluated against a fixed set of events:
 * nested objects, strings with NULs inside (json_object_new_string_len),
 * integers, doubles, booleans, nulls, arrays, as both `event` and
 * `async`, and with either NULL.  With FUZZ_EXEC_EXPR_VERBOSE set, each
 * result goes to stderr.
 *
 * Beyond the sanitizers (LeakSanitizer checks exec_expr_free), the
 * harness aborts when: a failed compile sets '*out' or leaves the error
 * unterminated or empty, a success comes with an error value, the error
 * text of a known value is NULL, exec_expr_eval returns anything but 0
 * or 1 (or evaluation is not deterministic), exec_expr_value returns an
 * object that is not borrowed from the event or async given (or the JSON
 * null), a text over EXPR_MAX_LEN compiles, or exec_duration_ms returns
 * other than 0 or -1, succeeds with a negative or over-10-years value, is
 * not deterministic, or gives a longer duration for a later clock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "exec_duration.h"
#include "exec_expr.h"
#include "log.h"
#include "fuzz_util.h"

#define FUZZ_NOW_MS 1700000000000LL
#define TEN_YEARS_MS (10LL * 366 * 24 * 3600 * 1000)
#define NEVENTS 4

static struct json_object *events[NEVENTS];
static int verbose;

static struct json_object *
obj(void)
{
	return json_object_new_object();
}

static void
build_events(void)
{
	struct json_object *e, *d, *n, *a;

	/* 0: the usual shape, nested data, a user. */
	e = obj();
	json_object_object_add(e, "name", json_object_new_string("t/ev"));
	d = obj();
	json_object_object_add(d, "a", json_object_new_int(1));
	json_object_object_add(d, "n", json_object_new_int(2));
	json_object_object_add(d, "id", json_object_new_string("abc"));
	json_object_object_add(d, "f", json_object_new_double(1.5));
	json_object_object_add(d, "t", json_object_new_boolean(1));
	json_object_object_add(d, "z", NULL);
	n = obj();
	json_object_object_add(n, "user", json_object_new_string("alice"));
	json_object_object_add(n, "deep", obj());
	json_object_object_add(d, "nested", n);
	json_object_object_add(e, "data", d);
	json_object_object_add(e, "x", json_object_new_int(5));
	json_object_object_add(e, "s", json_object_new_string_len("\0", 1));
	json_object_object_add(e, "user", obj());
	events[0] = e;

	/* 1: NULs in strings, big and negative numbers, arrays. */
	e = obj();
	json_object_object_add(e, "name", json_object_new_string_len(
	    "t/\0ev", 5));
	d = obj();
	json_object_object_add(d, "a", json_object_new_string_len("1\0002", 3));
	json_object_object_add(d, "n", json_object_new_int64(INT64_MAX));
	json_object_object_add(d, "m", json_object_new_int64(INT64_MIN));
	json_object_object_add(d, "f", json_object_new_double(-0.0));
	json_object_object_add(d, "big", json_object_new_double(1e308));
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_int(1));
	json_object_array_add(a, NULL);
	json_object_array_add(a, json_object_new_string("x"));
	json_object_object_add(d, "arr", a);
	json_object_object_add(d, "", json_object_new_string("empty key"));
	json_object_object_add(e, "data", d);
	json_object_object_add(e, "x", json_object_new_double(1.0000001));
	json_object_object_add(e, "s", json_object_new_string(""));
	events[1] = e;

	/* 2: wrong types where objects are expected. */
	e = obj();
	json_object_object_add(e, "name", json_object_new_string("t/other"));
	json_object_object_add(e, "data", json_object_new_string("not obj"));
	json_object_object_add(e, "x", NULL);
	json_object_object_add(e, "s", json_object_new_int(0));
	json_object_object_add(e, "event", json_object_new_array());
	events[2] = e;

	/* 3: an empty object. */
	events[3] = obj();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	verbose = getenv("FUZZ_EXEC_EXPR_VERBOSE") != NULL;
	build_events();
	return 0;
}

/* Is 'v' 'root' or somewhere inside it? */
static int
inside(struct json_object *root, struct json_object *v)
{
	if (root == NULL)
		return 0;
	if (root == v)
		return 1;
	if (json_object_is_type(root, json_type_object)) {
		json_object_object_foreach(root, k, c) {
			(void)k;
			if (inside(c, v))
				return 1;
		}
	} else if (json_object_is_type(root, json_type_array)) {
		size_t n = json_object_array_length(root);

		for (size_t i = 0; i < n; i++)
			if (inside(json_object_array_get_idx(root, i), v))
				return 1;
	}
	return 0;
}

static void
try_kind(const char *text, size_t tlen, enum exec_expr_kind kind,
    int errmode)
{
	struct exec_expr *e = (struct exec_expr *)(uintptr_t)1;
	char err[160];
	char *ebuf = errmode == 0 ? err : errmode == 1 ? err : NULL;
	size_t elen = errmode == 0 ? sizeof(err) : errmode == 1 ? 1 : 0;
	enum exec_expr_err rc;

	memset(err, 'Z', sizeof(err));
	rc = exec_expr_compile(text, kind, &e, ebuf, elen);
	check(exec_expr_strerror(rc) != NULL, "strerror NULL");
	if (verbose)
		fprintf(stderr, "kind %d: %s%s%s\n", (int)kind,
		    exec_expr_strerror(rc), rc != EXPR_OK && ebuf != NULL ?
		    ": " : "", rc != EXPR_OK && ebuf != NULL ? err : "");
	if (rc != EXPR_OK) {
		check(rc == EXPR_ESYNTAX || rc == EXPR_EUNSUPPORTED ||
		    rc == EXPR_ETOOLONG || rc == EXPR_ENOMEM,
		    "unknown error value");
		check(e == NULL, "failed compile set *out");
		if (ebuf != NULL) {
			check(memchr(err, '\0', elen) != NULL,
			    "error text not terminated");
			if (elen > 1)
				check(err[0] != '\0', "empty error text");
		}
		return;
	}
	check(e != NULL, "EXPR_OK without an expression");
	check(tlen <= EXPR_MAX_LEN, "text over EXPR_MAX_LEN compiled");
	for (int i = 0; i < NEVENTS + 1; i++) {
		for (int j = 0; j < NEVENTS + 1; j++) {
			struct json_object *ev = i < NEVENTS ? events[i] : NULL;
			struct json_object *as = j < NEVENTS ? events[j] : NULL;

			if (kind == EXPR_BOOL) {
				int r = exec_expr_eval(e, ev, as);

				check(r == 0 || r == 1, "eval not 0 or 1");
				check(exec_expr_eval(e, ev, as) == r,
				    "eval not deterministic");
				if (verbose)
					fprintf(stderr, "  eval[%d][%d] = %d\n",
					    i, j, r);
			} else {
				struct json_object *v =
				    exec_expr_value(e, ev, as);

				check(v == NULL || inside(ev, v) ||
				    inside(as, v), "value not borrowed");
				check(v == NULL ||
				    !json_object_is_type(v, json_type_null),
				    "value is the JSON null");
				if (verbose)
					fprintf(stderr, "  value[%d][%d] = %s\n",
					    i, j, v == NULL ? "(none)" :
					    json_object_to_json_string(v));
			}
		}
	}
	exec_expr_free(e);
}

static void
try_duration(const char *text)
{
	int64_t ms = -12345, ms2 = -12345;
	int rc = exec_duration_ms(text, FUZZ_NOW_MS, &ms);

	if (verbose)
		fprintf(stderr, "duration: %d %lld\n", rc, (long long)ms);
	check(rc == 0 || rc == -1, "duration rc not 0 or -1");
	if (rc != 0)
		return;
	check(ms >= 0 && ms <= TEN_YEARS_MS, "duration out of range");
	check(exec_duration_ms(text, FUZZ_NOW_MS, &ms2) == 0 && ms2 == ms,
	    "duration not deterministic");
	/* A time that counts from 'now' only gets shorter later on. */
	check(exec_duration_ms(text, FUZZ_NOW_MS + 1000, &ms2) == 0 &&
	    ms2 <= ms, "duration grew with the clock");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	enum exec_expr_kind kind;
	int errmode;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	kind = (data[0] & 1) ? EXPR_VALUE : EXPR_BOOL;
	errmode = (data[0] & 8) ? 2 : (data[0] & 16) ? 1 : 0;
	try_kind(text, strlen(text), kind, errmode);
	if (data[0] & 2)
		try_kind(text, strlen(text), kind == EXPR_BOOL ? EXPR_VALUE :
		    EXPR_BOOL, errmode);
	if (data[0] & 4)
		try_duration(text);
	free(text);
	return 0;
}
