/* decide.c - Reloader's ShouldReload(), exactly (docs/reloader.md §2.4) */
#include "reloadd/reload/decide.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/config/policy.h"
#include "reloadd/base/banned.h"

#define MATCH_LIMIT     100000u
#define DEPTH_LIMIT     5000u
/*
 * All the items of one list together: past ten items each gets its share,
 * or 256 items that each exhaust MATCH_LIMIT cost ~0.4 s of CPU per source
 * name (on the informer thread under the store's lock, once per workload).
 */
#define LIST_MATCH_LIMIT (10 * MATCH_LIMIT)
#define RE2_MAX_REPEAT  1000

/* One item of a reload list: compiled, or why not. */
struct item {
    char *text;                         /* trimmed item */
    pcre2_code *code;                   /* NULL: did not compile */
    char *error;
};

/* A whole annotation value, split and compiled; immutable once built. */
struct entry {
    bool refused;                       /* over the caps: items[0] says why */
    pcre2_match_context *mctx;          /* the items' share of LIST_MATCH_LIMIT, or NULL */
    size_t n;
    size_t bytes;                       /* compiled code and text, for the budget */
    struct item items[];
};

struct rl_regex_cache {
    pthread_mutex_t mu;
    struct rl_map map;                  /* annotation value -> struct entry */
    size_t max_entries;
    size_t bytes;                       /* of the cached entries */
    pcre2_match_context *mctx;          /* read-only after new: shared */
};

/* ---- RE2 grammar guard -------------------------------------------------- */

/*
 * PCRE2 accepts a superset of Go's RE2 syntax. Reject what Go rejects, so
 * an annotation that Reloader skips as invalid is skipped here too:
 * backreferences and most letter escapes, lookaround, atomic groups,
 * comments, verbs, recursion, conditionals, possessive and nested
 * quantifiers, repeat counts above 1000, and flags other than imsU.
 */
static bool escape_ok(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9'))
        return strchr("aftnrvxAzbBdDsSwWpPQ", c) != NULL;
    return true;                        /* punctuation and \0 */
}

/* Parses "{n}", "{n,}" or "{n,m}" at p; 0 if it is not a repeat (a literal). */
static size_t repeat_len(const char *p, bool *too_big)
{
    const char *q = p + 1;
    long n = 0, m = -1;

    *too_big = false;
    if (*q < '0' || *q > '9')
        return 0;
    /* Past 100000 a count only grows no further: its digits are still read. */
    for (; *q >= '0' && *q <= '9'; q++)
        n = n > 100000 ? n : n * 10 + (*q - '0');
    if (*q == ',') {
        q++;
        if (*q >= '0' && *q <= '9') {
            m = 0;
            for (; *q >= '0' && *q <= '9'; q++)
                m = m > 100000 ? m : m * 10 + (*q - '0');
        }
    }
    if (*q != '}')
        return 0;
    *too_big = n > RE2_MAX_REPEAT || m > RE2_MAX_REPEAT || (m >= 0 && m < n);
    return (size_t)(q - p + 1);
}

static const char *re2_check(const char *p)
{
    int quant = 0;                      /* 0 none, 1 after quantifier, 2 after lazy */

    while (*p) {
        char c = *p;

        if (c == '\\') {
            if (!p[1])
                return "trailing backslash at end of expression";
            if (p[1] == 'Q') {          /* literal text up to \E */
                const char *e = strstr(p + 2, "\\E");

                p = e ? e + 2 : p + strlen(p);
                quant = 0;
                continue;
            }
            if (!escape_ok(p[1]))
                return "invalid escape sequence";
            p += 2;
            quant = 0;
            continue;
        }
        if (c == '[') {
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '[' && p[1] == ':') {
                    const char *e = strstr(p + 2, ":]");

                    if (e) {
                        p = e + 2;
                        continue;
                    }
                }
                if (*p == '\\') {
                    if (!p[1])
                        return "trailing backslash at end of expression";
                    if (!escape_ok(p[1]))
                        return "invalid escape sequence";
                    p++;
                }
                p++;
            }
            if (!*p)
                return "missing closing ]";
            p++;
            quant = 0;
            continue;
        }
        if (c == '(') {
            if (p[1] == '*')
                return "missing argument to repetition operator: *";
            if (p[1] == '?') {
                const char *q = p + 2;

                if (*q == ':' || (*q == 'P' && q[1] == '<') ||
                    (*q == '<' && q[1] != '=' && q[1] != '!')) {
                    p = q;
                    quant = 0;
                    continue;
                }
                while (*q && strchr("imsU-", *q))
                    q++;
                if (q == p + 2 || (*q != ')' && *q != ':'))
                    return "invalid or unsupported Perl syntax";
                p = q + 1;
                quant = 0;
                continue;
            }
            p++;
            quant = 0;
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            bool too_big = false;
            size_t rl = 1;

            if (c == '{') {
                rl = repeat_len(p, &too_big);
                if (rl == 0) {          /* a literal brace */
                    p++;
                    quant = 0;
                    continue;
                }
                if (too_big)
                    return "invalid repeat count";
            }
            if (quant == 1 && c == '?') {
                quant = 2;              /* lazy modifier */
                p++;
                continue;
            }
            if (quant)
                return "invalid nested repetition operator";
            quant = 1;
            p += rl;
            continue;
        }
        quant = 0;
        p++;
    }
    return NULL;
}

