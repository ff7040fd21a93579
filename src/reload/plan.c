/* plan.c - the planner of plan.h: the reconcile contract, source by source */
#include "reloadd/reload/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/syntax.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/kind.h"
#include "reloadd/reload/marker.h"
#include "reloadd/base/banned.h"

const char *rl_verdict_name(enum rl_verdict v)
{
    static const char *const names[] = {
        "skip", "up-to-date", "baseline", "adopt", "roll", "roll-deleted", "gone", "keep",
    };

    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

void rl_plan_release(struct rl_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].container);
    }
    free(p->ns);
    free(p->name);
    free(p->uid);
    free(p->pause_period);
    free(p->paused_at);
    free(p->history);
    memset(p, 0, sizeof(*p));
}

/* --- candidates --------------------------------------------------------- */

struct cand_ctx {
    struct rl_plan *p;
    const struct rl_policy *pol;
};

/* Whether sources of type t are watched (SecretProviderClasses: --enable-csi-integration). */
static bool type_watched(const struct rl_policy *pol, enum rl_source_type t)
{
    return t != RL_SOURCE_SPC || pol->csi;
}

static bool plan_has(const struct rl_plan *p, enum rl_source_type t, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].type == t && strcmp(p->items[i].name, name) == 0)
            return true;
    return false;
}

static void add_candidate(struct rl_plan *p, const struct rl_policy *pol, enum rl_source_type t,
                          const char *name)
{
    struct rl_plan_item *it;

    if (!type_watched(pol, t) || plan_has(p, t, name))
        return;
    if (p->n == RL_PLAN_MAX_SOURCES) {
        p->truncated = true;
        return;
    }
    it = &p->items[p->n++];
    memset(it, 0, sizeof(*it));
    it->type = t;
    it->name = rl_xstrdup(name);
}

static void on_ref(void *arg, enum rl_source_type t, const char *name, unsigned origins)
{
    struct cand_ctx *cc = arg;

    (void)origins;
    add_candidate(cc->p, cc->pol, t, name);
}

struct named_ctx {
    const struct rl_policy *pol;
    struct rl_plan *p;
    struct rl_regex_cache *rc;
    const char *list;
    enum rl_source_type type;
};

static void on_named_source(void *arg, const char *name, const struct rl_source *src)
{
    struct named_ctx *nc = arg;

    (void)src;
    if (rl_decide_list_matches(nc->rc, nc->list, name, NULL, 0) == 1)
        add_candidate(nc->p, nc->pol, nc->type, name);
}

/* --- the plan ----------------------------------------------------------- */

static bool is_delete_marker(const char *h)
{
    return h && strcmp(h, RL_HASH_DELETE_MARKER) == 0;
}

