/*
 * event.c -- the event client: POST {event origin}/e/{key} (see
 * inngest_event.h).
 *
 * Ids are generated here rather than by the server so that a send retried
 * after a lost answer carries the same ids and is deduplicated.
 */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_event.h"
#include "inngest_internal.h"
#include "inngest_jcs.h"
#include "inngest_transport.h"

/* The dev server accepts any key; inngest-js uses the same placeholder. */
#define DEV_EVENT_KEY "NO_EVENT_KEY_SET"
#define BACKOFF_BASE_MS 100
#define MAX_EVENT_RESPONSE (256u * 1024u)

int ing_ulid(int64_t ms, char out[27])
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	unsigned char rnd[10];
	uint64_t t = (uint64_t)ms;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	/* 48-bit time, 10 characters, most significant first. */
	for (int i = 9; i >= 0; i--) {
		out[i] = b32[t & 31];
		t >>= 5;
	}
	/* 80 random bits, 16 characters. */
	for (int i = 0; i < 16; i++) {
		int bit = i * 5, byte = bit / 8, off = bit % 8;
		unsigned v = (unsigned)rnd[byte] << 8;

		if (byte + 1 < 10)
			v |= rnd[byte + 1];
		out[10 + i] = b32[(v >> (11 - off)) & 31];
	}
	out[26] = '\0';
	return 0;
}

/* Check one event and fill id, ts and data on the copy 'ev'. */
static enum ing_err prepare(struct json_object *ev, int64_t now)
{
	struct json_object *v;
	char id[27];

