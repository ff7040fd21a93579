/* workload.c - the compact workload model reconcile works from */
#include "reloadd/reload/workload.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/reload/budget.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/progress.h"
#include "reloadd/reload/window.h"
#include "reloadd/base/banned.h"

#define MAX_ITEMS 65535u
#define NO_STR SIZE_MAX

/*
 * While decoding, strings live in one rl_buf and are named by offset; the
 * final layout copies everything into a single block and turns offsets
 * into pointers. Equal strings are stored once.
 */
struct b_kv { size_t k, v; };
struct b_volref { uint16_t vol; uint8_t type, via; size_t name; };
struct b_envref { uint16_t c; uint8_t type, via; size_t name; };
struct b_marker { uint16_t c; size_t name, value; };
struct b_applied { uint8_t type; size_t name, hash; };

#define ARR(T) struct { T *v; size_t n, alloc; }

struct builder {
    struct rl_buf strs;
    struct rl_map seen;                 /* string -> offset + 1 */
    struct rl_map volnames;             /* volume name -> index + 1 */
    ARR(struct b_kv) meta, pod;
    ARR(size_t) containers;
    ARR(struct b_volref) volrefs;
    ARR(struct rl_mount) mounts;
    ARR(struct b_envref) envrefs;
    ARR(struct b_marker) markers;
    ARR(struct b_applied) applied;
    size_t n_init;
    size_t ns, name, uid, rv, lrf_name, lrf_hash, rollouts;
    const char *ns_interned;
    bool lrf_valid, applied_invalid, has_record;
    int64_t pending_since_s;
    uint8_t lrf_type;
    int err;                            /* first error, sticky */
};

#define PUSH(b, arr, ...)                                                   \
    do {                                                                    \
        if ((arr).n >= MAX_ITEMS) {                                         \
            (b)->err = (b)->err ? (b)->err : RL_ETOOBIG;                    \
            break;                                                          \
        }                                                                   \
        if ((arr).n == (arr).alloc) {                                       \
            (arr).alloc = (arr).alloc ? (arr).alloc * 2 : 4;                \
            (arr).v = rl_xreallocarray((arr).v, (arr).alloc, sizeof(*(arr).v)); \
        }                                                                   \
        (arr).v[(arr).n++] = (__typeof__(*(arr).v))__VA_ARGS__;             \
    } while (0)

static const char *const type_upper[RL_SOURCE_COUNT] = {
    "CONFIGMAP", "SECRET", "SECRETPROVIDERCLASS",
};
static const char *const type_lower[RL_SOURCE_COUNT] = {
    "configmap", "secret", "secretproviderclass",
};

const char *rl_source_type_upper(enum rl_source_type t)
{
    return (unsigned)t < RL_SOURCE_COUNT ? type_upper[t] : "UNKNOWN";
}

const char *rl_source_type_lower(enum rl_source_type t)
{
    return (unsigned)t < RL_SOURCE_COUNT ? type_lower[t] : "unknown";
}

bool rl_source_type_parse_lower(const char *s, size_t len, enum rl_source_type *out)
{
    for (int t = 0; t < RL_SOURCE_COUNT; t++) {
        if (strlen(type_lower[t]) == len && memcmp(s, type_lower[t], len) == 0) {
            *out = (enum rl_source_type)t;
            return true;
        }
    }
    return false;
}

static bool parse_type_upper(const char *s, uint8_t *out)
{
    for (int t = 0; s && t < RL_SOURCE_COUNT; t++) {
        if (strcmp(s, type_upper[t]) == 0) {
            *out = (uint8_t)t;
            return true;
        }
    }
    return false;
}

void rl_workload_keys_init(struct rl_workload_keys *k, const struct rl_policy *pol)
{
    const char *keys[] = {
        pol->key.configmap_reload, pol->key.secret_reload, pol->key.auto_all,
        pol->key.configmap_auto, pol->key.secret_auto,
        pol->key.search, pol->key.pause_period,
        pol->key.paused_at, RL_ANN_SPC_RELOAD, RL_ANN_SPC_AUTO,
        RL_ANN_CM_EXCLUDE, RL_ANN_SECRET_EXCLUDE, RL_ANN_SPC_EXCLUDE,
        RL_ANN_ROLLOUT_STRATEGY, RL_ANN_LAST_RELOADED_FROM,
    };

    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (keys[i] && *keys[i] && k->n < RL_WORKLOAD_MAX_KEYS)
            k->keys[k->n++] = keys[i];
    }
    k->prefix = pol->key.prefix;
    k->applied_key = pol->key.applied;
}

