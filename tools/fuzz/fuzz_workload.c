/*
 * fuzz_workload.c - a workload and its annotations, as anyone who may edit
 * one writes them, through decode, the decision and the markers
 *
 * Input: three selector bytes, then an optional line of source names
 * separated by '\t' (up to the first '\n'), then the workload's JSON:
 *
 *   byte 0   workload kind (enum rl_kind, modulo RL_KIND_COUNT)
 *   byte 1   low 3 bits: one of OPTS option sets (strategies, custom
 *            annotation names, --auto-reload-all, --ignored-workload-types);
 *            bit 3: the sources carry ignore: "true", bit 4: match: "true"
 *   byte 2   bit 0: apply markers; bit 1: the markers are deletions
 *
 * Invalid JSON is decoded too (as NULL: it must be refused). Valid JSON is
 * decoded as the API server would send it (duplicate keys reduced to the
 * last, as Go's encoding/json keeps them) and, once, as is.
 *
 * Oracles, beyond ASan/UBSan and leaks:
 *  - decode is deterministic: twice (once with an interning namespace)
 *    gives equal workloads, field by field;
 *  - the filtered annotations are exactly the JSON's wanted keys, and a
 *    source a regular container takes by env/envFrom is referenced;
 *  - rl_decide() gives the same decision twice with a cache shared by the
 *    whole run (full after a while: lists compiled per call) and the same
 *    with a fresh cache per input; list matching agrees with a cache that
 *    keeps nothing;
 *  - the decision is NAMED exactly when the reload list matches the name
 *    (unless an earlier step decided), and rl_decide_list_matches_cached()
 *    says the same as rl_decide_list_matches() or -1, never the opposite;
 *  - rl_workload_pick_container() stays in range and an explicit reload
 *    always finds a container when there is one;
 *  - markers applied to the object (rl_marker_apply) read back through
 *    decode: the applied record, each env var, last-reloaded-from; every
 *    patch body builder produces JSON.
 *
 * Work per input is bounded (at most MAX_NAMES names, each at most 253
 * bytes, as Kubernetes names are) so that lists at the caps of decide.h,
 * whose items may each spend PCRE2's match limit, stay within -timeout.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/workload.h"

#include "fuzz_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPTS 6
#define MAX_NAMES 4
#define MAX_NAME_LEN 253

static const char *const opt_args[OPTS][6] = {
    { NULL },
    { "--reload-strategy=annotations", NULL },
    { "--auto-reload-all=true", "--is-Argo-Rollouts=true", NULL },
    { "--ignored-workload-types=jobs,cronjobs", "--reload-strategy=annotations", NULL },
    { "--configmap-annotation=cm.example.com/reload", "--secret-annotation=s.example.com/reload",
      "--auto-annotation=example.com/auto", "--annotation-prefix=x.example.com",
      "--auto-search-annotation=example.com/search", NULL },
    { "--ignored-workload-types=jobs,bogus", "--auto-reload-all", NULL },
};

static struct rl_policy *opts[OPTS];
static struct rl_workload_keys keys[OPTS];
static struct rl_regex_cache *shared_cache;     /* the whole run's */
static struct rl_regex_cache *no_cache;         /* keeps nothing */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rl_json_init_hooks();
    for (int i = 0; i < OPTS; i++) {
        opts[i] = fuzz_policy(opt_args[i]);
        rl_workload_keys_init(&keys[i], opts[i]);
    }
    shared_cache = rl_regex_cache_new(256);
    no_cache = rl_regex_cache_new(0);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* Go's encoding/json keeps the last of duplicate keys: so does the API server. */
static void dedupe(cJSON *j)
{
    cJSON *c = j ? j->child : NULL;

    while (c) {
        cJSON *next = c->next;

        if (cJSON_IsObject(j) && c->string) {
            for (cJSON *d = next; d; d = d->next) {
                if (d->string && strcmp(d->string, c->string) == 0) {
                    cJSON_Delete(cJSON_DetachItemViaPointer(j, c));
                    c = NULL;
                    break;
                }
            }
        }
        if (c)
            dedupe(c);
        c = next;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Valid UTF-8 as Go decodes it (what survives go_json_str unchanged). */
static bool utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned c = *s, r;
        size_t n;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 2, r = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 3, r = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 4, r = c & 0x07;
        else
            return false;
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            r = r << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10ffff)) ||
            (r >= 0xd800 && r <= 0xdfff))
            return false;
        s += n;
    }
    return true;
}

