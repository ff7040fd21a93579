/* metrics.c - Prometheus metrics: a registry, reloadd's families, exposition */
#include "reloadd/ops/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/procstat.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/banned.h"

#define MAX_NAME_LEN 200

/*
 * Values are doubles kept as their bit patterns in 64-bit atomics, so that
 * updates need no lock; adds are compare-and-swap loops. Histogram buckets
 * are stored per bucket (not cumulative), and the exposition derives both
 * the cumulative counts and _count from one read of them: a scrape racing
 * an observation can never show a +Inf bucket that differs from _count.
 */
struct rl_series {
    struct rl_metric *family;           /* immutable */
    uint64_t hash;                      /* immutable */
    char **values;                      /* immutable: family->nlabels strings */
    _Atomic uint64_t value;             /* counter, gauge */
    _Atomic uint64_t sum;               /* histogram */
    _Atomic uint64_t counts[];          /* histogram: nbounds + 1, +Inf last */
};

struct rl_metric {
    /* Immutable after registration. */
    char *name;
    char *help;
    enum rl_metric_type type;
    size_t nlabels;
    char *labels[RL_METRIC_MAX_LABELS];
    double bounds[RL_METRIC_MAX_BUCKETS];
    size_t nbounds;
    struct rl_series *single;           /* the only series when nlabels == 0 */

    pthread_rwlock_t lock;
    /* Protected by lock: open addressing, linear probing, never deleted. */
    struct rl_series **slots;
    size_t cap;                         /* power of two */
    size_t len;
    struct rl_series *sink;             /* past RL_METRIC_MAX_SERIES */
};

struct collector {
    rl_metrics_collect_fn *fn;
    void *ctx;
};

struct rl_metrics {
    pthread_mutex_t lock;
    /* Protected by lock. Families are never removed before _free(). */
    struct rl_metric **fams;            /* sorted by name */
    size_t nfams;
    size_t famcap;
    struct collector *collectors;
    size_t ncollectors;

    /* Immutable after rl_metrics_new(). */
    struct rl_metric *ids[RL_M__COUNT];
    struct rl_series *executed[2];      /* success="false", "true" */
    char *api_host;
};

static const struct rl_metric_desc descs[RL_M__COUNT] = {
#define RL_X_(id, type, name, help, labels, buckets) \
    [RL_M_##id] = { name, help, RL_METRIC_##type, labels, buckets },
    RL_METRICS_FAMILIES(RL_X_)
#undef RL_X_
};

/* ---- values ---- */

static inline uint64_t d2u(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    return u;
}

static inline double u2d(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(p, &old, d2u(u2d(old) + v),
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

static double load_double(const _Atomic uint64_t *p)
{
    return u2d(atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed));
}

void rl_series_inc(struct rl_series *s)
{
    rl_series_add(s, 1.0);
}

void rl_series_add(struct rl_series *s, double v)
{
    RL_ASSERT(s->family->type != RL_METRIC_HISTOGRAM);
    if (s->family->type == RL_METRIC_COUNTER && !(v >= 0))
        return;
    atomic_add_double(&s->value, v);
}

void rl_series_set(struct rl_series *s, double v)
{
    RL_ASSERT(s->family->type != RL_METRIC_HISTOGRAM);
    atomic_store_explicit(&s->value, d2u(v), memory_order_relaxed);
}

static double series_exchange(struct rl_series *s, double v)
{
    return u2d(atomic_exchange_explicit(&s->value, d2u(v), memory_order_relaxed));
}

void rl_series_observe(struct rl_series *s, double v)
{
    const struct rl_metric *f = s->family;
    size_t lo = 0, hi = f->nbounds;

    RL_ASSERT(f->type == RL_METRIC_HISTOGRAM);
    if (isnan(v))
        return;
    /* The first bound >= v; nbounds means +Inf. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
    atomic_add_double(&s->sum, v);
}

double rl_series_value(const struct rl_series *s)
{
    return load_double(&s->value);
}

uint64_t rl_series_count(const struct rl_series *s)
{
    uint64_t n = 0;

    if (s->family->type != RL_METRIC_HISTOGRAM)
        return 0;
    for (size_t i = 0; i <= s->family->nbounds; i++)
        n += atomic_load_explicit((_Atomic uint64_t *)&s->counts[i], memory_order_relaxed);
    return n;
}

double rl_series_sum(const struct rl_series *s)
{
    return load_double(&s->sum);
}

/* ---- series lookup ---- */

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        for (const char *p = values[i] ? values[i] : ""; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;                      /* separator: ("ab","") != ("a","b") */
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 32);
}

static bool same_values(const struct rl_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return false;
    }
    return true;
}

/* Caller holds f->lock (read or write). */
static struct rl_series *find_locked(const struct rl_metric *f, const char *const *values,
                                     uint64_t h)
{
    size_t mask = f->cap - 1;

    if (!f->cap)
        return NULL;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct rl_series *s = f->slots[i];

        if (!s)
            return NULL;
        if (s->hash == h && same_values(s, values, f->nlabels))
            return s;
    }
}