/* A record of a real version (not the delete marker). */
static bool is_version(const char *h)
{
    return h && *h && !is_delete_marker(h);
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void verdict(struct rl_plan_item *it, enum rl_verdict v, const char *record, const char *why,
                    const char *decision)
{
    it->verdict = v;
    strlcpy(it->record, record ? record : "", sizeof(it->record));
    snprintf(it->reason, sizeof(it->reason), "%.200s; %s", decision, why);
}

/*
 * The verdict for one source of W: the reconcile contract (reconcile.h).
 * Revisions order what happened: a source event counts for W only if it
 * came after W's pods started from their template (template_rv) - or,
 * where W has no record of the source yet, after W took its present
 * annotations (inputs_rv) - so that a workload first seen while we watch
 * is a baseline whatever its markers say, and the order in which two
 * watches deliver their events changes nothing.
 */
static void judge_source(const struct rl_policy *pol, bool sync, const struct rl_workload *w,
                         const struct rl_source *src, uint64_t deleted_rv, const char *applied,
                         const char *marker, bool reacted_all_along, struct rl_plan_item *it,
                         const char *why)
{
    /*
     * A SecretProviderClass is never created nor deleted for a workload: its
     * pod status objects come and go with the pods, and only their updates
     * count (docs/reloader.md §5.5).
     */
    bool on_create = pol->reload_on_create && it->type != RL_SOURCE_SPC;
    bool on_delete = pol->reload_on_delete && it->type != RL_SOURCE_SPC;
    uint64_t since = w->template_rv > w->inputs_rv ? w->template_rv : w->inputs_rv;
    bool has_version = is_version(applied) || is_version(marker);
    /*
     * With our record, made under W's present annotations or under ones
     * that reacted to the source too: after the template. Otherwise (a
     * marker alone, or a record from before W stopped and started again
     * reacting): after W took its present annotations too, as Reloader
     * judges each event with the annotations of its time.
     */
    uint64_t counts_after = is_version(applied) &&
                                    (w->record_rv >= w->inputs_rv || reacted_all_along)
                                ? w->template_rv : since;
    /* Under env-vars a delete removes the env var: none there, nothing rolls
     * (docs/reloader.md §3.3). */
    bool delete_rolls = on_delete &&
                        (pol->strategy != RL_STRATEGY_ENV_VARS || marker);

    if (!src) {
        /* Our record first: a marker may still hold a delete before the source came back. */
        if (is_delete_marker(applied) || (!applied && is_delete_marker(marker))) {
            verdict(it, RL_VERDICT_OK, RL_HASH_DELETE_MARKER, "deleted; rolled for it already", why);
        } else if (has_version) {
            /*
             * Deleted after W's pods started; or while no reloadd watched: no
             * tombstone, and our own record proves it existed (a marker alone
             * may name a source that never did: a copied manifest).
             */
            bool after = deleted_rv ? deleted_rv > w->template_rv
                                    : w->template_rv == 0 && is_version(applied);
            bool roll = after && (deleted_rv || sync);

            if (roll && delete_rolls)
                verdict(it, RL_VERDICT_ROLL_DELETED, RL_HASH_DELETE_MARKER,
                        "deleted (--reload-on-delete)", why);
            else if (roll && on_delete)
                verdict(it, RL_VERDICT_GONE, RL_HASH_DELETE_MARKER,
                        "deleted; no env var to remove, so no rollout (as Reloader)", why);
            else
                verdict(it, RL_VERDICT_GONE, NULL, after ? "deleted" : "does not exist (W's markers "
                        "predate it)", why);
        } else if (deleted_rv && deleted_rv > since && delete_rolls) {
            /* Deleted before W's baseline was written: W existed first. */
            verdict(it, RL_VERDICT_ROLL_DELETED, RL_HASH_DELETE_MARKER,
                    "deleted after the workload appeared (--reload-on-delete)", why);
        } else {
            verdict(it, RL_VERDICT_SKIP, NULL, "the source does not exist", why);
        }
        return;
    }
    if (same(applied, it->desired) || same(marker, it->desired)) {
        verdict(it, RL_VERDICT_OK, it->desired, "up to date", why);
    } else if (!has_version) {
        /* No record (or rolled for a delete, and it is back). */
        bool changed = src->changed_rv > since;
        bool created = on_create && src->created_rv > since;

        if (changed || created)
            verdict(it, RL_VERDICT_ROLL, it->desired,
                    changed ? "changed, no record" : "created (--reload-on-create)", why);
        else
            verdict(it, RL_VERDICT_BASELINE, it->desired, "no record yet", why);
    } else if (src->changed_rv > counts_after ||
               (on_create && src->created_rv > counts_after)) {
        verdict(it, RL_VERDICT_ROLL, it->desired, "changed", why);
    } else if (w->template_rv) {
        verdict(it, RL_VERDICT_BASELINE, it->desired,
                "pods started after its last change (their markers are not a change)", why);
    } else if (sync && !src->changed_rv && !src->created_rv &&
               (is_version(applied) || !w->has_record)) {
        /* Our record proves the version; without one, Reloader's marker does (a migration). */
        verdict(it, RL_VERDICT_ROLL, it->desired, "changed while no reloadd watched "
                "(--sync-after-restart)", why);
    } else if (sync && !src->changed_rv && !src->created_rv && on_create) {
        /* Our record has no entry: the source appeared while no reloadd watched. */
        verdict(it, RL_VERDICT_ROLL, it->desired, "created while no reloadd watched "
                "(--sync-after-restart, --reload-on-create)", why);
    } else {
        verdict(it, RL_VERDICT_ADOPT, it->desired,
                "changed before reloadd watched (no --sync-after-restart): adopted", why);
    }
}

/*
 * W's annotations changed once since our record was made (the store keeps
 * the version before that edit): did W react to the source under the
 * annotations it had until then, as it does now? Then the record spans the
 * edit (an edit that kept the source, such as adding auto to secret auto).
 * Two edits or more since the record: unknown, so no.
 */
static bool reacted_since_record(const struct rl_plan_inputs *in, const struct rl_workload *w,
                                 const struct rl_source_desc *desc, const struct rl_plan_item *it)
{
    const struct rl_workload *b = w->before_edit;
    struct rl_decision d;

    if (!b || w->record_rv >= w->inputs_rv || b->inputs_rv > w->record_rv)
        return false;
    rl_decide(b, desc, in->policy, in->rc, &d);
    return d.reload && !d.regex_error &&
           (!d.auto_reload || rl_workload_references(b, it->type, it->name));
}

static void judge(const struct rl_plan_inputs *in, const struct rl_workload *w, struct rl_plan_item *it)
{
    const struct rl_policy *pol = in->policy;
    const struct rl_source *src = rl_store_source(in->store, it->type, w->ns, it->name);
    struct rl_source_desc desc = {
        .type = it->type,
        .name = it->name,
        .ignore = src && src->ignore,
        .match = src && src->match,
    };
    /* A deleted source is decided on with the annotations it had (as Reloader's delete event). */
    uint64_t deleted_rv = src ? 0 : rl_store_tombstone(in->store, it->type, w->ns, it->name,
                                                         &desc.ignore, &desc.match);
    struct rl_decision d;

    /*
     * Gone and no tombstone (deleted while no reloadd watched, or before a
     * restart): it matched when we recorded it (search + match), a version
     * or the delete marker we rolled for.
     */
    if (!src && !deleted_rv) {
        const char *rec = rl_workload_applied(w, it->type, it->name);

        if (is_version(rec) || is_delete_marker(rec))
            desc.match = true;
    }
    const char *recorded, *applied, *marker;
    enum rl_recorded_from mfrom;
    int c;

    if ((it->type == RL_SOURCE_CONFIGMAP && pol->ignore_configmaps) ||
        (it->type == RL_SOURCE_SECRET && pol->ignore_secrets)) {
        const char *kept = rl_workload_applied(w, it->type, it->name);

        /* Leave its record alone: rewriting every record would be a write per workload. */
        it->verdict = kept ? RL_VERDICT_KEEP : RL_VERDICT_SKIP;
        if (kept) {
            strlcpy(it->desired, kept, sizeof(it->desired));
            strlcpy(it->record, kept, sizeof(it->record));
        }
        snprintf(it->reason, sizeof(it->reason), "%ss are ignored (--resources-to-ignore)",
                 rl_source_type_lower(it->type));
        return;
    }
    rl_decide(w, &desc, pol, in->rc, &d);
    if (d.regex_error) {
        strlcpy(it->problem, d.reason, sizeof(it->problem));
        it->regex = true;
    }
    if (!d.reload) {
        it->verdict = RL_VERDICT_SKIP;
        strlcpy(it->reason, d.reason, sizeof(it->reason));
        return;
    }
    if (d.auto_reload && !rl_workload_references(w, it->type, it->name)) {
        it->verdict = RL_VERDICT_SKIP;
        snprintf(it->reason, sizeof(it->reason), "%.200s; but no container references it",
                 d.reason);
        return;
    }
    c = rl_workload_pick_container(w, it->type, it->name, d.auto_reload);
    if (c < 0) {
        it->verdict = RL_VERDICT_SKIP;
        snprintf(it->problem, sizeof(it->problem), "no container can take it (%.200s)", d.reason);
        snprintf(it->reason, sizeof(it->reason), "%.200s; but no container found", d.reason);
        return;
    }
    it->container = rl_xstrdup(w->containers[c]);
    if (src)
        rl_sha1_hex(&src->sha1, it->desired);   /* to meet the records' text */
    recorded = rl_workload_recorded(w, it->type, it->name, pol->strategy, c, &it->from);
    if (recorded)
        strlcpy(it->recorded, recorded, sizeof(it->recorded));
    applied = rl_workload_applied(w, it->type, it->name);
    marker = rl_workload_marker(w, it->type, it->name, pol->strategy, c, &mfrom);
    /* A rollout held by a window is still due after a restart or a failover (window.h). */
    judge_source(pol, in->sync || w->pending_since_s, w, src,
                 deleted_rv, applied, marker, reacted_since_record(in, w, &desc, it), it,
                 d.reason);
}

/* The record to store: every judged source with a hash, sorted by marker.h. */
static size_t plan_record(const struct rl_plan *p, bool held, struct rl_applied_entry *out)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];
        bool rolls = it->verdict == RL_VERDICT_ROLL || it->verdict == RL_VERDICT_ROLL_DELETED;
        const char *h = held && rolls ? it->recorded : it->record;

        if (!h[0])
            continue;
        out[n].type = it->type;
        out[n].name = it->name;
        out[n].hash = h;
        n++;
    }
    return n;
}