static bool kv_eq(const struct rl_kv *a, const struct rl_kv *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value))
            return false;
    return true;
}

/* Field by field; pointers compared by what they point to. */
static bool workload_eq(const struct rl_workload *a, const struct rl_workload *b)
{
    if (a->kind != b->kind || a->generation != b->generation || !str_eq(a->ns, b->ns) ||
        !str_eq(a->name, b->name) || !str_eq(a->uid, b->uid) ||
        !str_eq(a->resource_version, b->resource_version) || a->n_meta_ann != b->n_meta_ann ||
        a->n_pod_ann != b->n_pod_ann || a->n_containers != b->n_containers ||
        a->n_init != b->n_init || a->n_volrefs != b->n_volrefs || a->n_mounts != b->n_mounts ||
        a->n_envrefs != b->n_envrefs || a->n_markers != b->n_markers ||
        a->n_applied != b->n_applied || a->lrf_valid != b->lrf_valid ||
        a->lrf_type != b->lrf_type || !str_eq(a->lrf_name, b->lrf_name) ||
        !str_eq(a->lrf_hash, b->lrf_hash) || a->applied_invalid != b->applied_invalid ||
        !str_eq(a->rollouts, b->rollouts) || a->template_digest != b->template_digest)
        return false;
    if (!kv_eq(a->meta_ann, b->meta_ann, a->n_meta_ann) ||
        !kv_eq(a->pod_ann, b->pod_ann, a->n_pod_ann))
        return false;
    for (size_t i = 0; i < (size_t)a->n_containers + a->n_init; i++)
        if (!str_eq(a->containers[i], b->containers[i]))
            return false;
    for (size_t i = 0; i < a->n_volrefs; i++)
        if (a->volrefs[i].volume != b->volrefs[i].volume ||
            a->volrefs[i].type != b->volrefs[i].type || a->volrefs[i].via != b->volrefs[i].via ||
            !str_eq(a->volrefs[i].name, b->volrefs[i].name))
            return false;
    for (size_t i = 0; i < a->n_mounts; i++)
        if (a->mounts[i].container != b->mounts[i].container ||
            a->mounts[i].volume != b->mounts[i].volume)
            return false;
    for (size_t i = 0; i < a->n_envrefs; i++)
        if (a->envrefs[i].container != b->envrefs[i].container ||
            a->envrefs[i].type != b->envrefs[i].type || a->envrefs[i].via != b->envrefs[i].via ||
            !str_eq(a->envrefs[i].name, b->envrefs[i].name))
            return false;
    for (size_t i = 0; i < a->n_markers; i++)
        if (a->markers[i].container != b->markers[i].container ||
            !str_eq(a->markers[i].name, b->markers[i].name) ||
            !str_eq(a->markers[i].value, b->markers[i].value))
            return false;
    for (size_t i = 0; i < a->n_applied; i++)
        if (a->applied[i].type != b->applied[i].type ||
            !str_eq(a->applied[i].name, b->applied[i].name) ||
            !str_eq(a->applied[i].hash, b->applied[i].hash))
            return false;
    return true;
}

