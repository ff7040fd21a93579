/*
 * hash.h - Reloader's content hash of ConfigMaps, Secrets and SPC statuses
 *
 * Bit for bit as Reloader (docs/reloader.md §4.1): lower-case hex SHA-1
 * over the "k=v" strings of an object, sorted bytewise as whole strings
 * (Go's sort.Strings, not by key) and joined with ';'. ConfigMap: .data
 * values as is, .binaryData values re-encoded as padded standard base64,
 * both in one list. Secret: .data values are base64 in JSON; they are
 * decoded and the raw bytes hashed. SecretProviderClassPodStatus:
 * "id=version" of each status.objects entry plus
 * "SecretProviderClassName=<name>". An empty or missing data map hashes to
 * sha1("") (RL_HASH_EMPTY). Separators are not escaped: the collisions
 * listed in the same section are kept on purpose (they change env var
 * values otherwise).
 *
 * Secrets: decoded values and the pre-image are wiped with rl_wipe()
 * before return, on every path; nothing derived from them but the digest
 * survives the call.
 *
 * Input: the object as cJSON, as the API returns it (the whole object, not
 * its .data). A value of the wrong JSON type, or bad base64, is RL_EPARSE
 * and *out is left all zero.
 *
 * Inside the process a digest is a struct rl_sha1, 20 bytes compared with
 * rl_sha1_eq(); it becomes the 40 lower-case hex digits Reloader writes
 * (env var values, annotations) only where it meets such text:
 * rl_sha1_hex() and rl_sha1_from_hex().
 *
 * Threads: pure, any thread.
 */
#ifndef RL_HASH_H
#define RL_HASH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define RL_HASH_HEX_SIZE 41     /* 40 hex digits and a NUL */
#define RL_HASH_SIZE 20         /* the SHA-1 itself */

/* A SHA-1 digest, a value: copy it, compare it with rl_sha1_eq(). */
struct rl_sha1 {
    unsigned char b[RL_HASH_SIZE];
};

/* sha1("") */
#define RL_HASH_EMPTY "da39a3ee5e6b4b0d3255bfef95601890afd80709"
/* sha1("__RELOADER_EMPTY_DELETE_MARKER__"): annotations strategy on delete */
#define RL_HASH_DELETE_MARKER "aae45badef99284e4dae01d6046154ea9d99532f"
#define RL_HASH_DELETE_MARKER_INPUT "__RELOADER_EMPTY_DELETE_MARKER__"

/* Go's GenerateSHA(): hex SHA-1 of len bytes at data. */
void rl_hash_sha1_hex(const void *data, size_t len, char out[RL_HASH_HEX_SIZE]);

/* A ConfigMap object: .data and .binaryData. */
int rl_hash_configmap(const cJSON *cm, struct rl_sha1 *out);

/* A Secret object: base64-decoded .data; decoded bytes are wiped. */
int rl_hash_secret(const cJSON *secret, struct rl_sha1 *out);

/* A SecretProviderClassPodStatus object: .status. */
int rl_hash_spc_pod_status(const cJSON *obj, struct rl_sha1 *out);

/* The SHA-1 of len bytes at data. */
void rl_sha1_of(const void *data, size_t len, struct rl_sha1 *out);

static inline bool rl_sha1_eq(const struct rl_sha1 *a, const struct rl_sha1 *b)
{
    for (int i = 0; i < RL_HASH_SIZE; i++)
        if (a->b[i] != b->b[i])
            return false;
    return true;
}

/* The 2n lower-case hex digits of the n bytes at in, NUL-terminated (out holds 2n + 1). */
void rl_hex_lower(const void *in, size_t n, char *out);

/* True if s is 40 lower-case hex digits. */
bool rl_hash_is_hex(const char *s);

/* The 40 lower-case hex digits of a SHA-1, and back (false, all zero, unless rl_hash_is_hex). */
void rl_sha1_hex(const struct rl_sha1 *h, char out[RL_HASH_HEX_SIZE]);
bool rl_sha1_from_hex(const char *hex, struct rl_sha1 *out);

/*
 * Standard base64 with '=' padding (Go's base64.StdEncoding). Decode is
 * strict (padding required, canonical trailing bits not required, '\r'
 * and '\n' skipped as Go does); it returns RL_EPARSE on bad input and
 * writes at most rl_base64_decoded_max(len) bytes into out.
 */
size_t rl_base64_encoded_len(size_t len);
size_t rl_base64_decoded_max(size_t len);
void rl_base64_encode(const unsigned char *in, size_t len, char *out); /* NUL-terminates */
int rl_base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif /* RL_HASH_H */