/* ---- decoding ---------------------------------------------------------- */

static size_t str_add(struct builder *b, const char *s)
{
    void *v;
    size_t off;

    if (!s)
        return NO_STR;
    v = rl_map_get(&b->seen, s);
    if (v)
        return (size_t)(uintptr_t)v - 1;
    off = b->strs.len;
    if (rl_buf_add(&b->strs, s, strlen(s) + 1)) {
        b->err = b->err ? b->err : RL_ETOOBIG;
        return NO_STR;
    }
    rl_map_put(&b->seen, s, (void *)(uintptr_t)(off + 1));
    return off;
}

static bool key_wanted(const struct rl_workload_keys *k, const char *key)
{
    size_t plen;

    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->keys[i], key) == 0)
            return true;
    }
    if (k->prefix && (plen = strlen(k->prefix)) > 0 &&
        strncmp(key, k->prefix, plen) == 0 && key[plen] == '/')
        return true;
    return false;
}

static void parse_applied(struct builder *b, const char *value)
{
    cJSON *j = cJSON_Parse(value);
    const cJSON *e;

    if (!cJSON_IsObject(j)) {
        b->applied_invalid = true;
        goto out;
    }
    cJSON_ArrayForEach(e, j) {
        const char *slash = strchr(e->string, '/');
        enum rl_source_type t;

        if (strcmp(e->string, RL_APPLIED_ROLLOUTS_KEY) == 0) {
            if (cJSON_IsString(e) && rl_rollouts_valid(e->valuestring))
                b->rollouts = str_add(b, e->valuestring);
            else
                b->applied_invalid = true;
            continue;
        }
        if (strcmp(e->string, RL_APPLIED_PENDING_KEY) == 0) {
            const char *v = cJSON_IsString(e) ? e->valuestring : "";
            char *end = NULL;
            long long at = *v >= '1' && *v <= '9' ? strtoll(v, &end, 10) : 0;

            if (at > 0 && end && !*end && at < RL_WINDOW_PENDING_MAX)
                b->pending_since_s = at;
            else
                b->applied_invalid = true;
            continue;
        }
        if (!slash || !slash[1] || !cJSON_IsString(e) || !rl_hash_is_hex(e->valuestring) ||
            !rl_source_type_parse_lower(e->string, (size_t)(slash - e->string), &t)) {
            b->applied_invalid = true;  /* keep the entries that do parse */
            continue;
        }
        PUSH(b, b->applied, { (uint8_t)t, str_add(b, slash + 1), str_add(b, e->valuestring) });
    }
out:
    cJSON_Delete(j);
}

static void parse_lrf(struct builder *b, const char *value)
{
    cJSON *j = cJSON_Parse(value);
    const char *name = rl_json_str(j, "name");
    const char *hash = rl_json_str(j, "hash");

    if (cJSON_IsObject(j) && name && hash &&
        parse_type_upper(rl_json_str(j, "type"), &b->lrf_type)) {
        b->lrf_valid = true;
        b->lrf_name = str_add(b, name);
        b->lrf_hash = str_add(b, hash);
    }
    cJSON_Delete(j);
}

static void decode_annotations(struct builder *b, const cJSON *ann,
                               const struct rl_workload_keys *k, bool pod)
{
    const cJSON *e;

    if (!cJSON_IsObject(ann))
        return;
    cJSON_ArrayForEach(e, ann) {
        if (!cJSON_IsString(e) || !e->string || !key_wanted(k, e->string))
            continue;
        if (pod && strcmp(e->string, RL_ANN_LAST_RELOADED_FROM) == 0) {
            parse_lrf(b, e->valuestring);
            continue;
        }
        if (!pod && k->applied_key && strcmp(e->string, k->applied_key) == 0) {
            b->has_record = true;
            parse_applied(b, e->valuestring);
            continue;
        }
        if (pod)
            PUSH(b, b->pod, { str_add(b, e->string), str_add(b, e->valuestring) });
        else
            PUSH(b, b->meta, { str_add(b, e->string), str_add(b, e->valuestring) });
    }
}

