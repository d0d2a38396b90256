/* Writing archive segments durably, and setting aside those no commit vouches for. */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>
#include <time.h>

#include "csvread.h"
#include "db.h"
#include "fault.h"
#include "sign.h"

#define PARTIAL_SUFFIX ".partial"
#define HEADER_MAX 65536

struct archive_segment {
	int fd;
	z_stream z;
	sha256_ctx *sha;
	int64_t bytes;
	char partial[PATH_MAX];
	char final[PATH_MAX];
	char dir[PATH_MAX];
	cJSON *manifest;       /* set by archive_segment_describe */
	char *header;          /* the CSV header line, captured as it is written */
	size_t header_len;
	bool header_done;
	unsigned char out[1 << 16];
};

void
archive_segment_name(const char *class_name, const char *run_id, int batch, char *out,
                     size_t len)
{
	snprintf(out, len, "%s/%s-%s-%06d.csv.gz", class_name, class_name, run_id, batch);
}

ret_code
archive_mkdirs(const char *dir, ret_error *err)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return ret_fail(err, RET_USAGE, "archive directory \"%s\" is not a usable path", dir);
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			return ret_fail(err, RET_USAGE, "%s: cannot create directory: %s", path,
			                strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return ret_fail(err, RET_USAGE, "%s: cannot create directory: %s", path,
		                strerror(errno));
	return RET_OK;
}

ret_code
archive_check_writable(const char *dir, const char *what, ret_error *err)
{
	char probe[PATH_MAX];
	int fd;

	if (archive_mkdirs(dir, err) != RET_OK) {
		ret_prefix(err, "%s", what);
		return RET_USAGE;
	}
	if (snprintf(probe, sizeof(probe), "%s/.retention-probe-XXXXXX", dir) >= (int)sizeof(probe))
		return ret_fail(err, RET_USAGE, "%s: path too long", what);
	fd = mkstemp(probe);
	if (fd < 0)
		return ret_fail(err, RET_USAGE, "%s %s is not writable: %s", what, dir, strerror(errno));
	if (write(fd, "x", 1) != 1 || fsync(fd) != 0) {
		int e = errno;

		close(fd);
		unlink(probe);
		return ret_fail(err, RET_USAGE, "%s %s cannot take a file: %s", what, dir, strerror(e));
	}
	close(fd);
	unlink(probe);
	return RET_OK;
}

static ret_code
fsync_dir(const char *dir, ret_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot open directory: %s", dir, strerror(errno));
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		return ret_fail(err, RET_RUNTIME, "%s: fsync failed: %s", dir, strerror(e));
	}
	close(fd);
	return RET_OK;
}

