/*
 * leader.h - leader election on a coordination.k8s.io/v1 Lease, with fencing
 *
 * Several replicas run; at most one may write. An elector competes for one
 * Lease with client-go's rules (tools/leaderelection, tryAcquireOrRenew):
 *
 *  - the Lease is taken only if its holder is empty or us, or if its record
 *    (holderIdentity, leaseDurationSeconds, acquireTime, renewTime,
 *    leaseTransitions, strategy, preferredHolder) has not changed for
 *    leaseDurationSeconds on our LOCAL MONOTONIC clock since we last saw it
 *    change; renewTime is never compared with our wall clock;
 *  - a takeover sets acquireTime = now and leaseTransitions + 1; a renewal
 *    keeps both and bumps renewTime; MicroTimes carry six fractional digits;
 *  - writes are optimistic: a PUT carries the resourceVersion read, a 409
 *    means another replica won; an absent Lease is POSTed (409: someone
 *    else created it first).
 *
 * Fencing. A leader may write while now < start + renew_deadline, where
 * start is the monotonic time at which its latest successful renewal BEGAN
 * (the write lands after that, so a follower's expiry timer starts later
 * still). rl_elector_may_write() evaluates this at the moment of the call,
 * lock-free, so a leader whose API calls hang stops writing on time even
 * while its elector thread is blocked in a request. Because
 * lease_duration > renew_deadline, a leader stops writing before any
 * follower may take over. The elector also steps down (on_stopped_leading)
 * at that instant and competes again as a follower: it never exits.
 *
 * Threads. rl_elector_start() runs the elector thread: a follower tries
 * every retry period, a leader renews every retry period. The callbacks
 * run on that thread, in order (started, stopped, started, ...), never
 * overlapping. rl_elector_observe() (from a Lease watch), may_write(),
 * release() and the accessors may be called from any thread.
 *
 * The API client. Requests go through `kube` (kube.h) and each one blocks
 * the elector thread up to its request_timeout_ms. Give the elector its
 * own struct rl_kube, as kube-controller-manager does, so that the
 * controller's token bucket never delays a renewal, with
 * request_timeout_ms below renew_deadline so a hung call cannot delay the
 * step-down callback (fencing itself never waits for it).
 *
 * Ownership: strings in the options are copied; kube and clock are
 * borrowed and must outlive the elector.
 */
#ifndef RL_LEADER_H
#define RL_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct rl_clock;
struct rl_kube;
struct rl_elector;

/* ---- the Lease record and the pure state machine (no I/O) ---- */

/*
 * A Lease's spec as client-go's LeaderElectionRecord sees it. Times are
 * kept as written (MicroTime strings) so records compare exactly.
 */
struct rl_lease {
    char *holder;               /* holderIdentity; NULL or "" means free */
    int64_t duration_s;         /* leaseDurationSeconds; 0 if absent */
    char *acquire_time;         /* MicroTime, NULL if absent */
    char *renew_time;           /* MicroTime, NULL if absent */
    int64_t transitions;        /* leaseTransitions; 0 if absent */
    char *strategy;             /* NULL if absent; kept, never set by us */
    char *preferred_holder;     /* NULL if absent; kept, never set by us */
};

#define RL_LEASE_INIT { NULL, 0, NULL, NULL, 0, NULL, NULL }

void rl_lease_release(struct rl_lease *l);
void rl_lease_copy(struct rl_lease *dst, const struct rl_lease *src);

/*
 * Reads the spec of a Lease object into l (released first). Returns 0, or
 * RL_EPARSE if obj is not an object or a spec field has the wrong type.
 */
int rl_lease_from_json(struct rl_lease *l, const cJSON *obj);

/* True if every field of the record is equal (client-go's raw compare). */
bool rl_lease_same_record(const struct rl_lease *a, const struct rl_lease *b);
bool rl_lease_held_by(const struct rl_lease *l, const char *identity);
bool rl_lease_is_free(const struct rl_lease *l);

