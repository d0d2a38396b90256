/* PostgreSQL CSV, one record at a time: a small state machine over a read buffer. */
#include "csvread.h"

#include <stdlib.h>
#include <string.h>

typedef enum csv_state { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED } csv_state;

typedef struct growbuf {
	char *data;
	size_t len, cap;
} growbuf;

struct csv_reader {
	csv_read_fn fn;
	void *arg;
	char in[1 << 16];
	size_t in_len, in_pos;
	bool eof;
	growbuf raw;    /* the record's bytes */
	growbuf fields; /* the decoded fields, each followed by a NUL */
	size_t *starts; /* where each field begins in fields */
	bool *nulls;
	int nf, cap_f;
	int64_t records;
};

static bool
put(growbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t want = b->cap ? b->cap * 2 : 1024;
		char *p;

		if (want > CSV_RECORD_MAX + 1)
			return false;
		p = realloc(b->data, want);
		if (p == NULL)
			return false;
		b->data = p;
		b->cap = want;
	}
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return true;
}

csv_reader *
csv_reader_new(csv_read_fn fn, void *arg)
{
	csv_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->fn = fn;
	r->arg = arg;
	return r;
}

void
csv_reader_free(csv_reader *r)
{
	if (r == NULL)
		return;
	free(r->raw.data);
	free(r->fields.data);
	free(r->starts);
	free(r->nulls);
	free(r);
}

/* Starts a new field at the current end of the decoded bytes. */
static bool
begin_field(csv_reader *r)
{
	if (r->nf == r->cap_f) {
		int want = r->cap_f ? r->cap_f * 2 : 32;
		size_t *s = realloc(r->starts, (size_t)want * sizeof(*s));
		bool *n;

		if (s == NULL)
			return false;
		r->starts = s;
		n = realloc(r->nulls, (size_t)want * sizeof(*n));
		if (n == NULL)
			return false;
		r->nulls = n;
		r->cap_f = want;
	}
	r->starts[r->nf] = r->fields.len;
	r->nulls[r->nf] = true;
	r->nf++;
	return true;
}

/* Ends the current field: its terminating NUL becomes part of the decoded bytes. */
static bool
end_field(csv_reader *r)
{
	return put(&r->fields, '\0');
}

/* The next input byte, refilling the buffer; -1 at the end, -2 on a read error. */
static int
next_byte(csv_reader *r)
{
	if (r->in_pos == r->in_len) {
		ssize_t n;

		if (r->eof)
			return -1;
		n = r->fn(r->arg, r->in, sizeof(r->in));
		if (n < 0)
			return -2;
		if (n == 0) {
			r->eof = true;
			return -1;
		}
		r->in_len = (size_t)n;
		r->in_pos = 0;
	}
	return (unsigned char)r->in[r->in_pos++];
}

int
csv_next(csv_reader *r, ret_error *err)
{
	csv_state state = FIELD_START;
	int c;

	r->raw.len = 0;
	r->fields.len = 0;
	r->nf = 0;
	if (!begin_field(r))
		goto oom;
	for (;;) {
		c = next_byte(r);
		if (c == -2) {
			ret_fail(err, RET_RUNTIME, "read error in record %lld", (long long)r->records + 1);
			return -1;
		}
		if (c == -1) {
			if (state == FIELD_START && r->nf == 1 && r->raw.len == 0)
				return 0; /* a clean end between records */
			if (state == QUOTED) {
				ret_fail(err, RET_RUNTIME, "record %lld: the file ends inside a quoted field",
				         (long long)r->records + 1);
				return -1;
			}
			break;
		}
		if (c == '\n' && state != QUOTED) {
			/* A CRLF line end: the CR belongs to the line break, not the field. */
			if (r->raw.len > 0 && r->raw.data[r->raw.len - 1] == '\r') {
				r->raw.data[--r->raw.len] = '\0';
				if (state == UNQUOTED)
					r->fields.len--;
			}
			break;
		}
		if (!put(&r->raw, (char)c))
			goto oom;
		switch (state) {
		case FIELD_START:
		case UNQUOTED:
			if (c == ',') {
				if (!end_field(r) || !begin_field(r))
					goto oom;
				state = FIELD_START;
			} else if (c == '"' && state == FIELD_START) {
				r->nulls[r->nf - 1] = false;
				state = QUOTED;
			} else {
				r->nulls[r->nf - 1] = false;
				if (!put(&r->fields, (char)c))
					goto oom;
				state = UNQUOTED;
			}
			break;
		case QUOTED:
			if (c == '"')
				state = QUOTE_IN_QUOTED;
			else if (!put(&r->fields, (char)c))
				goto oom;
			break;
		case QUOTE_IN_QUOTED:
			if (c == '"') {
				if (!put(&r->fields, '"'))
					goto oom;
				state = QUOTED;
			} else if (c == ',') {
				if (!end_field(r) || !begin_field(r))
					goto oom;
				state = FIELD_START;
			} else if (c != '\r') {
				ret_fail(err, RET_RUNTIME, "record %lld: text after a closing quote",
				         (long long)r->records + 1);
				return -1;
			}
			break;
		}
	}
	if (!end_field(r))
		goto oom;
	r->records++;
	return 1;

oom:
	ret_fail(err, RET_RUNTIME, "record %lld is larger than %zu bytes or memory ran out",
	         (long long)r->records + 1, CSV_RECORD_MAX);
	return -1;
}

int
csv_nfields(const csv_reader *r)
{
	return r->nf;
}

const char *
csv_field(const csv_reader *r, int i, size_t *len)
{
	const char *s;

	if (i < 0 || i >= r->nf || r->nulls[i]) {
		if (len)
			*len = 0;
		return NULL;
	}
	s = r->fields.data + r->starts[i];
	if (len)
		*len = strlen(s);
	return s;
}

const char *
csv_raw(const csv_reader *r, size_t *len)
{
	*len = r->raw.len;
	return r->raw.len ? r->raw.data : "";
}

int64_t
csv_record_number(const csv_reader *r)
{
	return r->records;
}
