#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);

    cr_assert(j != NULL, "bad fixture %s", s);
    return j;
}

/* The digest's hex as Reloader writes it; "" on an error, whose digest must be all zero. */
static int as_hex(int (*fn)(const cJSON *, struct rl_sha1 *), const cJSON *j,
                  char out[RL_HASH_HEX_SIZE])
{
    static const struct rl_sha1 zero;
    struct rl_sha1 h;
    int err = fn(j, &h);

    if (err) {
        cr_assert(rl_sha1_eq(&h, &zero), "a failed hash leaves its digest all zero");
        out[0] = '\0';
        return err;
    }
    rl_sha1_hex(&h, out);
    return 0;
}

#define cm_hex(j, out) as_hex(rl_hash_configmap, (j), (out))
#define secret_hex(j, out) as_hex(rl_hash_secret, (j), (out))
#define spc_hex(j, out) as_hex(rl_hash_spc_pod_status, (j), (out))

static void check_cm(const char *json, const char *want)
{
    char out[RL_HASH_HEX_SIZE];
    cJSON *cm = parse(json);

    cr_assert(eq(int, cm_hex(cm, out), 0), "%s", json);
    cr_assert(eq(str, out, (char *)want), "%s", json);
    cJSON_Delete(cm);
}

static void check_secret(const char *json, const char *want)
{
    char out[RL_HASH_HEX_SIZE];
    cJSON *s = parse(json);

    cr_assert(eq(int, secret_hex(s, out), 0), "%s", json);
    cr_assert(eq(str, out, (char *)want), "%s", json);
    cJSON_Delete(s);
}

Test(hash, generate_sha_www_stakater_com)
{
    char out[RL_HASH_HEX_SIZE];

    rl_hash_sha1_hex("www.stakater.com", 16, out);
    cr_assert(eq(str, out, "abd4ed82fb04548388a6cf3c339fd9dc84d275df"));
}

