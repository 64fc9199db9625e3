/*
 * test_request.c -- unit tests for app/http/request.c.
 *
 * Requests are built the way the worker builds them: an envp array of
 * FastCGI params ("NAME=value") and a body reader.  The reader here serves
 * a memory buffer in chunks of a chosen size, can fail on demand, and
 * counts what was consumed, so the tests can tell whether a body was
 * drained.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* ---- helpers ---- */

struct mem_reader {
	const char *data;
	size_t len;
	size_t pos;
	size_t chunk;     /* largest read served at once (0: no limit) */
	int fail_at;      /* fail once pos >= fail_at (-1: never) */
	int eof_reads;    /* reads answered with 0 */
};

static long
mem_read(void *ctx, char *buf, size_t len)
{
	struct mem_reader *r = ctx;
	size_t n = r->len - r->pos;

	if (r->fail_at >= 0 && r->pos >= (size_t)r->fail_at)
		return -1;
	if (n > len)
		n = len;
	if (r->chunk > 0 && n > r->chunk)
		n = r->chunk;
	if (r->fail_at >= 0 && r->pos + n > (size_t)r->fail_at)
		n = (size_t)r->fail_at - r->pos;
	if (n == 0) {
		r->eof_reads++;
		return 0;
	}
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return (long)n;
}

static void
reader_init(struct mem_reader *r, const char *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	r->fail_at = -1;
}

/* Parse 'envp' with no body. */
static enum http_parse_err
parse_env(struct http_request *req, char *const *envp)
{
	return http_request_parse(req, envp, NULL, NULL, 1024, NULL);
}

static int
is_hex_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A buffer of 'n' bytes of 'c' (caller frees). */
static char *
filled(size_t n, char c)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

/* ---- http_percent_decode ---- */

static void
test_decode_valid_escapes(void **state)
{
	size_t len = 99;
	char *s = http_percent_decode("a%2Fb%20c%2f", 12, 0, &len);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "a/b c/");
	assert_int_equal(len, 6);
	free(s);
}

static void
test_decode_high_bytes_kept(void **state)
{
	size_t len = 0;
	char *s = http_percent_decode("%C3%A9", 6, 0, &len);

	(void)state;
	assert_non_null(s);
	assert_int_equal(len, 2);
	assert_memory_equal(s, "\xc3\xa9", 2);
	free(s);
}

static void
test_decode_non_hex_escape_refused(void **state)
{
	(void)state;
	assert_null(http_percent_decode("a%zzb", 5, 0, NULL));
	assert_null(http_percent_decode("%4z", 3, 0, NULL));
	assert_null(http_percent_decode("%z4", 3, 1, NULL));
}

static void
test_decode_truncated_escape_refused(void **state)
{
	(void)state;
	assert_null(http_percent_decode("%4", 2, 0, NULL));
	assert_null(http_percent_decode("abc%", 4, 0, NULL));
	/* The escape is judged within 'len', not by the bytes after it. */
	assert_null(http_percent_decode("x%41", 3, 0, NULL));
}

static void
test_decode_encoded_nul_refused(void **state)
{
	(void)state;
	assert_null(http_percent_decode("a%00b", 5, 0, NULL));
	assert_null(http_percent_decode("a%00b", 5, 1, NULL));
}

static void
test_decode_plus_is_space_in_query_only(void **state)
{
	char *q = http_percent_decode("a+b%2B", 6, 1, NULL);
	char *p = http_percent_decode("a+b%2B", 6, 0, NULL);

	(void)state;
	assert_non_null(q);
	assert_non_null(p);
	assert_string_equal(q, "a b+");
	assert_string_equal(p, "a+b+");
	free(q);
	free(p);
}

static void
test_decode_stops_at_len(void **state)
{
	size_t len = 0;
	char *s = http_percent_decode("abcdef", 3, 0, &len);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	free(s);
}

static void
test_decode_empty_input(void **state)
{
	size_t len = 7;
	char *s = http_percent_decode("", 0, 0, &len);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
}

/* ---- path ---- */

static void
test_path_is_decoded_and_query_split(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a%20b/c?x=1",
	    "QUERY_STRING=x=1", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.path, "/a b/c");
	assert_string_equal(req.raw_query, "x=1");
	http_request_free(&req);
}

static void
test_path_plus_is_kept(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a+b", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.path, "/a+b");
	http_request_free(&req);
}

static void
test_path_bad_escape_is_bad_path(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a%zz", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
}

