/*
 * bare_responder.c -- the reference for bench/cost_get_root.py: the least
 * a libfcgi responder can do for a health check.  One thread accepts on
 * fd 0 (spawn-fcgi gives it the socket) and answers every request with
 * the bytes Omni answers GET / with, without reading a parameter,
 * logging or allocating.  Not part of Omni; built by the benchmark.
 */
#include <fcgiapp.h>

int main(void)
{
	static const char answer[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "X-Request-Id: 00000000000000000000000000000000\r\n"
	    "Content-Length: 15\r\n\r\n"
	    "{\"status\":\"ok\"}";
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