/* ---- compile and match -------------------------------------------------- */

static void trim(const char **s, size_t *len)
{
    while (*len && strchr(" \t\n\v\f\r", (*s)[0]))
        (*s)++, (*len)--;
    while (*len && strchr(" \t\n\v\f\r", (*s)[*len - 1]))
        (*len)--;
}

static void compile_item(struct item *it)
{
    char *pattern = rl_xasprintf("^%s$", it->text);
    const char *bad = re2_check(it->text);
    PCRE2_UCHAR msg[160];
    PCRE2_SIZE off;
    int code;

    if (bad) {
        it->error = rl_xstrdup(bad);
        goto out;
    }
    it->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                             PCRE2_NEVER_BACKSLASH_C,
                             &code, &off, NULL);
    if (!it->code) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        it->error = rl_xstrdup((const char *)msg);
    }
out:
    free(pattern);
}

/* A list past the caps is one item that failed: nothing of it is compiled. */
static struct entry *entry_refused(const char *why)
{
    struct entry *e = rl_xcalloc(1, sizeof(*e) + sizeof(e->items[0]));

    e->refused = true;
    e->n = 1;
    e->items[0].text = rl_xstrdup("(list not compiled)");
    e->items[0].error = rl_xstrdup(why);
    e->bytes = sizeof(*e) + strlen(why);
    return e;
}

/* strings.Split(value, ","), each item trimmed and compiled. */
static struct entry *entry_build(const char *value)
{
    size_t n = 1, total = strlen(value);
    struct entry *e;
    const char *p = value;
    char why[160];

    for (const char *q = value; *q; q++)
        n += *q == ',';
    /*
     * Anyone who may edit a workload writes this value: a hostile one
     * (thousands of `(?:ab){1000}`) cost ~200 MiB and seconds of CPU.
     */
    if (total > RL_DECIDE_LIST_MAX_BYTES || n > RL_DECIDE_LIST_MAX_ITEMS) {
        snprintf(why, sizeof(why), "reload list too large (%zu bytes, %zu patterns; at most "
                 "%d bytes and %d patterns): ignored", total, n, RL_DECIDE_LIST_MAX_BYTES,
                 RL_DECIDE_LIST_MAX_ITEMS);
        return entry_refused(why);
    }
    e = rl_xcalloc(1, sizeof(*e) + n * sizeof(e->items[0]));
    e->bytes = sizeof(*e) + n * sizeof(e->items[0]) + total;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;

        trim(&s, &len);
        e->items[i].text = rl_xstrndup(s, len);
        compile_item(&e->items[i]);
        if (e->items[i].code) {
            size_t sz = 0;

            pcre2_pattern_info(e->items[i].code, PCRE2_INFO_SIZE, &sz);
            e->bytes += sz;
        }
        p = comma ? comma + 1 : p + len;
    }
    if (n > LIST_MATCH_LIMIT / MATCH_LIMIT) {
        e->mctx = pcre2_match_context_create(NULL);
        if (!e->mctx)
            RL_BUG("pcre2_match_context_create");
        pcre2_set_match_limit(e->mctx, (uint32_t)(LIST_MATCH_LIMIT / n));
        pcre2_set_depth_limit(e->mctx, DEPTH_LIMIT);
    }
    return e;
}

static void entry_free(void *p)
{
    struct entry *e = p;

    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        pcre2_code_free(e->items[i].code);
        free(e->items[i].text);
        free(e->items[i].error);
    }
    pcre2_match_context_free(e->mctx);
    free(e);
}

struct rl_regex_cache *rl_regex_cache_new(size_t max_entries)
{
    struct rl_regex_cache *c = RL_NEW(struct rl_regex_cache);

