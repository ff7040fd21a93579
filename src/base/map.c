/* map.c - string-keyed hash map (open addressing, linear probing) */
#include "reloadd/base/map.h"

#include <stdlib.h>
#include <string.h>

#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

uint64_t rl_hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    /* FNV's low bits mix poorly; fold the high half in (we mask by cap). */
    return h ^ (h >> 32);
}

void rl_map_init(struct rl_map *m)
{
    m->_slots = NULL;
    m->_cap = 0;
    m->len = 0;
}

void rl_map_release(struct rl_map *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->_cap; i++) {
        if (!m->_slots[i].key)
            continue;
        free(m->_slots[i].key);
        if (free_value)
            free_value(m->_slots[i].value);
    }
    free(m->_slots);
    rl_map_init(m);
}

static size_t find(const struct rl_map *m, const char *key, uint64_t h, bool *found)
{
    size_t mask = m->_cap - 1;
    size_t i = (size_t)h & mask;

    for (;;) {
        const struct rl_map_slot *s = &m->_slots[i];

        if (!s->key) {
            *found = false;
            return i;
        }
        if (s->hash == h && strcmp(s->key, key) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(struct rl_map *m)
{
    struct rl_map_slot *old = m->_slots;
    size_t old_cap = m->_cap;

    m->_cap = old_cap ? old_cap * 2 : 8;
    m->_slots = rl_xcalloc(m->_cap, sizeof(*m->_slots));
    for (size_t i = 0; i < old_cap; i++) {
        bool found;
        size_t j;

        if (!old[i].key)
            continue;
        j = find(m, old[i].key, old[i].hash, &found);
        m->_slots[j] = old[i];
    }
    free(old);
}

void *rl_map_get(const struct rl_map *m, const char *key)
{
    bool found;
    size_t i;

    if (!m->len)
        return NULL;
    i = find(m, key, rl_hash_str(key), &found);
    return found ? m->_slots[i].value : NULL;
}

bool rl_map_has(const struct rl_map *m, const char *key)
{
    bool found = false;

    if (m->len)
        find(m, key, rl_hash_str(key), &found);
    return found;
}

const char *rl_map_key(const struct rl_map *m, const char *key)
{
    bool found;
    size_t i;

    if (!m->len)
        return NULL;
    i = find(m, key, rl_hash_str(key), &found);
    return found ? m->_slots[i].key : NULL;
}

void *rl_map_put(struct rl_map *m, const char *key, void *value)
{
    uint64_t h = rl_hash_str(key);
    bool found;
    size_t i;
    void *old;

    /* Keep the load factor at or below 3/4. */
    if ((m->len + 1) * 4 > m->_cap * 3)
        grow(m);
    i = find(m, key, h, &found);
    if (found) {
        old = m->_slots[i].value;
        m->_slots[i].value = value;
        return old;
    }
    m->_slots[i].key = rl_xstrdup(key);
    m->_slots[i].hash = h;
    m->_slots[i].value = value;
    m->len++;
    return NULL;
}

/* Empties slot i, pulling later members of its probe run into the hole. */
static void del_at(struct rl_map *m, size_t i)
{
    size_t mask = m->_cap - 1, j = i;

    free(m->_slots[i].key);
    m->_slots[i].key = NULL;
    m->len--;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!m->_slots[j].key)
            break;
        home = (size_t)m->_slots[j].hash & mask;
        /* Move j to i unless its home lies cyclically in (i, j]. */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            m->_slots[i] = m->_slots[j];
            m->_slots[j].key = NULL;
            i = j;
        }
    }
}

void *rl_map_del(struct rl_map *m, const char *key)
{
    bool found;
    size_t i;
    void *old;

    if (!m->len)
        return NULL;
    i = find(m, key, rl_hash_str(key), &found);
    if (!found)
        return NULL;
    old = m->_slots[i].value;
    del_at(m, i);
    return old;
}

size_t rl_map_del_if(struct rl_map *m, rl_map_drop_fn *drop, void *ctx)
{
    size_t mask, start = 0, n = 0;

    if (!m->len)
        return 0;
    mask = m->_cap - 1;
    /*
     * Start after an empty slot (there is one: the load stays at or below
     * 3/4). A backward shift never crosses an empty slot, so it only pulls
     * members not visited yet into the hole: each member is seen once.
     */
    while (m->_slots[start].key)
        start++;
    for (size_t k = 1; k < m->_cap;) {
        size_t i = (start + k) & mask;
        struct rl_map_slot *s = &m->_slots[i];

        if (s->key && drop(ctx, s->key, s->value)) {
            del_at(m, i);
            n++;
            continue;               /* slot i may hold a member shifted back: look again */
        }
        k++;
    }
    return n;
}

bool rl_map_next(const struct rl_map *m, size_t *iter, const char **key, void **value)
{
    while (*iter < m->_cap) {
        const struct rl_map_slot *s = &m->_slots[(*iter)++];

        if (s->key) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            return true;
        }
    }
    return false;
}