size_t rl_plan_record(const struct rl_plan *p, struct rl_applied_entry *out)
{
    return plan_record(p, p->window_opens_at_s != 0, out);
}

size_t rl_plan_record_held(const struct rl_plan *p, struct rl_applied_entry *out)
{
    return plan_record(p, true, out);
}

static bool record_differs(const struct rl_workload *w, const struct rl_applied_entry *e, size_t n)
{
    if (w->applied_invalid || w->n_applied != n)
        return true;
    for (size_t i = 0; i < n; i++) {
        const char *h = rl_workload_applied(w, e[i].type, e[i].name);

        if (!h || strcmp(h, e[i].hash) != 0)
            return true;
    }
    return false;
}

/* W's maintenance window (its annotation, else the default) and its state at now. */
static void plan_window(const struct rl_plan_inputs *in, const struct rl_workload *w,
                        struct rl_plan *p)
{
    const char *v = rl_workload_meta(w, in->policy->key.rollout_window);
    struct rl_window win;

    p->windowed = rl_window_cache_get(in->windows, v, &win, p->window_problem,
                                      sizeof(p->window_problem));
    strlcpy(p->window_value, v && !p->window_problem[0] ? v
                             : rl_window_cache_default(in->windows), sizeof(p->window_value));
    p->window_open = true;
    if (p->windowed && rl_window_state(&win, in->now_s, &p->window_open, &p->window_opens_s,
                                       &p->window_closes_s) != 0)
        p->window_open = true;      /* no opening ahead (or now out of range): never hold */
}