static void
test_path_encoded_nul_is_bad_path(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a%00.json",
	    NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
}

static void
test_path_missing_is_bad_path(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "QUERY_STRING=a=1", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
}

static void
test_path_relative_is_bad_path(void **state)
{
	char *rel[] = { "REQUEST_METHOD=GET", "REQUEST_URI=a/b", NULL };
	char *abs[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=http://example.com/", NULL };
	char *empty[] = { "REQUEST_METHOD=GET", "REQUEST_URI=", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, rel), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
	assert_int_equal(parse_env(&req, abs), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
	assert_int_equal(parse_env(&req, empty), HTTP_PARSE_BAD_PATH);
	http_request_free(&req);
}

static void
test_path_falls_back_to_document_uri(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "DOCUMENT_URI=/ready", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.path, "/ready");
	http_request_free(&req);
}

/* ---- query ---- */

static void
test_query_params_in_order_decoded(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/q",
	    "QUERY_STRING=b=2&a=x+y&c=%26%3D&b=3&flag&=v&&", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_int_equal(req.nparams, 6);
	assert_string_equal(req.params[0].name, "b");
	assert_string_equal(req.params[0].value, "2");
	assert_string_equal(req.params[1].name, "a");
	assert_string_equal(req.params[1].value, "x y");
	assert_string_equal(req.params[2].name, "c");
	assert_string_equal(req.params[2].value, "&=");
	assert_string_equal(req.params[3].name, "b");
	assert_string_equal(req.params[3].value, "3");
	assert_string_equal(req.params[4].name, "flag");
	assert_string_equal(req.params[4].value, "");
	assert_string_equal(req.params[5].name, "");
	assert_string_equal(req.params[5].value, "v");
	assert_string_equal(req.raw_query, "b=2&a=x+y&c=%26%3D&b=3&flag&=v&&");
	http_request_free(&req);
}

static void
test_query_param_lookup_first_wins(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/q",
	    "QUERY_STRING=id=1&id=2", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(http_param(&req, "id"), "1");
	assert_null(http_param(&req, "ID"));
	assert_null(http_param(&req, "missing"));
	http_request_free(&req);
}

static void
test_query_encoded_name_decoded(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/q",
	    "QUERY_STRING=user%5Fid=u+1", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(http_param(&req, "user_id"), "u 1");
	http_request_free(&req);
}

static void
test_query_bad_escape_is_bad_query(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/q",
	    "QUERY_STRING=a=%4", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_QUERY);
	http_request_free(&req);
}

static void
test_query_encoded_nul_is_bad_query(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/q",
	    "QUERY_STRING=a%00=1", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_QUERY);
	http_request_free(&req);
}

static void
test_query_taken_from_uri_when_query_string_absent(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=/api/sandbox/status?id=sb%201&x", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.path, "/api/sandbox/status");
	assert_string_equal(req.raw_query, "id=sb%201&x");
	assert_string_equal(http_param(&req, "id"), "sb 1");
	assert_string_equal(http_param(&req, "x"), "");
	http_request_free(&req);
}

static void
test_query_empty_when_none(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.raw_query, "");
	assert_int_equal(req.nparams, 0);
	http_request_free(&req);
}

/* ---- headers ---- */

static void
test_header_names_mapped(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "HTTP_X_REQUEST_ID=abc", "HTTP_ACCEPT_ENCODING=gzip",
	    "HTTP_ORIGIN=https://a.example", "REMOTE_ADDR=127.0.0.1",
	    "CONTENT_TYPE=text/plain", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_int_equal(req.nheaders, 3);
	assert_string_equal(req.headers[0].name, "x-request-id");
	assert_string_equal(req.headers[1].name, "accept-encoding");
	assert_string_equal(req.headers[2].name, "origin");
	assert_string_equal(http_header(&req, "x-request-id"), "abc");
	assert_string_equal(http_header(&req, "accept-encoding"), "gzip");
	assert_string_equal(http_header(&req, "origin"), "https://a.example");
	assert_null(http_header(&req, "remote-addr"));
	assert_null(http_header(&req, "X-Request-Id"));
	http_request_free(&req);
}

static void
test_header_value_kept_verbatim(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "HTTP_AUTHORIZATION=Bearer a.b=c", "HTTP_X_EMPTY=", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(http_header(&req, "authorization"),
	    "Bearer a.b=c");
	assert_string_equal(http_header(&req, "x-empty"), "");
	http_request_free(&req);
}

