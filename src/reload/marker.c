/* marker.c - Reloader's markers and the bodies of every write reloadd makes */
#include "reloadd/reload/marker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/reload/budget.h"
#include "reloadd/reload/window.h"
#include "reloadd/base/banned.h"

/* ---- names ------------------------------------------------------------- */

int rl_marker_convert_env_name(struct rl_buf *out, const char *name)
{
    bool last_valid = false;
    int err = 0;

    for (const unsigned char *p = (const unsigned char *)name; !err && *p; p++) {
        unsigned char c = *p;

        /*
         * Go upper-cases with strings.ToUpper first; the only non-ASCII
         * runes that become ASCII are U+0131 (dotless i -> I) and U+017F
         * (long s -> S). Every other non-ASCII byte is a separator.
         */
        if (c == 0xc4 && p[1] == 0xb1) {
            c = 'I';
            p++;
        } else if (c == 0xc5 && p[1] == 0xbf) {
            c = 'S';
            p++;
        } else if (c >= 'a' && c <= 'z') {
            c = (unsigned char)(c - 'a' + 'A');
        }
        if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            err = rl_buf_addc(out, (char)c);
            last_valid = true;
        } else {
            if (last_valid)
                err = rl_buf_addc(out, '_');
            last_valid = false;
        }
    }
    return err;
}

int rl_marker_env_name(struct rl_buf *out, enum rl_source_type t, const char *name)
{
    int err;

    if ((unsigned)t >= RL_SOURCE_COUNT || !name)
        return RL_EINVAL;
    err = rl_buf_adds(out, "STAKATER_");
    if (!err)
        err = rl_marker_convert_env_name(out, name);
    if (!err)
        err = rl_buf_addf(out, "_%s", rl_source_type_upper(t));
    return err;
}

int rl_marker_reload_source_json(struct rl_buf *out, enum rl_source_type t,
                                 const char *name, const char *ns, const char *hash,
                                 const char *container, int64_t observed_at_s)
{
    int err = 0;

    err = err ? err : rl_buf_adds(out, "{\"type\":");
    err = err ? err : rl_buf_add_json_str(out, rl_source_type_upper(t));
    err = err ? err : rl_buf_adds(out, ",\"name\":");
    err = err ? err : rl_buf_add_json_str(out, name);
    err = err ? err : rl_buf_adds(out, ",\"namespace\":");
    err = err ? err : rl_buf_add_json_str(out, ns);
    err = err ? err : rl_buf_adds(out, ",\"hash\":");
    err = err ? err : rl_buf_add_json_str(out, hash);
    /* Go writes a nil slice as null; Reloader always has one container. */
    if (container) {
        err = err ? err : rl_buf_adds(out, ",\"containerRefs\":[");
        err = err ? err : rl_buf_add_json_str(out, container);
        err = err ? err : rl_buf_addc(out, ']');
    } else {
        err = err ? err : rl_buf_adds(out, ",\"containerRefs\":null");
    }
    err = err ? err : rl_buf_addf(out, ",\"observedAt\":%lld}", (long long)observed_at_s);
    return err;
}

/* ---- the applied record ------------------------------------------------ */

struct keyed {
    char *key;                          /* "configmap/<name>" */
    const char *hash;
};