    rl_mutex_init(&c->mu);
    rl_map_init(&c->map);
    c->max_entries = max_entries;
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->mctx)
        RL_BUG("pcre2_match_context_create");
    pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(c->mctx, DEPTH_LIMIT);
    return c;
}

void rl_regex_cache_free(struct rl_regex_cache *c)
{
    if (!c)
        return;
    rl_map_release(&c->map, entry_free);
    pcre2_match_context_free(c->mctx);
    rl_mutex_destroy(&c->mu);
    free(c);
}

size_t rl_regex_cache_bytes(struct rl_regex_cache *c)
{
    size_t n;

    rl_mutex_lock(&c->mu);
    n = c->bytes;
    rl_mutex_unlock(&c->mu);
    return n;
}

size_t rl_regex_cache_size(struct rl_regex_cache *c)
{
    size_t n;

    rl_mutex_lock(&c->mu);
    n = c->map.len;
    rl_mutex_unlock(&c->mu);
    return n;
}

/* The cached entry for value, or NULL: never compiles. */
static struct entry *entry_peek(struct rl_regex_cache *c, const char *value)
{
    struct entry *e;

    rl_mutex_lock(&c->mu);
    e = rl_map_get(&c->map, value);
    rl_mutex_unlock(&c->mu);
    return e;
}

/*
 * The compiled list for value: from the cache, or built and inserted, or
 * (cache full) built for this call only (*owned set: caller frees).
 */
static struct entry *entry_get(struct rl_regex_cache *c, const char *value, bool *owned)
{
    struct entry *e, *raced;

    *owned = false;
    e = entry_peek(c, value);
    if (e)
        return e;
    /* Compile outside the lock: a hostile pattern must not stall others. */
    e = entry_build(value);
    rl_mutex_lock(&c->mu);
    raced = rl_map_get(&c->map, value);
    /* Past either limit an entry serves this call only: memory stays bounded. */
    if (!raced && c->map.len < c->max_entries && c->bytes + e->bytes <= RL_REGEX_CACHE_MAX_BYTES) {
        rl_map_put(&c->map, value, e);
        c->bytes += e->bytes;
    } else if (!raced) {
        *owned = true;
    }
    rl_mutex_unlock(&c->mu);
    if (raced) {
        entry_free(e);
        return raced;
    }
    return e;
}

/* Go's re.MatchString(): a search, not a full match (the ^ $ are in the item). */
static int item_match(const struct rl_regex_cache *c, const struct entry *e,
                      const struct item *it, const char *name)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(it->code, NULL);
    int rc;

    if (!md)
        RL_BUG("pcre2_match_data_create_from_pattern");
    rc = pcre2_match(it->code, (PCRE2_SPTR)name, strlen(name), 0, 0, md,
                     e->mctx ? e->mctx : c->mctx);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

/*
 * 1 and the matching item (*which), or 0. err describes the first item
 * that did not compile or could not be matched.
 */
static int entry_match(struct rl_regex_cache *c, const struct entry *e, const char *name,
                       const char **which, char *err, size_t errlen, bool *bad,
                       char *which_buf, size_t which_len)
{
    int hit = 0;

    *bad = false;
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < e->n; i++) {
        const struct item *it = &e->items[i];
        int rc;

        if (!it->code) {
            if (!*bad && err)
                snprintf(err, errlen, "invalid regex '%s': %s", it->text, it->error);
            *bad = true;
            continue;
        }
        rc = item_match(c, e, it, name);
        if (rc < 0) {
            if (!*bad && err) {
                PCRE2_UCHAR msg[120];

                pcre2_get_error_message(rc, msg, sizeof(msg));
                snprintf(err, errlen, "regex '%s' failed on '%s': %s", it->text, name,
                         (const char *)msg);
            }
            *bad = true;
            continue;
        }
        if (rc == 1) {
            if (which_buf)
                snprintf(which_buf, which_len, "%s", it->text);
            if (which)
                *which = which_buf;
            hit = 1;
            break;
        }
    }
    return hit;
}

static int list_match(struct rl_regex_cache *c, const char *list, const char *name,
                      const char **which, char *err, size_t errlen, bool *bad,
                      char *which_buf, size_t which_len)
{
    bool owned;
    struct entry *e = entry_get(c, list, &owned);
    int hit = entry_match(c, e, name, which, err, errlen, bad, which_buf, which_len);

    if (owned)
        entry_free(e);
    return hit;
}

int rl_decide_list_matches(struct rl_regex_cache *c, const char *list, const char *name,
                           char *err, size_t errlen)
{
    bool bad;

    if (!list || !name)
        return 0;
    return list_match(c, list, name, NULL, err, errlen, &bad, NULL, 0);
}