static void
test_remote_addr_and_content_type(void **state)
{
	char *with[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "REMOTE_ADDR=10.0.0.7", "CONTENT_TYPE=application/json", NULL };
	char *without[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_TYPE=", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, with), HTTP_PARSE_OK);
	assert_string_equal(req.remote_addr, "10.0.0.7");
	assert_string_equal(req.content_type, "application/json");
	http_request_free(&req);
	assert_int_equal(parse_env(&req, without), HTTP_PARSE_OK);
	assert_string_equal(req.remote_addr, "");
	assert_null(req.content_type);
	http_request_free(&req);
}

/* ---- request id ---- */

static void
test_request_id_passthrough(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "HTTP_X_REQUEST_ID=Ab-1_2.3:4/5+6=", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.request_id, "Ab-1_2.3:4/5+6=");
	http_request_free(&req);
}

static void
test_request_id_generated_when_absent(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", NULL };
	struct http_request a, b;

	(void)state;
	assert_int_equal(parse_env(&a, env), HTTP_PARSE_OK);
	assert_int_equal(parse_env(&b, env), HTTP_PARSE_OK);
	assert_true(is_hex_id(a.request_id));
	assert_true(is_hex_id(b.request_id));
	assert_string_not_equal(a.request_id, b.request_id);
	http_request_free(&a);
	http_request_free(&b);
}

static void
test_request_id_64_chars_kept(void **state)
{
	char *id = filled(64, 'r');
	char var[128];
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", var, NULL };
	struct http_request req;

	(void)state;
	snprintf(var, sizeof(var), "HTTP_X_REQUEST_ID=%s", id);
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_string_equal(req.request_id, id);
	http_request_free(&req);
	free(id);
}

static void
test_request_id_too_long_replaced(void **state)
{
	char *id = filled(65, 'r');
	char var[128];
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", var, NULL };
	struct http_request req;

	(void)state;
	snprintf(var, sizeof(var), "HTTP_X_REQUEST_ID=%s", id);
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_true(is_hex_id(req.request_id));
	http_request_free(&req);
	free(id);
}

static void
test_request_id_bad_chars_replaced(void **state)
{
	static const char *bad[] = { "a b", "a\"b", "a\tb", "a;b",
	    "<script>", "a\x01", "\xc3\xa9" };
	char var[64];
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", var, NULL };
	struct http_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(var, sizeof(var), "HTTP_X_REQUEST_ID=%s", bad[i]);
		assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
		assert_true(is_hex_id(req.request_id));
		http_request_free(&req);
	}
}

static void
test_request_id_empty_replaced(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "HTTP_X_REQUEST_ID=", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_true(is_hex_id(req.request_id));
	http_request_free(&req);
}

static void
test_request_id_set_on_parse_error(void **state)
{
	char *env[] = { "REQUEST_METHOD=bad", "REQUEST_URI=/",
	    "HTTP_X_REQUEST_ID=keep-me", NULL };
	char *none[] = { "REQUEST_URI=nope", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_METHOD);
	assert_string_equal(req.request_id, "keep-me");
	http_request_free(&req);
	assert_int_not_equal(parse_env(&req, none), HTTP_PARSE_OK);
	assert_true(is_hex_id(req.request_id));
	http_request_free(&req);
}

/* ---- method ---- */

static void
test_method_missing_is_bad_method(void **state)
{
	char *env[] = { "REQUEST_URI=/", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_METHOD);
	http_request_free(&req);
}

static void
test_method_not_token_is_bad_method(void **state)
{
	static const char *bad[] = { "REQUEST_METHOD=get",
	    "REQUEST_METHOD=", "REQUEST_METHOD=GET ", "REQUEST_METHOD=G\r\nET",
	    "REQUEST_METHOD=GE/T" };
	char *env[] = { NULL, "REQUEST_URI=/", NULL };
	struct http_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env[0] = (char *)bad[i];
		assert_int_equal(parse_env(&req, env), HTTP_PARSE_BAD_METHOD);
		http_request_free(&req);
	}
}

static void
test_method_length_limit(void **state)
{
	char *ok[] = { "REQUEST_METHOD=ABCDEFGHIJKLMNO", "REQUEST_URI=/",
	    NULL };
	char *bad[] = { "REQUEST_METHOD=ABCDEFGHIJKLMNOP", "REQUEST_URI=/",
	    NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, ok), HTTP_PARSE_OK);
	assert_string_equal(req.method, "ABCDEFGHIJKLMNO");
	http_request_free(&req);
	assert_int_equal(parse_env(&req, bad), HTTP_PARSE_BAD_METHOD);
	http_request_free(&req);
}