static struct rl_series *series_new(struct rl_metric *f, const char *const *values,
                                    uint64_t h)
{
    size_t ncounts = f->type == RL_METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
    struct rl_series *s;

    s = rl_xcalloc(1, sizeof(*s) + ncounts * sizeof(s->counts[0]));
    s->family = f;
    s->hash = h;
    s->values = rl_xcalloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < f->nlabels; i++)
        s->values[i] = rl_xstrdup(values[i] ? values[i] : "");
    atomic_init(&s->value, d2u(0.0));
    atomic_init(&s->sum, d2u(0.0));
    for (size_t i = 0; i < ncounts; i++)
        atomic_init(&s->counts[i], 0);
    return s;
}

static void series_free(struct rl_series *s, size_t nlabels)
{
    if (!s)
        return;
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s);
}

/* Caller holds f->lock for writing; s is not in the table. */
static void insert_locked(struct rl_metric *f, struct rl_series *s)
{
    size_t mask;

    if ((f->len + 1) * 2 > f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        struct rl_series **nslots = rl_xcalloc(ncap, sizeof(*nslots));

        for (size_t i = 0; i < f->cap; i++) {
            struct rl_series *o = f->slots[i];
            size_t j;

            if (!o)
                continue;
            for (j = (size_t)o->hash & (ncap - 1); nslots[j]; j = (j + 1) & (ncap - 1))
                ;
            nslots[j] = o;
        }
        free(f->slots);
        f->slots = nslots;
        f->cap = ncap;
    }
    mask = f->cap - 1;
    for (size_t i = (size_t)s->hash & mask;; i = (i + 1) & mask) {
        if (!f->slots[i]) {
            f->slots[i] = s;
            break;
        }
    }
    f->len++;
}

/* Strict UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0;
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
               (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n = utf8_seq_len(p);

        if (!n)
            return false;
        p += n;
    }
    return true;
}

/* A copy of s with each invalid byte replaced by U+FFFD; caller frees. */
static char *utf8_repair(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    struct rl_buf b;

    rl_buf_init(&b, 0);
    while (*p) {
        size_t n = utf8_seq_len(p);

        if (n) {
            rl_buf_add(&b, p, n);
            p += n;
        } else {
            rl_buf_adds(&b, "\xef\xbf\xbd");
            p++;
        }
    }
    return rl_buf_detach(&b);
}

struct rl_series *rl_metric_series(struct rl_metric *f, const char *const *values,
                                   size_t nvalues)
{
    struct rl_series *s;
    uint64_t h;

    RL_ASSERT(nvalues == f->nlabels);
    if (f->nlabels == 0)
        return f->single;

    /*
     * The exposition must be UTF-8. Repair bad values here, before the
     * lookup, so that a bad value always maps to the same series.
     */
    for (size_t i = 0; i < nvalues; i++) {
        if (values[i] && !valid_utf8(values[i])) {
            const char *fixed[RL_METRIC_MAX_LABELS];

            for (size_t j = 0; j < nvalues; j++)
                fixed[j] = values[j] ? utf8_repair(values[j]) : NULL;
            s = rl_metric_series(f, fixed, nvalues);
            for (size_t j = 0; j < nvalues; j++)
                free((char *)fixed[j]);
            return s;
        }
    }

    h = hash_values(values, nvalues);
    rl_rwlock_rdlock(&f->lock);
    s = find_locked(f, values, h);
    rl_rwlock_unlock(&f->lock);
    if (s)
        return s;

    rl_rwlock_wrlock(&f->lock);
    s = find_locked(f, values, h);      /* another thread may have won */
    if (!s && f->len < RL_METRIC_MAX_SERIES) {
        s = series_new(f, values, h);
        insert_locked(f, s);
    } else if (!s) {
        if (!f->sink) {
            rl_warn("metric '%s' reached %d series; further label sets are not recorded",
                    f->name, RL_METRIC_MAX_SERIES);
            f->sink = series_new(f, values, h);
        }
        s = f->sink;
    }
    rl_rwlock_unlock(&f->lock);
    return s;
}

