/* window.c - a maintenance window: when a workload may be rolled */
#include "reloadd/reload/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/cron.h"
#include "reloadd/base/err.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/base/tz.h"
#include "reloadd/base/banned.h"

#define NS 1000000000LL

/* The part s..e with the blanks around it trimmed, as a string in buf (NULL if too long). */
static const char *part(const char *s, const char *e, char *buf, size_t buflen)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if ((size_t)(e - s) >= buflen)
        return NULL;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    return buf;
}

/* Loads a zone for rl_window_parse() and keeps it in the window (ctx: the window). */
struct load_ctx {
    const char *dir;
    struct rl_tz *loaded;
};

static int load_zone(void *ctx, const char *name, const struct rl_tz **tz, char *err,
                     size_t errlen)
{
    struct load_ctx *l = ctx;
    int rc = rl_tz_load(name, l->dir, &l->loaded, err, errlen);

    *tz = l->loaded;
    return rc;
}

int rl_window_parse(const char *value, const char *zoneinfo_dir, struct rl_window *out,
                    char *err, size_t errlen)
{
    struct load_ctx l = { zoneinfo_dir, NULL };
    int rc = rl_window_parse_with(value, load_zone, &l, out, err, errlen);

    if (rc)
        rl_tz_free(l.loaded);
    else
        out->owned = l.loaded;
    return rc;
}

int rl_window_parse_with(const char *value, rl_window_zone_fn *zone, void *ctx,
                         struct rl_window *out, char *err, size_t errlen)
{
    char cron_s[RL_WINDOW_MAX_LEN + 1], dur_s[RL_WINDOW_MAX_LEN + 1];
    char zone_s[RL_WINDOW_MAX_LEN + 1], why[RL_WINDOW_MAX_LEN + 64];
    const char *semi1, *semi2, *end;
    int64_t ns;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    len = value ? strnlen(value, RL_WINDOW_MAX_LEN + 1) : 0;
    if (!value || len > RL_WINDOW_MAX_LEN) {
        if (value)
            snprintf(err, errlen, "maintenance window: longer than %d bytes", RL_WINDOW_MAX_LEN);
        else
            snprintf(err, errlen, "maintenance window: no value");
        return RL_EINVAL;
    }
    end = value + len;
    semi1 = memchr(value, ';', len);
    semi2 = semi1 ? memchr(semi1 + 1, ';', (size_t)(end - semi1 - 1)) : NULL;
    if (!semi1 || (semi2 && memchr(semi2 + 1, ';', (size_t)(end - semi2 - 1)))) {
        snprintf(err, errlen, "maintenance window: not \"<cron>; <duration>[; <zone>]\" "
                 "(e.g. \"0 2 * * 1-5; 2h; Europe/Berlin\")");
        return RL_EINVAL;
    }
    part(value, semi1, cron_s, sizeof(cron_s));
    part(semi1 + 1, semi2 ? semi2 : end, dur_s, sizeof(dur_s));
    if (semi2)
        part(semi2 + 1, end, zone_s, sizeof(zone_s));
    else
        zone_s[0] = '\0';

    if (rl_cron_parse(cron_s, &out->cron, why, sizeof(why))) {
        snprintf(err, errlen, "maintenance window: %s", why);
        return RL_EINVAL;
    }
    if (!rl_cron_satisfiable(&out->cron)) {
        snprintf(err, errlen, "maintenance window: the cron expression never matches a date");
        return RL_EINVAL;
    }
    if (rl_duration_parse(dur_s, &ns) || ns < NS || ns > RL_WINDOW_MAX_DURATION_S * NS ||
        ns % NS) {
        /* Quote at most 32 bytes of it, and only what prints. */
        char q[33];
        size_t i;

        for (i = 0; dur_s[i] && i < sizeof(q) - 1; i++)
            q[i] = dur_s[i] >= 0x20 && dur_s[i] < 0x7f ? dur_s[i] : '?';
        q[i] = '\0';
        snprintf(err, errlen, "maintenance window: the duration \"%s\" is not a Go duration "
                 "of whole seconds from 1s to 168h (e.g. 2h, 90m)", q);
        return RL_EINVAL;
    }
    out->duration_s = ns / NS;
    if (semi2 && !*zone_s) {
        snprintf(err, errlen, "maintenance window: the zone after the second ';' is empty");
        return RL_EINVAL;
    }
    if (!rl_tz_name_ok(zone_s)) {
        snprintf(err, errlen, "maintenance window: the zone is not an IANA zone name "
                 "([A-Za-z0-9_+-/], at most %d bytes, no leading '/' or empty part, not Local)",
                 RL_TZ_NAME_MAX);
        return RL_EINVAL;
    }
    if (!*zone_s || strcmp(zone_s, "UTC") == 0) {
        out->tz = rl_tz_utc();
        return 0;
    }
    rc = zone(ctx, zone_s, &out->tz, why, sizeof(why));
    if (rc || !out->tz) {
        snprintf(err, errlen, "maintenance window: %s", rc ? why : "no zone");
        out->tz = NULL;
        return rc ? rc : RL_ENOENT;
    }
    return 0;
}

void rl_window_release(struct rl_window *w)
{
    rl_tz_free(w->owned);
    w->owned = NULL;
    w->tz = NULL;
}

/* When the window opened at start (merged with those after it) closes. */
static int64_t merged_end(const struct rl_window *w, int64_t start, int64_t now_s)
{
    int64_t end = start + w->duration_s, t = start, n;

    while (rl_cron_next(&w->cron, w->tz, t, &n) == 0 && n <= end) {
        end = n + w->duration_s;
        if (end > now_s + RL_WINDOW_HORIZON_S)
            return RL_WINDOW_FOREVER;
        t = n;
    }
    return end;
}