static void add_volref(struct builder *b, size_t vi, enum rl_source_type t,
                       enum rl_ref_via via, const char *name)
{
    if (!name || !*name)
        return;
    PUSH(b, b->volrefs, { (uint16_t)vi, (uint8_t)t, (uint8_t)via, str_add(b, name) });
}

static void decode_volumes(struct builder *b, const cJSON *vols)
{
    const cJSON *v;
    size_t vi = 0;

    if (!cJSON_IsArray(vols))
        return;
    cJSON_ArrayForEach(v, vols) {
        const char *vname = rl_json_str(v, "name");
        const cJSON *src;
        size_t before = b->volrefs.n;

        if (vi >= MAX_ITEMS) {
            b->err = RL_ETOOBIG;
            return;
        }
        add_volref(b, vi, RL_SOURCE_CONFIGMAP, RL_VIA_VOLUME,
                   rl_json_str(rl_json_obj(v, "configMap"), "name"));
        add_volref(b, vi, RL_SOURCE_SECRET, RL_VIA_VOLUME,
                   rl_json_str(rl_json_obj(v, "secret"), "secretName"));
        cJSON_ArrayForEach(src, rl_json_arr(rl_json_obj(v, "projected"), "sources")) {
            add_volref(b, vi, RL_SOURCE_CONFIGMAP, RL_VIA_PROJECTED,
                       rl_json_str(rl_json_obj(src, "configMap"), "name"));
            add_volref(b, vi, RL_SOURCE_SECRET, RL_VIA_PROJECTED,
                       rl_json_str(rl_json_obj(src, "secret"), "name"));
        }
        add_volref(b, vi, RL_SOURCE_SPC, RL_VIA_CSI,
                   rl_json_str(rl_json_obj(rl_json_obj(v, "csi"), "volumeAttributes"),
                               "secretProviderClass"));
        /* Only volumes that reference a source matter for mounts. */
        if (b->volrefs.n > before && vname && !rl_map_has(&b->volnames, vname))
            rl_map_put(&b->volnames, vname, (void *)(uintptr_t)(vi + 1));
        vi++;
    }
}

static bool is_marker_name(const char *n)
{
    static const char *const suffix[] = { "_CONFIGMAP", "_SECRET", "_SECRETPROVIDERCLASS" };
    size_t len = strlen(n);

    if (strncmp(n, "STAKATER_", 9) != 0)
        return false;
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffix[i]);

        if (len >= 9 + sl && strcmp(n + len - sl, suffix[i]) == 0)
            return true;
    }
    return false;
}

static void decode_container(struct builder *b, const cJSON *c, size_t ci)
{
    const cJSON *e;

    PUSH(b, b->containers, str_add(b, rl_json_str_or(c, "name", "")));
    cJSON_ArrayForEach(e, rl_json_arr(c, "volumeMounts")) {
        const char *vname = rl_json_str(e, "name");
        void *vi = vname ? rl_map_get(&b->volnames, vname) : NULL;

        if (vi)
            PUSH(b, b->mounts, { (uint16_t)ci, (uint16_t)((uintptr_t)vi - 1) });
    }
    cJSON_ArrayForEach(e, rl_json_arr(c, "env")) {
        const cJSON *from = rl_json_obj(e, "valueFrom");
        const char *ename = rl_json_str(e, "name");
        const char *cm = rl_json_str(rl_json_obj(from, "configMapKeyRef"), "name");
        const char *sec = rl_json_str(rl_json_obj(from, "secretKeyRef"), "name");

        if (cm && *cm)
            PUSH(b, b->envrefs, { (uint16_t)ci, RL_SOURCE_CONFIGMAP, RL_VIA_ENV, str_add(b, cm) });
        if (sec && *sec)
            PUSH(b, b->envrefs, { (uint16_t)ci, RL_SOURCE_SECRET, RL_VIA_ENV, str_add(b, sec) });
        if (ename && is_marker_name(ename) && rl_json_str(e, "value"))
            PUSH(b, b->markers, { (uint16_t)ci, str_add(b, ename),
                                  str_add(b, rl_json_str(e, "value")) });
    }
    cJSON_ArrayForEach(e, rl_json_arr(c, "envFrom")) {
        const char *cm = rl_json_str(rl_json_obj(e, "configMapRef"), "name");
        const char *sec = rl_json_str(rl_json_obj(e, "secretRef"), "name");

        if (cm && *cm)
            PUSH(b, b->envrefs, { (uint16_t)ci, RL_SOURCE_CONFIGMAP, RL_VIA_ENVFROM, str_add(b, cm) });
        if (sec && *sec)
            PUSH(b, b->envrefs, { (uint16_t)ci, RL_SOURCE_SECRET, RL_VIA_ENVFROM, str_add(b, sec) });
    }
}