/* ---- registration ---- */

static bool valid_metric_name(const char *s)
{
    size_t n = 0;

    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return n <= MAX_NAME_LEN;
}

static bool valid_label_name(const char *s)
{
    if (!s || !*s || strncmp(s, "__", 2) == 0 || strlen(s) > MAX_NAME_LEN)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* The sample names a family emits: itself, or x_bucket, x_sum, x_count. */
static size_t sample_names(const char *name, enum rl_metric_type type, char out[3][MAX_NAME_LEN + 8])
{
    if (type != RL_METRIC_HISTOGRAM) {
        snprintf(out[0], sizeof(out[0]), "%s", name);
        return 1;
    }
    snprintf(out[0], sizeof(out[0]), "%s_bucket", name);
    snprintf(out[1], sizeof(out[1]), "%s_sum", name);
    snprintf(out[2], sizeof(out[2]), "%s_count", name);
    return 3;
}

/* Caller holds m->lock. */
static bool clashes_locked(const struct rl_metrics *m, const char *name, enum rl_metric_type type)
{
    char mine[3][MAX_NAME_LEN + 8];
    char theirs[3][MAX_NAME_LEN + 8];
    size_t nmine = sample_names(name, type, mine);

    for (size_t i = 0; i < m->nfams; i++) {
        const struct rl_metric *f = m->fams[i];
        size_t ntheirs = sample_names(f->name, f->type, theirs);

        if (strcmp(f->name, name) == 0)
            return true;
        for (size_t a = 0; a < nmine; a++) {
            if (strcmp(mine[a], f->name) == 0)
                return true;
            for (size_t b = 0; b < ntheirs; b++) {
                if (strcmp(mine[a], theirs[b]) == 0 || strcmp(name, theirs[b]) == 0)
                    return true;
            }
        }
    }
    return false;
}

static int check_desc(const struct rl_metric_desc *d, size_t *nlabels)
{
    size_t n = 0;

    if (!valid_metric_name(d->name) || !d->help)
        return RL_EINVAL;
    if (d->type != RL_METRIC_COUNTER && d->type != RL_METRIC_GAUGE &&
        d->type != RL_METRIC_HISTOGRAM)
        return RL_EINVAL;
    for (; d->labels && d->labels[n]; n++) {
        if (n == RL_METRIC_MAX_LABELS || !valid_label_name(d->labels[n]))
            return RL_EINVAL;
        if (d->type == RL_METRIC_HISTOGRAM && strcmp(d->labels[n], "le") == 0)
            return RL_EINVAL;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(d->labels[j], d->labels[n]) == 0)
                return RL_EINVAL;
        }
    }
    if (d->type != RL_METRIC_HISTOGRAM && d->nbuckets)
        return RL_EINVAL;
    if (d->nbuckets > RL_METRIC_MAX_BUCKETS || (d->nbuckets && !d->buckets))
        return RL_EINVAL;
    for (size_t i = 0; i < d->nbuckets; i++) {
        if (!isfinite(d->buckets[i]) || (i && !(d->buckets[i] > d->buckets[i - 1])))
            return RL_EINVAL;
    }
    *nlabels = n;
    return 0;
}

static void family_free(struct rl_metric *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->cap; i++)
        series_free(f->slots[i], f->nlabels);
    series_free(f->sink, f->nlabels);
    free(f->slots);
    rl_rwlock_destroy(&f->lock);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->help);
    free(f->name);
    free(f);
}

int rl_metrics_register(struct rl_metrics *m, const struct rl_metric_desc *d,
                        struct rl_metric **out)
{
    struct rl_metric *f = NULL;
    size_t nlabels = 0, pos;
    int err;

    err = check_desc(d, &nlabels);
    if (err)
        return err;

