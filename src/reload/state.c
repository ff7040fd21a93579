/* state.c - the workload state: its codec and its table (state.h) */
#include "reloadd/reload/state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

/* ---- codec ----------------------------------------------------------------- */

unsigned rl_state_shard_of(const char *wkey)
{
    return (unsigned)(rl_hash_str(wkey) % RL_STATE_SHARDS);
}

bool rl_state_shard_name(unsigned shard, char *out, size_t len)
{
    if (shard >= RL_STATE_SHARDS)
        return false;
    return (size_t)snprintf(out, len, "%s%02u", RL_STATE_NAME_PREFIX, shard) < len;
}

bool rl_state_shard_parse(const char *name, unsigned *shard)
{
    size_t plen = strlen(RL_STATE_NAME_PREFIX);
    const char *d;
    unsigned v = 0;

    if (!name || strncmp(name, RL_STATE_NAME_PREFIX, plen) != 0)
        return false;
    d = name + plen;
    if (strlen(d) != 2 || d[0] < '0' || d[0] > '9' || d[1] < '0' || d[1] > '9')
        return false;
    v = (unsigned)(d[0] - '0') * 10 + (unsigned)(d[1] - '0');
    if (v >= RL_STATE_SHARDS)
        return false;
    *shard = v;
    return true;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.';
}

/* Maps the two '/' of a workload key to '_' (from '/' to '_', or back). */
static bool translate(const char *in, char from, char to, char *out, size_t len)
{
    size_t n = strlen(in), seps = 0;

    if (n == 0 || n > RL_STATE_KEY_MAX || n >= len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];

        if (c == from) {
            if (++seps > 2 || i == 0 || i + 1 == n || in[i - 1] == from)
                return false;
            out[i] = to;
        } else if (key_char(c)) {
            out[i] = c;
        } else {
            return false;
        }
    }
    out[n] = '\0';
    return seps == 2;
}

bool rl_state_data_key(const char *wkey, char *out, size_t len)
{
    return translate(wkey, '/', '_', out, len);
}

bool rl_state_wkey(const char *dkey, char *out, size_t len)
{
    return translate(dkey, '_', '/', out, len);
}

char *rl_state_value(const char *uid, uint64_t rv, const char *record)
{
    if (!uid || !*uid || strchr(uid, ' ') || strlen(uid) >= RL_STATE_UID_MAX || !record)
        return NULL;
    return rl_xasprintf("%s %" PRIu64 " %s", uid, rv, record);
}

bool rl_state_value_parse(const char *v, struct rl_state_entry *out)
{
    const char *sp1 = v ? strchr(v, ' ') : NULL, *sp2;
    uint64_t rv = 0;

    if (!sp1 || sp1 == v || (size_t)(sp1 - v) >= sizeof(out->uid))
        return false;
    sp2 = strchr(sp1 + 1, ' ');
    if (!sp2 || sp2 == sp1 + 1 || sp2 - sp1 > 21 || sp2[1] != '{')
        return false;
    for (const char *p = sp1 + 1; p < sp2; p++) {
        if (*p < '0' || *p > '9' || rv > (UINT64_MAX - 9) / 10)
            return false;
        rv = rv * 10 + (uint64_t)(*p - '0');
    }
    memcpy(out->uid, v, (size_t)(sp1 - v));
    out->uid[sp1 - v] = '\0';
    out->rv = rv;
    out->record = sp2 + 1;
    return true;
}

/* ---- the table ------------------------------------------------------------- */

/* A pending removal (a value no entry can have). */
static char removed_value[] = "";
#define REMOVED removed_value

struct shard {
    struct rl_map observed;         /* data key -> value (owned) */
    struct rl_map pending;          /* data key -> value (owned), or REMOVED */
    struct rl_map gone;             /* data keys of workloads seen deleted (no values) */
    size_t observed_bytes;
    size_t pending_bytes;
    bool exists;
    bool dirty;
};

