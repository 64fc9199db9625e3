/*
 * api_error.c -- the one table from enum api_err to status and wire code.
 */
#include "api_error.h"

static const struct {
	int status;
	const char *code;
} api_errs[API__MAX] = {
	[API_OK] = { 200, "OK" },
	[API_VALIDATION_ERROR] = { 400, "VALIDATION_ERROR" },
	[API_UNAUTHORIZED] = { 401, "UNAUTHORIZED" },
	[API_FORBIDDEN] = { 403, "FORBIDDEN" },
	[API_NOT_FOUND] = { 404, "NOT_FOUND" },
	[API_METHOD_NOT_ALLOWED] = { 405, "METHOD_NOT_ALLOWED" },
	[API_SANDBOX_NOT_FOUND] = { 404, "SANDBOX_NOT_FOUND" },
	[API_SANDBOX_NOT_READY] = { 409, "SANDBOX_NOT_READY" },
	[API_PAYLOAD_TOO_LARGE] = { 413, "PAYLOAD_TOO_LARGE" },
	[API_UNSUPPORTED_MEDIA_TYPE] = { 415, "UNSUPPORTED_MEDIA_TYPE" },
	[API_RATE_LIMITED] = { 429, "RATE_LIMITED" },
	[API_SANDBOX_ERROR] = { 500, "SANDBOX_ERROR" },
	[API_SERVER_ERROR] = { 500, "SERVER_ERROR" },
	[API_UPSTREAM_ERROR] = { 502, "UPSTREAM_ERROR" },
	[API_SERVICE_UNAVAILABLE] = { 503, "SERVICE_UNAVAILABLE" },
	[API_UPSTREAM_TIMEOUT] = { 504, "UPSTREAM_TIMEOUT" },
	[API_CONFLICT] = { 409, "CONFLICT" },
};

int api_err_status(enum api_err err)
{
	if ((unsigned)err >= API__MAX)
		return 500;
	return api_errs[err].status;
}

const char *api_err_code(enum api_err err)
{
	if ((unsigned)err >= API__MAX)
		return "SERVER_ERROR";
	return api_errs[err].code;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
