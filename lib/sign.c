/* SHA-256 and Ed25519 through libcrypto's EVP interface. */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct signing_key {
	EVP_PKEY *pkey;
};

struct sha256_ctx {
	EVP_MD_CTX *md;
};

static void
to_hex(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

void
sha256_hex(const unsigned char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	to_hex(md, mdlen, out);
}

sha256_ctx *
sha256_new(void)
{
	sha256_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
		sha256_free(ctx);
		return NULL;
	}
	return ctx;
}

void
sha256_update(sha256_ctx *ctx, const void *data, size_t len)
{
	EVP_DigestUpdate(ctx->md, data, len);
}

void
sha256_final_hex(sha256_ctx *ctx, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_DigestFinal_ex(ctx->md, md, &mdlen);
	to_hex(md, mdlen, out);
	sha256_free(ctx);
}

void
sha256_free(sha256_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

ret_code
sha256_file_hex(const char *path, char out[65], ret_error *err)
{
	unsigned char buf[65536];
	sha256_ctx *ctx;
	FILE *f;
	size_t n;

	f = fopen(path, "rb");
	if (f == NULL)
		return ret_fail(err, RET_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
	ctx = sha256_new();
	if (ctx == NULL) {
		fclose(f);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(ctx, buf, n);
	if (ferror(f)) {
		fclose(f);
		sha256_free(ctx);
		return ret_fail(err, RET_RUNTIME, "%s: read error", path);
	}
	fclose(f);
	sha256_final_hex(ctx, out);
	return RET_OK;
}

/* Keeps OpenSSL's error queue from leaking into the next caller's view. */
static const char *
openssl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static ret_code
load_pem(const char *path, bool private_key, signing_key **out, ret_error *err)
{
	ret_code fail = private_key ? RET_GUARD : RET_USAGE;
	signing_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	struct stat st;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return ret_fail(err, fail, "%s: cannot open %s key: %s", path,
		                private_key ? "signing" : "public", strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return ret_fail(err, fail, "%s: key is not a regular file", path);
	}
	if (private_key && (st.st_mode & 077) != 0) {
		fclose(f);
		ret_fail(err, RET_GUARD, "%s: signing key is readable by group or others (mode %04o)",
		         path, (unsigned)(st.st_mode & 07777));
		ret_hint(err, "chmod 600 the key file, or mount the secret with defaultMode 0400");
		return RET_GUARD;
	}
	if (private_key)
		pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else
		pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL)
		return ret_fail(err, fail, "%s: not a PEM %s key: %s", path,
		                private_key ? "private" : "public", openssl_reason());
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return ret_fail(err, fail, "%s: key is not an Ed25519 key", path);
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		EVP_PKEY_free(pkey);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	key->pkey = pkey;
	*out = key;
	return RET_OK;
}

ret_code
signing_key_load(const char *path, signing_key **out, ret_error *err)
{
	return load_pem(path, true, out, err);
}

ret_code
signing_key_load_public(const char *path, signing_key **out, ret_error *err)
{
	return load_pem(path, false, out, err);
}

void
signing_key_free(signing_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

void
signing_key_fingerprint(const signing_key *key, char out[80])
{
	unsigned char *der = NULL;
	char hex[65];
	int len;

	len = i2d_PUBKEY(key->pkey, &der);
	if (len <= 0) {
		snprintf(out, 80, "unknown");
		return;
	}
	sha256_hex(der, (size_t)len, hex);
	OPENSSL_free(der);
	snprintf(out, 80, "sha256:%s", hex);
}

ret_code
signing_key_sign(const signing_key *key, const unsigned char *data, size_t len,
                 unsigned char sig[SIGNATURE_BYTES], ret_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = SIGNATURE_BYTES;
	ret_code rc = RET_OK;

	if (md == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	/* Ed25519 signs the message itself: no digest is named. */
	if (EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, data, len) != 1 || siglen != SIGNATURE_BYTES)
		rc = ret_fail(err, RET_RUNTIME, "signing failed: %s", openssl_reason());
	EVP_MD_CTX_free(md);
	return rc;
}

bool
signing_key_verify(const signing_key *key, const unsigned char *data, size_t len,
                   const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	if (md == NULL)
		return false;
	ok = sig_len == SIGNATURE_BYTES && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

/* Opens path for writing with mode, failing if it exists. */
static FILE *
create_exclusive(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return NULL;
	fchmod(fd, mode); /* the umask must not widen or narrow it */
	return fdopen(fd, "wb");
}

ret_code
signing_keygen(const char *private_path, const char *public_path, ret_error *err)
{
	EVP_PKEY *pkey = NULL;
	FILE *priv = NULL;
	FILE *pub = NULL;
	ret_code rc = RET_OK;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL)
		return ret_fail(err, RET_RUNTIME, "key generation failed: %s", openssl_reason());

	priv = create_exclusive(private_path, 0600);
	if (priv == NULL) {
		rc = ret_fail(err, RET_USAGE, "%s: cannot create private key: %s", private_path,
		              strerror(errno));
		goto done;
	}
	pub = create_exclusive(public_path, 0644);
	if (pub == NULL) {
		rc = ret_fail(err, RET_USAGE, "%s: cannot create public key: %s", public_path,
		              strerror(errno));
		fclose(priv);
		priv = NULL;
		unlink(private_path);
		goto done;
	}
	if (PEM_write_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_PUBKEY(pub, pkey) != 1)
		rc = ret_fail(err, RET_RUNTIME, "cannot write key: %s", openssl_reason());
	if (fflush(priv) != 0 || fsync(fileno(priv)) != 0 || fflush(pub) != 0)
		rc = ret_fail(err, RET_RUNTIME, "cannot write key: %s", strerror(errno));

done:
	if (priv)
		fclose(priv);
	if (pub)
		fclose(pub);
	EVP_PKEY_free(pkey);
	return rc;
}

struct signing_keyring {
	signing_key **keys;
	char (*fingerprints)[80];
	int n;
};

signing_keyring *
signing_keyring_new(void)
{
	return calloc(1, sizeof(signing_keyring));
}

ret_code
signing_keyring_add(signing_keyring *ring, const char *path, ret_error *err)
{
	signing_key *key = NULL;
	signing_key **keys;
	char (*fps)[80];
	ret_code rc;

	rc = signing_key_load_public(path, &key, err);
	if (rc != RET_OK)
		return rc;
	keys = realloc(ring->keys, (size_t)(ring->n + 1) * sizeof(*keys));
	if (keys != NULL)
		ring->keys = keys;
	fps = realloc(ring->fingerprints, (size_t)(ring->n + 1) * sizeof(*fps));
	if (fps != NULL)
		ring->fingerprints = fps;
	if (keys == NULL || fps == NULL) {
		signing_key_free(key);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	ring->keys[ring->n] = key;
	signing_key_fingerprint(key, ring->fingerprints[ring->n]);
	ring->n++;
	return RET_OK;
}

const signing_key *
signing_keyring_find(const signing_keyring *ring, const char *fingerprint)
{
	if (ring == NULL || fingerprint == NULL)
		return NULL;
	for (int i = 0; i < ring->n; i++)
		if (strcmp(ring->fingerprints[i], fingerprint) == 0)
			return ring->keys[i];
	return NULL;
}

int
signing_keyring_count(const signing_keyring *ring)
{
	return ring ? ring->n : 0;
}

void
signing_keyring_free(signing_keyring *ring)
{
	if (ring == NULL)
		return;
	for (int i = 0; i < ring->n; i++)
		signing_key_free(ring->keys[i]);
	free(ring->keys);
	free(ring->fingerprints);
	free(ring);
}