    f = RL_NEW(struct rl_metric);
    f->name = rl_xstrdup(d->name);
    f->help = rl_xstrdup(d->help);
    f->type = d->type;
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        f->labels[i] = rl_xstrdup(d->labels[i]);
    f->nbounds = d->nbuckets;
    if (d->nbuckets)
        memcpy(f->bounds, d->buckets, d->nbuckets * sizeof(double));
    rl_rwlock_init(&f->lock);
    if (nlabels == 0) {
        /* A family without labels has its one series from the start. */
        f->single = series_new(f, NULL, hash_values(NULL, 0));
        insert_locked(f, f->single);
    }

    rl_mutex_lock(&m->lock);
    if (clashes_locked(m, f->name, f->type)) {
        rl_mutex_unlock(&m->lock);
        family_free(f);
        return RL_EINVAL;
    }
    if (m->nfams == m->famcap) {
        m->famcap = m->famcap ? m->famcap * 2 : 32;
        m->fams = rl_xreallocarray(m->fams, m->famcap, sizeof(*m->fams));
    }
    for (pos = m->nfams; pos > 0 && strcmp(m->fams[pos - 1]->name, f->name) > 0; pos--)
        m->fams[pos] = m->fams[pos - 1];
    m->fams[pos] = f;
    m->nfams++;
    rl_mutex_unlock(&m->lock);

    if (out)
        *out = f;
    return 0;
}

struct rl_metric *rl_metrics_find(struct rl_metrics *m, const char *name)
{
    struct rl_metric *found = NULL;

    rl_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfams; i++) {
        if (strcmp(m->fams[i]->name, name) == 0) {
            found = m->fams[i];
            break;
        }
    }
    rl_mutex_unlock(&m->lock);
    return found;
}

struct rl_metric *rl_metrics_get(struct rl_metrics *m, enum rl_metric_id id)
{
    if (!m || (unsigned)id >= RL_M__COUNT)
        return NULL;
    return m->ids[id];
}

const struct rl_metric_desc *rl_metrics_desc(enum rl_metric_id id)
{
    if ((unsigned)id >= RL_M__COUNT)
        return NULL;
    return &descs[id];
}

void rl_metrics_on_collect(struct rl_metrics *m, rl_metrics_collect_fn *fn, void *ctx)
{
    rl_mutex_lock(&m->lock);
    m->collectors = rl_xreallocarray(m->collectors, m->ncollectors + 1, sizeof(*m->collectors));
    m->collectors[m->ncollectors].fn = fn;
    m->collectors[m->ncollectors].ctx = ctx;
    m->ncollectors++;
    rl_mutex_unlock(&m->lock);
}

/* ---- lifecycle ---- */

struct rl_metrics *rl_metrics_new_empty(void)
{
    struct rl_metrics *m = RL_NEW(struct rl_metrics);

    rl_mutex_init(&m->lock);
    return m;
}

void rl_metrics_free(struct rl_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m->collectors);
    free(m->api_host);
    rl_mutex_destroy(&m->lock);
    free(m);
}

void rl_metrics_opts_from_env(struct rl_metrics_opts *opts)
{
    const char *v = getenv("METRICS_COUNT_BY_NAMESPACE");

    memset(opts, 0, sizeof(*opts));
    opts->process = true;
    opts->count_by_namespace = v && strcmp(v, "enabled") == 0;
}

static void collect_process(struct rl_metrics *m, void *ctx)
{
    struct rl_procstat ps;
    int err = rl_procstat_read(&ps);

    if (err) {
        rl_debug("cannot read process statistics: %s", rl_strerror(err));
        return;
    }
    rl_series_set(m->ids[RL_M_PROCESS_RSS]->single, (double)ps.rss_bytes);
    rl_series_set(m->ids[RL_M_PROCESS_VSIZE]->single, (double)ps.vsize_bytes);
    rl_series_set(m->ids[RL_M_PROCESS_CPU]->single, ps.cpu_seconds);
    rl_series_set(m->ids[RL_M_PROCESS_OPEN_FDS]->single, (double)ps.open_fds);
    rl_series_set(m->ids[RL_M_PROCESS_MAX_FDS]->single,
                  ps.max_fds == UINT64_MAX ? INFINITY : (double)ps.max_fds);
    rl_series_set(m->ids[RL_M_PROCESS_START_TIME]->single, ps.start_time_s);
    rl_series_set(m->ids[RL_M_PROCESS_THREADS]->single, (double)ps.threads);
}

static bool is_process_family(enum rl_metric_id id)
{
    return id >= RL_M_PROCESS_RSS && id <= RL_M_PROCESS_THREADS;
}