/* Shape invariants of one decoded workload (unique: no duplicate JSON keys). */
static void check_shape(const struct rl_workload *w, enum rl_kind kind, bool unique)
{
    size_t total = (size_t)w->n_containers + w->n_init;

    if (w->kind != kind || !w->name || !*w->name || !w->ns || !w->uid || !w->resource_version)
        abort();
    for (size_t i = 0; i < w->n_meta_ann; i++)
        if (!w->meta_ann[i].key || !w->meta_ann[i].value ||
            (unique && rl_workload_meta(w, w->meta_ann[i].key) != w->meta_ann[i].value))
            abort();            /* keys are unique once duplicates are gone */
    for (size_t i = 0; i < w->n_pod_ann; i++)
        if (!w->pod_ann[i].key || !w->pod_ann[i].value ||
            (unique && rl_workload_pod(w, w->pod_ann[i].key) != w->pod_ann[i].value))
            abort();
    for (size_t i = 0; i < total; i++)
        if (!w->containers[i])
            abort();
    for (size_t i = 0; i < w->n_volrefs; i++)
        if (!w->volrefs[i].name || !*w->volrefs[i].name ||
            w->volrefs[i].type >= RL_SOURCE_COUNT)
            abort();
    for (size_t i = 0; i < w->n_mounts; i++)
        if (w->mounts[i].container >= total)
            abort();
    for (size_t i = 0; i < w->n_envrefs; i++)
        if (w->envrefs[i].container >= total || !w->envrefs[i].name || !*w->envrefs[i].name ||
            w->envrefs[i].type >= RL_SOURCE_COUNT)
            abort();
    for (size_t i = 0; i < w->n_markers; i++)
        if (w->markers[i].container >= total || !w->markers[i].name || !w->markers[i].value)
            abort();
    for (size_t i = 0; i < w->n_applied; i++)
        if (w->applied[i].type >= RL_SOURCE_COUNT || !w->applied[i].name ||
            !rl_hash_is_hex(w->applied[i].hash))
            abort();
    if (w->lrf_valid != (w->lrf_name != NULL) || w->lrf_valid != (w->lrf_hash != NULL) ||
        (w->lrf_valid && w->lrf_type >= RL_SOURCE_COUNT))
        abort();
}

static bool wanted(const struct rl_workload_keys *k, const char *key)
{
    size_t plen = k->prefix ? strlen(k->prefix) : 0;

    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->keys[i], key) == 0)
            return true;
    return plen && strncmp(key, k->prefix, plen) == 0 && key[plen] == '/';
}

/* The (deduplicated) JSON's annotations against what decode kept. */
static void check_annotations(const struct rl_workload *w, const cJSON *ann,
                              const struct rl_workload_keys *k, bool pod)
{
    const cJSON *e, *obj = cJSON_IsObject(ann) ? ann : NULL;

    cJSON_ArrayForEach(e, obj) {
        const char *got;

        if (!cJSON_IsString(e) || !e->string || !wanted(k, e->string))
            continue;
        if (pod && strcmp(e->string, RL_ANN_LAST_RELOADED_FROM) == 0)
            continue;
        if (!pod && k->applied_key && strcmp(e->string, k->applied_key) == 0) {
            if (rl_workload_meta(w, e->string))
                abort();        /* kept parsed only */
            continue;
        }
        got = pod ? rl_workload_pod(w, e->string) : rl_workload_meta(w, e->string);
        if (!got || strcmp(got, e->valuestring) != 0)
            abort();
    }
}

/* A source a regular container takes through env or envFrom is referenced. */
static void check_env_references(const struct rl_workload *w, const cJSON *podspec)
{
    const cJSON *c, *e;

    if (!w->n_containers)
        return;
    cJSON_ArrayForEach(c, rl_json_arr(podspec, "containers")) {
        cJSON_ArrayForEach(e, rl_json_arr(c, "env")) {
            const cJSON *from = rl_json_obj(e, "valueFrom");
            const char *cm = rl_json_str(rl_json_obj(from, "configMapKeyRef"), "name");
            const char *sec = rl_json_str(rl_json_obj(from, "secretKeyRef"), "name");

            if (cm && *cm && !rl_workload_references(w, RL_SOURCE_CONFIGMAP, cm))
                abort();
            if (sec && *sec && !rl_workload_references(w, RL_SOURCE_SECRET, sec))
                abort();
        }
        cJSON_ArrayForEach(e, rl_json_arr(c, "envFrom")) {
            const char *cm = rl_json_str(rl_json_obj(e, "configMapRef"), "name");
            const char *sec = rl_json_str(rl_json_obj(e, "secretRef"), "name");

            if (cm && *cm && !rl_workload_references(w, RL_SOURCE_CONFIGMAP, cm))
                abort();
            if (sec && *sec && !rl_workload_references(w, RL_SOURCE_SECRET, sec))
                abort();
        }
    }
}

