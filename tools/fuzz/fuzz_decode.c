/*
 * fuzz_decode.c - the API client's decoders under arbitrary bytes
 *
 * The first byte picks a decoder: a Status body of an error response, an
 * RFC 3339 timestamp (exec credential expiry), or the typed JSON getters
 * walking an arbitrary object along paths taken from the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube-int.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void status(const char *s, size_t len)
{
    char reason[64], message[512];

    rl__kube_parse_status(s, len, 500, reason, sizeof(reason), message, sizeof(message));
    if (strnlen(reason, sizeof(reason)) == sizeof(reason) ||
        strnlen(message, sizeof(message)) == sizeof(message) || !message[0])
        abort();
}

static void timestamp(const char *s, size_t len)
{
    char *z = rl_xstrndup(s, len);
    int64_t us = 0;

    if (rl_parse_rfc3339(z, &us) == 0) {
        char out[32];

        rl_format_rfc3339(us, out);
        if (strnlen(out, sizeof(out)) == sizeof(out))
            abort();
    }
    free(z);
}

static void getters(const char *s, size_t len)
{
    const char *nl = memchr(s, '\n', len);
    char *path;
    cJSON *root;

    if (!nl)
        return;
    path = rl_xstrndup(s, (size_t)(nl - s));
    root = cJSON_ParseWithLength(nl + 1, len - (size_t)(nl + 1 - s));
    (void)rl_json_path(root, path);
    (void)rl_json_str(root, path);
    (void)rl_json_int(root, path, 0);
    (void)rl_json_bool(root, path, false);
    (void)rl_json_arr(rl_json_obj(root, "metadata"), "items");
    if (root) {
        char *printed = rl_json_print(root);

        free(printed);
    }
    cJSON_Delete(root);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        status((const char *)data + 1, size - 1);
        break;
    case 1:
        timestamp((const char *)data + 1, size - 1);
        break;
    default:
        getters((const char *)data + 1, size - 1);
        break;
    }
    return 0;
}
