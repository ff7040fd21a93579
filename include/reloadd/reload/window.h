/*
 * window.h - a maintenance window: when a workload may be rolled
 *
 * Issue 17 item 4: an annotation on a workload, and --rollout-window for
 * the default, hold a window; outside it a change is recorded as pending
 * and the workload rolls once when the window opens (plan.h, reconcile.h).
 * This file is the value, its arithmetic, with no clock of its own, and
 * the process's cache of parsed windows.
 *
 * Syntax (at most RL_WINDOW_MAX_LEN bytes; spaces and tabs around each part
 * are ignored):
 *
 *   <cron>; <duration>[; <zone>]
 *
 *   "0 2 * * 1-5; 2h; Europe/Berlin"   02:00-04:00 Berlin time, Monday to Friday
 *   "@daily; 30m"                      00:00-00:30 UTC
 *   "30 22 * * SAT,SUN; 1h30m; America/New_York"
 *
 *   cron      when a window opens: a 5-field cron expression or a macro,
 *             exactly as base/cron.h reads it (a CronJob's schedule syntax);
 *             one that can never match ("0 0 30 2 *") is refused
 *   duration  how long it stays open, Go's time.ParseDuration syntax
 *             ("2h", "90m", "1h30m"), whole seconds, from 1s to 7 days
 *             (RL_WINDOW_MAX_DURATION_S); real elapsed time, so a 2h window
 *             across a DST change still lasts 2 hours
 *   zone      an IANA zone name ("Europe/Berlin"), in which the cron
 *             expression is read; absent: UTC. Checked as base/tz.h says
 *             (it is written by any namespace user) before any file is read.
 *
 * A window opened at cron time t covers [t, t + duration): open exactly at
 * t, closed exactly at t + duration. Windows that overlap or touch merge
 * into one. The DST rules are cron.h's: a cron time in the hour skipped in
 * spring opens no window that day; one in the hour repeated in autumn opens
 * once, at its first occurrence.
 *
 * Zones and threads: a parsed window holds a zone (base/tz.h), immutable,
 * so a window may be read by any thread. rl_window_parse() loads the zone
 * file itself, each time; the wiring should instead keep one cache of zones
 * for the process (a map name -> struct rl_tz * under a mutex, filled on a
 * miss with rl_tz_load(), bounded - say 64 zones, as names come from users -
 * and never freed while the controller runs, so the pointers it hands out
 * stay valid without reference counts; unknown names are not cached, or
 * only briefly) and parse with rl_window_parse_with(), whose zone function
 * returns the cached zone: a reconcile then reads no file.
 *
 * Threads: pure apart from the zone loading of rl_window_parse().
 */
#ifndef RL_WINDOW_H
#define RL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/base/cron.h"

struct rl_tz;

#define RL_WINDOW_MAX_LEN 256                   /* bytes of a value */
#define RL_WINDOW_MAX_DURATION_S (7 * 86400LL)
/*
 * How far past now rl_window_state() follows windows that merge: a window
 * that stays open longer ("0 * * * *; 1h" is always open) is reported as
 * closing at RL_WINDOW_FOREVER.
 */
#define RL_WINDOW_HORIZON_S (8 * 86400LL)
#define RL_WINDOW_FOREVER INT64_MAX
/*
 * A rollout held by a closed window is pending: the workload's applied
 * record carries "@pending": "<unix seconds it was first held>" (beside
 * budget.h's "@rollouts"), written once, record-only; the rollout at the
 * opening writes the record without it. A record with the mark makes the
 * planner roll its stale sources (as --sync-after-restart does), so a
 * restart or a failover before the opening still rolls.
 */
#define RL_APPLIED_PENDING_KEY "@pending"
#define RL_WINDOW_PENDING_MAX 253402300800LL    /* exclusive: year 10000 */