/* ---- names -------------------------------------------------------------- */

struct names {
    char *v[MAX_NAMES];
    size_t n;
};

static void names_add(struct names *ns, const char *s, size_t len)
{
    if (ns->n >= MAX_NAMES || !s)
        return;
    if (len > MAX_NAME_LEN)
        len = MAX_NAME_LEN;
    for (size_t i = 0; i < ns->n; i++)
        if (strlen(ns->v[i]) == len && memcmp(ns->v[i], s, len) == 0)
            return;
    ns->v[ns->n++] = rl_xstrndup(s, len);
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
}

/* ---- the decision ------------------------------------------------------- */

/* Whether list matches name (0 if there is no list), checked every way. */
static int check_list(struct rl_regex_cache *fresh, const char *list, const char *name)
{
    char err[256];
    int m, cached;
    bool ok;

    if (!list)
        return 0;
    m = rl_decide_list_matches(fresh, list, name, err, sizeof(err));
    if (m != 0 && m != 1)
        abort();
    if (rl_decide_list_matches(no_cache, list, name, NULL, 0) != m)
        abort();
    cached = rl_decide_list_matches_cached(fresh, list, name);
    if (cached != -1 && cached != m)
        abort();
    cached = rl_decide_list_matches_cached(shared_cache, list, name);
    if (cached != -1 && cached != m)
        abort();
    err[0] = '\0';
    ok = rl_decide_list_ok(fresh, list, err, sizeof(err));
    if (!ok && !err[0])
        abort();
    if (rl_decide_list_ok(no_cache, list, err, sizeof(err)) != ok)
        abort();
    return m;
}

static void decide_all(const struct rl_workload *w, const struct rl_policy *o,
                       const struct names *ns, bool ignore, bool match,
                       struct rl_regex_cache *fresh)
{
    static const enum rl_source_type types[] = { RL_SOURCE_CONFIGMAP, RL_SOURCE_SECRET };

    for (size_t i = 0; i < ns->n; i++) {
        for (size_t ti = 0; ti < (i == 0 ? 3u : 2u); ti++) {
            enum rl_source_type t = ti < 2 ? types[ti] : RL_SOURCE_SPC;
            struct rl_source_desc src = { t, ns->v[i], ignore, match };
            struct rl_decision d1, d2, d3;
            const char *list = rl_decide_reload_list(w, t, o);
            int pc, pe, m = check_list(fresh, list, ns->v[i]);

            rl_decide(w, &src, o, shared_cache, &d1);
            rl_decide(w, &src, o, shared_cache, &d2);
            rl_decide(w, &src, o, fresh, &d3);
            if (memcmp(&d1, &d2, sizeof(d1)) != 0 || memcmp(&d1, &d3, sizeof(d1)) != 0)
                abort();
            if (strnlen(d1.reason, sizeof(d1.reason)) == sizeof(d1.reason) || !d1.reason[0])
                abort();
            if (d1.reload != (d1.rule == RL_RULE_NAMED || d1.rule == RL_RULE_SEARCH_MATCH ||
                              d1.rule == RL_RULE_AUTO || d1.rule == RL_RULE_AUTO_RELOAD_ALL))
                abort();
            if (d1.auto_reload != (d1.reload && d1.rule != RL_RULE_NAMED))
                abort();
            if (ignore && d1.rule != RL_RULE_SOURCE_IGNORED &&
                d1.rule != RL_RULE_WORKLOAD_TYPE_IGNORED)
                abort();
            if (d1.rule != RL_RULE_WORKLOAD_TYPE_IGNORED && d1.rule != RL_RULE_SOURCE_IGNORED &&
                d1.rule != RL_RULE_EXCLUDED &&
                (d1.rule == RL_RULE_NAMED) != (m == 1))
                abort();
            if (d1.rule == RL_RULE_NAMED && !list)
                abort();

            pc = rl_workload_pick_container(w, t, ns->v[i], true);
            pe = rl_workload_pick_container(w, t, ns->v[i], false);
            if (pc < -1 || pc >= (int)w->n_containers || pe < -1 || pe >= (int)w->n_containers)
                abort();
            if ((pc >= 0 && pe != pc) || (w->n_containers && pe < 0))
                abort();
            if (rl_workload_references(w, t, ns->v[i]) != (pc >= 0))
                abort();
            for (int s = 0; s < 2; s++) {
                enum rl_recorded_from from;
                const char *h = rl_workload_recorded(w, t, ns->v[i],
                                                     (enum rl_reload_strategy)s, pc, &from);

                if ((h == NULL) != (from == RL_RECORDED_NONE))
                    abort();
                h = rl_workload_marker(w, t, ns->v[i], (enum rl_reload_strategy)s, pc, &from);
                if ((h == NULL) != (from == RL_RECORDED_NONE))
                    abort();
            }
        }
    }
}