bool rl_decide_list_ok(struct rl_regex_cache *c, const char *list, char *err, size_t errlen)
{
    bool owned, ok = true;
    struct entry *e = entry_get(c, list, &owned);

    if (e->refused) {
        snprintf(err, errlen, "%s", e->items[0].error);
        ok = false;
    }
    for (size_t i = 0; i < e->n && ok; i++) {
        if (!e->items[i].code) {
            snprintf(err, errlen, "invalid regex '%.100s': %s", e->items[i].text,
                     e->items[i].error);
            ok = false;
        }
    }
    if (owned)
        entry_free(e);
    return ok;
}

int rl_decide_list_matches_cached(struct rl_regex_cache *c, const char *list, const char *name)
{
    const struct entry *e;
    bool bad;

    if (!list || !name)
        return 0;
    e = entry_peek(c, list);
    return e ? entry_match(c, e, name, NULL, NULL, 0, &bad, NULL, 0) : -1;
}

/* ---- the decision ------------------------------------------------------- */

const char *rl_decide_reload_key(enum rl_source_type t, const struct rl_policy *pol)
{
    switch (t) {
    case RL_SOURCE_CONFIGMAP:
        return pol->key.configmap_reload;
    case RL_SOURCE_SECRET:
        return pol->key.secret_reload;
    default:
        return RL_ANN_SPC_RELOAD;
    }
}

const char *rl_decide_auto_key(enum rl_source_type t, const struct rl_policy *pol)
{
    switch (t) {
    case RL_SOURCE_CONFIGMAP:
        return pol->key.configmap_auto;
    case RL_SOURCE_SECRET:
        return pol->key.secret_auto;
    default:
        return RL_ANN_SPC_AUTO;
    }
}

const char *rl_decide_exclude_key(enum rl_source_type t)
{
    switch (t) {
    case RL_SOURCE_CONFIGMAP:
        return RL_ANN_CM_EXCLUDE;
    case RL_SOURCE_SECRET:
        return RL_ANN_SECRET_EXCLUDE;
    default:
        return RL_ANN_SPC_EXCLUDE;
    }
}

void rl_source_desc_init(struct rl_source_desc *d, enum rl_source_type t,
                         const char *name, const cJSON *annotations,
                         const struct rl_policy *pol)
{
    const cJSON *ig = cJSON_IsObject(annotations)
        ? cJSON_GetObjectItemCaseSensitive(annotations, pol->key.ignore) : NULL;
    const cJSON *m = cJSON_IsObject(annotations)
        ? cJSON_GetObjectItemCaseSensitive(annotations, pol->key.match) : NULL;

    d->type = t;
    d->name = name;
    d->ignore = cJSON_IsString(ig) && strcmp(ig->valuestring, "true") == 0;
    d->match = cJSON_IsString(m) && strcmp(m->valuestring, "true") == 0;
}

/* Step 2: whether the keys for type t are read from the pod template. */
static bool use_pod_template(const struct rl_workload *w, enum rl_source_type t,
                             const struct rl_policy *pol)
{
    return !rl_workload_meta(w, rl_decide_reload_key(t, pol)) &&
           !rl_workload_meta(w, pol->key.auto_all) &&
           !rl_workload_meta(w, rl_decide_auto_key(t, pol)) &&
           !rl_workload_meta(w, pol->key.search);
}

static const char *src_get(const struct rl_workload *w, bool pod, const char *key)
{
    return pod ? rl_workload_pod(w, key) : rl_workload_meta(w, key);
}

const char *rl_decide_reload_list(const struct rl_workload *w, enum rl_source_type t,
                                  const struct rl_policy *pol)
{
    return src_get(w, use_pod_template(w, t, pol), rl_decide_reload_key(t, pol));
}

/* strings.Split(list, ","), TrimSpace, exact comparison. */
static bool excluded(const char *list, const char *name)
{
    const char *p = list;

    if (!list || !*list)
        return false;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;

        trim(&s, &len);
        if (len == strlen(name) && memcmp(s, name, len) == 0)
            return true;
        if (!comma)
            return false;
        p = comma + 1;
    }
}

static void set(struct rl_decision *d, bool reload, bool auto_reload,
                enum rl_decide_rule rule)
{
    d->reload = reload;
    d->auto_reload = auto_reload;
    d->rule = rule;
}