/* Whether W is health-gated: its annotation ("true"/"false", Go's ParseBool), else the flag. */
static void plan_gate(const struct rl_plan_inputs *in, const struct rl_workload *w,
                      struct rl_plan *p)
{
    const char *v = rl_workload_meta(w, in->policy->key.health_gate);
    bool ok = true, on;

    p->gated = in->policy->health_gate;
    if (!v || !*v)
        return;
    on = rl_parse_bool_go(v, &ok);
    if (ok)
        p->gated = on;
    else
        snprintf(p->gate_problem, sizeof(p->gate_problem),
                 "annotation %s has value \"%.64s\", not a boolean (the default applies)",
                 in->policy->key.health_gate, v);
}

/* Builds the plan under the store's read lock. RL_ENOENT if W is gone. */
int rl_plan_make(const struct rl_plan_inputs *in, const char *wkey, struct rl_plan *p)
{
    const struct rl_policy *pol = in->policy;
    const struct rl_workload *w;
    struct rl_applied_entry rec[RL_PLAN_MAX_SOURCES];
    bool roll = false, record = false, w_had_entries;
    size_t nrec;

    memset(p, 0, sizeof(*p));
    p->window_open = true;
    rl_store_rdlock(in->store);
    w = rl_store_workload(in->store, wkey);
    if (!w) {
        rl_store_unlock(in->store);
        return RL_ENOENT;
    }
    p->kind = w->kind;
    p->generation = w->generation;
    p->ns = rl_xstrdup(w->ns);
    p->name = rl_xstrdup(w->name);
    p->uid = w->uid ? rl_xstrdup(w->uid) : NULL;
    p->rv = rl_store_parse_rv(w->resource_version);
    p->record_on_workload = w->has_record && !w->record_in_state;
    p->strategy = pol->strategy;
    if (rl_kind_info(w->kind)->pausable) {
        const char *v = rl_workload_meta(w, pol->key.pause_period);

        p->pause_period = v ? rl_xstrdup(v) : NULL;
        v = rl_workload_meta(w, pol->key.paused_at);
        p->paused_at = v ? rl_xstrdup(v) : NULL;
    }
    if (rl_kind_info(w->kind)->writer == RL_WRITER_ARGO_ROLLOUT) {
        const char *rs = rl_workload_meta(w, RL_ANN_ROLLOUT_STRATEGY);

        p->argo_restart = rs && strcmp(rs, "restart") == 0;
    }
    if (!rl_kind_enabled(pol, w->kind)) {
        rl_store_unlock(in->store);
        return 0;
    }

    {
        struct cand_ctx cc = { p, pol };

        rl_workload_each_source(w, on_ref, &cc);
    }
    for (int t = 0; t < RL_SOURCE_COUNT; t++) {
        struct named_ctx nc = { pol, p, in->rc, rl_decide_reload_list(w, t, pol), t };

        if (nc.list && type_watched(pol, t)) {
            rl_store_each_source_in(in->store, t, w->ns, on_named_source, &nc);
            /* A deleted source may still roll W (--reload-on-delete). */
            if (pol->reload_on_delete && t != RL_SOURCE_SPC)
                rl_store_each_tombstone_in(in->store, t, w->ns, on_named_source, &nc);
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        judge(in, w, &p->items[i]);
        roll |= p->items[i].verdict == RL_VERDICT_ROLL || p->items[i].verdict == RL_VERDICT_ROLL_DELETED;
        record |= p->items[i].verdict == RL_VERDICT_BASELINE || p->items[i].verdict == RL_VERDICT_ADOPT ||
                  p->items[i].verdict == RL_VERDICT_GONE;
    }
    nrec = rl_plan_record(p, rec);
    /*
     * A workload that appeared while we watched, with nothing to record yet,
     * still gets a record, even "{}": reloadd saw W while its sources did not
     * exist, so one created while no reloadd ran is a creation, not a change
     * for W's copied markers. (Listed at start-up without a record, W may be
     * Reloader's: its markers are all there is to go by, as for Reloader.)
     */
    p->record_differs = record_differs(w, rec, nrec) ||
                        (record && !w->has_record && (w->template_rv || w->inputs_rv));
    p->history = w->rollouts ? rl_xstrdup(w->rollouts) : NULL;
    w_had_entries = w->n_applied > 0;
    if (rl_budget_parse(rl_workload_meta(w, in->policy->key.restart_budget), &in->budget, &p->budget,
                        p->budget_problem, sizeof(p->budget_problem)) != 0)
        p->budget = in->budget;
    p->pending_since_s = w->pending_since_s;
    if (in->windows)
        plan_window(in, w, p);
    plan_gate(in, w, p);
    rl_store_unlock(in->store);

    if (p->truncated)
        rl_log_kv(RL_LOG_WARN, "workload has too many sources; some are not tracked",
                  "workload", wkey, NULL);
    if (roll) {
        p->action = RL_ACTION_ROLLOUT;
        /* The window first: a rollout it holds takes no slot and spends no budget. */
        if (!p->window_open)
            p->window_opens_at_s = p->window_opens_s;
        else
            p->held_until_s = rl_budget_held_until(&p->budget, p->history,
                                                   in->now_s);
    } else if (record && p->record_differs)
        p->action = RL_ACTION_RECORD;
    else if (p->record_differs && (nrec > 0 || w_had_entries))
        p->action = RL_ACTION_RECORD;   /* a source dropped out of the record, even the last */
    else if (p->pending_since_s) {
        p->record_differs = true;       /* nothing to roll any more: the mark goes */
        p->action = RL_ACTION_RECORD;
    }
    return 0;
}