struct rl_window {
    struct rl_cron cron;
    int64_t duration_s;
    const struct rl_tz *tz;             /* the cron's zone; never NULL once parsed */
    struct rl_tz *owned;                /* what rl_window_release() frees (or NULL) */
};

/*
 * Finds zone name (a checked name, never "" or "UTC": those are built in)
 * for rl_window_parse_with(): 0 and *tz, which must outlive the window, or
 * a negative RL_E* code with the reason in err.
 */
typedef int rl_window_zone_fn(void *ctx, const char *name, const struct rl_tz **tz, char *err,
                              size_t errlen);

/*
 * Parses value into *out, loading its zone from zoneinfo_dir (NULL: as
 * rl_tz_load() chooses). 0, or RL_EINVAL (syntax, or a zone file that is
 * not valid), RL_ENOENT (an unknown zone) or another code of rl_tz_load(),
 * with a one-line reason in err; on error *out holds nothing to release.
 */
int rl_window_parse(const char *value, const char *zoneinfo_dir, struct rl_window *out,
                    char *err, size_t errlen);

/* The same, with the zone found by zone(ctx, ...) and borrowed (see above). */
int rl_window_parse_with(const char *value, rl_window_zone_fn *zone, void *ctx,
                         struct rl_window *out, char *err, size_t errlen);

/* Frees what the window owns; safe on a zeroed or already released window. */
void rl_window_release(struct rl_window *w);

/*
 * The window at now_s (Unix seconds). Open: *open, *opens_at_s the earliest
 * cron time whose window holds now_s (an earlier one it merged with may
 * have opened it before), *closes_at_s when the merged window closes.
 * Closed: *opens_at_s when the next window opens, *closes_at_s when that
 * one (merged) closes. *closes_at_s is RL_WINDOW_FOREVER when the merged
 * window is still open RL_WINDOW_HORIZON_S after now_s. Returns 0,
 * RL_ENOENT if no window opens within RL_CRON_HORIZON_YEARS (nothing set
 * but *open = false), RL_EINVAL if now_s is out of range.
 */
int rl_window_state(const struct rl_window *w, int64_t now_s, bool *open, int64_t *opens_at_s,
                    int64_t *closes_at_s);

/*
 * The process's windows (the reconciler keeps one): the default of
 * --rollout-window, and every workload's "<prefix>/rollout-window" parsed
 * at most once per distinct value. Zones are loaded once each and kept
 * until the cache is freed (at most RL_WINDOW_CACHE_ZONES; an unknown zone
 * is not kept), so a reconcile reads no file; values are kept up to
 * RL_WINDOW_CACHE_VALUES, then the values are all forgotten (a window is
 * handed out as a copy whose zone the cache owns: nothing dangles).
 * Annotation values come from any namespace user: sizes are capped, and a
 * value that does not parse is an error with its reason, never a crash.
 * Threads: any; one mutex.
 */
#define RL_WINDOW_CACHE_ZONES 64
#define RL_WINDOW_CACHE_VALUES 256
#define RL_WINDOW_ALWAYS "always"       /* (or "off") no window: always open */

struct rl_window_cache;

/*
 * dflt: the default window ("", NULL, "always" or "off": none). 0, or the
 * code of rl_window_parse() with its reason in err (the cache is then not
 * made).
 */
int rl_window_cache_new(const char *dflt, const char *zoneinfo_dir, struct rl_window_cache **out,
                        char *err, size_t errlen);
void rl_window_cache_free(struct rl_window_cache *c);

/* The default as given ("" for none). */
const char *rl_window_cache_default(const struct rl_window_cache *c);

/*
 * The window of a workload whose annotation is value (NULL: absent, the
 * default applies): true and *out (borrowing the cache's zone) if a window
 * applies, false if always open. A value that does not parse: the
 * default's answer, and the reason in err (err[0] is "" otherwise).
 */
bool rl_window_cache_get(struct rl_window_cache *c, const char *value, struct rl_window *out,
                         char *err, size_t errlen);

#endif /* RL_WINDOW_H */