struct rl_metrics *rl_metrics_new(const struct rl_metrics_opts *opts)
{
    struct rl_metrics_opts env;
    struct rl_metrics *m;

    if (!opts) {
        rl_metrics_opts_from_env(&env);
        opts = &env;
    }
    m = rl_metrics_new_empty();
    m->api_host = rl_xstrdup(opts->api_host ? opts->api_host : "");
    for (int id = 0; id < RL_M__COUNT; id++) {
        if (id == RL_M_RELOAD_EXECUTED_BY_NS && !opts->count_by_namespace)
            continue;
        if (is_process_family((enum rl_metric_id)id) && !opts->process)
            continue;
        /* The table is ours: a failure here is a bug in RL_METRICS_FAMILIES. */
        if (rl_metrics_register(m, &descs[id], &m->ids[id]) != 0)
            RL_BUG(descs[id].name);
    }
    /* Reloader exposes both outcomes from the start; dashboards expect it. */
    m->executed[0] = rl_metric_series(m->ids[RL_M_RELOAD_EXECUTED],
                                      (const char *const[]){ "false" }, 1);
    m->executed[1] = rl_metric_series(m->ids[RL_M_RELOAD_EXECUTED],
                                      (const char *const[]){ "true" }, 1);
    if (opts->process)
        rl_metrics_on_collect(m, collect_process, NULL);
    return m;
}

/* ---- events ---- */

static const char *bool_str(bool b)
{
    return b ? "true" : "false";
}

static const char *result_str(enum rl_metrics_result r)
{
    switch (r) {
    case RL_METRICS_SUCCESS: return "success";
    case RL_METRICS_ERROR: return "error";
    case RL_METRICS_SKIPPED: return "skipped";
    }
    return "unknown";
}

static const char *event_str(enum rl_metrics_event ev)
{
    switch (ev) {
    case RL_METRICS_EVENT_ADD: return "add";
    case RL_METRICS_EVENT_UPDATE: return "update";
    case RL_METRICS_EVENT_DELETE: return "delete";
    }
    return "unknown";
}

/* Shorthands: the series of family id for the given label values. */
#define SERIES(m, id, ...) \
    rl_metric_series((m)->ids[id], (const char *const[]){ __VA_ARGS__ }, \
                     sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define SINGLE(m, id) ((m)->ids[id]->single)

void rl_metrics_reload_executed(struct rl_metrics *m, bool success, const char *ns)
{
    if (!m)
        return;
    rl_series_inc(m->executed[success]);
    if (m->ids[RL_M_RELOAD_EXECUTED_BY_NS])
        rl_series_inc(SERIES(m, RL_M_RELOAD_EXECUTED_BY_NS, bool_str(success), ns));
}

void rl_metrics_reconcile(struct rl_metrics *m, enum rl_metrics_result result, double seconds)
{
    if (!m)
        return;
    rl_series_inc(SERIES(m, RL_M_RECONCILE_TOTAL, result_str(result)));
    rl_series_observe(SERIES(m, RL_M_RECONCILE_DURATION, result_str(result)), seconds);
}

void rl_metrics_action(struct rl_metrics *m, const char *workload_kind, bool success,
                       double seconds)
{
    if (!m)
        return;
    rl_series_inc(SERIES(m, RL_M_ACTION_TOTAL, workload_kind, success ? "success" : "error"));
    rl_series_observe(SERIES(m, RL_M_ACTION_LATENCY, workload_kind), seconds);
}

void rl_metrics_skipped(struct rl_metrics *m, enum rl_metrics_skip_reason reason)
{
    const char *r = "unknown";

    if (!m)
        return;
    switch (reason) {
    case RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED: r = "ignored_or_not_selected"; break;
    case RL_METRICS_SKIP_NO_DATA_CHANGE: r = "no_data_change"; break;
    case RL_METRICS_SKIP_STRATEGY_NOT_UPDATED: r = "strategy_not_updated"; break;
    }
    rl_series_inc(SERIES(m, RL_M_SKIPPED, r));
}

void rl_metrics_workqueue_add(struct rl_metrics *m)
{
    if (m)
        rl_series_inc(SINGLE(m, RL_M_WORKQUEUE_ADDS));
}

void rl_metrics_workqueue_latency(struct rl_metrics *m, double seconds)
{
    if (m)
        rl_series_observe(SINGLE(m, RL_M_WORKQUEUE_LATENCY), seconds);
}

void rl_metrics_queue_depth(struct rl_metrics *m, unsigned shard, size_t depth)
{
    char label[16];
    double old;

    if (!m)
        return;
    snprintf(label, sizeof(label), "%u", shard);
    /* The exchange hands us this shard's previous depth: the sum moves by
     * the difference, so concurrent shards never overwrite each other. */
    old = series_exchange(SERIES(m, RL_M_QUEUE_DEPTH, label), (double)depth);
    rl_series_add(SINGLE(m, RL_M_WORKQUEUE_DEPTH), (double)depth - old);
}

void rl_metrics_error(struct rl_metrics *m, enum rl_metrics_error_type type)
{
    if (!m)
        return;
    rl_series_inc(SERIES(m, RL_M_ERRORS, type == RL_METRICS_ERR_INVALID_HANDLER
                                              ? "invalid_handler_type" : "handler_error"));
}

void rl_metrics_retry(struct rl_metrics *m)
{
    if (m)
        rl_series_inc(SINGLE(m, RL_M_RETRIES));
}

void rl_metrics_event_received(struct rl_metrics *m, enum rl_metrics_event ev,
                               const char *resource_type)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_EVENTS_RECEIVED, event_str(ev), resource_type));
}