Test(hash, delete_marker_and_empty)
{
    char out[RL_HASH_HEX_SIZE];

    rl_hash_sha1_hex(RL_HASH_DELETE_MARKER_INPUT, strlen(RL_HASH_DELETE_MARKER_INPUT), out);
    cr_assert(eq(str, out, "aae45badef99284e4dae01d6046154ea9d99532f"));
    cr_assert(eq(str, out, RL_HASH_DELETE_MARKER));
    rl_hash_sha1_hex("", 0, out);
    cr_assert(eq(str, out, RL_HASH_EMPTY));
    cr_assert(eq(str, out, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

Test(hash, configmap_vectors)
{
    check_cm("{\"data\":{\"test\":\"test\"}}", "b3cefbcce711f8574b0e66c41fc1dcf06eb5b6db");
    check_cm("{\"data\":{\"key\":\"value\"}}", "dc30e0faa89a70dec1033016a2309bbeb9efcbd0");
    check_cm("{\"metadata\":{\"name\":\"x\"},\"data\":{\"test\":\"test\"},"
             "\"binaryData\":{\"bintest\":\"dGVzdA==\"}}",
             "0d58150de76a895b24f4ca213f590766160c4349");
    check_cm("{\"binaryData\":{\"bin\":\"AAE=\"}}", "14df3111bd21ae67fbf5e22f21fc59e3a3976291");
}

Test(hash, configmap_sorts_whole_strings_not_keys)
{
    /* "a-b=2" < "a=1" because '-' (0x2d) < '=' (0x3d). */
    check_cm("{\"data\":{\"a\":\"1\",\"a-b\":\"2\"}}", "c84ab684ba8b31449f333adb8a148da918699967");
    check_cm("{\"data\":{\"a-b\":\"2\",\"a\":\"1\"}}", "c84ab684ba8b31449f333adb8a148da918699967");
}

Test(hash, configmap_empty_and_missing_data)
{
    check_cm("{}", RL_HASH_EMPTY);
    check_cm("{\"data\":{}}", RL_HASH_EMPTY);
    check_cm("{\"data\":null,\"binaryData\":null}", RL_HASH_EMPTY);
}

Test(hash, configmap_known_ambiguities_are_kept)
{
    char a[RL_HASH_HEX_SIZE], b[RL_HASH_HEX_SIZE];
    cJSON *x = parse("{\"data\":{\"a\":\"\"}}");
    cJSON *y = parse("{\"binaryData\":{\"a\":\"\"}}");

    cr_assert(eq(int, cm_hex(x, a), 0));
    cr_assert(eq(int, cm_hex(y, b), 0));
    cr_assert(eq(str, a, b));
    cJSON_Delete(x);
    cJSON_Delete(y);
    /* "a=1;b=2" either way. */
    x = parse("{\"data\":{\"a\":\"1;b=2\"}}");
    y = parse("{\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
    cr_assert(eq(int, cm_hex(x, a), 0));
    cr_assert(eq(int, cm_hex(y, b), 0));
    cr_assert(eq(str, a, b));
    cJSON_Delete(x);
    cJSON_Delete(y);
}

Test(hash, configmap_utf8_values_hash_as_bytes)
{
    char want[RL_HASH_HEX_SIZE];
    const char pre[] = "k=h\xc3\xa9llo";

    rl_hash_sha1_hex(pre, strlen(pre), want);
    check_cm("{\"data\":{\"k\":\"h\\u00e9llo\"}}", want);
}

Test(hash, configmap_rejects_wrong_types)
{
    char out[RL_HASH_HEX_SIZE];
    const char *bad[] = {
        "{\"data\":{\"a\":1}}",
        "{\"data\":[]}",
        "{\"binaryData\":{\"a\":\"not base64!\"}}",
        "{\"binaryData\":{\"a\":\"AAE\"}}",
        "[]",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *j = parse(bad[i]);

        cr_assert(eq(int, cm_hex(j, out), RL_EPARSE), "%s", bad[i]);
        cr_assert(eq(str, out, ""));
        cJSON_Delete(j);
    }
    cr_assert(eq(int, cm_hex(NULL, out), RL_EPARSE));
}

Test(hash, secret_vectors_hash_raw_bytes)
{
    /* "c2VjcmV0" is base64("secret"). */
    check_secret("{\"data\":{\"password\":\"c2VjcmV0\"}}",
                 "878830dc19ac17a15b189cad83b7809975bc525e");
    check_secret("{\"type\":\"Opaque\"}", RL_HASH_EMPTY);
}

Test(hash, secret_with_nul_bytes_and_sorting)
{
    char want[RL_HASH_HEX_SIZE];
    /* b=\0\1 and a-b=x: "a-b=x;b=\0\1" */
    const unsigned char pre[] = { 'a', '-', 'b', '=', 'x', ';', 'b', '=', 0, 1 };

    rl_hash_sha1_hex(pre, sizeof(pre), want);
    check_secret("{\"data\":{\"b\":\"AAE=\",\"a-b\":\"eA==\"}}", want);
}

Test(hash, secret_rejects_bad_base64)
{
    char out[RL_HASH_HEX_SIZE];
    cJSON *j = parse("{\"data\":{\"password\":\"c2VjcmV0=\"}}");

    cr_assert(eq(int, secret_hex(j, out), RL_EPARSE));
    cJSON_Delete(j);
}

Test(hash, spc_pod_status_vector)
{
    char out[RL_HASH_HEX_SIZE];
    cJSON *j = parse("{\"status\":{\"secretProviderClassName\":\"my-spc\","
                     "\"objects\":[{\"id\":\"secret/password\",\"version\":\"v1\"}]}}");

    cr_assert(eq(int, spc_hex(j, out), 0));
    cr_assert(eq(str, out, "fb6920c4cb0a155ac970eb6f6049bef371105ac8"));
    cJSON_Delete(j);
}

Test(hash, base64_round_trip_and_strictness)
{
    unsigned char raw[256], dec[400];
    char enc[400];
    size_t n;

    for (size_t len = 0; len < 40; len++) {
        for (size_t i = 0; i < len; i++)
            raw[i] = (unsigned char)(i * 37 + len);
        rl_base64_encode(raw, len, enc);
        cr_assert(eq(sz, strlen(enc), rl_base64_encoded_len(len)));
        cr_assert(eq(int, rl_base64_decode(enc, strlen(enc), dec, &n), 0));
        cr_assert(eq(sz, n, len));
        cr_assert(memcmp(raw, dec, len) == 0);
    }
    cr_assert(eq(int, rl_base64_decode("dGVz\ndA==", 9, dec, &n), 0));
    cr_assert(eq(sz, n, 4));
    cr_assert(eq(int, rl_base64_decode("dGVzdA=", 7, dec, &n), RL_EPARSE));
    cr_assert(eq(int, rl_base64_decode("dGVzdA===", 9, dec, &n), RL_EPARSE));
    cr_assert(eq(int, rl_base64_decode("dA==dA==", 8, dec, &n), RL_EPARSE));
    cr_assert(eq(int, rl_base64_decode("d===", 4, dec, &n), RL_EPARSE));
    cr_assert(eq(int, rl_base64_decode("dGVzd", 5, dec, &n), RL_EPARSE));
}

Test(hash, is_hex)
{
    cr_assert(rl_hash_is_hex(RL_HASH_EMPTY));
    cr_assert(not(rl_hash_is_hex("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709")));
    cr_assert(not(rl_hash_is_hex("da39")));
    cr_assert(not(rl_hash_is_hex(NULL)));
}

Test(hash, hex_round_trip_and_refusals)
{
    static const struct rl_sha1 zero;
    struct rl_sha1 sha1, back;
    char hex[RL_HASH_HEX_SIZE], again[RL_HASH_HEX_SIZE];

    rl_hash_sha1_hex("reloadd", 7, hex);
    cr_assert(rl_sha1_from_hex(hex, &sha1));
    rl_sha1_hex(&sha1, again);
    cr_assert(eq(str, again, hex));
    rl_sha1_of("reloadd", 7, &back);
    cr_assert(rl_sha1_eq(&sha1, &back));
    for (int i = 0; i < RL_HASH_SIZE; i++)
        sha1.b[i] = (unsigned char)(i * 13 + 7);
    rl_sha1_hex(&sha1, hex);
    cr_assert(rl_sha1_from_hex(hex, &back));
    cr_assert(rl_sha1_eq(&sha1, &back));
    back.b[RL_HASH_SIZE - 1] ^= 1;
    cr_assert(not(rl_sha1_eq(&sha1, &back)));
    /* Not 40 lower-case hex digits: refused, all zero. */
    cr_assert(not(rl_sha1_from_hex("AAAA", &back)));
    cr_assert(not(rl_sha1_from_hex(RL_HASH_EMPTY "0", &back)));
    hex[0] = 'G';
    cr_assert(not(rl_sha1_from_hex(hex, &back)));
    cr_assert(rl_sha1_eq(&back, &zero));
}
