/* A growable NUL-terminated string for building SQL text and paths. */
#ifndef RETENTION_STRBUF_H
#define RETENTION_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
	char *data; /* NULL until the first append; owned */
	size_t len;
	size_t cap;
	bool oom;   /* set once an allocation failed; later appends do nothing */
} strbuf;

void strbuf_append(strbuf *sb, const char *s);
void strbuf_appendf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Takes the text (the caller frees it) and resets sb; NULL after an allocation failure. */
char *strbuf_take(strbuf *sb);

void strbuf_free(strbuf *sb);

/*
 * True when len bytes are well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF); otherwise *bad (when not NULL) is the offset
 * of the first byte at fault. Policies and hold text must be UTF-8, because
 * PostgreSQL and every JSON reader after us would otherwise read them
 * differently.
 */
bool text_utf8_valid(const char *s, size_t len, size_t *bad);

#endif