/* What we last saw of the Lease, and when (local monotonic) it changed. */
struct rl_lease_view {
    struct rl_lease seen;
    bool have_seen;
    uint64_t seen_at_ms;
};

#define RL_LEASE_VIEW_INIT { RL_LEASE_INIT, false, 0 }

void rl_lease_view_release(struct rl_lease_view *v);
/* Records cur if it differs from what was seen; true if it did. */
bool rl_lease_view_update(struct rl_lease_view *v, const struct rl_lease *cur, uint64_t now_ms);
/* Local monotonic time at which the seen record expires (never seen: 0). */
uint64_t rl_lease_view_expiry_ms(const struct rl_lease_view *v);

enum rl_lease_action {
    RL_LEASE_WAIT,              /* a live leader other than us holds it */
    RL_LEASE_ACQUIRE,           /* free, released or expired: take it over */
    RL_LEASE_RENEW,             /* ours: keep acquireTime, bump renewTime */
};

/*
 * The decision of one round: records cur in v (rl_lease_view_update), then
 * RENEW if cur is held by identity, ACQUIRE if it is free or has not
 * changed for its leaseDurationSeconds since v first saw it, else WAIT.
 */
enum rl_lease_action rl_lease_decide(struct rl_lease_view *v, const struct rl_lease *cur,
                                     const char *identity, uint64_t now_ms);

/*
 * The record to write (next is released first). cur is what was read, or
 * NULL when creating. ACQUIRE: holder = identity, acquireTime = renewTime
 * = now, leaseTransitions = cur's + 1 (0 on create). RENEW: keeps
 * acquireTime and leaseTransitions, renewTime = now. strategy and
 * preferredHolder are carried over.
 */
void rl_lease_next(struct rl_lease *next, const struct rl_lease *cur, enum rl_lease_action action,
                   const char *identity, int64_t duration_s, int64_t wall_us);

/*
 * The record of a release, as client-go writes it: holder "",
 * leaseDurationSeconds 1, acquireTime = renewTime = now, leaseTransitions
 * kept.
 */
void rl_lease_released(struct rl_lease *next, const struct rl_lease *cur, int64_t wall_us);

/*
 * The JSON body of a write (caller frees): a copy of base (the object as
 * read, keeping its metadata and resourceVersion) or, if base is NULL, a
 * new Lease named ns/name, with rec's fields set in spec. Absent times and
 * an empty holder are written as such.
 */
char *rl_lease_body(const cJSON *base, const struct rl_lease *rec, const char *ns,
                    const char *name);

/*
 * Leadership and its fence, one step at a time. may write while
 * leader && now_ms < fence_until_ms.
 */
struct rl_lead_state {
    bool leader;
    uint64_t fence_until_ms;    /* 0 when not leader */
};

enum rl_lead_event {
    RL_LEAD_NONE,
    RL_LEAD_STARTED,            /* call on_started_leading */
    RL_LEAD_STOPPED,            /* call on_stopped_leading */
};

/*
 * After an attempt that began at start_ms: ok means we hold the Lease as
 * written; lost means someone else definitely holds it. A success moves
 * the fence to start_ms + renew_deadline_ms (a success that comes back
 * after that instant does not make us leader); a leader that lost, or
 * whose fence has passed, steps down.
 */
enum rl_lead_event rl_lead_after_attempt(struct rl_lead_state *s, bool ok, bool lost,
                                         uint64_t start_ms, uint64_t now_ms,
                                         uint64_t renew_deadline_ms);
/* Between attempts: a leader whose fence has passed steps down. */
enum rl_lead_event rl_lead_check(struct rl_lead_state *s, uint64_t now_ms);
bool rl_lead_may_write(const struct rl_lead_state *s, uint64_t now_ms);

/* ---- the elector ---- */