void rl_decide(const struct rl_workload *w, const struct rl_source_desc *src,
               const struct rl_policy *pol, struct rl_regex_cache *cache,
               struct rl_decision *out)
{
    const char *tl = rl_source_type_lower(src->type);
    const char *reload_key = rl_decide_reload_key(src->type, pol);
    const char *auto_key = pol->key.auto_all;
    const char *typed_key = rl_decide_auto_key(src->type, pol);
    const char *list, *a, *ta, *search;
    char regex_err[160] = "";
    char which[96];
    const char *hit = NULL;
    bool pod;

    memset(out, 0, sizeof(*out));

    /* 0. --ignored-workload-types (disregarded whole if an entry is bad: policy.h). */
    if ((w->kind == RL_KIND_JOB && pol->ignore_jobs) ||
        (w->kind == RL_KIND_CRONJOB && pol->ignore_cronjobs)) {
        set(out, false, false, RL_RULE_WORKLOAD_TYPE_IGNORED);
        snprintf(out->reason, sizeof(out->reason),
                 "workload type %s is in --ignored-workload-types", rl_kind_name(w->kind));
        return;
    }

    /* 1. The source opts out of everything. */
    if (src->ignore) {
        set(out, false, false, RL_RULE_SOURCE_IGNORED);
        snprintf(out->reason, sizeof(out->reason), "%s '%s' has %s: \"true\"",
                 tl, src->name, pol->key.ignore);
        return;
    }

    /* 2. Metadata, unless it has none of this type's keys: then the template. */
    pod = use_pod_template(w, src->type, pol);
    out->from_pod_template = pod;

    /* 3. Exclusion reads the metadata only. */
    if (excluded(rl_workload_meta(w, rl_decide_exclude_key(src->type)), src->name)) {
        set(out, false, false, RL_RULE_EXCLUDED);
        snprintf(out->reason, sizeof(out->reason), "%s '%s' is excluded by %s",
                 tl, src->name, rl_decide_exclude_key(src->type));
        return;
    }

    /* 4. Named reload: each item a regex, anchored as Go anchors it. */
    list = src_get(w, pod, reload_key);
    if (list && list_match(cache, list, src->name, &hit, regex_err, sizeof(regex_err),
                           &out->regex_error, which, sizeof(which))) {
        set(out, true, false, RL_RULE_NAMED);
        snprintf(out->reason, sizeof(out->reason), "%s '%s' matches '%s' in %s (%s)%s%s",
                 tl, src->name, hit, reload_key, pod ? "pod template" : "metadata",
                 out->regex_error ? "; " : "", regex_err);
        return;
    }

    /* 5. Search on the workload, match on the source. */
    search = src_get(w, pod, pol->key.search);
    if (search && strcmp(search, "true") == 0 && src->match) {
        set(out, true, true, RL_RULE_SEARCH_MATCH);
        snprintf(out->reason, sizeof(out->reason),
                 "%s is \"true\" and %s '%s' has %s: \"true\" (%s)%s%s",
                 pol->key.search, tl, src->name, pol->key.match,
                 pod ? "pod template" : "metadata", out->regex_error ? "; " : "", regex_err);
        return;
    }

    /* 6. Auto: generic OR typed; --auto-reload-all unless either has a value. */
    a = src_get(w, pod, auto_key);
    ta = src_get(w, pod, typed_key);
    if (rl_parse_bool_go(a, NULL) || rl_parse_bool_go(ta, NULL)) {
        set(out, true, true, RL_RULE_AUTO);
        snprintf(out->reason, sizeof(out->reason), "%s is \"%s\" (%s)%s%s",
                 rl_parse_bool_go(a, NULL) ? auto_key : typed_key,
                 rl_parse_bool_go(a, NULL) ? a : ta, pod ? "pod template" : "metadata",
                 out->regex_error ? "; " : "", regex_err);
        return;
    }
    if ((!a || !*a) && (!ta || !*ta) && pol->auto_reload_all) {
        set(out, true, true, RL_RULE_AUTO_RELOAD_ALL);
        snprintf(out->reason, sizeof(out->reason),
                 "--auto-reload-all and no %s or %s value%s%s", auto_key, typed_key,
                 out->regex_error ? "; " : "", regex_err);
        return;
    }

    /* 7. */
    set(out, false, false, RL_RULE_NOT_ANNOTATED);
    if ((a && *a) || (ta && *ta))
        snprintf(out->reason, sizeof(out->reason), "%s is \"%s\" (%s)%s%s",
                 (a && *a) ? auto_key : typed_key, (a && *a) ? a : ta,
                 pod ? "pod template" : "metadata", out->regex_error ? "; " : "", regex_err);
    else
        snprintf(out->reason, sizeof(out->reason), "no annotation selects %s '%s'%s%s",
                 tl, src->name, out->regex_error ? "; " : "", regex_err);
}