/* ---- body ---- */

static void
test_body_under_limit(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=5", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "hello", 5);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_OK);
	assert_int_equal(req.content_length, 5);
	assert_int_equal(req.body_len, 5);
	assert_non_null(req.body);
	assert_string_equal(req.body, "hello");
	http_request_free(&req);
}

static void
test_body_exactly_at_limit(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=10", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "0123456789", 10);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_OK);
	assert_int_equal(req.body_len, 10);
	assert_memory_equal(req.body, "0123456789", 10);
	assert_int_equal(req.body[10], '\0');
	http_request_free(&req);
}

static void
test_body_exactly_at_limit_without_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "0123456789", 10);
	r.chunk = 3;
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_OK);
	assert_int_equal(req.content_length, -1);
	assert_int_equal(req.body_len, 10);
	assert_memory_equal(req.body, "0123456789", 10);
	http_request_free(&req);
}

static void
test_body_over_limit_by_content_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=11", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "0123456789A", 11);
	r.chunk = 4;
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_TOO_LARGE);
	assert_null(req.body);
	assert_int_equal(req.body_len, 0);
	assert_int_equal(r.pos, r.len);      /* drained */
	assert_true(r.eof_reads > 0);
	http_request_free(&req);
}

static void
test_body_over_limit_without_content_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "HTTP_TRANSFER_ENCODING=chunked", NULL };
	char *big = filled(50000, 'x');
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, big, 50000);
	r.chunk = 1000;
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10000,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_TOO_LARGE);
	assert_null(req.body);
	assert_int_equal(r.pos, r.len);      /* drained */
	http_request_free(&req);
	free(big);
}

static void
test_body_one_byte_over_limit_without_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "0123456789A", 11);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_TOO_LARGE);
	assert_null(req.body);
	assert_int_equal(r.pos, r.len);
	http_request_free(&req);
}

static void
test_body_grows_without_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/", NULL };
	char *big = malloc(20001);
	struct mem_reader r;
	struct http_request req;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 20000; i++)
		big[i] = (char)('a' + i % 26);
	big[20000] = '\0';
	reader_init(&r, big, 20000);
	r.chunk = 777;
	assert_int_equal(http_request_parse(&req, env, mem_read, &r,
	    1 << 20, NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_OK);
	assert_int_equal(req.body_len, 20000);
	assert_memory_equal(req.body, big, 20000);
	assert_int_equal(req.body[20000], '\0');
	http_request_free(&req);
	free(big);
}

static void
test_body_binary_bytes_kept(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=4", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "a\0b\xff", 4);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 10,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_len, 4);
	assert_memory_equal(req.body, "a\0b\xff", 4);
	http_request_free(&req);
}

static void
test_body_shorter_than_content_length(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=10", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "abc", 3);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 100,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_READ_ERROR);
	http_request_free(&req);
}

static void
test_body_reader_error(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/",
	    "CONTENT_LENGTH=10", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "0123456789", 10);
	r.fail_at = 4;
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 100,
	    NULL), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_READ_ERROR);
	assert_null(req.body);
	http_request_free(&req);
}

static void
test_body_none_without_reader(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	assert_int_equal(req.body_status, HTTP_BODY_OK);
	assert_null(req.body);
	assert_int_equal(req.body_len, 0);
	assert_int_equal(req.content_length, -1);
	http_request_free(&req);
}

static void
test_content_length_invalid_is_absent(void **state)
{
	static const char *bad[] = { "CONTENT_LENGTH=12x", "CONTENT_LENGTH=-5",
	    "CONTENT_LENGTH=99999999999999999999999", "CONTENT_LENGTH=" };
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/", NULL, NULL };
	struct http_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env[2] = (char *)bad[i];
		assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
		assert_int_equal(req.content_length, -1);
		http_request_free(&req);
	}
}

static void
test_body_drained_on_parse_error(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/%zz",
	    "CONTENT_LENGTH=5", NULL };
	struct mem_reader r;
	struct http_request req;

	(void)state;
	reader_init(&r, "hello", 5);
	assert_int_equal(http_request_parse(&req, env, mem_read, &r, 100,
	    NULL), HTTP_PARSE_BAD_PATH);
	assert_int_equal(r.pos, r.len);
	assert_null(req.body);
	http_request_free(&req);
}