static int keyed_cmp(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

int rl_marker_applied_json(struct rl_buf *out, const struct rl_applied_entry *e, size_t n,
                           const char *history, int64_t pending_s)
{
    struct keyed *k = n ? rl_xcalloc(n, sizeof(*k)) : NULL;
    size_t m = 0;
    int err = 0;

    for (size_t i = 0; i < n; i++) {
        if ((unsigned)e[i].type >= RL_SOURCE_COUNT || !e[i].name || !e[i].hash) {
            err = RL_EINVAL;
            goto out;
        }
        k[m].key = rl_xasprintf("%s/%s", rl_source_type_lower(e[i].type), e[i].name);
        k[m++].hash = e[i].hash;
    }
    if (m)
        qsort(k, m, sizeof(*k), keyed_cmp);
    err = rl_buf_addc(out, '{');
    if (!err && pending_s > 0)              /* "@" sorts before every "<type>/" */
        err = rl_buf_addf(out, "\"%s\":\"%lld\"", RL_APPLIED_PENDING_KEY, (long long)pending_s);
    if (!err && history && *history) {
        if (out->buf[out->len - 1] != '{')
            err = rl_buf_addc(out, ',');
        err = err ? err : rl_buf_add_json_str(out, RL_APPLIED_ROLLOUTS_KEY);
        err = err ? err : rl_buf_addc(out, ':');
        err = err ? err : rl_buf_add_json_str(out, history);
    }
    for (size_t i = 0; !err && i < m; i++) {
        if (i + 1 < m && strcmp(k[i].key, k[i + 1].key) == 0)
            continue;                   /* a duplicate: the later one wins */
        if (out->buf[out->len - 1] != '{')
            err = rl_buf_addc(out, ',');
        err = err ? err : rl_buf_add_json_str(out, k[i].key);
        err = err ? err : rl_buf_addc(out, ':');
        err = err ? err : rl_buf_add_json_str(out, k[i].hash);
    }
    err = err ? err : rl_buf_addc(out, '}');
out:
    for (size_t i = 0; i < m; i++)
        free(k[i].key);
    free(k);
    return err;
}

/* Appends "\"<key>\":\"<record json>\"" (the record as a JSON string). */
static int add_record_member(struct rl_buf *out, const char *key,
                             const struct rl_applied_entry *e, size_t n, const char *history,
                             int64_t pending_s)
{
    struct rl_buf rec;
    int err;

    rl_buf_init(&rec, 0);
    err = rl_marker_applied_json(&rec, e, n, history, pending_s);
    err = err ? err : rl_buf_add_json_str(out, key);
    err = err ? err : rl_buf_addc(out, ':');
    err = err ? err : rl_buf_add_json_str(out, rec.buf);
    rl_buf_release(&rec);
    return err;
}

/* ---- single-source bodies ---------------------------------------------- */

int rl_patch_env_var(struct rl_buf *out, const char *container, const char *env,
                     const char *value)
{
    int err = 0;

    if (!container || !env || !value)
        return RL_EINVAL;
    err = err ? err : rl_buf_adds(out, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":");
    err = err ? err : rl_buf_add_json_str(out, container);
    err = err ? err : rl_buf_adds(out, ",\"env\":[{\"name\":");
    err = err ? err : rl_buf_add_json_str(out, env);
    err = err ? err : rl_buf_adds(out, ",\"value\":");
    err = err ? err : rl_buf_add_json_str(out, value);
    err = err ? err : rl_buf_adds(out, "}]}]}}}}");
    return err;
}

int rl_patch_pod_annotation(struct rl_buf *out, const char *key, const char *value)
{
    int err = 0;

    if (!key || !value)
        return RL_EINVAL;
    err = err ? err : rl_buf_adds(out, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{");
    err = err ? err : rl_buf_add_json_str(out, key);
    err = err ? err : rl_buf_addc(out, ':');
    err = err ? err : rl_buf_add_json_str(out, value);
    err = err ? err : rl_buf_adds(out, "}}}}}");
    return err;
}

/* ---- the combined rollout patch ---------------------------------------- */

static const struct rl_marker *first_with_container(const struct rl_rollout *r)
{
    for (size_t i = 0; i < r->n_markers; i++) {
        if (r->markers[i].container && r->markers[i].name)
            return &r->markers[i];
    }
    return NULL;
}

static int lrf_value(struct rl_buf *out, const struct rl_rollout *r, const struct rl_marker *m)
{
    return rl_marker_reload_source_json(out, m->type, m->name, r->ns,
                                        m->hash ? m->hash : RL_HASH_DELETE_MARKER,
                                        m->container, r->now_s);
}

/*
 * Marker i is superseded if a later marker writes the same env var in the
 * same container (colliding names, docs/reloader.md §3.1): a list keyed by
 * name must not carry the key twice.
 */
static bool env_superseded(const struct rl_rollout *r, size_t i, char **names)
{
    for (size_t j = i + 1; j < r->n_markers; j++) {
        if (names[j] && strcmp(names[i], names[j]) == 0 &&
            strcmp(r->markers[i].container, r->markers[j].container) == 0)
            return true;
    }
    return false;
}

static char **env_names(const struct rl_rollout *r)
{
    char **names = rl_xcalloc(r->n_markers ? r->n_markers : 1, sizeof(*names));

    for (size_t i = 0; i < r->n_markers; i++) {
        struct rl_buf b;

        if (!r->markers[i].container || !r->markers[i].name)
            continue;
        rl_buf_init(&b, 4096);
        if (rl_marker_env_name(&b, r->markers[i].type, r->markers[i].name) == 0)
            names[i] = rl_buf_detach(&b);
        rl_buf_release(&b);
    }
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int add_env_containers(struct rl_buf *out, const struct rl_rollout *r, char **names)
{
    bool *done = rl_xcalloc(r->n_markers ? r->n_markers : 1, sizeof(*done));
    bool first_c = true;
    int err = rl_buf_adds(out, "\"spec\":{\"containers\":[");

    /* Group by container, in the order containers first appear. */
    for (size_t i = 0; !err && i < r->n_markers; i++) {
        bool first_e = true;

        if (done[i] || !names[i])
            continue;
        err = err ? err : rl_buf_adds(out, first_c ? "{\"name\":" : ",{\"name\":");
        err = err ? err : rl_buf_add_json_str(out, r->markers[i].container);
        err = err ? err : rl_buf_adds(out, ",\"env\":[");
        first_c = false;
        for (size_t j = i; !err && j < r->n_markers; j++) {
            const struct rl_marker *m = &r->markers[j];

            if (done[j] || !names[j] || strcmp(m->container, r->markers[i].container) != 0)
                continue;
            done[j] = true;
            if (env_superseded(r, j, names))
                continue;
            err = err ? err : rl_buf_adds(out, first_e ? "{\"name\":" : ",{\"name\":");
            err = err ? err : rl_buf_add_json_str(out, names[j]);
            if (m->hash) {
                err = err ? err : rl_buf_adds(out, ",\"value\":");
                err = err ? err : rl_buf_add_json_str(out, m->hash);
            } else {
                err = err ? err : rl_buf_adds(out, ",\"$patch\":\"delete\"");
            }
            err = err ? err : rl_buf_addc(out, '}');
            first_e = false;
        }
        err = err ? err : rl_buf_adds(out, "]}");
    }
    err = err ? err : rl_buf_adds(out, "]}");
    free(done);
    return err;
}

int rl_patch_rollout(struct rl_buf *out, const struct rl_rollout *r)
{
    const struct rl_marker *first = first_with_container(r);
    char **names = NULL;
    struct rl_buf lrf;
    int err = 0;

    rl_buf_init(&lrf, 0);
    if (!first)
        return RL_EINVAL;
    err = rl_buf_addc(out, '{');
    if (!err && r->applied_key) {
        err = rl_buf_adds(out, "\"metadata\":{\"annotations\":{");
        err = err ? err : add_record_member(out, r->applied_key, r->record, r->n_record,
                                                    r->history, r->pending_s);
        err = err ? err : rl_buf_adds(out, "}},");
    }
    err = err ? err : rl_buf_adds(out, "\"spec\":{\"template\":{");
    if (r->strategy == RL_STRATEGY_ANNOTATIONS) {
        err = err ? err : lrf_value(&lrf, r, first);
        err = err ? err : rl_buf_adds(out, "\"metadata\":{\"annotations\":{");
        err = err ? err : rl_buf_add_json_str(out, RL_ANN_LAST_RELOADED_FROM);
        err = err ? err : rl_buf_addc(out, ':');
        err = err ? err : rl_buf_add_json_str(out, lrf.buf);
        err = err ? err : rl_buf_adds(out, "}}");
    } else {
        names = env_names(r);
        err = err ? err : add_env_containers(out, r, names);
    }
    err = err ? err : rl_buf_adds(out, "}}}");
    free_names(names, names ? r->n_markers : 0);
    rl_buf_release(&lrf);
    return err;
}

int rl_patch_record(struct rl_buf *out, const char *applied_key,
                    const struct rl_applied_entry *e, size_t n, const char *history,
                    int64_t pending_s)
{
    int err;

    if (!applied_key)
        return RL_EINVAL;
    err = rl_buf_adds(out, "{\"metadata\":{\"annotations\":{");
    err = err ? err : add_record_member(out, applied_key, e, n, history, pending_s);
    err = err ? err : rl_buf_adds(out, "}}}");
    return err;
}

static int format_rfc3339(char *buf, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return RL_EINVAL;
    return 0;
}

int rl_patch_set_field(struct rl_buf *out, const struct rl_rollout *r, const char *path)
{
    char ts[64];
    int err = format_rfc3339(ts, sizeof(ts), r->now_s), depth = 0;

    if (!path || !*path)
        return RL_EINVAL;
    err = err ? err : rl_buf_addc(out, '{');
    if (!err && r->applied_key) {
        err = rl_buf_adds(out, "\"metadata\":{\"annotations\":{");
        err = err ? err : add_record_member(out, r->applied_key, r->record, r->n_record,
                                                    r->history, r->pending_s);
        err = err ? err : rl_buf_adds(out, "}},");
    }
    /* Reloader's literal spacing for spec.restartAt: {"spec": {"restartAt": "<ts>"}} */
    for (const char *seg = path; !err && seg; depth++) {
        const char *dot = strchr(seg, '.');
        char *name = rl_xstrndup(seg, dot ? (size_t)(dot - seg) : strlen(seg));

        err = depth ? rl_buf_addc(out, '{') : 0;
        err = err ? err : rl_buf_add_json_str(out, name);
        err = err ? err : rl_buf_adds(out, ": ");
        free(name);
        seg = dot ? dot + 1 : NULL;
    }
    err = err ? err : rl_buf_add_json_str(out, ts);
    while (!err && depth-- > 0)
        err = rl_buf_addc(out, '}');
    return err;
}

int rl_patch_rollout_restart(struct rl_buf *out, const struct rl_rollout *r)
{
    return rl_patch_set_field(out, r, "spec.restartAt");
}

/* ---- whole-object mutation ---------------------------------------------- */

/* obj[key] as an object, created (or replaced if of another type) when missing. */
static cJSON *ensure_obj(cJSON *obj, const char *key)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(it))
        return it;
    if (it)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return cJSON_AddObjectToObject(obj, key);
}

static void set_str(cJSON *obj, const char *key, const char *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, value);
}

static int set_record(cJSON *obj, const struct rl_rollout *r)
{
    struct rl_buf rec;
    cJSON *ann;
    int err;

    if (!r->applied_key)
        return 0;
    rl_buf_init(&rec, 0);
    err = rl_marker_applied_json(&rec, r->record, r->n_record, r->history, r->pending_s);
    if (!err) {
        ann = ensure_obj(ensure_obj(obj, "metadata"), "annotations");
        set_str(ann, r->applied_key, rec.buf);
    }
    rl_buf_release(&rec);
    return err;
}

static cJSON *find_named(cJSON *arr, const char *name)
{
    cJSON *e;

    cJSON_ArrayForEach(e, arr) {
        const char *n = rl_json_str(e, "name");

        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

static int set_env(cJSON *podspec, const char *container, const char *env, const char *value)
{
    cJSON *c = find_named(cJSON_GetObjectItemCaseSensitive(podspec, "containers"), container);
    cJSON *list, *e, *item;

    if (!cJSON_IsObject(c))
        return RL_EINVAL;               /* NoContainerFound */
    list = cJSON_GetObjectItemCaseSensitive(c, "env");
    if (!cJSON_IsArray(list)) {
        if (list)
            cJSON_DeleteItemFromObjectCaseSensitive(c, "env");
        list = cJSON_AddArrayToObject(c, "env");
    }
    e = find_named(list, env);
    if (!value) {
        if (e)
            cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
        return 0;
    }
    if (e) {
        if (cJSON_GetObjectItemCaseSensitive(e, "valueFrom"))
            cJSON_DeleteItemFromObjectCaseSensitive(e, "valueFrom");
        set_str(e, "value", value);
        return 0;
    }
    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "name", env);
    cJSON_AddStringToObject(item, "value", value);
    cJSON_AddItemToArray(list, item);
    return 0;
}

/* Markers into one pod template. */
static int apply_template(cJSON *tmpl, const struct rl_rollout *r)
{
    const struct rl_marker *first = first_with_container(r);
    struct rl_buf b;
    int err = 0;

    if (!cJSON_IsObject(tmpl) || !first)
        return RL_EINVAL;
    rl_buf_init(&b, 0);
    if (r->strategy == RL_STRATEGY_ANNOTATIONS) {
        err = lrf_value(&b, r, first);
        if (!err)
            set_str(ensure_obj(ensure_obj(tmpl, "metadata"), "annotations"),
                    RL_ANN_LAST_RELOADED_FROM, b.buf);
    } else {
        cJSON *podspec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");

        for (size_t i = 0; !err && i < r->n_markers; i++) {
            const struct rl_marker *m = &r->markers[i];

            if (!m->container || !m->name)
                continue;
            rl_buf_reset(&b);
            err = rl_marker_env_name(&b, m->type, m->name);
            err = err ? err : set_env(podspec, m->container, b.buf, m->hash);
        }
    }
    rl_buf_release(&b);
    return err;
}

/* The pod template of obj, where the kind table says it is (obj is ours to change). */
static cJSON *template_of(cJSON *obj, enum rl_kind kind)
{
    return (cJSON *)rl_json_path(obj, rl_kind_info(kind)->template_path);
}

int rl_patch_nest_template(struct rl_buf *patch, const char *field)
{
    cJSON *doc = cJSON_ParseWithLength(patch->buf, patch->len);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(doc, "spec");
    cJSON *tmpl = cJSON_DetachItemFromObjectCaseSensitive(spec, "template");
    char *json;

    if (!tmpl) {
        cJSON_Delete(doc);
        return RL_EINVAL;
    }
    cJSON_AddItemToObject(ensure_obj(ensure_obj(spec, field), "spec"), "template", tmpl);
    json = rl_json_print(doc);
    cJSON_Delete(doc);
    rl_buf_reset(patch);
    rl_buf_adds(patch, json);
    free(json);
    return 0;
}

int rl_marker_apply(cJSON *obj, enum rl_kind kind, const struct rl_rollout *r)
{
    int err;

    if (!cJSON_IsObject(obj) || !rl_kind_valid(kind))
        return RL_EINVAL;
    err = apply_template(template_of(obj, kind), r);
    return err ? err : set_record(obj, r);
}

int rl_job_from_cronjob(const cJSON *cronjob, const struct rl_rollout *r, cJSON **job)
{
    const cJSON *meta = rl_json_obj(cronjob, "metadata");
    const char *name = rl_json_str(meta, "name");
    const char *uid = rl_json_str(meta, "uid");
    const cJSON *jt = rl_json_path(cronjob, "spec.jobTemplate");
    const cJSON *e;
    cJSON *j = NULL, *jm, *ann, *owner, *spec = NULL;
    char *gen = NULL;
    int err = RL_EINVAL;

    *job = NULL;
    if (!name || !uid || !rl_json_obj(jt, "spec"))
        goto out;
    spec = cJSON_Duplicate(rl_json_obj(jt, "spec"), true);
    err = apply_template(cJSON_GetObjectItemCaseSensitive(spec, "template"), r);
    if (err)
        goto out;

    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "apiVersion", "batch/v1");
    cJSON_AddStringToObject(j, "kind", "Job");
    jm = cJSON_AddObjectToObject(j, "metadata");
    gen = rl_xasprintf("%s-", name);
    cJSON_AddStringToObject(jm, "generateName", gen);
    cJSON_AddStringToObject(jm, "namespace", rl_json_str_or(meta, "namespace", ""));
    ann = cJSON_AddObjectToObject(jm, "annotations");
    cJSON_AddStringToObject(ann, "cronjob.kubernetes.io/instantiate", "manual");
    cJSON_ArrayForEach(e, rl_json_obj(rl_json_obj(jt, "metadata"), "annotations")) {
        if (cJSON_IsString(e))
            set_str(ann, e->string, e->valuestring);
    }
    if (rl_json_obj(rl_json_obj(jt, "metadata"), "labels"))
        cJSON_AddItemToObject(jm, "labels",
            cJSON_Duplicate(rl_json_obj(rl_json_obj(jt, "metadata"), "labels"), true));
    owner = cJSON_CreateObject();
    cJSON_AddStringToObject(owner, "apiVersion", "batch/v1");
    cJSON_AddStringToObject(owner, "kind", "CronJob");
    cJSON_AddStringToObject(owner, "name", name);
    cJSON_AddStringToObject(owner, "uid", uid);
    cJSON_AddBoolToObject(owner, "controller", true);
    cJSON_AddBoolToObject(owner, "blockOwnerDeletion", true);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(jm, "ownerReferences"), owner);
    cJSON_AddItemToObject(j, "spec", spec);
    spec = NULL;
    *job = j;
    j = NULL;
    err = 0;
out:
    free(gen);
    cJSON_Delete(spec);
    cJSON_Delete(j);
    return err;
}

