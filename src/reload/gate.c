/* gate.c - health-gated propagation: a first batch rolls, the rest follow if it is healthy */
#include "reloadd/reload/gate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/banned.h"

enum state {
    ST_OPEN,                            /* batch filling or running */
    ST_PASSED,                          /* every member DONE: all roll */
    ST_HELD,                            /* a member failed or timed out */
};

struct member {
    char *wkey;
    uint64_t since_ms;                  /* admitted, or first reported RUNNING */
    bool started;                       /* reported RUNNING */
    enum rl_progress outcome;           /* RUNNING until reported DONE or FAILED */
};

struct source {
    char version[RL_GATE_VERSION_MAX + 1];
    enum state state;
    uint64_t touched;                   /* recency, for eviction */
    unsigned n;                         /* members in use */
    struct member *members;             /* [batch] */
};

struct rl_gate {
    pthread_mutex_t mu;
    unsigned batch;
    uint64_t timeout_ms;
    size_t max_sources;
    struct rl_map sources;              /* source key -> struct source */
    uint64_t tick, evicted, held;
};

const char *rl_gate_verdict_name(enum rl_gate_verdict v)
{
    switch (v) {
    case RL_GATE_ROLL: return "roll";
    case RL_GATE_WAIT: return "wait";
    case RL_GATE_HOLD: return "hold";
    }
    return "unknown";
}

static void source_reset(struct source *s, unsigned batch, const char *version)
{
    for (unsigned i = 0; i < s->n; i++)
        free(s->members[i].wkey);
    memset(s->members, 0, batch * sizeof(*s->members));
    s->n = 0;
    s->state = ST_OPEN;
    snprintf(s->version, sizeof(s->version), "%s", version);
}

static void source_free(void *p)
{
    struct source *s = p;

    for (unsigned i = 0; i < s->n; i++)
        free(s->members[i].wkey);
    free(s->members);
    free(s);
}

struct rl_gate *rl_gate_new(unsigned batch, uint64_t timeout_ms, size_t max_sources)
{
    struct rl_gate *g = RL_NEW(struct rl_gate);

    rl_mutex_init(&g->mu);
    g->batch = batch;
    g->timeout_ms = timeout_ms;
    g->max_sources = max_sources ? max_sources : 1;
    rl_map_init(&g->sources);
    return g;
}

void rl_gate_free(struct rl_gate *g)
{
    if (!g)
        return;
    rl_map_release(&g->sources, source_free);
    rl_mutex_destroy(&g->mu);
    free(g);
}

static bool timed_out(const struct rl_gate *g, const struct member *m, uint64_t now_ms)
{
    return g->timeout_ms && m->outcome == RL_PROGRESS_RUNNING && now_ms >= m->since_ms &&
           now_ms - m->since_ms >= g->timeout_ms;
}

/* Moves s to PASSED or HELD when its members say so (both are final). */
static void evaluate(struct rl_gate *g, struct source *s, uint64_t now_ms)
{
    unsigned done = 0;

    if (s->state != ST_OPEN)
        return;
    for (unsigned i = 0; i < s->n; i++) {
        const struct member *m = &s->members[i];

        if (m->outcome == RL_PROGRESS_FAILED || timed_out(g, m, now_ms)) {
            s->state = ST_HELD;
            g->held++;
            return;
        }
        done += m->outcome == RL_PROGRESS_DONE;
    }
    if (s->n == g->batch && done == s->n)
        s->state = ST_PASSED;
}

static struct member *member_of(struct source *s, const char *wkey)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strcmp(s->members[i].wkey, wkey) == 0)
            return &s->members[i];
    return NULL;
}

/* Source src, if it is tracked at this version. g->mu held. */
static struct source *at_version(struct rl_gate *g, const char *src, const char *version)
{
    struct source *s = rl_map_get(&g->sources, src);

    return s && strncmp(s->version, version, RL_GATE_VERSION_MAX) == 0 ? s : NULL;
}

/* Drops one source to make room: least recently asked, passed before held before open. */
static void evict_one(struct rl_gate *g)
{
    const char *victim = NULL, *k;
    int victim_rank = 0;
    uint64_t victim_touched = 0;
    void *v;

    for (size_t it = 0; rl_map_next(&g->sources, &it, &k, &v);) {
        const struct source *s = v;
        int rank = s->state == ST_PASSED ? 3 : s->state == ST_HELD ? 2 : 1;

        if (rank > victim_rank || (rank == victim_rank && s->touched < victim_touched)) {
            victim = k;
            victim_rank = rank;
            victim_touched = s->touched;
        }
    }
    if (victim) {
        source_free(rl_map_del(&g->sources, victim));
        g->evicted++;
    }
}