/* ---- markers ------------------------------------------------------------ */

struct count {
    size_t n;
};

static void count_source(void *ctx, enum rl_source_type t, const char *name, unsigned origins)
{
    struct count *c = ctx;

    if ((unsigned)t >= RL_SOURCE_COUNT || !name || !origins ||
        (origins & ~(unsigned)(RL_SRC_MOUNTED | RL_SRC_ENV | RL_SRC_APPLIED | RL_SRC_LRF)))
        abort();
    c->n++;
}

static void check_json(const struct rl_buf *b)
{
    cJSON *j = cJSON_Parse(b->buf);

    if (!cJSON_IsObject(j))
        abort();
    cJSON_Delete(j);
}

/* The record as a merge patch carries exactly the entries. */
static void check_record_patch(const struct rl_buf *b, const char *applied_key,
                               const struct rl_applied_entry *e, size_t n)
{
    cJSON *j = cJSON_Parse(b->buf);
    const char *rec = rl_json_str(rl_json_path(j, "metadata.annotations"), applied_key);
    cJSON *r = rec ? cJSON_Parse(rec) : NULL;

    if (!cJSON_IsObject(r))
        abort();
    for (size_t i = 0; i < n; i++) {
        char *key = rl_xasprintf("%s/%s", rl_source_type_lower(e[i].type), e[i].name);

        if (!str_eq(rl_json_str(r, key), e[i].hash))
            abort();
        free(key);
    }
    cJSON_Delete(r);
    cJSON_Delete(j);
}