typedef void rl_elector_fn(void *ctx);
typedef void rl_elector_leader_fn(void *ctx, const char *identity);

struct rl_elector_opts {
    const char *namespace_;         /* the Lease's namespace (POD_NAMESPACE) */
    const char *name;               /* the Lease's name ("stakater-reloader-lock") */
    const char *identity;           /* POD_NAME; unique per replica */
    uint64_t lease_duration_ms;     /* 0: 15000; written rounded up to seconds */
    uint64_t renew_deadline_ms;     /* 0: 10000; < lease_duration */
    uint64_t retry_period_ms;       /* 0: 2000; 1.2 * retry < renew_deadline */
    uint64_t release_timeout_ms;    /* 0: 2000; bound on rl_elector_resign() */
    rl_elector_fn *on_started_leading;      /* may be NULL */
    rl_elector_fn *on_stopped_leading;      /* may be NULL */
    rl_elector_leader_fn *on_new_leader;    /* holder seen changed ("" = free); may be NULL */
    void *ctx;
};

/*
 * Validates opts (names must be DNS subdomains, durations ordered as
 * client-go requires) and makes an elector; the thread is not started.
 * Returns 0, or RL_EINVAL with one line in errbuf.
 */
int rl_elector_new(struct rl_elector **out, struct rl_kube *kube, const struct rl_clock *clock,
                   const struct rl_elector_opts *opts, char *errbuf, size_t errlen);
/* Stops the thread if running (without releasing), then frees. NULL: no-op. */
void rl_elector_free(struct rl_elector *el);

/*
 * In on_started_leading: whether this acquisition took the Lease from a
 * holder that had not released it (crashed, or this replica's previous
 * process, whose name it bears); false after a release or on a new Lease.
 */
bool rl_elector_took_over(const struct rl_elector *el);

/* Starts the elector thread (once). */
void rl_elector_start(struct rl_elector *el);
/*
 * Stops writing at once, joins the thread; a leader's on_stopped_leading
 * runs before the join returns. The Lease is not released (it expires):
 * call rl_elector_resign() first for a graceful handover. Idempotent.
 */
void rl_elector_stop(struct rl_elector *el);

/*
 * Feeds the Lease as a watch saw it (lease == NULL: deleted). Objects
 * with another name or namespace are ignored. A change restarts the
 * expiry timer as a read would; a Lease that is now free (released,
 * deleted, expired) wakes a follower's thread for an attempt at once.
 * Returns 0, or RL_EPARSE for an object that is not a Lease.
 */
int rl_elector_observe(struct rl_elector *el, const cJSON *lease);

/*
 * True only if we are leader and the fence has not passed, judged on the
 * monotonic clock now; false for good after release() or stop(). Call it
 * right before every write. Lock-free.
 */
bool rl_elector_may_write(const struct rl_elector *el);
/* Milliseconds until the fence passes (0 if may_write is false now). */
uint64_t rl_elector_fence_left_ms(const struct rl_elector *el);

/*
 * Graceful handover: stops may_write at once and for good, stops
 * renewing, and has the elector thread write the release record
 * (rl_lease_released) with the last resourceVersion; a 409 (someone has
 * already taken the Lease) counts as done. Waits at most
 * release_timeout_ms: returns 0, RL_ETIMEOUT, or the write's error. The
 * elector competes no more; stop and free it afterwards.
 */
int rl_elector_resign(struct rl_elector *el);

/* Accessors for metrics and logs; any thread. */
bool rl_elector_is_leader(const struct rl_elector *el);
/* Times this elector gained or lost leadership. */
uint64_t rl_elector_transitions(const struct rl_elector *el);
/* Monotonic ms (on the elector's clock) of the latest acquisition; 0: never. */
uint64_t rl_elector_acquired_at_ms(const struct rl_elector *el);
const char *rl_elector_identity(const struct rl_elector *el);

#endif /* RL_LEADER_H */