enum rl_gate_verdict rl_gate_check(struct rl_gate *g, const char *src, const char *version,
                                   const char *wkey, uint64_t now_ms, bool *in_batch)
{
    enum rl_gate_verdict v;
    struct source *s;
    struct member *m;

    if (in_batch)
        *in_batch = false;
    if (!g->batch)
        return RL_GATE_ROLL;
    rl_mutex_lock(&g->mu);
    s = rl_map_get(&g->sources, src);
    if (!s) {
        if (g->sources.len >= g->max_sources)
            evict_one(g);
        s = RL_NEW(struct source);
        s->members = rl_xcalloc(g->batch, sizeof(*s->members));
        source_reset(s, g->batch, version);
        rl_map_put(&g->sources, src, s);
    } else if (strncmp(s->version, version, RL_GATE_VERSION_MAX) != 0) {
        source_reset(s, g->batch, version);
    }
    s->touched = ++g->tick;
    evaluate(g, s, now_ms);
    m = member_of(s, wkey);
    if (m) {
        v = RL_GATE_ROLL;
    } else if (s->state == ST_HELD) {
        v = RL_GATE_HOLD;
    } else if (s->n < g->batch) {
        m = &s->members[s->n++];
        m->wkey = rl_xstrdup(wkey);
        m->since_ms = now_ms;
        m->outcome = RL_PROGRESS_RUNNING;
        v = RL_GATE_ROLL;
    } else {
        v = s->state == ST_PASSED ? RL_GATE_ROLL : RL_GATE_WAIT;
    }
    if (in_batch)
        *in_batch = m != NULL;
    rl_mutex_unlock(&g->mu);
    return v;
}

bool rl_gate_report(struct rl_gate *g, const char *src, const char *version, const char *wkey,
                    enum rl_progress p, uint64_t now_ms)
{
    struct source *s;
    struct member *m = NULL;

    if (!g->batch)
        return false;
    rl_mutex_lock(&g->mu);
    s = at_version(g, src, version);
    if (s)
        m = member_of(s, wkey);
    if (m && m->outcome == RL_PROGRESS_RUNNING) {
        if (p == RL_PROGRESS_RUNNING && !m->started) {
            m->started = true;
            m->since_ms = now_ms;
        } else if (p != RL_PROGRESS_RUNNING) {
            evaluate(g, s, now_ms);             /* a DONE past the deadline is too late */
            m->outcome = p;
        }
        evaluate(g, s, now_ms);
    }
    rl_mutex_unlock(&g->mu);
    return m != NULL;
}

bool rl_gate_member(struct rl_gate *g, const char *src, const char *version, const char *wkey)
{
    struct source *s;
    bool in;

    if (!g->batch)
        return false;
    rl_mutex_lock(&g->mu);
    s = at_version(g, src, version);
    in = s && member_of(s, wkey) != NULL;
    rl_mutex_unlock(&g->mu);
    return in;
}

void rl_gate_forget_workload(struct rl_gate *g, const char *wkey)
{
    const char *k;
    void *v;

    if (!g->batch)
        return;
    rl_mutex_lock(&g->mu);
    for (size_t it = 0; rl_map_next(&g->sources, &it, &k, &v);) {
        struct source *s = v;
        struct member *m = member_of(s, wkey);

        if (!m)
            continue;
        free(m->wkey);
        *m = s->members[--s->n];
        memset(&s->members[s->n], 0, sizeof(*m));
    }
    rl_mutex_unlock(&g->mu);
}

void rl_gate_forget_source(struct rl_gate *g, const char *src)
{
    struct source *s;

    if (!g->batch)
        return;
    rl_mutex_lock(&g->mu);
    s = rl_map_del(&g->sources, src);
    if (s)
        source_free(s);
    rl_mutex_unlock(&g->mu);
}

void rl_gate_clear(struct rl_gate *g)
{
    rl_mutex_lock(&g->mu);
    rl_map_release(&g->sources, source_free);
    rl_map_init(&g->sources);
    rl_mutex_unlock(&g->mu);
}

void rl_gate_info(struct rl_gate *g, const char *src, uint64_t now_ms, struct rl_gate_info *out)
{
    struct source *s;

    memset(out, 0, sizeof(*out));
    out->verdict = RL_GATE_ROLL;
    if (!g->batch)
        return;
    rl_mutex_lock(&g->mu);
    s = rl_map_get(&g->sources, src);
    if (s) {
        evaluate(g, s, now_ms);
        out->tracked = true;
        memcpy(out->version, s->version, sizeof(out->version));
        out->members = s->n;
        for (unsigned i = 0; i < s->n; i++) {
            out->done += s->members[i].outcome == RL_PROGRESS_DONE;
            out->failed += s->members[i].outcome == RL_PROGRESS_FAILED;
            out->timed_out += timed_out(g, &s->members[i], now_ms);
            if (g->timeout_ms && s->members[i].outcome == RL_PROGRESS_RUNNING) {
                uint64_t d = s->members[i].since_ms + g->timeout_ms;

                if (!out->deadline_ms || d < out->deadline_ms)
                    out->deadline_ms = d;
            }
        }
        out->verdict = s->state == ST_HELD     ? RL_GATE_HOLD
                       : s->state == ST_PASSED ? RL_GATE_ROLL
                       : s->n < g->batch       ? RL_GATE_ROLL
                                               : RL_GATE_WAIT;
    }
    rl_mutex_unlock(&g->mu);
}

void rl_gate_counts(struct rl_gate *g, struct rl_gate_counts *out)
{
    const char *k;
    void *v;

    memset(out, 0, sizeof(*out));
    rl_mutex_lock(&g->mu);
    out->sources = g->sources.len;
    for (size_t it = 0; rl_map_next(&g->sources, &it, &k, &v);)
        out->held += ((struct source *)v)->state == ST_HELD;
    out->evicted_total = g->evicted;
    out->held_total = g->held;
    rl_mutex_unlock(&g->mu);
}
