/*
 * json.h - typed, NULL-safe getters over cJSON
 *
 * Each getter takes a possibly-NULL object and returns the fallback (or
 * NULL) when the member is missing or of another type, so decoders read as
 * a list of fields without a check per step. rl_json_path() follows a
 * dot-separated path of object members ("spec.template.metadata").
 *
 * Returned pointers are borrowed from the tree. Threads: any (pure).
 */
#ifndef RL_JSON_H
#define RL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Routes cJSON's allocations through rl_xmalloc (call once, in main). */
void rl_json_init_hooks(void);

const cJSON *rl_json_get(const cJSON *obj, const char *key);
const cJSON *rl_json_path(const cJSON *obj, const char *dotted);
const char *rl_json_str(const cJSON *obj, const char *key);        /* NULL if absent */
const char *rl_json_str_or(const cJSON *obj, const char *key, const char *fallback);
int64_t rl_json_int(const cJSON *obj, const char *key, int64_t fallback);
bool rl_json_bool(const cJSON *obj, const char *key, bool fallback);
const cJSON *rl_json_obj(const cJSON *obj, const char *key);       /* NULL unless an object */
const cJSON *rl_json_arr(const cJSON *obj, const char *key);       /* NULL unless an array */

/* Prints compactly into a fresh string (caller frees). */
char *rl_json_print(const cJSON *item);
/*
 * A 64-bit digest (FNV-1a) of a tree: keys, types, values and order. Equal
 * trees digest equally; a change of any value changes it (up to collisions).
 * NULL digests as an empty tree. Not cryptographic.
 */
uint64_t rl_json_digest(const cJSON *item);

#endif /* RL_JSON_H */