int rl_window_state(const struct rl_window *w, int64_t now_s, bool *open, int64_t *opens_at_s,
                    int64_t *closes_at_s)
{
    int64_t s;
    int rc;

    *open = false;
    if (now_s < RL_TIME_MIN + w->duration_s || now_s > RL_TIME_MAX)
        return RL_EINVAL;
    /* The first cron time after now - duration: its window holds now iff it is <= now. */
    rc = rl_cron_next(&w->cron, w->tz, now_s - w->duration_s, &s);
    if (rc)
        return rc;
    *open = s <= now_s;
    *opens_at_s = s;
    *closes_at_s = merged_end(w, s, now_s);
    return 0;
}

/* --- the process's cache ------------------------------------------------- */

struct cached_value {
    bool windowed;
    struct rl_window w;             /* zone borrowed from the cache */
    char err[200];                  /* "" if the value parsed */
};

struct rl_window_cache {
    pthread_mutex_t mu;
    struct rl_map zones;            /* name -> struct rl_tz * */
    struct rl_map values;           /* annotation value -> struct cached_value */
    size_t n_zones, n_values;
    char *zoneinfo_dir;
    char *dflt_value;
    struct cached_value dflt;
};

static void free_zone(void *z)
{
    rl_tz_free(z);
}

/* rl_window_zone_fn over the cache (c->mu held). */
static int cached_zone(void *ctx, const char *name, const struct rl_tz **tz, char *err,
                       size_t errlen)
{
    struct rl_window_cache *c = ctx;
    struct rl_tz *z = rl_map_get(&c->zones, name);
    int rc;

    if (z) {
        *tz = z;
        return 0;
    }
    if (c->n_zones >= RL_WINDOW_CACHE_ZONES) {
        snprintf(err, errlen, "maintenance window: more than %d distinct time zones in use",
                 RL_WINDOW_CACHE_ZONES);
        return RL_ETOOBIG;
    }
    rc = rl_tz_load(name, c->zoneinfo_dir, &z, err, errlen);
    if (rc)
        return rc;
    rl_map_put(&c->zones, name, z);
    c->n_zones++;
    *tz = z;
    return 0;
}

static bool is_always(const char *v)
{
    return !v || !*v || strcmp(v, RL_WINDOW_ALWAYS) == 0 || strcmp(v, "off") == 0;
}

/* Parses value into *cv (c->mu held): 0 or the parser's code, the reason in cv->err. */
static int parse_cached(struct rl_window_cache *c, const char *value, struct cached_value *cv)
{
    int rc = 0;

    memset(cv, 0, sizeof(*cv));
    if (!is_always(value)) {
        rc = rl_window_parse_with(value, cached_zone, c, &cv->w, cv->err, sizeof(cv->err));
        cv->windowed = rc == 0;
    }
    return rc;
}

int rl_window_cache_new(const char *dflt, const char *zoneinfo_dir, struct rl_window_cache **out,
                        char *err, size_t errlen)
{
    struct rl_window_cache *c = rl_xcalloc(1, sizeof(*c));
    int rc;

    rl_mutex_init(&c->mu);
    rl_map_init(&c->zones);
    rl_map_init(&c->values);
    c->zoneinfo_dir = zoneinfo_dir ? rl_xstrdup(zoneinfo_dir) : NULL;
    c->dflt_value = rl_xstrdup(dflt ? dflt : "");
    rc = parse_cached(c, dflt, &c->dflt);
    if (rc) {
        strlcpy(err, c->dflt.err, errlen);
        rl_window_cache_free(c);
        c = NULL;
    }
    *out = c;
    return rc;
}

void rl_window_cache_free(struct rl_window_cache *c)
{
    if (!c)
        return;
    rl_map_release(&c->values, free);
    rl_map_release(&c->zones, free_zone);
    rl_mutex_destroy(&c->mu);
    free(c->zoneinfo_dir);
    free(c->dflt_value);
    free(c);
}

const char *rl_window_cache_default(const struct rl_window_cache *c)
{
    return c->dflt_value;
}

bool rl_window_cache_get(struct rl_window_cache *c, const char *value, struct rl_window *out,
                         char *err, size_t errlen)
{
    struct cached_value *cv, parsed;
    int rc;

    if (errlen)
        err[0] = '\0';
    if (!value) {
        *out = c->dflt.w;
        return c->dflt.windowed;
    }
    rl_mutex_lock(&c->mu);
    cv = rl_map_get(&c->values, value);
    if (!cv) {
        rc = parse_cached(c, value, &parsed);
        cv = &parsed;
        /* Keep answers that depend on the value alone (not a read error). */
        if (strlen(value) <= RL_WINDOW_MAX_LEN &&
            (rc == 0 || rc == RL_EINVAL || rc == RL_ENOENT)) {
            if (c->n_values >= RL_WINDOW_CACHE_VALUES) {
                rl_map_release(&c->values, free);
                rl_map_init(&c->values);
                c->n_values = 0;
            }
            cv = rl_xmalloc(sizeof(*cv));
            *cv = parsed;
            rl_map_put(&c->values, value, cv);
            c->n_values++;
        }
    }
    if (cv->err[0]) {
        strlcpy(err, cv->err, errlen);
        *out = c->dflt.w;
        rl_mutex_unlock(&c->mu);
        return c->dflt.windowed;
    }
    *out = cv->w;
    rl_mutex_unlock(&c->mu);
    return cv->windowed;
}