static void builder_release(struct builder *b)
{
    rl_buf_release(&b->strs);
    rl_map_release(&b->seen, NULL);
    rl_map_release(&b->volnames, NULL);
    free(b->meta.v);
    free(b->pod.v);
    free(b->containers.v);
    free(b->volrefs.v);
    free(b->mounts.v);
    free(b->envrefs.v);
    free(b->markers.v);
    free(b->applied.v);
}

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* One block: struct, arrays (pointer-aligned first), strings last. */
static struct rl_workload *layout(const struct builder *b, enum rl_kind kind, int64_t gen)
{
    size_t off_meta, off_pod, off_cont, off_vol, off_env, off_mark, off_app, off_mnt;
    size_t off_str, total;
    struct rl_workload *w;
    char *base, *strs;
    struct rl_kv *meta, *pod;
    const char **cont;
    struct rl_volref *vol;
    struct rl_envref *env;
    struct rl_envmarker *mark;
    struct rl_applied *app;

    off_meta = align_up(sizeof(*w), alignof(struct rl_kv));
    off_pod = off_meta + b->meta.n * sizeof(struct rl_kv);
    off_cont = off_pod + b->pod.n * sizeof(struct rl_kv);
    off_vol = align_up(off_cont + b->containers.n * sizeof(char *), alignof(struct rl_volref));
    off_env = align_up(off_vol + b->volrefs.n * sizeof(struct rl_volref), alignof(struct rl_envref));
    off_mark = align_up(off_env + b->envrefs.n * sizeof(struct rl_envref),
                        alignof(struct rl_envmarker));
    off_app = align_up(off_mark + b->markers.n * sizeof(struct rl_envmarker),
                       alignof(struct rl_applied));
    off_mnt = align_up(off_app + b->applied.n * sizeof(struct rl_applied),
                       alignof(struct rl_mount));
    off_str = off_mnt + b->mounts.n * sizeof(struct rl_mount);
    total = off_str + b->strs.len;

    base = rl_xcalloc(1, total);
    w = (struct rl_workload *)(void *)base;
    strs = base + off_str;
    if (b->strs.len)
        memcpy(strs, b->strs.buf, b->strs.len);
#define S(off) ((off) == NO_STR ? NULL : (const char *)(strs + (off)))

    meta = (struct rl_kv *)(void *)(base + off_meta);
    pod = (struct rl_kv *)(void *)(base + off_pod);
    cont = (const char **)(void *)(base + off_cont);
    vol = (struct rl_volref *)(void *)(base + off_vol);
    env = (struct rl_envref *)(void *)(base + off_env);
    mark = (struct rl_envmarker *)(void *)(base + off_mark);
    app = (struct rl_applied *)(void *)(base + off_app);
    for (size_t i = 0; i < b->meta.n; i++)
        meta[i] = (struct rl_kv){ S(b->meta.v[i].k), S(b->meta.v[i].v) };
    for (size_t i = 0; i < b->pod.n; i++)
        pod[i] = (struct rl_kv){ S(b->pod.v[i].k), S(b->pod.v[i].v) };
    for (size_t i = 0; i < b->containers.n; i++)
        cont[i] = S(b->containers.v[i]);
    for (size_t i = 0; i < b->volrefs.n; i++) {
        const struct b_volref *x = &b->volrefs.v[i];

        vol[i] = (struct rl_volref){ x->vol, x->type, x->via, S(x->name) };
    }
    for (size_t i = 0; i < b->envrefs.n; i++) {
        const struct b_envref *x = &b->envrefs.v[i];

        env[i] = (struct rl_envref){ x->c, x->type, x->via, S(x->name) };
    }
    for (size_t i = 0; i < b->markers.n; i++) {
        const struct b_marker *x = &b->markers.v[i];

        mark[i] = (struct rl_envmarker){ x->c, S(x->name), S(x->value) };
    }
    for (size_t i = 0; i < b->applied.n; i++) {
        const struct b_applied *x = &b->applied.v[i];

        app[i] = (struct rl_applied){ x->type, S(x->name), S(x->hash) };
    }
    if (b->mounts.n)
        memcpy(base + off_mnt, b->mounts.v, b->mounts.n * sizeof(struct rl_mount));

