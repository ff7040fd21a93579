/* window.c - a maintenance window: when a workload may be rolled */
#include "reloadd/reload/window.h"

#include <stdio.h>
#include <string.h>

#include "reloadd/base/cron.h"
#include "reloadd/base/err.h"
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
