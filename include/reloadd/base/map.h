/*
 * map.h - string-keyed hash map (open addressing, linear probing)
 *
 * Keys are copied in and owned by the map; values are opaque pointers the
 * caller owns. Deletion uses backward-shift, so there are no tombstones and
 * lookups stay short after churn. Iteration order is unspecified; the map
 * must not be modified while iterating.
 *
 * Threads: none; callers lock.
 */
#ifndef RL_MAP_H
#define RL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_map_slot {
    char *key;          /* NULL: empty slot */
    uint64_t hash;
    void *value;
};

struct rl_map {
    struct rl_map_slot *_slots;
    size_t _cap;        /* power of two, or 0 */
    size_t len;         /* read-only */
};

#define RL_MAP_INIT { NULL, 0, 0 }

uint64_t rl_hash_str(const char *s);            /* FNV-1a 64 */

void rl_map_init(struct rl_map *m);
/* Frees the keys and the table; calls free_value(value) for each if given. */
void rl_map_release(struct rl_map *m, void (*free_value)(void *));

void *rl_map_get(const struct rl_map *m, const char *key);
bool rl_map_has(const struct rl_map *m, const char *key);
/* Sets key to value; returns the value it replaces (or NULL). */
void *rl_map_put(struct rl_map *m, const char *key, void *value);
/* Removes key; returns its value (or NULL). */
void *rl_map_del(struct rl_map *m, const char *key);
/*
 * Removes every member drop(ctx, key, value) says to drop, in one pass, and
 * returns how many went. drop() is called once per member; on true the
 * value is the caller's to free (the key is freed after the call).
 */
typedef bool rl_map_drop_fn(void *ctx, const char *key, void *value);
size_t rl_map_del_if(struct rl_map *m, rl_map_drop_fn *drop, void *ctx);
/* The key as stored in the map (stable until the entry is removed). */
const char *rl_map_key(const struct rl_map *m, const char *key);

/*
 * Iteration: for (size_t i = 0; rl_map_next(m, &i, &k, &v);) { ... }
 */
bool rl_map_next(const struct rl_map *m, size_t *iter, const char **key, void **value);

#endif /* RL_MAP_H */
