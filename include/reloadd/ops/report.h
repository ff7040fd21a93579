/*
 * report.h - what the operators are told about what reloadd does
 *
 * One place maps what happens — a ConfigMap or Secret event, a reconcile
 * and its result, a rollout held by its restart budget, a workload whose
 * annotations need attention, a watch restarted — to the metric families
 * of metrics.h, the Kubernetes Events of events.h, and the alerts and
 * --webhook-url posts of alerts.h, in Reloader's words and with Reloader's
 * counting (docs/reloader.md §8, §9, §10):
 *
 *  - reconcile_total and workloads_scanned_total count per queued source
 *    event what Reloader's worker counts: an update whose data did not
 *    change is a "skipped" reconcile; a create or a delete counts only
 *    with --reload-on-create / --reload-on-delete; each handled event
 *    "scans" every workload of each watched kind in the source's
 *    namespace (reloadd's store answers; nothing is listed);
 *  - with HA, the event and reconcile families move on the leader only
 *    (Reloader's followers run no informer: a sum() over the replicas
 *    would otherwise double every panel written for it);
 *  - one Event per rollout write (Reloader records one per
 *    upgradeResource()), an alert per successful rollout with
 *    ALERT_ON_RELOAD;
 *  - in --webhook-url mode a qualifying source change is POSTed instead of
 *    rolled, by the replica that may write.
 *
 * The handlers take the report as a void * so that they plug straight
 * into the controller's hooks (controller.h). Threads: any, concurrently;
 * the report only reads its options after rl_report_new().
 */
#ifndef RL_REPORT_H
#define RL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/reload/kind.h"
#include "reloadd/reload/workload.h"

struct rl_policy;
struct rl_metrics;
struct rl_events;
struct rl_alerts;
struct rl_reconcile_result;
struct rl_gate_hold;

enum rl_source_event_type {
    RL_SOURCE_EVENT_ADD,
    RL_SOURCE_EVENT_UPDATE,
    RL_SOURCE_EVENT_DELETE,
};

/* A live change of a ConfigMap or Secret (after its informer's first list). */
struct rl_source_event {
    enum rl_source_event_type type;
    enum rl_source_type source;
    const char *resource;           /* "configmaps", "secrets", "secretproviderclasspodstatuses" */
    const char *ns, *name;
    bool selected;                  /* its namespace is watched (not ignored, selected) */
    bool data_changed;              /* update: the data hash changed; add/delete: true */
};

struct rl_report_opts {
    const struct rl_policy *policy;
    struct rl_metrics *metrics;
    struct rl_events *events;       /* NULL: no Events */
    struct rl_alerts *alerts;       /* ALERT_ON_RELOAD; NULL: none */
    struct rl_alerts *webhook;      /* --webhook-url mode; NULL: off */
    const char *webhook_url;        /* named (host only) in the log */
    const char *alert_additional_info;
    /* Whether this replica counts the leader-only families; NULL: always (no HA). */
    bool (*counts)(void *ctx);
    /* Whether this replica may write now (a webhook POST is a write); NULL: always. */
    bool (*may_write)(void *ctx);
    /* The cached workloads of each kind in namespace ns. */
    void (*workloads_in)(void *ctx, const char *ns, size_t n[RL_KIND_MAX]);
    void *ctx;
};

/* Borrows everything in o; it must outlive the report. Never fails. */
struct rl_report *rl_report_new(const struct rl_report_opts *o);
void rl_report_free(struct rl_report *r);

/* This replica became leader at mono ms now: its first write is measured from then. */
void rl_report_leading(struct rl_report *r, uint64_t now_ms);

/* The handlers of controller.h's hooks; report is the struct rl_report. */
void rl_report_result(void *report, const struct rl_reconcile_result *res);
void rl_report_reconciled(void *report, enum rl_kind kind, int err, double seconds,
                          double queued_s);
void rl_report_enqueued(void *report);
void rl_report_source_event(void *report, const struct rl_source_event *ev);
void rl_report_skip(void *report, const char *reason);
void rl_report_watch(void *report, const char *resource, bool relist);
void rl_report_problem(void *report, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems);
void rl_report_held(void *report, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s);
void rl_report_window_held(void *report, enum rl_kind kind, const char *ns, const char *name,
                           const char *uid, const char *window, int64_t opens_at_s);
void rl_report_gated(void *report, const struct rl_gate_hold *h);

/* At a scrape: reloader_notifications_total from the senders' counters. */
void rl_report_collect(struct rl_report *r);

#endif /* RL_REPORT_H */