static void markers(const cJSON *root, const struct rl_workload *w, const struct rl_policy *o,
                    const struct rl_workload_keys *k, const struct names *ns, bool del)
{
    struct rl_marker m[MAX_NAMES];
    struct rl_applied_entry rec[MAX_NAMES];
    char hashes[MAX_NAMES][RL_HASH_HEX_SIZE];
    enum rl_source_type mtype[MAX_NAMES];
    int mci[MAX_NAMES];
    size_t nm = 0, nr = 0;
    struct rl_rollout r = {
        .strategy = o->strategy,
        .ns = w->ns,
        .markers = m,
        .record = rec,
        .applied_key = k->applied_key,
        .history = w->rollouts,
        .now_s = 1700000000,
    };
    struct rl_buf b;
    cJSON *obj, *job = NULL;
    struct rl_workload *w3 = NULL;
    int err;

    if (!w->n_containers)
        return;
    for (size_t i = 0; i < ns->n; i++) {
        enum rl_source_type t = (enum rl_source_type)(i % RL_SOURCE_COUNT);
        int c = rl_workload_pick_container(w, t, ns->v[i], false);
        int first = -1;

        /* Round trips only for names JSON carries unchanged, in a container found by name. */
        if (c < 0 || !*ns->v[i] || !utf8_ok(ns->v[i]) || !*w->containers[c] ||
            !utf8_ok(w->containers[c]))
            continue;
        for (int x = 0; x < (int)w->n_containers && first < 0; x++)
            if (strcmp(w->containers[x], w->containers[c]) == 0)
                first = x;
        rl_hash_sha1_hex(ns->v[i], strlen(ns->v[i]), hashes[nm]);
        mtype[nm] = t;
        mci[nm] = first;
        m[nm] = (struct rl_marker){ t, ns->v[i], del ? NULL : hashes[nm], w->containers[c] };
        nm++;
        rec[nr++] = (struct rl_applied_entry){ t, ns->v[i], hashes[nm - 1] };
    }
    if (!nm)
        return;
    r.n_markers = nm;
    r.n_record = nr;

    rl_buf_init(&b, 0);
    if (w->kind <= RL_KIND_STATEFULSET && rl_patch_rollout(&b, &r) == 0)
        check_json(&b);
    rl_buf_reset(&b);
    if (rl_patch_rollout_restart(&b, &r) == 0)
        check_json(&b);
    rl_buf_reset(&b);
    if (rl_patch_record(&b, k->applied_key, rec, nr, w->rollouts, w->pending_since_s) != 0)
        abort();
    check_record_patch(&b, k->applied_key, rec, nr);
    rl_buf_release(&b);

    if (w->kind == RL_KIND_CRONJOB && rl_job_from_cronjob(root, &r, &job) == 0 && !job)
        abort();
    cJSON_Delete(job);
    job = NULL;
    if (w->kind == RL_KIND_JOB && rl_job_recreate(root, &r, &job) == 0) {
        struct rl_workload *jw = NULL;

        if (rl_workload_decode(job, RL_KIND_JOB, k, &jw) != 0)
            abort();
        rl_workload_free(jw);
    }
    cJSON_Delete(job);

    obj = cJSON_Duplicate(root, true);
    err = rl_marker_apply(obj, w->kind, &r);
    if (err == 0) {
        if (rl_workload_decode(obj, w->kind, k, &w3) != 0)
            abort();
        /* The record. */
        if (w3->applied_invalid || w3->n_applied != nr ||
            !str_eq(w3->rollouts, w->rollouts && *w->rollouts ? w->rollouts : NULL))
            abort();
        for (size_t i = 0; i < nr; i++)
            if (!str_eq(rl_workload_applied(w3, rec[i].type, rec[i].name), rec[i].hash))
                abort();
        if (o->strategy == RL_STRATEGY_ANNOTATIONS) {
            if (!w3->lrf_valid || w3->lrf_type != m[0].type ||
                !str_eq(w3->lrf_name, m[0].name) ||
                !str_eq(w3->lrf_hash, m[0].hash ? m[0].hash : RL_HASH_DELETE_MARKER))
                abort();
        } else if (!del) {
            /* Each env var holds the last value written to it in its container. */
            for (size_t i = 0; i < nm; i++) {
                struct rl_buf env;
                const char *want = m[i].hash;

                rl_buf_init(&env, 0);
                if (rl_marker_env_name(&env, mtype[i], m[i].name) != 0)
                    abort();
                for (size_t j = i + 1; j < nm; j++) {
                    struct rl_buf other;

                    rl_buf_init(&other, 0);
                    rl_marker_env_name(&other, mtype[j], m[j].name);
                    if (mci[j] == mci[i] && strcmp(other.buf, env.buf) == 0)
                        want = m[j].hash;
                    rl_buf_release(&other);
                }
                if (!str_eq(rl_workload_env_marker(w3, mci[i], env.buf), want))
                    abort();
                rl_buf_release(&env);
            }
        }
        rl_workload_free(w3);
    }
    cJSON_Delete(obj);
}

/* ---- the target --------------------------------------------------------- */