    w->kind = kind;
    w->generation = gen;
    w->ns = b->ns_interned ? b->ns_interned : S(b->ns);
    w->name = S(b->name);
    w->uid = S(b->uid);
    w->resource_version = S(b->rv);
    w->meta_ann = meta;
    w->pod_ann = pod;
    w->containers = cont;
    w->volrefs = vol;
    w->mounts = (const struct rl_mount *)(const void *)(base + off_mnt);
    w->envrefs = env;
    w->markers = mark;
    w->applied = app;
    w->n_meta_ann = (uint16_t)b->meta.n;
    w->n_pod_ann = (uint16_t)b->pod.n;
    w->n_containers = (uint16_t)(b->containers.n - b->n_init);
    w->n_init = (uint16_t)b->n_init;
    w->n_volrefs = (uint16_t)b->volrefs.n;
    w->n_mounts = (uint16_t)b->mounts.n;
    w->n_envrefs = (uint16_t)b->envrefs.n;
    w->n_markers = (uint16_t)b->markers.n;
    w->n_applied = (uint16_t)b->applied.n;
    w->lrf_valid = b->lrf_valid;
    w->lrf_type = b->lrf_type;
    w->lrf_name = b->lrf_valid ? S(b->lrf_name) : NULL;
    w->lrf_hash = b->lrf_valid ? S(b->lrf_hash) : NULL;
    w->applied_invalid = b->applied_invalid;
    w->has_record = b->has_record;
    w->rollouts = S(b->rollouts);
    w->pending_since_s = b->pending_since_s;
    w->mem_bytes = total;
#undef S
    return w;
}

int rl_workload_decode(const cJSON *obj, enum rl_kind kind,
                       const struct rl_workload_keys *keys, struct rl_workload **out)
{
    struct builder b;
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const cJSON *tmpl, *podspec, *c;
    const char *name = rl_json_str(meta, "name");
    const char *ns = rl_json_str_or(meta, "namespace", "");
    size_t ci = 0;
    int err = RL_EPARSE;

    *out = NULL;
    memset(&b, 0, sizeof(b));
    rl_buf_init(&b.strs, (size_t)1 << 24);
    rl_map_init(&b.seen);
    rl_map_init(&b.volnames);
    b.lrf_name = b.lrf_hash = b.rollouts = NO_STR;
    if (!rl_kind_valid(kind) || !name || !*name)
        goto out;

    if (keys->intern)
        b.ns_interned = keys->intern(keys->intern_ctx, ns);
    b.ns = b.ns_interned ? NO_STR : str_add(&b, ns);
    b.name = str_add(&b, name);
    b.uid = str_add(&b, rl_json_str_or(meta, "uid", ""));
    b.rv = str_add(&b, rl_json_str_or(meta, "resourceVersion", ""));
    decode_annotations(&b, rl_json_get(meta, "annotations"), keys, false);

    tmpl = rl_json_path(obj, rl_kind_info(kind)->template_path);
    decode_annotations(&b, rl_json_path(tmpl, "metadata.annotations"), keys, true);
    podspec = rl_json_obj(tmpl, "spec");
    decode_volumes(&b, rl_json_get(podspec, "volumes"));
    cJSON_ArrayForEach(c, rl_json_arr(podspec, "containers")) {
        if (ci >= MAX_ITEMS) {
            b.err = RL_ETOOBIG;
            break;
        }
        decode_container(&b, c, ci++);
    }
    cJSON_ArrayForEach(c, rl_json_arr(podspec, "initContainers")) {
        if (ci >= MAX_ITEMS) {
            b.err = RL_ETOOBIG;
            break;
        }
        decode_container(&b, c, ci++);
        b.n_init++;
    }
    if (b.err) {
        err = b.err;
        goto out;
    }
    *out = layout(&b, kind, rl_json_int(meta, "generation", 0));
    (*out)->template_digest = rl_json_digest(tmpl);
    (*out)->progress = (uint8_t)rl_progress_judge(obj, kind, 0, NULL, 0);
    err = 0;
out:
    builder_release(&b);
    return err;
}

