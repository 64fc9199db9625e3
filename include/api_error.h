/*
 * api_error.h -- the contract's error model, mapped in one place.
 *
 * Every module reports failures with its own enum; handlers translate them
 * into an enum api_err, and this table (app/http/api_error.c) is the only
 * place that knows the HTTP status and the wire code of each.  The wire
 * body is {"error":{"code":..., "message":..., "details":{...}}}
 * (http_response_error in http.h).
 *
 * Append only: values are never renumbered.
 */
#ifndef OMNI_API_ERROR_H
#define OMNI_API_ERROR_H

enum api_err {
	API_OK = 0,                     /* not an error (200) */
	API_VALIDATION_ERROR,           /* 400 bad input, details say what */
	API_UNAUTHORIZED,               /* 401 missing or bad credentials */
	API_FORBIDDEN,                  /* 403 authenticated, not allowed */
	API_NOT_FOUND,                  /* 404 no such route or resource */
	API_METHOD_NOT_ALLOWED,         /* 405 with an Allow header */
	API_SANDBOX_NOT_FOUND,          /* 404 the sandbox does not exist */
	API_SANDBOX_NOT_READY,          /* 409 exists but cannot serve yet */
	API_PAYLOAD_TOO_LARGE,          /* 413 body over OMNI_MAX_BODY */
	API_UNSUPPORTED_MEDIA_TYPE,     /* 415 not application/json */
	API_RATE_LIMITED,               /* 429 with Retry-After */
	API_SANDBOX_ERROR,              /* 500 the sandbox itself failed */
	API_SERVER_ERROR,               /* 500 a bug or resource exhaustion */
	API_UPSTREAM_ERROR,             /* 502 a provider answered badly */
	API_SERVICE_UNAVAILABLE,        /* 503 a dependency is down */
	API_UPSTREAM_TIMEOUT,           /* 504 a provider did not answer */
	API_CONFLICT,                   /* 409 the state forbids the change */
	API__MAX
};

/* HTTP status for 'err' (500 for out-of-range values). */
int api_err_status(enum api_err err);

/* Wire code, e.g. "VALIDATION_ERROR" ("SERVER_ERROR" if out of range). */
const char *api_err_code(enum api_err err);

/* Reason phrase for an HTTP status, e.g. "Not Found" ("Unknown"). */
const char *http_status_text(int status);

#endif
