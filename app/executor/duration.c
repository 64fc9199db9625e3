/*
 * duration.c -- exec_duration_ms() (exec_duration.h): Go-style durations
 * and RFC 3339 times as the SDKs write them in Sleep and WaitForEvent ops.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_duration.h"

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Ten Julian years (3652.5 days), the longest sleep or wait accepted. */
#define MAX_MS INT64_C(315576000000)
#define MAX_NS (MAX_MS * 1000000)

struct unit {
	const char *name;
	int64_t ns;
};

/* Longer names first where one is a prefix of another ("ms" and "m"). */
static const struct unit units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },          /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },          /* U+03BC Greek mu, as Go allows */
	{ "ms", 1000000 },
	{ "s", INT64_C(1000000000) },
	{ "m", INT64_C(60000000000) },
	{ "h", INT64_C(3600000000000) },
	{ "d", INT64_C(86400000000000) },
	{ "w", INT64_C(604800000000000) },
};

static const struct unit *match_unit(const char *s, size_t *len)
{
	size_t k, n;

	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		n = strlen(units[k].name);
		if (strncmp(s, units[k].name, n) == 0) {
			*len = n;
			return &units[k];
		}
	}
	return NULL;
}

/* "1h30m", "1.5s": one or more number-unit pairs, summed in nanoseconds
 * (ten years of them fit in an int64), truncated to milliseconds. */
static int parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0, part;
	uint64_t whole;
	uint64_t frac, scale;
	int digits;
	const struct unit *u;
	size_t ulen;

	if (*s == '+')
		s++;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		whole = 0;
		frac = 0;
		scale = 1;
		digits = 0;
		for (; is_digit((unsigned char)*s); s++, digits++)
			if (whole <= (uint64_t)MAX_NS)
				whole = whole * 10 + (uint64_t)(*s - '0');
		if (*s == '.')
			for (s++; is_digit((unsigned char)*s); s++, digits++)
				/* 18 digits are past any unit's resolution. */
				if (scale < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
		if (digits == 0 || (u = match_unit(s, &ulen)) == NULL)
			return -1;
		s += ulen;
		if (whole > (uint64_t)(MAX_NS / u->ns))
			return -1;
		part = (int64_t)whole * u->ns;
		/* Exact while it fits; past that, a double is close enough
		 * at millisecond resolution. */
		if (frac <= UINT64_MAX / (uint64_t)u->ns)
			part += (int64_t)(frac * (uint64_t)u->ns / scale);
		else
			part += (int64_t)((double)frac / (double)scale *
			    (double)u->ns);
		if (part > MAX_NS - total)
			return -1;
		total += part;
	}
	*out = total / 1000000;
	return 0;
}

/* 'n' decimal digits at s, or -1. */
static int digits_at(const char *s, int n)
{
	int v = 0, k;

	for (k = 0; k < n; k++) {
		if (!is_digit((unsigned char)s[k]))
			return -1;
		v = v * 10 + (s[k] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * 'n' digits at *s, then the byte 'sep' unless it is 0; advances *s.
 * Reading stops at the first mismatch, so a short text never has a byte
 * past its NUL read.
 */
static int field(const char **s, int n, const char *seps)
{
	int v = digits_at(*s, n);

	if (v < 0)
		return -1;
	*s += n;
	if (seps != NULL) {
		if (**s == '\0' || strchr(seps, **s) == NULL)
			return -1;
		(*s)++;
	}
	return v;
}

/* An RFC 3339 date-time as epoch milliseconds (fraction truncated). */
static int parse_time(const char *s, int64_t *out)
{
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int64_t ms = 0, scale = 100;
	struct tm tm;
	time_t t;

	if ((year = field(&s, 4, "-")) < 0 || (mon = field(&s, 2, "-")) < 0
	    || (day = field(&s, 2, "Tt")) < 0 ||
	    (hour = field(&s, 2, ":")) < 0 || (min = field(&s, 2, ":")) < 0
	    || (sec = field(&s, 2, NULL)) < 0)
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon)
	    || hour > 23 || min > 59 || sec > 59)
		return -1;
	if (*s == '.') {
		if (!is_digit((unsigned char)s[1]))
			return -1;
		for (s++; is_digit((unsigned char)*s); s++, scale /= 10)
			ms += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if ((oh = field(&s, 2, ":")) < 0 ||
		    (om = field(&s, 2, NULL)) < 0 || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*s != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* A local time is ahead of UTC by its offset. */
	*out = ((int64_t)t - sign * (oh * 3600 + om * 60)) * 1000 + ms;
	return 0;
}

int exec_duration_ms(const char *text, int64_t now_ms, int64_t *out)
{
	int64_t at, diff;

	if (text == NULL || out == NULL)
		return -1;
	if (digits_at(text, 4) < 0 || text[4] != '-')
		return parse_duration(text, out);
	if (parse_time(text, &at))
		return -1;
	if (__builtin_sub_overflow(at, now_ms, &diff))
		return now_ms < 0 ? -1 : (*out = 0, 0);
	if (diff > MAX_MS)
		return -1;
	*out = diff < 0 ? 0 : diff;
	return 0;
}