struct rl_state {
    struct shard shards[RL_STATE_SHARDS];
};

static void free_value(void *v)
{
    if (v != REMOVED)
        free(v);
}

struct rl_state *rl_state_new(void)
{
    struct rl_state *st = RL_NEW(struct rl_state);

    for (unsigned i = 0; i < RL_STATE_SHARDS; i++) {
        rl_map_init(&st->shards[i].observed);
        rl_map_init(&st->shards[i].pending);
        rl_map_init(&st->shards[i].gone);
    }
    return st;
}

void rl_state_free(struct rl_state *st)
{
    if (!st)
        return;
    for (unsigned i = 0; i < RL_STATE_SHARDS; i++) {
        rl_map_release(&st->shards[i].observed, free);
        rl_map_release(&st->shards[i].pending, free_value);
        rl_map_release(&st->shards[i].gone, NULL);
    }
    free(st);
}

static const char *effective(const struct shard *sh, const char *dkey)
{
    const char *v = rl_map_get(&sh->pending, dkey);

    if (v)
        return v == REMOVED ? NULL : v;
    return rl_map_get(&sh->observed, dkey);
}

const char *rl_state_get(const struct rl_state *st, const char *wkey)
{
    char dkey[RL_STATE_KEY_MAX + 1];

    if (!rl_state_data_key(wkey, dkey, sizeof(dkey)))
        return NULL;
    return effective(&st->shards[rl_state_shard_of(wkey)], dkey);
}