int rl_workload_with_record(const struct rl_workload *w, const char *record,
                            struct rl_workload **out)
{
    struct builder b;
    size_t nc = (size_t)w->n_containers + w->n_init;
    int err;

    *out = NULL;
    memset(&b, 0, sizeof(b));
    rl_buf_init(&b.strs, (size_t)1 << 24);
    rl_map_init(&b.seen);
    rl_map_init(&b.volnames);
    b.lrf_name = b.lrf_hash = b.rollouts = NO_STR;
    b.ns = str_add(&b, w->ns);  /* copied: w's may be w's own, and the copy outlives w */
    b.name = str_add(&b, w->name);
    b.uid = str_add(&b, w->uid);
    b.rv = str_add(&b, w->resource_version);
    for (uint16_t i = 0; i < w->n_meta_ann; i++)
        PUSH(&b, b.meta, { str_add(&b, w->meta_ann[i].key), str_add(&b, w->meta_ann[i].value) });
    for (uint16_t i = 0; i < w->n_pod_ann; i++)
        PUSH(&b, b.pod, { str_add(&b, w->pod_ann[i].key), str_add(&b, w->pod_ann[i].value) });
    for (size_t i = 0; i < nc; i++)
        PUSH(&b, b.containers, str_add(&b, w->containers[i]));
    b.n_init = w->n_init;
    for (uint16_t i = 0; i < w->n_volrefs; i++) {
        const struct rl_volref *x = &w->volrefs[i];

        PUSH(&b, b.volrefs, { x->volume, x->type, x->via, str_add(&b, x->name) });
    }
    for (uint16_t i = 0; i < w->n_mounts; i++)
        PUSH(&b, b.mounts, w->mounts[i]);
    for (uint16_t i = 0; i < w->n_envrefs; i++) {
        const struct rl_envref *x = &w->envrefs[i];

        PUSH(&b, b.envrefs, { x->container, x->type, x->via, str_add(&b, x->name) });
    }
    for (uint16_t i = 0; i < w->n_markers; i++) {
        const struct rl_envmarker *x = &w->markers[i];

        PUSH(&b, b.markers, { x->container, str_add(&b, x->name), str_add(&b, x->value) });
    }
    b.lrf_valid = w->lrf_valid;
    b.lrf_type = w->lrf_type;
    if (w->lrf_valid) {
        b.lrf_name = str_add(&b, w->lrf_name);
        b.lrf_hash = str_add(&b, w->lrf_hash);
    }
    if (record) {
        b.has_record = true;
        parse_applied(&b, record);
    }
    err = b.err;
    if (!err) {
        *out = layout(&b, w->kind, w->generation);
        (*out)->record_in_state = record != NULL;
        (*out)->template_digest = w->template_digest;
        (*out)->progress = w->progress;
        (*out)->template_rv = w->template_rv;
        (*out)->inputs_rv = w->inputs_rv;
        (*out)->record_rv = w->record_rv;
    }
    builder_release(&b);
    return err;
}

void rl_workload_free(struct rl_workload *w)
{
    if (w)
        free(w->before_edit);
    free(w);
}

/* ---- queries ----------------------------------------------------------- */

static const char *kv_get(const struct rl_kv *kv, size_t n, const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    }
    return NULL;
}

static bool kv_equal(const struct rl_kv *a, uint16_t na, const struct rl_kv *b, uint16_t nb)
{
    if (na != nb)
        return false;
    for (uint16_t i = 0; i < na; i++)
        if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].value, b[i].value) != 0)
            return false;
    return true;
}

