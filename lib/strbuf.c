/* Growable strings. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
reserve(strbuf *sb, size_t extra)
{
	size_t want = sb->len + extra + 1;
	char *grown;

	if (sb->oom)
		return false;
	if (want <= sb->cap)
		return true;
	if (want < sb->cap * 2)
		want = sb->cap * 2;
	if (want < 256)
		want = 256;
	grown = realloc(sb->data, want);
	if (grown == NULL) {
		sb->oom = true;
		return false;
	}
	sb->data = grown;
	sb->cap = want;
	return true;
}

void
strbuf_append(strbuf *sb, const char *s)
{
	size_t n = strlen(s);

	if (!reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, s, n + 1);
	sb->len += n;
}

void
strbuf_appendf(strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *
strbuf_take(strbuf *sb)
{
	char *out = sb->oom ? NULL : sb->data;

	if (sb->oom)
		free(sb->data);
	else if (out == NULL)
		out = calloc(1, 1);
	memset(sb, 0, sizeof(*sb));
	return out;
}

bool
text_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			goto invalid;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (p[i + k] & 0xC0) != 0x80)
				goto invalid;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			goto invalid;
		i += n + 1;
	}
	return true;

invalid:
	if (bad)
		*bad = i;
	return false;
}

void
strbuf_free(strbuf *sb)
{
	free(sb->data);
	memset(sb, 0, sizeof(*sb));
}