void rl_metrics_event_processed(struct rl_metrics *m, enum rl_metrics_event ev,
                                const char *resource_type, bool dropped)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_EVENTS_PROCESSED, event_str(ev), resource_type,
                             dropped ? "dropped" : "success"));
}

void rl_metrics_workloads_scanned(struct rl_metrics *m, const char *kind, size_t n)
{
    if (m)
        rl_series_add(SERIES(m, RL_M_WORKLOADS_SCANNED, kind), (double)n);
}

void rl_metrics_workloads_matched(struct rl_metrics *m, const char *kind, size_t n)
{
    if (m)
        rl_series_add(SERIES(m, RL_M_WORKLOADS_MATCHED, kind), (double)n);
}

void rl_metrics_reconcile_latency(struct rl_metrics *m, double seconds)
{
    if (m)
        rl_series_observe(SINGLE(m, RL_M_RECONCILE_LATENCY), seconds);
}

void rl_metrics_startup_sync(struct rl_metrics *m, double seconds)
{
    if (m)
        rl_series_set(SINGLE(m, RL_M_STARTUP_SYNC), seconds);
}

void rl_metrics_watch_restart(struct rl_metrics *m, const char *resource)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_WATCH_RESTARTS, resource));
}

void rl_metrics_relist(struct rl_metrics *m, const char *resource)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_RELISTS, resource));
}

/* The HTTP method behind a Kubernetes verb, as rest_client_* label it. */
static const char *verb_method(const char *verb)
{
    static const struct { const char *verb, *method; } map[] = {
        { "get", "GET" }, { "list", "GET" }, { "watch", "GET" },
        { "create", "POST" }, { "update", "PUT" }, { "patch", "PATCH" },
        { "delete", "DELETE" }, { "deletecollection", "DELETE" },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].verb, verb) == 0)
            return map[i].method;
    }
    return verb;
}

void rl_metrics_api_request(struct rl_metrics *m, const char *verb, const char *resource,
                            int code, double seconds)
{
    char code_str[16];
    const char *method;

    if (!m)
        return;
    if (!verb)
        verb = "";
    if (code > 0)
        snprintf(code_str, sizeof(code_str), "%d", code);
    else
        snprintf(code_str, sizeof(code_str), "<error>");
    method = verb_method(verb);
    rl_series_inc(SERIES(m, RL_M_API_REQUESTS, verb, resource, code_str));
    rl_series_observe(SERIES(m, RL_M_API_DURATION, verb, resource), seconds);
    rl_series_inc(SERIES(m, RL_M_REST_CLIENT_REQUESTS, code_str, method, m->api_host));
    rl_series_observe(SERIES(m, RL_M_REST_CLIENT_DURATION, method, m->api_host), seconds);
}

void rl_metrics_cached_objects(struct rl_metrics *m, const char *kind, size_t n)
{
    if (m)
        rl_series_set(SERIES(m, RL_M_CACHED_OBJECTS, kind), (double)n);
}

