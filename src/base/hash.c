/* hash.c - Reloader's content hash of ConfigMaps, Secrets and SPC statuses */
#include "reloadd/base/hash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

/* One "k=v" pre-image string; may hold NUL bytes (Secret values). */
struct item {
    unsigned char *p;
    size_t len;
};

struct items {
    struct item *v;
    size_t n;
    size_t alloc;
    bool secret;            /* wipe every byte before freeing */
};

_Static_assert(RL_HASH_SIZE == SHA_DIGEST_LENGTH, "a SHA-1 is 20 bytes");

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rl_hex_lower(const void *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = in;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void rl_sha1_hex(const struct rl_sha1 *h, char out[RL_HASH_HEX_SIZE])
{
    rl_hex_lower(h->b, RL_HASH_SIZE, out);
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool rl_sha1_from_hex(const char *hex, struct rl_sha1 *out)
{
    memset(out, 0, RL_HASH_SIZE);
    if (!rl_hash_is_hex(hex))
        return false;
    for (size_t i = 0; i < RL_HASH_SIZE; i++)
        out->b[i] = (unsigned char)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
    return true;
}

void rl_sha1_of(const void *data, size_t len, struct rl_sha1 *out)
{
    SHA1(data, len, out->b);
}

void rl_hash_sha1_hex(const void *data, size_t len, char out[RL_HASH_HEX_SIZE])
{
    struct rl_sha1 h;

    rl_sha1_of(data, len, &h);
    rl_sha1_hex(&h, out);
}

bool rl_hash_is_hex(const char *s)
{
    size_t i;

    if (!s)
        return false;
    for (i = 0; s[i]; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return i == RL_HASH_HEX_SIZE - 1;
}

size_t rl_base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

size_t rl_base64_decoded_max(size_t len)
{
    return len / 4 * 3 + 3;
}

void rl_base64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;

        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;

        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Go's base64.StdEncoding.Decode: groups of four, '=' padding only in the
 * last group, '\r' and '\n' ignored anywhere, trailing bits not checked.
 */
int rl_base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    unsigned quad[4] = { 0 };
    size_t q = 0, o = 0, i;
    bool pad = false;
    int err = RL_EPARSE;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int v;

        if (c == '\r' || c == '\n')
            continue;
        if (pad) {
            /* Only more '=' (completing the group) may follow padding. */
            if (c != '=' || q == 0)
                goto out;
            q++;
            if (q == 4)
                q = 0;
            continue;
        }
        if (c == '=') {
            if (q < 2)
                goto out;
            pad = true;
            out[o++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
            if (q == 3)
                out[o++] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
            q++;
            if (q == 4)
                q = 0;
            continue;
        }
        v = b64_value(c);
        if (v < 0)
            goto out;
        quad[q++] = (unsigned)v;
        if (q == 4) {
            out[o++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
            out[o++] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
            out[o++] = (unsigned char)(quad[2] << 6 | quad[3]);
            q = 0;
        }
    }
    if (q != 0)
        goto out;                       /* unpadded or truncated group */
    *outlen = o;
    err = 0;
out:
    rl_wipe(quad, sizeof(quad));
    return err;
}

static void items_push(struct items *it, const char *key, const void *val, size_t vlen)
{
    size_t klen = strlen(key);
    struct item *x;

    if (it->n == it->alloc) {
        it->alloc = it->alloc ? it->alloc * 2 : 16;
        it->v = rl_xreallocarray(it->v, it->alloc, sizeof(*it->v));
    }
    x = &it->v[it->n++];
    x->len = klen + 1 + vlen;
    x->p = rl_xmalloc(x->len + 1);
    memcpy(x->p, key, klen);
    x->p[klen] = '=';
    if (vlen)
        memcpy(x->p + klen + 1, val, vlen);
    x->p[x->len] = '\0';
}

static void items_release(struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        if (it->secret)
            rl_wipe(it->v[i].p, it->v[i].len);
        free(it->v[i].p);
    }
    free(it->v);
    it->v = NULL;
    it->n = it->alloc = 0;
}

/* Go's sort.Strings: bytewise, a proper prefix first. */
static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);

    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void items_digest(struct items *it, struct rl_sha1 *out)
{
    unsigned char *pre;
    size_t total = 0, o = 0;

    if (it->n)
        qsort(it->v, it->n, sizeof(*it->v), item_cmp);
    for (size_t i = 0; i < it->n; i++)
        total += it->v[i].len + (i ? 1 : 0);
    pre = rl_xmalloc(total + 1);
    for (size_t i = 0; i < it->n; i++) {
        if (i)
            pre[o++] = ';';
        memcpy(pre + o, it->v[i].p, it->v[i].len);
        o += it->v[i].len;
    }
    rl_sha1_of(pre, total, out);
    if (it->secret)
        rl_wipe(pre, total + 1);
    free(pre);
}

/* A base64 JSON value (Go []byte): decoded into a fresh buffer. */
static int decode_bytes(const cJSON *v, unsigned char **outp, size_t *outlen)
{
    const char *s;
    size_t slen;
    unsigned char *buf;
    int err;

    *outp = NULL;
    *outlen = 0;
    if (cJSON_IsNull(v))
        return 0;                       /* null: an empty value, as Go */
    if (!cJSON_IsString(v))
        return RL_EPARSE;
    s = v->valuestring;
    slen = strlen(s);
    buf = rl_xmalloc(rl_base64_decoded_max(slen) + 1);
    err = rl_base64_decode(s, slen, buf, outlen);
    if (err) {
        rl_wipe(buf, rl_base64_decoded_max(slen) + 1);
        free(buf);
        *outlen = 0;
        return err;
    }
    *outp = buf;
    return 0;
}

int rl_hash_configmap(const cJSON *cm, struct rl_sha1 *out)
{
    struct items it = { 0 };
    const cJSON *data = rl_json_get(cm, "data");
    const cJSON *bin = rl_json_get(cm, "binaryData");
    const cJSON *e;
    int err = RL_EPARSE;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(cm))
        goto out;
    if ((data && !cJSON_IsObject(data) && !cJSON_IsNull(data)) ||
        (bin && !cJSON_IsObject(bin) && !cJSON_IsNull(bin)))
        goto out;
    if (!cJSON_IsObject(data))
        data = NULL;
    cJSON_ArrayForEach(e, data) {
        if (cJSON_IsNull(e)) {
            items_push(&it, e->string, "", 0);
            continue;
        }
        if (!cJSON_IsString(e))
            goto out;
        items_push(&it, e->string, e->valuestring, strlen(e->valuestring));
    }
    if (!cJSON_IsObject(bin))
        bin = NULL;
    cJSON_ArrayForEach(e, bin) {
        unsigned char *raw;
        size_t rawlen;
        char *enc;

        if (decode_bytes(e, &raw, &rawlen))
            goto out;
        /* Re-encode: Go hashes base64.StdEncoding of the decoded bytes. */
        enc = rl_xmalloc(rl_base64_encoded_len(rawlen) + 1);
        rl_base64_encode(raw, rawlen, enc);
        items_push(&it, e->string, enc, strlen(enc));
        free(enc);
        free(raw);
    }
    items_digest(&it, out);
    err = 0;
out:
    items_release(&it);
    return err;
}