static bool same_value(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void report(const char *dkey, rl_state_changed_fn *changed, void *ctx)
{
    char wkey[RL_STATE_KEY_MAX + 1];

    if (changed && rl_state_wkey(dkey, wkey, sizeof(wkey)))
        changed(ctx, wkey);
}

/* Drops the pending entries of sh that done(ctx, sh, key, value) says are done. */
typedef bool done_fn(void *ctx, const struct shard *sh, const char *dkey, const char *value);

struct drop_ctx {
    struct shard *sh;
    done_fn *done;
    void *ctx;
};

static bool drop_done(void *arg, const char *dkey, void *value)
{
    struct drop_ctx *dc = arg;

    if (!dc->done(dc->ctx, dc->sh, dkey, value))
        return false;
    if (value != REMOVED)
        dc->sh->pending_bytes -= strlen(dkey) + strlen(value);
    free_value(value);
    return true;
}

static void drop_pending(struct shard *sh, done_fn *done, void *ctx)
{
    struct drop_ctx dc = { sh, done, ctx };

    rl_map_del_if(&sh->pending, drop_done, &dc);
}

/* A pending entry the informer shows written. */
static bool written(void *ctx, const struct shard *sh, const char *dkey, const char *value)
{
    const char *now = rl_map_get(&sh->observed, dkey);

    (void)ctx;
    return value == REMOVED ? !now : same_value(now, value);
}

void rl_state_observe(struct rl_state *st, unsigned shard, const cJSON *data,
                      rl_state_changed_fn *changed, void *ctx)
{
    struct shard *sh;
    static const char unchanged[] = "";     /* old's value once moved to observed */
    struct rl_map old;
    const cJSON *e, *obj;
    char *prev;
    const char *k;
    void *v;

    if (shard >= RL_STATE_SHARDS)
        return;
    sh = &st->shards[shard];
    old = sh->observed;
    rl_map_init(&sh->observed);
    sh->observed_bytes = 0;
    sh->exists = data != NULL;
    obj = cJSON_IsObject(data) ? data : NULL;
    cJSON_ArrayForEach(e, obj) {
        char wkey[RL_STATE_KEY_MAX + 1];

        /* Only the entries of this shard: a value moved by hand elsewhere is not ours. */
        if (!cJSON_IsString(e) || !e->string || !rl_state_wkey(e->string, wkey, sizeof(wkey)) ||
            rl_state_shard_of(wkey) != shard)
            continue;
        prev = rl_map_get(&old, e->string);
        if (prev && strcmp(prev, e->valuestring) == 0) {
            /* Unchanged: moved over, not copied (a shard changes a few entries at a time). */
            rl_map_put(&sh->observed, e->string, prev);
            rl_map_put(&old, e->string, (void *)unchanged);
        } else {
            rl_map_put(&sh->observed, e->string, rl_xstrdup(e->valuestring));
        }
        sh->observed_bytes += strlen(e->string) + strlen(e->valuestring);
    }
    /* Where no pending entry hides it, an entry whose value moved is told. */
    for (size_t i = 0; rl_map_next(&old, &i, &k, &v);) {
        if (v != unchanged && !rl_map_has(&sh->pending, k) &&
            !same_value(rl_map_get(&sh->observed, k), v))
            report(k, changed, ctx);
    }
    for (size_t i = 0; rl_map_next(&sh->observed, &i, &k, &v);) {
        if (!rl_map_has(&sh->pending, k) && !rl_map_has(&old, k))
            report(k, changed, ctx);
    }
    /* Pending entries now written go: their effective value stays as it was. */
    drop_pending(sh, written, NULL);
    for (size_t i = 0; rl_map_next(&old, &i, &k, &v);)
        if (v != unchanged)
            free(v);
    rl_map_release(&old, NULL);
}

int rl_state_put(struct rl_state *st, const char *wkey, const char *value)
{
    char dkey[RL_STATE_KEY_MAX + 1];
    struct shard *sh;
    void *old;

    if (!rl_state_data_key(wkey, dkey, sizeof(dkey)))
        return RL_EINVAL;
    sh = &st->shards[rl_state_shard_of(wkey)];
    if (value && sh->observed_bytes + sh->pending_bytes + strlen(dkey) + strlen(value) >
                     RL_STATE_SHARD_MAX_BYTES)
        return RL_ETOOBIG;
    old = rl_map_put(&sh->pending, dkey, value ? rl_xstrdup(value) : REMOVED);
    if (old && old != REMOVED)
        sh->pending_bytes -= strlen(dkey) + strlen(old);
    if (value)
        sh->pending_bytes += strlen(dkey) + strlen(value);
    free_value(old);
    sh->dirty = true;
    return 0;
}

void rl_state_touch(struct rl_state *st, const char *wkey)
{
    st->shards[rl_state_shard_of(wkey)].dirty = true;
}

void rl_state_gone(struct rl_state *st, const char *wkey)
{
    char dkey[RL_STATE_KEY_MAX + 1];
    struct shard *sh;

    if (!rl_state_data_key(wkey, dkey, sizeof(dkey)))
        return;
    sh = &st->shards[rl_state_shard_of(wkey)];
    if (!rl_map_has(&sh->observed, dkey) && !rl_map_has(&sh->pending, dkey))
        return;
    rl_map_put(&sh->gone, dkey, NULL);
    sh->dirty = true;
}

void rl_state_alive(struct rl_state *st, const char *wkey)
{
    char dkey[RL_STATE_KEY_MAX + 1];
    struct shard *sh;

    if (!rl_state_data_key(wkey, dkey, sizeof(dkey)))
        return;
    sh = &st->shards[rl_state_shard_of(wkey)];
    if (sh->gone.len)
        rl_map_del(&sh->gone, dkey);
}

void rl_state_touch_shard(struct rl_state *st, unsigned shard)
{
    if (shard < RL_STATE_SHARDS)
        st->shards[shard].dirty = true;
}

void rl_state_touch_all(struct rl_state *st)
{
    for (unsigned i = 0; i < RL_STATE_SHARDS; i++)
        st->shards[i].dirty = true;
}

void rl_state_forget_pending(struct rl_state *st, rl_state_changed_fn *changed, void *ctx)
{
    for (unsigned s = 0; s < RL_STATE_SHARDS; s++) {
        struct shard *sh = &st->shards[s];
        struct rl_map gone = sh->pending;
        const char *k;
        void *v;

        rl_map_init(&sh->pending);
        sh->pending_bytes = 0;
        for (size_t i = 0; rl_map_next(&gone, &i, &k, &v);) {
            const char *now = rl_map_get(&sh->observed, k);

            if (v == REMOVED ? now != NULL : !same_value(now, v))
                report(k, changed, ctx);
        }
        rl_map_release(&gone, free_value);
    }
}

/* A deleted workload whose entry is written away: nothing left to remove. */
static bool written_away(void *arg, const char *dkey, void *value)
{
    const struct shard *sh = arg;

    (void)value;
    return !rl_map_has(&sh->observed, dkey) && !rl_map_has(&sh->pending, dkey);
}

struct keep_ctx {
    rl_state_keep_fn *keep;
    void *ctx;
};

/* A pending entry (not a removal) the caller no longer keeps. */
static bool unwanted(void *arg, const struct shard *sh, const char *dkey, const char *value)
{
    struct keep_ctx *kc = arg;
    char wkey[RL_STATE_KEY_MAX + 1];

    return value != REMOVED &&
           (rl_map_has(&sh->gone, dkey) || !rl_state_wkey(dkey, wkey, sizeof(wkey)) ||
            !kc->keep(kc->ctx, wkey, value));
}

bool rl_state_take_batch(struct rl_state *st, unsigned shard, rl_state_keep_fn *keep,
                         void *ctx, cJSON **data, bool *create)
{
    struct keep_ctx kc = { keep, ctx };
    struct shard *sh;
    cJSON *d;
    const char *k;
    void *v;

    *data = NULL;
    *create = false;
    if (shard >= RL_STATE_SHARDS || !st->shards[shard].dirty)
        return false;
    sh = &st->shards[shard];
    sh->dirty = false;
    /* Entries decided but no longer wanted go unwritten; what is observed of them goes below. */
    drop_pending(sh, unwanted, &kc);
    drop_pending(sh, written, NULL);
    rl_map_del_if(&sh->gone, written_away, sh);
    d = cJSON_CreateObject();
    for (size_t i = 0; rl_map_next(&sh->pending, &i, &k, &v);) {
        const char *now = rl_map_get(&sh->observed, k);

        if (v == REMOVED ? now != NULL : !same_value(now, v))
            cJSON_AddItemToObject(d, k, v == REMOVED ? cJSON_CreateNull() : cJSON_CreateString(v));
    }
    for (size_t i = 0; rl_map_next(&sh->observed, &i, &k, &v);) {
        char wkey[RL_STATE_KEY_MAX + 1];

        if (rl_map_has(&sh->pending, k))
            continue;               /* the pass above wrote or removed it, or it is as wanted */
        if (rl_map_has(&sh->gone, k) || !rl_state_wkey(k, wkey, sizeof(wkey)) ||
            !keep(ctx, wkey, v))
            cJSON_AddItemToObject(d, k, cJSON_CreateNull());
    }
    if (!d->child) {
        cJSON_Delete(d);
        return false;
    }
    if (!sh->exists) {
        cJSON *full = cJSON_CreateObject();
        cJSON *e;

        /* Nothing observed to remove: the members that set are the ConfigMap's data. */
        cJSON_ArrayForEach(e, d) {
            if (cJSON_IsString(e))
                cJSON_AddStringToObject(full, e->string, e->valuestring);
        }
        cJSON_Delete(d);
        d = full;
        *create = true;
        if (!d->child) {
            cJSON_Delete(d);
            return false;
        }
    }
    *data = d;
    return true;
}

void rl_state_counts(const struct rl_state *st, struct rl_state_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < RL_STATE_SHARDS; i++) {
        const struct shard *sh = &st->shards[i];

        out->entries += sh->observed.len;
        out->pending += sh->pending.len;
        out->bytes += sh->observed_bytes;
        out->shards += sh->exists;
        out->dirty += sh->dirty;
    }
}
