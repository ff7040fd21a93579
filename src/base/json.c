/* json.c - typed, NULL-safe getters over cJSON */
#include "reloadd/base/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/mem.h"
#include "reloadd/base/secmem.h"
#include "reloadd/base/banned.h"

void rl_json_init_hooks(void)
{
    cJSON_Hooks hooks = { .malloc_fn = rl_xmalloc, .free_fn = rl_free_wiped };

    cJSON_InitHooks(&hooks);
}

const cJSON *rl_json_get(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const cJSON *rl_json_path(const cJSON *obj, const char *dotted)
{
    char key[128];

    while (obj && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);

        if (n >= sizeof(key))
            return NULL;
        memcpy(key, dotted, n);
        key[n] = '\0';
        obj = rl_json_get(obj, key);
        dotted += n + (dot ? 1 : 0);
    }
    return obj;
}

const char *rl_json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = rl_json_get(obj, key);

    return cJSON_IsString(it) ? it->valuestring : NULL;
}

const char *rl_json_str_or(const cJSON *obj, const char *key, const char *fallback)
{
    const char *s = rl_json_str(obj, key);

    return s ? s : fallback;
}

int64_t rl_json_int(const cJSON *obj, const char *key, int64_t fallback)
{
    const cJSON *it = rl_json_get(obj, key);

    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return fallback;
    if (it->valuedouble >= 9.2e18 || it->valuedouble <= -9.2e18)
        return fallback;
    return (int64_t)it->valuedouble;
}

bool rl_json_bool(const cJSON *obj, const char *key, bool fallback)
{
    const cJSON *it = rl_json_get(obj, key);

    return cJSON_IsBool(it) ? cJSON_IsTrue(it) : fallback;
}

const cJSON *rl_json_obj(const cJSON *obj, const char *key)
{
    const cJSON *it = rl_json_get(obj, key);

    return cJSON_IsObject(it) ? it : NULL;
}

const cJSON *rl_json_arr(const cJSON *obj, const char *key)
{
    const cJSON *it = rl_json_get(obj, key);

    return cJSON_IsArray(it) ? it : NULL;
}

char *rl_json_print(const cJSON *item)
{
    return cJSON_PrintUnformatted(item);
}

static uint64_t digest_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t digest_walk(uint64_t h, const cJSON *it, unsigned depth)
{
    unsigned char type = (unsigned char)(it->type & 0xff);

    h = digest_bytes(h, &type, 1);
    if (it->string)
        h = digest_bytes(h, it->string, strlen(it->string) + 1);
    if (cJSON_IsString(it) && it->valuestring)
        h = digest_bytes(h, it->valuestring, strlen(it->valuestring) + 1);
    else if (cJSON_IsNumber(it))
        h = digest_bytes(h, &it->valuedouble, sizeof(it->valuedouble));
    /* cJSON's parser limits nesting (CJSON_NESTING_LIMIT); so does this walk. */
    if (depth < 1000)
        for (const cJSON *c = it->child; c; c = c->next)
            h = digest_walk(h, c, depth + 1);
    h = digest_bytes(h, "}", 1);
    return h;
}

uint64_t rl_json_digest(const cJSON *item)
{
    uint64_t h = 14695981039346656037ULL;

    return item ? digest_walk(h, item, 0) : h;
}