void rl_metrics_rollout_cap(struct rl_metrics *m, size_t in_flight, size_t waiting,
                            uint64_t timed_out)
{
    if (!m)
        return;
    rl_series_set(SINGLE(m, RL_M_ROLLOUTS_IN_FLIGHT), (double)in_flight);
    rl_series_set(SINGLE(m, RL_M_ROLLOUTS_WAITING), (double)waiting);
    rl_series_set(SINGLE(m, RL_M_ROLLOUTS_TIMED_OUT), (double)timed_out);
}

void rl_metrics_workload_state(struct rl_metrics *m, size_t entries, size_t pending,
                               uint64_t writes, uint64_t failures, uint64_t deferred)
{
    if (!m)
        return;
    rl_series_set(SERIES(m, RL_M_STATE_ENTRIES, "written"), (double)entries);
    rl_series_set(SERIES(m, RL_M_STATE_ENTRIES, "pending"), (double)pending);
    rl_series_set(SERIES(m, RL_M_STATE_WRITES, "success"), (double)writes);
    rl_series_set(SERIES(m, RL_M_STATE_WRITES, "error"), (double)failures);
    rl_series_set(SERIES(m, RL_M_STATE_WRITES, "deferred"), (double)deferred);
}

void rl_metrics_notifications(struct rl_metrics *m, const char *kind, const char *result,
                              uint64_t n)
{
    if (m)
        rl_series_set(SERIES(m, RL_M_NOTIFICATIONS, kind, result), (double)n);
}

void rl_metrics_restart_budget_held(struct rl_metrics *m, const char *kind)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_RESTART_BUDGET_HELD, kind));
}

void rl_metrics_window_held(struct rl_metrics *m, const char *kind)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_WINDOW_HELD, kind));
}

void rl_metrics_health_gate_held(struct rl_metrics *m, const char *kind)
{
    if (m)
        rl_series_inc(SERIES(m, RL_M_HEALTH_GATE_HELD, kind));
}

void rl_metrics_watch_progress(struct rl_metrics *m, const char *resource, double unix_s)
{
    if (m)
        rl_series_set(SERIES(m, RL_M_WATCH_PROGRESS, resource), unix_s);
}

void rl_metrics_leader(struct rl_metrics *m, bool is_leader)
{
    double was;

    if (!m)
        return;
    was = series_exchange(SINGLE(m, RL_M_IS_LEADER), is_leader ? 1.0 : 0.0);
    if ((was != 0.0) != is_leader)
        rl_series_inc(SINGLE(m, RL_M_LEADER_TRANSITIONS));
}

void rl_metrics_first_write_after_acquire(struct rl_metrics *m, double seconds)
{
    if (m)
        rl_series_set(SINGLE(m, RL_M_FIRST_WRITE_AFTER_ACQUIRE), seconds);
}

/* ---- exposition ---- */

/* An output with a sticky error, so rendering reads straight through. */
struct out {
    struct rl_buf *b;
    int err;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (!o->err)
        o->err = rl_buf_add(o->b, s, n);
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Escapes '\\' and '\n', plus '"' when quote (label values). */
static void put_escaped(struct out *o, const char *s, bool quote)
{
    const char *run = s;

    for (; *s; s++) {
        const char *rep = NULL;

        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (*s == '"' && quote)
            rep = "\\\"";
        if (!rep)
            continue;
        put(o, run, (size_t)(s - run));
        puts_(o, rep);
        run = s + 1;
    }
    put(o, run, (size_t)(s - run));
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) style: shortest exact form. */
static void format_double(double v, char out[32])
{
    if (isnan(v)) {
        snprintf(out, 32, "NaN");
    } else if (isinf(v)) {
        snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, 32, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, 32, "%.17g", v);
    }
}

static void put_double(struct out *o, double v)
{
    char num[32];

    format_double(v, num);
    puts_(o, num);
}

static void put_u64(struct out *o, uint64_t v)
{
    char num[32];

    snprintf(num, sizeof(num), "%" PRIu64, v);
    puts_(o, num);
}