static void
test_free_twice_is_safe(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/x?a=1",
	    "HTTP_A=b", NULL };
	struct http_request req;

	(void)state;
	assert_int_equal(parse_env(&req, env), HTTP_PARSE_OK);
	http_request_free(&req);
	assert_null(req.path);
	assert_int_equal(req.nheaders, 0);
	http_request_free(&req);
	http_request_free(NULL);
}

/* ---- http_is_json_type ---- */

static void
test_json_type_accepts_parameters(void **state)
{
	(void)state;
	assert_true(http_is_json_type("application/json"));
	assert_true(http_is_json_type("application/json; charset=utf-8"));
	assert_true(http_is_json_type("Application/JSON;charset=UTF-8"));
	assert_true(http_is_json_type(" application/json "));
}

static void
test_json_type_refuses_others(void **state)
{
	(void)state;
	assert_false(http_is_json_type(NULL));
	assert_false(http_is_json_type(""));
	assert_false(http_is_json_type("text/plain"));
	assert_false(http_is_json_type("application/jsonx"));
	assert_false(http_is_json_type("application/json-patch+json"));
	assert_false(http_is_json_type("application/x-www-form-urlencoded"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid_escapes),
		cmocka_unit_test(test_decode_high_bytes_kept),
		cmocka_unit_test(test_decode_non_hex_escape_refused),
		cmocka_unit_test(test_decode_truncated_escape_refused),
		cmocka_unit_test(test_decode_encoded_nul_refused),
		cmocka_unit_test(test_decode_plus_is_space_in_query_only),
		cmocka_unit_test(test_decode_stops_at_len),
		cmocka_unit_test(test_decode_empty_input),
		cmocka_unit_test(test_path_is_decoded_and_query_split),
		cmocka_unit_test(test_path_plus_is_kept),
		cmocka_unit_test(test_path_bad_escape_is_bad_path),
		cmocka_unit_test(test_path_encoded_nul_is_bad_path),
		cmocka_unit_test(test_path_missing_is_bad_path),
		cmocka_unit_test(test_path_relative_is_bad_path),
		cmocka_unit_test(test_path_falls_back_to_document_uri),
		cmocka_unit_test(test_query_params_in_order_decoded),
		cmocka_unit_test(test_query_param_lookup_first_wins),
		cmocka_unit_test(test_query_encoded_name_decoded),
		cmocka_unit_test(test_query_bad_escape_is_bad_query),
		cmocka_unit_test(test_query_encoded_nul_is_bad_query),
		cmocka_unit_test(
		    test_query_taken_from_uri_when_query_string_absent),
		cmocka_unit_test(test_query_empty_when_none),
		cmocka_unit_test(test_header_names_mapped),
		cmocka_unit_test(test_header_value_kept_verbatim),
		cmocka_unit_test(test_remote_addr_and_content_type),
		cmocka_unit_test(test_request_id_passthrough),
		cmocka_unit_test(test_request_id_generated_when_absent),
		cmocka_unit_test(test_request_id_64_chars_kept),
		cmocka_unit_test(test_request_id_too_long_replaced),
		cmocka_unit_test(test_request_id_bad_chars_replaced),
		cmocka_unit_test(test_request_id_empty_replaced),
		cmocka_unit_test(test_request_id_set_on_parse_error),
		cmocka_unit_test(test_method_missing_is_bad_method),
		cmocka_unit_test(test_method_not_token_is_bad_method),
		cmocka_unit_test(test_method_length_limit),
		cmocka_unit_test(test_body_under_limit),
		cmocka_unit_test(test_body_exactly_at_limit),
		cmocka_unit_test(test_body_exactly_at_limit_without_length),
		cmocka_unit_test(test_body_over_limit_by_content_length),
		cmocka_unit_test(test_body_over_limit_without_content_length),
		cmocka_unit_test(test_body_one_byte_over_limit_without_length),
		cmocka_unit_test(test_body_grows_without_length),
		cmocka_unit_test(test_body_binary_bytes_kept),
		cmocka_unit_test(test_body_shorter_than_content_length),
		cmocka_unit_test(test_body_reader_error),
		cmocka_unit_test(test_body_none_without_reader),
		cmocka_unit_test(test_content_length_invalid_is_absent),
		cmocka_unit_test(test_body_drained_on_parse_error),
		cmocka_unit_test(test_free_twice_is_safe),
		cmocka_unit_test(test_json_type_accepts_parameters),
		cmocka_unit_test(test_json_type_refuses_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