static void delete_key(cJSON *obj, const char *key)
{
    if (cJSON_IsObject(obj))
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

int rl_job_recreate(const cJSON *job, const struct rl_rollout *r, cJSON **out)
{
    static const char *const meta_fields[] = {
        "resourceVersion", "uid", "creationTimestamp", "managedFields", "generation",
        "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
    };
    static const char *const tmpl_labels[] = {
        "controller-uid", "batch.kubernetes.io/controller-uid",
        "batch.kubernetes.io/job-name", "job-name",
    };
    cJSON *j = NULL, *meta, *spec, *labels;
    int err = RL_EINVAL;

    *out = NULL;
    if (!rl_json_str(rl_json_obj(job, "metadata"), "name"))
        goto out;
    j = cJSON_Duplicate(job, true);
    err = rl_marker_apply(j, RL_KIND_JOB, r);
    if (err)
        goto out;
    meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    for (size_t i = 0; i < sizeof(meta_fields) / sizeof(meta_fields[0]); i++)
        delete_key(meta, meta_fields[i]);
    delete_key(j, "status");
    spec = cJSON_GetObjectItemCaseSensitive(j, "spec");
    /* A manual selector is the user's and must stay (Reloader drops it). */
    if (!rl_json_bool(spec, "manualSelector", false))
        delete_key(spec, "selector");
    labels = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(template_of(j, RL_KIND_JOB), "metadata"), "labels");
    for (size_t i = 0; i < sizeof(tmpl_labels) / sizeof(tmpl_labels[0]); i++)
        delete_key(labels, tmpl_labels[i]);
    *out = j;
    j = NULL;
    err = 0;
out:
    cJSON_Delete(j);
    return err;
}