	if (!json_object_is_type(ev, json_type_object) ||
	    !json_object_object_get_ex(ev, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return ING_EINVAL;
	if (json_object_object_get_ex(ev, "data", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return ING_EINVAL;
	} else if (json_object_object_add(ev, "data",
	    json_object_new_object()) != 0) {
		return ING_ENOMEM;
	}
	if (!json_object_object_get_ex(ev, "id", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		if (ing_ulid(now, id) != 0)
			return ING_ENOMEM;
		if (json_object_object_add(ev, "id",
		    json_object_new_string(id)) != 0)
			return ING_ENOMEM;
	}
	if (!json_object_object_get_ex(ev, "ts", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0) {
		if (json_object_object_add(ev, "ts",
		    json_object_new_int64(now)) != 0)
			return ING_ENOMEM;
	}
	return ING_OK;
}

/* Deep-copy 'events' into a fresh array of prepared events. */
static enum ing_err build_payload(struct json_object *events, int64_t now,
    struct json_object **out)
{
	struct json_object *arr, *copy;
	size_t n;
	enum ing_err err = ING_OK;

	*out = NULL;
	if (json_object_is_type(events, json_type_object)) {
		n = 1;
	} else if (json_object_is_type(events, json_type_array)) {
		n = json_object_array_length(events);
		if (n == 0)
			return ING_EINVAL;
	} else {
		return ING_EINVAL;
	}
	arr = json_object_new_array();
	if (arr == NULL)
		return ING_ENOMEM;
	for (size_t i = 0; i < n && err == ING_OK; i++) {
		struct json_object *src = json_object_is_type(events,
		    json_type_array) ? json_object_array_get_idx(events, i) :
		    events;

		copy = NULL;
		if (json_object_deep_copy(src, &copy, NULL) != 0) {
			err = ING_ENOMEM;
			break;
		}
		if (json_object_array_add(arr, copy) != 0) {
			json_object_put(copy);
			err = ING_ENOMEM;
			break;
		}
		err = prepare(copy, now);
	}
	if (err != ING_OK) {
		json_object_put(arr);
		return err;
	}
	*out = arr;
	return ING_OK;
}

/* The ids we put in the payload, as a new array reference. */
static struct json_object *payload_ids(struct json_object *payload)
{
	struct json_object *ids = json_object_new_array(), *id;
	size_t n = json_object_array_length(payload);

	if (ids == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!json_object_object_get_ex(
		    json_object_array_get_idx(payload, i), "id", &id))
			goto fail;
		if (json_object_array_add(ids, json_object_get(id)) != 0) {
			json_object_put(id);
			goto fail;
		}
	}
	return ids;
fail:
	json_object_put(ids);
	return NULL;
}

/*
 * Read {"ids": [...], "status": 200} from a 2xx answer.  Servers that
 * answer without ids accepted the ids we sent.
 */
static enum ing_err parse_answer(const struct ing_http_res *res,
    struct json_object *payload, struct json_object **ids_out)
{
	struct json_object *root = NULL, *ids = NULL, *st;

	if (ing_json_parse(res->body, res->body_len, &root) == ING_JCS_OK) {
		if (json_object_object_get_ex(root, "status", &st) &&
		    json_object_is_type(st, json_type_int) &&
		    json_object_get_int(st) != 200) {
			json_object_put(root);
			return ING_EREJECTED;
		}
		if (json_object_object_get_ex(root, "ids", &ids) &&
		    json_object_is_type(ids, json_type_array))
			ids = json_object_get(ids);
		else
			ids = NULL;
		json_object_put(root);
	}
	if (ids == NULL)
		ids = payload_ids(payload);
	if (ids == NULL)
		return ING_ENOMEM;
	if (ids_out != NULL)
		*ids_out = ids;
	else
		json_object_put(ids);
	return ING_OK;
}

/*
 * POST the payload until an answer settles it: network errors and 5xx
 * are retried with exponential backoff and jitter, ING_EVENT_ATTEMPTS in
 * all (the ids make a repeat harmless); 2xx is read, anything else
 * refused.
 */
static enum ing_err post_events(struct ing_app *app, const char *url,
    struct json_object *payload, struct json_object **ids_out,
    long *status)
{
	struct ing_http_res res;
	enum ing_err err = ING_ETRANSPORT;
	unsigned char jitter;
	const char *body;
	long long delay;
	size_t len;

	body = ing_json_text(payload, &len);
	if (body == NULL)
		return ING_ENOMEM;
	for (int attempt = 0; attempt < ING_EVENT_ATTEMPTS; attempt++) {
		if (attempt > 0) {
			delay = (long long)BACKOFF_BASE_MS << (attempt - 1);
			if (RAND_bytes(&jitter, 1) == 1)
				delay += jitter * BACKOFF_BASE_MS / 255;
			app->hooks.sleep_ms(delay);
		}
		err = ing_app_send(app, "POST", url, NULL, NULL, 0, body, len,
		    ING_EVENT_TIMEOUT_MS, MAX_EVENT_RESPONSE, &res);
		if (err == ING_ENOMEM || err == ING_ETOOLARGE)
			return err;
		if (err != ING_OK)
			continue;
		*status = res.status;
		if (res.status >= 500) {
			ing_http_res_free(&res);
			err = ING_EUPSTREAM;
			continue;
		}
		err = res.status >= 200 && res.status < 300 ?
		    parse_answer(&res, payload, ids_out) : ING_EREJECTED;
		ing_http_res_free(&res);
		return err;
	}
	return err;
}

enum ing_err ing_event_send(struct ing_app *app, struct json_object *events,
    struct json_object **ids_out)
{
	struct json_object *payload;
	struct ing_buf url;
	const char *key;
	enum ing_err err;
	long status = 0;
	char *urlstr;

	if (ids_out != NULL)
		*ids_out = NULL;
	if (app == NULL)
		return ING_EINVAL;
	key = app->event_key;
	if (key == NULL) {
		if (app->mode != ING_MODE_DEV)
			return ING_ENOKEY;
		key = DEV_EVENT_KEY;
	}
	err = build_payload(events, app->hooks.now_ms(), &payload);
	if (err != ING_OK)
		return err;
	ing_buf_init(&url);
	ing_buf_puts(&url, app->event_origin);
	ing_buf_puts(&url, "/e/");
	ing_buf_put_urlenc(&url, key);
	urlstr = ing_buf_take(&url, NULL);
	if (urlstr == NULL) {
		json_object_put(payload);
		return ING_ENOMEM;
	}
	err = post_events(app, urlstr, payload, ids_out, &status);
	if (app->hooks.events_sent != NULL)
		app->hooks.events_sent(app->hooks.log_ud,
		    json_object_array_length(payload), err == ING_OK);
	OPENSSL_cleanse(urlstr, strlen(urlstr)); /* carries the event key */
	free(urlstr);
	json_object_put(payload);
	if (err != ING_OK)
		ing_log(app, ING_LOG_WARN, "inngest_send_failed", "sending "
		    "events failed: %s (last status %ld)", ing_strerror(err),
		    status);
	return err;
}