static const char *intern(void *ctx, const char *s)
{
    struct rl_map *m = ctx;

    if (!rl_map_has(m, s))
        rl_map_put(m, s, NULL);
    return rl_map_key(m, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum rl_kind kind;
    unsigned oi;
    bool ignore, match, do_markers, del;
    const char *body, *nl;
    size_t blen;
    struct names ns = { .n = 0 };
    struct rl_workload_keys ik;
    struct rl_map interned = RL_MAP_INIT;
    struct rl_regex_cache *fresh;
    struct rl_workload *w = NULL, *w2 = NULL, *raw = NULL;
    cJSON *root;
    const cJSON *tmpl;
    int e1, e2;

    if (size < 3)
        return 0;
    kind = (enum rl_kind)(data[0] % RL_KIND_COUNT);
    oi = data[1] % OPTS;
    ignore = data[1] & 0x08;
    match = data[1] & 0x10;
    do_markers = data[2] & 1;
    del = data[2] & 2;
    body = (const char *)data + 3;
    blen = size - 3;
    nl = memchr(body, '\n', blen);
    if (nl) {
        const char *p = body;

        while (p < nl) {
            const char *tab = memchr(p, '\t', (size_t)(nl - p));
            const char *end = tab ? tab : nl;
            const char *z = memchr(p, '\0', (size_t)(end - p));

            names_add(&ns, p, (size_t)((z ? z : end) - p));
            p = end + (tab ? 1 : 0);
            if (!tab)
                break;
        }
        blen -= (size_t)(nl + 1 - body);
        body = nl + 1;
    }

    root = cJSON_ParseWithLength(body, blen);
    if (!root) {
        /* Invalid JSON: nothing to decode, and it must say so. */
        if (rl_workload_decode(NULL, kind, &keys[oi], &w) == 0 || w)
            abort();
        names_free(&ns);
        return 0;
    }
    /* As is, duplicate keys and all: no crash, no leak. */
    if (rl_workload_decode(root, kind, &keys[oi], &raw) == 0)
        check_shape(raw, kind, false);
    rl_workload_free(raw);

    dedupe(root);
    e1 = rl_workload_decode(root, kind, &keys[oi], &w);
    ik = keys[oi];
    ik.intern = intern;
    ik.intern_ctx = &interned;
    e2 = rl_workload_decode(root, kind, &ik, &w2);
    if (e1 != e2 || (e1 == 0) != (w != NULL) || (e2 == 0) != (w2 != NULL))
        abort();
    if (e1) {
        rl_map_release(&interned, NULL);
        names_free(&ns);
        cJSON_Delete(root);
        return 0;
    }
    if (!workload_eq(w, w2) || w->mem_bytes < sizeof(*w))
        abort();
    check_shape(w, kind, true);
    check_annotations(w, rl_json_get(rl_json_obj(root, "metadata"), "annotations"), &keys[oi],
                      false);
    tmpl = kind == RL_KIND_CRONJOB ? rl_json_path(root, "spec.jobTemplate.spec.template")
                                   : rl_json_path(root, "spec.template");
    check_annotations(w, rl_json_path(tmpl, "metadata.annotations"), &keys[oi], true);
    check_env_references(w, rl_json_obj(tmpl, "spec"));
    {
        struct count c = { 0 };

        rl_workload_each_source(w, count_source, &c);
        if (c.n > (size_t)w->n_volrefs + w->n_envrefs + w->n_applied + 1)
            abort();
    }

    /* Names: the input's, then what the workload itself names. */
    if (w->n_volrefs)
        names_add(&ns, w->volrefs[0].name, strlen(w->volrefs[0].name));
    if (w->n_envrefs)
        names_add(&ns, w->envrefs[0].name, strlen(w->envrefs[0].name));
    if (w->n_applied)
        names_add(&ns, w->applied[0].name, strlen(w->applied[0].name));
    if (w->lrf_valid)
        names_add(&ns, w->lrf_name, strlen(w->lrf_name));

    fresh = rl_regex_cache_new(16);
    decide_all(w, opts[oi], &ns, ignore, match, fresh);
    /* The reload lists the decision did not read (metadata or template). */
    for (int t = 0; t < RL_SOURCE_COUNT && ns.n; t++) {
        const char *key = rl_decide_reload_key((enum rl_source_type)t, opts[oi]);
        const char *read = rl_decide_reload_list(w, (enum rl_source_type)t, opts[oi]);

        if (rl_workload_meta(w, key) != read)
            (void)check_list(fresh, rl_workload_meta(w, key), ns.v[ns.n - 1]);
        if (rl_workload_pod(w, key) != read)
            (void)check_list(fresh, rl_workload_pod(w, key), ns.v[ns.n - 1]);
    }
    rl_regex_cache_free(fresh);

    if (do_markers)
        markers(root, w, opts[oi], &keys[oi], &ns, del);

    rl_workload_free(w);
    rl_workload_free(w2);
    rl_map_release(&interned, NULL);
    names_free(&ns);
    cJSON_Delete(root);
    return 0;
}