/* Writes all of buf to fd, hashing what was written. */
static ret_code
write_all(archive_segment *seg, const unsigned char *buf, size_t len, ret_error *err)
{
	while (len > 0) {
		ssize_t n = write(seg->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ret_fail(err, RET_RUNTIME, "%s: write failed: %s", seg->partial,
			                n < 0 ? strerror(errno) : "no progress");
		sha256_update(seg->sha, buf, (size_t)n);
		seg->bytes += n;
		buf += n;
		len -= (size_t)n;
	}
	return RET_OK;
}

ret_code
archive_segment_open(const char *dir, const char *rel_path, archive_segment **out,
                     ret_error *err)
{
	archive_segment *seg;
	const char *slash;
	const char *base;
	ret_code rc;

	*out = NULL;
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	seg->fd = -1;

	/* Paths: the class directory, the final name and the hidden partial name. */
	slash = strrchr(rel_path, '/');
	base = slash ? slash + 1 : rel_path;
	snprintf(seg->dir, sizeof(seg->dir), "%s/%.*s", dir, slash ? (int)(slash - rel_path) : 0,
	         rel_path);
	snprintf(seg->final, sizeof(seg->final), "%s/%s", dir, rel_path);
	snprintf(seg->partial, sizeof(seg->partial), "%s/.%s%s", seg->dir, base, PARTIAL_SUFFIX);
	rc = archive_mkdirs(seg->dir, err);
	if (rc != RET_OK) {
		free(seg);
		return RET_RUNTIME;
	}
	if (access(seg->final, F_OK) == 0) {
		free(seg);
		return ret_fail(err, RET_RUNTIME, "%s: segment already exists; refusing to overwrite",
		                rel_path);
	}

	seg->fd = open(seg->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (seg->fd < 0) {
		rc = ret_fail(err, RET_RUNTIME, "%s: cannot create segment: %s", seg->partial,
		              strerror(errno));
		free(seg);
		return rc;
	}
	seg->sha = sha256_new();
	/* windowBits 15 + 16 asks zlib for a gzip wrapper; level 1 keeps up with COPY. */
	if (seg->sha == NULL ||
	    deflateInit2(&seg->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		close(seg->fd);
		unlink(seg->partial);
		sha256_free(seg->sha);
		free(seg);
		return ret_fail(err, RET_RUNTIME, "cannot start compression");
	}
	*out = seg;
	return RET_OK;
}

/* Runs deflate over the pending input with flush, writing whatever it produces. */
static ret_code
pump(archive_segment *seg, int flush, ret_error *err)
{
	int zrc;

	do {
		seg->z.next_out = seg->out;
		seg->z.avail_out = sizeof(seg->out);
		zrc = deflate(&seg->z, flush);
		if (zrc == Z_STREAM_ERROR)
			return ret_fail(err, RET_RUNTIME, "compression failed");
		if (sizeof(seg->out) - seg->z.avail_out > 0) {
			ret_code rc = write_all(seg, seg->out, sizeof(seg->out) - seg->z.avail_out, err);

			if (rc != RET_OK)
				return rc;
		}
	} while (seg->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
	return RET_OK;
}

/* Keeps the first line written (COPY's header) for the manifest's list of columns. */
static void
capture_header(archive_segment *seg, const char *data, size_t len)
{
	const char *nl;
	size_t take;
	char *grown;

	if (seg->header_done)
		return;
	nl = memchr(data, '\n', len);
	take = nl ? (size_t)(nl - data) : len;
	if (seg->header_len + take > HEADER_MAX) {
		seg->header_done = true;
		return;
	}
	grown = realloc(seg->header, seg->header_len + take + 1);
	if (grown == NULL) {
		seg->header_done = true;
		return;
	}
	seg->header = grown;
	memcpy(seg->header + seg->header_len, data, take);
	seg->header_len += take;
	seg->header[seg->header_len] = '\0';
	if (nl)
		seg->header_done = true;
}

ret_code
archive_segment_write(archive_segment *seg, const void *data, size_t len, ret_error *err)
{
	capture_header(seg, data, len);
	if (fault_hit("archive-write"))
		return ret_fail(err, RET_RUNTIME, "%s: write failed: %s (fault point)", seg->partial,
		                strerror(ENOSPC));
	seg->z.next_in = (unsigned char *)data;
	seg->z.avail_in = (uInt)len;
	return pump(seg, Z_NO_FLUSH, err);
}

ret_code
archive_segment_describe(archive_segment *seg, const archive_manifest_info *info,
                         ret_error *err)
{
	cJSON *m = cJSON_CreateObject();
	char num[32];

	if (m == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	cJSON_Delete(seg->manifest);
	cJSON_AddStringToObject(m, "format", "retention-archive-manifest");
	cJSON_AddNumberToObject(m, "format_version", 1);
	cJSON_AddStringToObject(m, "segment", strrchr(seg->final, '/') + 1);
	cJSON_AddStringToObject(m, "run_id", info->run_id);
	cJSON_AddStringToObject(m, "class", info->class_name);
	cJSON_AddStringToObject(m, "table", info->table);
	cJSON_AddStringToObject(m, "relation", info->relation);
	cJSON_AddStringToObject(m, "key", info->key);
	cJSON_AddNumberToObject(m, "batch", info->batch);
	snprintf(num, sizeof(num), "%lld", (long long)info->rows);
	cJSON_AddItemToObject(m, "rows", cJSON_CreateRaw(num));
	cJSON_AddStringToObject(m, "cutoff", info->cutoff ? info->cutoff : "");
	cJSON_AddStringToObject(m, "policy_name", info->policy_name);
	cJSON_AddStringToObject(m, "policy_sha256", info->policy_sha256);
	seg->manifest = m;
	return RET_OK;
}

typedef struct mem_source {
	const char *p;
	size_t left;
} mem_source;

static ssize_t
read_mem(void *arg, void *buf, size_t len)
{
	mem_source *m = arg;
	size_t n = m->left < len ? m->left : len;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

/* The column names of a CSV header line, as a new JSON array (NULL when it is not CSV). */
static cJSON *
header_columns(const char *header, size_t len)
{
	mem_source src = {header, len};
	csv_reader *r = csv_reader_new(read_mem, &src);
	cJSON *arr = NULL;
	ret_error e;

	if (r != NULL && csv_next(r, &e) == 1) {
		arr = cJSON_CreateArray();
		for (int i = 0; i < csv_nfields(r); i++) {
			const char *f = csv_field(r, i, NULL);

			cJSON_AddItemToArray(arr, cJSON_CreateString(f ? f : ""));
		}
	}
	csv_reader_free(r);
	return arr;
}

/* Writes bytes to path through path's partial twin, fsync and rename. */
static ret_code
write_file_durably(const char *dir, const char *path, const char *text, ret_error *err)
{
	char partial[PATH_MAX + 16];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t left = strlen(text);
	int fd;

	snprintf(partial, sizeof(partial), "%s/.%s%s", dir, base, PARTIAL_SUFFIX);
	fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot create: %s", partial, strerror(errno));
	while (left > 0) {
		ssize_t n = write(fd, text, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;

			close(fd);
			unlink(partial);
			return ret_fail(err, RET_RUNTIME, "%s: write failed: %s", partial, strerror(e));
		}
		text += n;
		left -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(partial);
		return ret_fail(err, RET_RUNTIME, "%s: fsync failed: %s", partial, strerror(errno));
	}
	/* link() refuses an existing name where rename() would replace it: never overwrite. */
	if (link(partial, path) != 0) {
		int e = errno;

		unlink(partial);
		return ret_fail(err, RET_RUNTIME, "%s: %s", path,
		                e == EEXIST ? "already exists; refusing to overwrite" : strerror(e));
	}
	unlink(partial);
	return RET_OK;
}

/* The manifest, completed with what only the finished file knows. */
static ret_code
write_manifest(archive_segment *seg, const char *sha256, ret_error *err)
{
	char path[PATH_MAX + 32];
	char num[32];
	char when[40];
	struct tm tm;
	time_t now = time(NULL);
	cJSON *columns;
	char *text;
	ret_code rc;

	snprintf(num, sizeof(num), "%lld", (long long)seg->bytes);
	cJSON_AddItemToObject(seg->manifest, "bytes", cJSON_CreateRaw(num));
	cJSON_AddStringToObject(seg->manifest, "sha256", sha256);
	columns = header_columns(seg->header ? seg->header : "", seg->header_len);
	if (columns)
		cJSON_AddItemToObject(seg->manifest, "columns", columns);
	else
		cJSON_AddNullToObject(seg->manifest, "columns");
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(seg->manifest, "written_at", when);
	text = cJSON_Print(seg->manifest);
	if (text == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	snprintf(path, sizeof(path), "%s%s", seg->final, ARCHIVE_MANIFEST_SUFFIX);
	rc = write_file_durably(seg->dir, path, text, err);
	cJSON_free(text);
	return rc;
}

ret_code
archive_segment_finish(archive_segment *seg, char sha256[65], int64_t *bytes, ret_error *err)
{
	ret_code rc;

	/* Finish the gzip stream and make the bytes durable under the partial name. */
	seg->z.next_in = NULL;
	seg->z.avail_in = 0;
	rc = pump(seg, Z_FINISH, err);
	if (rc == RET_OK && fsync(seg->fd) != 0)
		rc = ret_fail(err, RET_RUNTIME, "%s: fsync failed: %s", seg->partial, strerror(errno));
	if (rc != RET_OK) {
		archive_segment_abort(seg);
		return rc;
	}
	deflateEnd(&seg->z);
	close(seg->fd);
	seg->fd = -1;
	sha256_final_hex(seg->sha, sha256);
	seg->sha = NULL;
	*bytes = seg->bytes;

	/* The manifest before the segment's name: a named segment always has one. */
	if (seg->manifest)
		rc = write_manifest(seg, sha256, err);

	/* Then the name: rename is atomic, and the directory fsync makes it stick. */
	if (rc == RET_OK && rename(seg->partial, seg->final) != 0)
		rc = ret_fail(err, RET_RUNTIME, "%s: rename failed: %s", seg->final, strerror(errno));
	if (rc == RET_OK)
		rc = fsync_dir(seg->dir, err);
	else
		unlink(seg->partial);
	cJSON_Delete(seg->manifest);
	free(seg->header);
	free(seg);
	return rc;
}

void
archive_segment_abort(archive_segment *seg)
{
	if (seg == NULL)
		return;
	deflateEnd(&seg->z);
	if (seg->fd >= 0)
		close(seg->fd);
	unlink(seg->partial);
	sha256_free(seg->sha);
	cJSON_Delete(seg->manifest);
	free(seg->header);
	free(seg);
}

/* Extracts the run ID from "<class>-<uuid>-<batch>.csv.gz" (or its partial name). */
static bool
run_id_of(const char *class_name, const char *name, char run_id[37])
{
	size_t cl = strlen(class_name);

	if (name[0] == '.')
		name++;
	if (strncmp(name, class_name, cl) != 0 || name[cl] != '-' || strlen(name + cl + 1) < 37)
		return false;
	memcpy(run_id, name + cl + 1, 36);
	run_id[36] = '\0';
	return name[cl + 1 + 36] == '-';
}

ret_code
archive_set_aside_orphans(PGconn *conn, const char *dir, const char *class_name,
                          const char *run_id, int dry_run, archive_orphan_fn fn, void *arg,
                          ret_error *err)
{
	char class_dir[PATH_MAX];
	char orphan_dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	ret_code rc = RET_OK;

	snprintf(class_dir, sizeof(class_dir), "%s/%s", dir, class_name);
	snprintf(orphan_dir, sizeof(orphan_dir), "%s/orphans/%s", dir, run_id);
	d = opendir(class_dir);
	if (d == NULL)
		return errno == ENOENT ? RET_OK
		                       : ret_fail(err, RET_RUNTIME, "%s: cannot list: %s", class_dir,
		                                  strerror(errno));
	while (rc == RET_OK && (de = readdir(d)) != NULL) {
		char file_run[37];
		char rel[PATH_MAX];
		char from[PATH_MAX * 2];
		char to[PATH_MAX * 2];
		char to_rel[PATH_MAX];
		const char *params[2];
		PGresult *res = NULL;
		bool known_run;
		bool in_ledger;
		const char *name = de->d_name;
		size_t nl = strlen(name);
		bool partial = nl > strlen(PARTIAL_SUFFIX) &&
		               strcmp(name + nl - strlen(PARTIAL_SUFFIX), PARTIAL_SUFFIX) == 0;

		if (!run_id_of(class_name, name, file_run))
			continue;

		/* Only runs this database knows; a file of another origin is not ours to move. */
		params[0] = file_run;
		rc = db_query(conn, "orphan scan",
		              "SELECT EXISTS (SELECT 1 FROM retention.runs WHERE run_id::text = $1)", 1,
		              params, &res, err);
		if (rc != RET_OK)
			break;
		known_run = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (!known_run)
			continue;

		snprintf(rel, sizeof(rel), "%s/%s", class_name, name);
		in_ledger = false;
		if (!partial) {
			/* A manifest belongs to its segment: the ledger names the segment. */
			char seg_rel[PATH_MAX];
			size_t rl = strlen(rel), ml = strlen(ARCHIVE_MANIFEST_SUFFIX);

			snprintf(seg_rel, sizeof(seg_rel), "%s", rel);
			if (rl > ml && strcmp(rel + rl - ml, ARCHIVE_MANIFEST_SUFFIX) == 0)
				seg_rel[rl - ml] = '\0';
			params[0] = seg_rel;
			rc = db_query(conn, "orphan scan",
			              "SELECT EXISTS (SELECT 1 FROM retention.archive_segments"
			              " WHERE file_name = $1)",
			              1, params, &res, err);
			if (rc != RET_OK)
				break;
			in_ledger = PQgetvalue(res, 0, 0)[0] == 't';
			PQclear(res);
		}
		if (in_ledger)
			continue;

		/* Not vouched for by any commit: move it aside, never delete it. */
		snprintf(to_rel, sizeof(to_rel), "orphans/%s/%s", run_id,
		         name[0] == '.' ? name + 1 : name);
		snprintf(from, sizeof(from), "%s/%s", class_dir, name);
		snprintf(to, sizeof(to), "%s/%s", dir, to_rel);
		if (!dry_run) {
			rc = archive_mkdirs(orphan_dir, err);
			if (rc != RET_OK)
				break;
			if (rename(from, to) != 0) {
				rc = ret_fail(err, RET_RUNTIME, "%s: cannot move aside: %s", from,
				              strerror(errno));
				break;
			}
		}
		if (fn)
			fn(arg, rel, to_rel, NULL);
	}
	closedir(d);
	if (rc == RET_OK && !dry_run)
		rc = fsync_dir(class_dir, err);
	if (rc == RET_OK && !dry_run && access(orphan_dir, F_OK) == 0)
		rc = fsync_dir(orphan_dir, err);
	return rc;
}

/* True when name is a run ID as uuid_unparse_lower writes it. */
static bool
is_run_id(const char *name)
{
	if (strlen(name) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? name[i] != '-' : strchr("0123456789abcdef", name[i]) == NULL)
			return false;
	}
	return true;
}

/* Moves every file of orphans/<mover>/ into orphans/<run_id>/, then removes the empty dir. */
static ret_code
rehome_dir(const char *dir, const char *mover, const char *run_id, archive_orphan_fn fn,
           void *arg, ret_error *err)
{
	char from_dir[PATH_MAX], to_dir[PATH_MAX];
	struct dirent **names = NULL;
	ret_code rc = RET_OK;
	int count;

	snprintf(from_dir, sizeof(from_dir), "%s/orphans/%s", dir, mover);
	snprintf(to_dir, sizeof(to_dir), "%s/orphans/%s", dir, run_id);
	count = scandir(from_dir, &names, NULL, alphasort);
	if (count < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot list: %s", from_dir, strerror(errno));
	rc = archive_mkdirs(to_dir, err);
	for (int i = 0; i < count && rc == RET_OK; i++) {
		const char *name = names[i]->d_name;
		char from[PATH_MAX * 2], to[PATH_MAX * 2], from_rel[PATH_MAX], to_rel[PATH_MAX];

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", from_dir, name);
		snprintf(to, sizeof(to), "%s/%s", to_dir, name);
		/* Names carry their run and batch, so a clash means something else is going on. */
		if (access(to, F_OK) == 0) {
			rc = ret_fail(err, RET_RUNTIME, "%s: cannot move aside: %s exists", from, to);
			break;
		}
		if (rename(from, to) != 0) {
			rc = ret_fail(err, RET_RUNTIME, "%s: cannot move aside: %s", from,
			              strerror(errno));
			break;
		}
		snprintf(from_rel, sizeof(from_rel), "orphans/%s/%s", mover, name);
		snprintf(to_rel, sizeof(to_rel), "orphans/%s/%s", run_id, name);
		if (fn)
			fn(arg, from_rel, to_rel, mover);
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (rc == RET_OK)
		rc = fsync_dir(to_dir, err);
	if (rc == RET_OK && rmdir(from_dir) != 0)
		rc = ret_fail(err, RET_RUNTIME, "%s: cannot remove the emptied directory: %s",
		              from_dir, strerror(errno));
	return rc;
}

ret_code
archive_rehome_orphans(PGconn *conn, const char *dir, const char *run_id, archive_orphan_fn fn,
                       void *arg, ret_error *err)
{
	char orphans[PATH_MAX];
	struct dirent **names = NULL;
	ret_code rc = RET_OK;
	bool moved = false;
	int count;

	snprintf(orphans, sizeof(orphans), "%s/orphans", dir);
	count = scandir(orphans, &names, NULL, alphasort);
	if (count < 0)
		return errno == ENOENT ? RET_OK
		                       : ret_fail(err, RET_RUNTIME, "%s: cannot list: %s", orphans,
		                                  strerror(errno));
	for (int i = 0; i < count && rc == RET_OK; i++) {
		const char *mover = names[i]->d_name;
		const char *params[1] = {mover};
		PGresult *res = NULL;
		bool unreported;

		if (!is_run_id(mover) || strcmp(mover, run_id) == 0)
			continue;
		/* Only a run this ledger knows, that is over and whose report never reached it. */
		rc = db_query(conn, "orphans without a report",
		              "SELECT EXISTS (SELECT 1 FROM retention.runs WHERE run_id::text = $1"
		              " AND status <> 'running' AND report_sha256 IS NULL)",
		              1, params, &res, err);
		if (rc != RET_OK)
			break;
		unreported = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (!unreported)
			continue;
		rc = rehome_dir(dir, mover, run_id, fn, arg, err);
		moved = true;
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (rc == RET_OK && moved)
		rc = fsync_dir(orphans, err);
	return rc;
}
