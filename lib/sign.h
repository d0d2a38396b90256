/*
 * Hashes and signatures, all through OpenSSL's libcrypto: SHA-256 of bytes
 * and files, Ed25519 key generation, detached signatures over a report's
 * exact bytes, and the key fingerprint written in every report.
 */
#ifndef RETENTION_SIGN_H
#define RETENTION_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define SIGNATURE_BYTES 64

typedef struct signing_key signing_key;
typedef struct sha256_ctx sha256_ctx;

/* SHA-256 of len bytes as 64 lowercase hex digits plus NUL in out[65]. */
void sha256_hex(const unsigned char *data, size_t len, char out[65]);

/* SHA-256 of a whole file, streamed; RET_RUNTIME if it cannot be read. */
ret_code sha256_file_hex(const char *path, char out[65], ret_error *err);

/* Streaming SHA-256: new, update any number of times, then final (which frees). */
sha256_ctx *sha256_new(void);
void sha256_update(sha256_ctx *ctx, const void *data, size_t len);
void sha256_final_hex(sha256_ctx *ctx, char out[65]);
void sha256_free(sha256_ctx *ctx);

/*
 * Loads an Ed25519 private key from a PEM file. Refuses (RET_GUARD) a key
 * that is missing, unreadable, not Ed25519, or readable by group or others:
 * a signing key anyone can read proves nothing.
 */
ret_code signing_key_load(const char *path, signing_key **out, ret_error *err);

/* Loads an Ed25519 public key (PEM SubjectPublicKeyInfo); RET_USAGE on failure. */
ret_code signing_key_load_public(const char *path, signing_key **out, ret_error *err);

void signing_key_free(signing_key *key);

/* SHA-256 over the DER public key, "sha256:<hex>" (fits in 80 bytes). */
void signing_key_fingerprint(const signing_key *key, char out[80]);

/* Signs len bytes; sig receives SIGNATURE_BYTES bytes. */
ret_code signing_key_sign(const signing_key *key, const unsigned char *data, size_t len,
                          unsigned char sig[SIGNATURE_BYTES], ret_error *err);

/* True when sig is a valid signature by key over data. */
bool signing_key_verify(const signing_key *key, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t sig_len);

/*
 * Writes a new Ed25519 pair: the private key to private_path (created with
 * mode 0600, never overwriting) and the public key to public_path (0644).
 */
ret_code signing_keygen(const char *private_path, const char *public_path, ret_error *err);

/*
 * A set of public keys for checking reports across a key rotation: a report
 * names its key's fingerprint, and that selects the key.
 */
typedef struct signing_keyring signing_keyring;

/* An empty keyring; NULL when out of memory. */
signing_keyring *signing_keyring_new(void);

/* Loads the public key at path into ring; RET_USAGE when it cannot be read. */
ret_code signing_keyring_add(signing_keyring *ring, const char *path, ret_error *err);

/* The key with fingerprint ("sha256:<hex>"), or NULL. */
const signing_key *signing_keyring_find(const signing_keyring *ring, const char *fingerprint);

int signing_keyring_count(const signing_keyring *ring);

/* Frees ring and its keys; accepts NULL. */
void signing_keyring_free(signing_keyring *ring);

#endif