bool rl_workload_decides_alike(const struct rl_workload *a, const struct rl_workload *b)
{
    return a->generation == b->generation &&
           strcmp(a->uid ? a->uid : "", b->uid ? b->uid : "") == 0 &&
           kv_equal(a->meta_ann, a->n_meta_ann, b->meta_ann, b->n_meta_ann) &&
           kv_equal(a->pod_ann, a->n_pod_ann, b->pod_ann, b->n_pod_ann);
}

const char *rl_workload_meta(const struct rl_workload *w, const char *key)
{
    return kv_get(w->meta_ann, w->n_meta_ann, key);
}

const char *rl_workload_pod(const struct rl_workload *w, const char *key)
{
    return kv_get(w->pod_ann, w->n_pod_ann, key);
}

static bool mounts(const struct rl_workload *w, size_t c, uint16_t vol)
{
    for (size_t i = 0; i < w->n_mounts; i++) {
        if (w->mounts[i].container == c && w->mounts[i].volume == vol)
            return true;
    }
    return false;
}

static bool env_refs(const struct rl_workload *w, size_t c, enum rl_source_type t,
                     const char *name)
{
    for (size_t i = 0; i < w->n_envrefs; i++) {
        const struct rl_envref *e = &w->envrefs[i];

        if (e->container == c && e->type == t && strcmp(e->name, name) == 0)
            return true;
    }
    return false;
}

/* Reloader's getContainerUsingResource(), step by step (docs/reloader.md §5.3). */
int rl_workload_pick_container(const struct rl_workload *w, enum rl_source_type t,
                               const char *name, bool auto_reload)
{
    size_t total = (size_t)w->n_containers + w->n_init;
    int first = w->n_containers ? 0 : -1;

    if (!name)
        return -1;
    for (size_t i = 0; i < w->n_volrefs; i++) {
        const struct rl_volref *v = &w->volrefs[i];

        if (v->type != t || strcmp(v->name, name) != 0)
            continue;
        /* Only the first volume naming the source counts (Go returns it). */
        for (size_t c = 0; c < w->n_containers; c++) {
            if (mounts(w, c, v->volume))
                return (int)c;
        }
        for (size_t c = w->n_containers; c < total; c++) {
            if (mounts(w, c, v->volume))
                return first;
        }
        break;
    }
    for (size_t c = 0; c < w->n_containers; c++) {
        if (env_refs(w, c, t, name))
            return (int)c;
    }
    for (size_t c = w->n_containers; c < total; c++) {
        if (env_refs(w, c, t, name))
            return first;
    }
    return auto_reload ? -1 : first;
}

bool rl_workload_references(const struct rl_workload *w, enum rl_source_type t,
                            const char *name)
{
    return rl_workload_pick_container(w, t, name, true) >= 0;
}

const char *rl_workload_env_marker(const struct rl_workload *w, int c, const char *env)
{
    const char *init_hit = NULL;

    for (size_t i = 0; env && i < w->n_markers; i++) {
        const struct rl_envmarker *m = &w->markers[i];

        if (strcmp(m->name, env) != 0)
            continue;
        if (c >= 0) {
            if (m->container == c)
                return m->value;
        } else if (m->container < w->n_containers) {
            return m->value;
        } else if (!init_hit) {
            init_hit = m->value;
        }
    }
    return c >= 0 ? NULL : init_hit;
}

const char *rl_workload_applied(const struct rl_workload *w, enum rl_source_type t,
                                const char *name)
{
    for (size_t i = 0; name && i < w->n_applied; i++) {
        if (w->applied[i].type == t && strcmp(w->applied[i].name, name) == 0)
            return w->applied[i].hash;
    }
    return NULL;
}