int rl_hash_secret(const cJSON *secret, struct rl_sha1 *out)
{
    struct items it = { .secret = true };
    const cJSON *data = rl_json_get(secret, "data");
    const cJSON *e;
    int err = RL_EPARSE;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(secret))
        goto out;
    if (data && !cJSON_IsObject(data) && !cJSON_IsNull(data))
        goto out;
    if (!cJSON_IsObject(data))
        data = NULL;
    cJSON_ArrayForEach(e, data) {
        unsigned char *raw;
        size_t rawlen;

        if (decode_bytes(e, &raw, &rawlen))
            goto out;
        items_push(&it, e->string, raw, rawlen);
        if (raw) {
            rl_wipe(raw, rawlen);
            free(raw);
        }
    }
    items_digest(&it, out);
    err = 0;
out:
    items_release(&it);
    return err;
}

int rl_hash_spc_pod_status(const cJSON *obj, struct rl_sha1 *out)
{
    struct items it = { 0 };
    const cJSON *status = rl_json_obj(obj, "status");
    const cJSON *objects = rl_json_get(status, "objects");
    const char *spc = rl_json_str_or(status, "secretProviderClassName", "");
    const cJSON *e;
    int err = RL_EPARSE;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(obj))
        goto out;
    if (objects && !cJSON_IsArray(objects) && !cJSON_IsNull(objects))
        goto out;
    if (!cJSON_IsArray(objects))
        objects = NULL;
    cJSON_ArrayForEach(e, objects) {
        const char *id = rl_json_str_or(e, "id", "");
        const char *ver = rl_json_str_or(e, "version", "");

        if (!cJSON_IsObject(e))
            goto out;
        items_push(&it, id, ver, strlen(ver));
    }
    items_push(&it, "SecretProviderClassName", spc, strlen(spc));
    items_digest(&it, out);
    err = 0;
out:
    items_release(&it);
    return err;
}