/* name{labels[,le="..."]} — braces only when there is a label. */
static void put_sample_name(struct out *o, const struct rl_metric *f, const struct rl_series *s,
                            const char *suffix, const char *le)
{
    puts_(o, f->name);
    puts_(o, suffix);
    if (f->nlabels == 0 && !le)
        return;
    put(o, "{", 1);
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            put(o, ",", 1);
        puts_(o, f->labels[i]);
        put(o, "=\"", 2);
        put_escaped(o, s->values[i], true);
        put(o, "\"", 1);
    }
    if (le) {
        if (f->nlabels)
            put(o, ",", 1);
        put(o, "le=\"", 4);
        puts_(o, le);
        put(o, "\"", 1);
    }
    put(o, "}", 1);
}

static void put_series(struct out *o, const struct rl_metric *f, const struct rl_series *s)
{
    uint64_t counts[RL_METRIC_MAX_BUCKETS + 1];
    uint64_t cum = 0;
    char le[32];

    if (f->type != RL_METRIC_HISTOGRAM) {
        put_sample_name(o, f, s, "", NULL);
        put(o, " ", 1);
        put_double(o, rl_series_value(s));
        put(o, "\n", 1);
        return;
    }
    /* One read of the buckets yields both the cumulative counts and _count. */
    for (size_t i = 0; i <= f->nbounds; i++)
        counts[i] = atomic_load_explicit((_Atomic uint64_t *)&s->counts[i],
                                         memory_order_relaxed);
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += counts[i];
        if (i < f->nbounds)
            format_double(f->bounds[i], le);
        else
            snprintf(le, sizeof(le), "+Inf");
        put_sample_name(o, f, s, "_bucket", le);
        put(o, " ", 1);
        put_u64(o, cum);
        put(o, "\n", 1);
    }
    put_sample_name(o, f, s, "_sum", NULL);
    put(o, " ", 1);
    put_double(o, rl_series_sum(s));
    put(o, "\n", 1);
    put_sample_name(o, f, s, "_count", NULL);
    put(o, " ", 1);
    put_u64(o, cum);
    put(o, "\n", 1);
}

static int cmp_series(const void *a, const void *b)
{
    const struct rl_series *x = *(const struct rl_series *const *)a;
    const struct rl_series *y = *(const struct rl_series *const *)b;

    for (size_t i = 0; i < x->family->nlabels; i++) {
        int c = strcmp(x->values[i], y->values[i]);

        if (c)
            return c;
    }
    return 0;
}

static void put_family(struct out *o, struct rl_metric *f)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    struct rl_series **list;
    size_t n = 0;

    /* Series are never freed before the registry: render them unlocked. */
    rl_rwlock_rdlock(&f->lock);
    list = rl_xcalloc(f->len ? f->len : 1, sizeof(*list));
    for (size_t i = 0; i < f->cap; i++) {
        if (f->slots[i])
            list[n++] = f->slots[i];
    }
    rl_rwlock_unlock(&f->lock);

    if (n) {
        qsort(list, n, sizeof(*list), cmp_series);
        puts_(o, "# HELP ");
        puts_(o, f->name);
        put(o, " ", 1);
        put_escaped(o, f->help, false);
        puts_(o, "\n# TYPE ");
        puts_(o, f->name);
        put(o, " ", 1);
        puts_(o, type_names[f->type]);
        put(o, "\n", 1);
        for (size_t i = 0; i < n; i++)
            put_series(o, f, list[i]);
    }
    free(list);
}

int rl_metrics_expose(struct rl_metrics *m, struct rl_buf *out)
{
    struct out o = { out, 0 };
    struct collector *collectors = NULL;
    struct rl_metric **fams = NULL;
    size_t ncollectors, nfams;

    rl_mutex_lock(&m->lock);
    ncollectors = m->ncollectors;
    if (ncollectors) {
        collectors = rl_xcalloc(ncollectors, sizeof(*collectors));
        memcpy(collectors, m->collectors, ncollectors * sizeof(*collectors));
    }
    rl_mutex_unlock(&m->lock);
    for (size_t i = 0; i < ncollectors; i++)
        collectors[i].fn(m, collectors[i].ctx);

    /* Copy the (sorted) family list: registration may go on meanwhile. */
    rl_mutex_lock(&m->lock);
    nfams = m->nfams;
    fams = rl_xcalloc(nfams ? nfams : 1, sizeof(*fams));
    if (nfams)
        memcpy(fams, m->fams, nfams * sizeof(*fams));
    rl_mutex_unlock(&m->lock);
    for (size_t i = 0; i < nfams && !o.err; i++)
        put_family(&o, fams[i]);

    free(fams);
    free(collectors);
    return o.err;
}