/* Another source of w whose marker env var is also `env`? */
static bool env_name_collides(const struct rl_workload *w, enum rl_source_type t,
                              const char *name, const char *env)
{
    struct rl_buf other;
    bool hit = false;

    rl_buf_init(&other, 1024);
    for (size_t i = 0; !hit && i < (size_t)w->n_volrefs + w->n_envrefs + w->n_applied; i++) {
        uint8_t ot;
        const char *on;

        if (i < w->n_volrefs) {
            ot = w->volrefs[i].type;
            on = w->volrefs[i].name;
        } else if (i < (size_t)w->n_volrefs + w->n_envrefs) {
            ot = w->envrefs[i - w->n_volrefs].type;
            on = w->envrefs[i - w->n_volrefs].name;
        } else {
            ot = w->applied[i - w->n_volrefs - w->n_envrefs].type;
            on = w->applied[i - w->n_volrefs - w->n_envrefs].name;
        }
        if (ot != t || strcmp(on, name) == 0)
            continue;
        rl_buf_reset(&other);
        if (rl_marker_env_name(&other, t, on) == 0 && strcmp(other.buf, env) == 0)
            hit = true;
    }
    rl_buf_release(&other);
    return hit;
}

const char *rl_workload_marker(const struct rl_workload *w, enum rl_source_type t,
                               const char *name, enum rl_reload_strategy s, int c,
                               enum rl_recorded_from *from)
{
    const char *applied = rl_workload_applied(w, t, name);
    const char *marker = NULL;
    struct rl_buf env;

    *from = RL_RECORDED_NONE;
    if (s != RL_STRATEGY_ENV_VARS) {
        if (w->lrf_valid && w->lrf_type == t && strcmp(w->lrf_name, name) == 0) {
            *from = RL_RECORDED_ANNOTATION;
            return w->lrf_hash;
        }
        return NULL;
    }
    rl_buf_init(&env, 1024);
    if (c >= 0 && rl_marker_env_name(&env, t, name) == 0)
        marker = rl_workload_env_marker(w, c, env.buf);
    if (marker && applied && strcmp(marker, applied) != 0 &&
        env_name_collides(w, t, name, env.buf))
        marker = NULL;
    rl_buf_release(&env);
    if (marker)
        *from = RL_RECORDED_ENV;
    return marker;
}

const char *rl_workload_recorded(const struct rl_workload *w, enum rl_source_type t,
                                 const char *name, enum rl_reload_strategy s, int c,
                                 enum rl_recorded_from *from)
{
    const char *applied = rl_workload_applied(w, t, name);
    enum rl_recorded_from mfrom;
    const char *marker = rl_workload_marker(w, t, name, s, c, &mfrom);

    if (marker && (!applied || strcmp(marker, applied) != 0)) {
        *from = mfrom;
        return marker;
    }
    if (applied) {
        *from = RL_RECORDED_APPLIED;
        return applied;
    }
    *from = RL_RECORDED_NONE;
    return NULL;
}

static void note_source(struct rl_map *m, enum rl_source_type t, const char *name,
                        unsigned origin)
{
    char *key = rl_xasprintf("%d/%s", (int)t, name);
    uintptr_t cur = (uintptr_t)rl_map_get(m, key);

    rl_map_put(m, key, (void *)(cur | origin));
    free(key);
}

void rl_workload_each_source(const struct rl_workload *w, rl_workload_source_fn *fn,
                             void *ctx)
{
    struct rl_map m = RL_MAP_INIT;
    size_t total = (size_t)w->n_containers + w->n_init;
    const char *key;
    void *val;

    for (size_t i = 0; i < w->n_volrefs; i++) {
        for (size_t c = 0; c < total; c++) {
            if (mounts(w, c, w->volrefs[i].volume)) {
                note_source(&m, w->volrefs[i].type, w->volrefs[i].name, RL_SRC_MOUNTED);
                break;
            }
        }
    }
    for (size_t i = 0; i < w->n_envrefs; i++)
        note_source(&m, w->envrefs[i].type, w->envrefs[i].name, RL_SRC_ENV);
    for (size_t i = 0; i < w->n_applied; i++)
        note_source(&m, w->applied[i].type, w->applied[i].name, RL_SRC_APPLIED);
    if (w->lrf_valid)
        note_source(&m, w->lrf_type, w->lrf_name, RL_SRC_LRF);
    for (size_t it = 0; rl_map_next(&m, &it, &key, &val);) {
        const char *slash = strchr(key, '/');

        fn(ctx, (enum rl_source_type)(key[0] - '0'), slash + 1, (unsigned)(uintptr_t)val);
    }
    rl_map_release(&m, NULL);
}
