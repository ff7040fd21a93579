/* cron.c - 5-field cron expressions (a CronJob's schedule), evaluated in a time zone */
#include "reloadd/base/cron.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reloadd/base/err.h"
#include "reloadd/base/tz.h"
#include "reloadd/base/banned.h"

enum field { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const struct {
    const char *name;
    int min, max;                       /* the values "*" stands for */
    int max_value;                      /* the largest value written (7: Sunday again) */
} fields[F_COUNT] = {
    [F_MINUTE] = { "minute", 0, 59, 59 },
    [F_HOUR] = { "hour", 0, 23, 23 },
    [F_DOM] = { "day-of-month", 1, 31, 31 },
    [F_MONTH] = { "month", 1, 12, 12 },
    [F_DOW] = { "day-of-week", 0, 6, 7 },
};

static const char *const month_names[12] = { "jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct {
    const char *name, *expr;
} macros[] = {
    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

/* What a message may quote of hostile text: printable ASCII, at most 40 bytes. */
static void quote(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t i = 0;

    for (; i < n && i < 40 && i + 1 < dstlen; i++)
        dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (i < n && i >= 40 && i + 4 < dstlen) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
}

static int field_error(char *err, size_t errlen, enum field f, const char *text, size_t n,
                       const char *why)
{
    char q[48];

    quote(q, sizeof(q), text, n);
    snprintf(err, errlen, "cron: %s field \"%s\": %s", fields[f].name, q, why);
    return RL_EINVAL;
}

/*
 * A value at s..s+n: digits, or a name of this field. 0 and *v, or the
 * reason in why.
 */
static int parse_value(enum field f, const char *s, size_t n, int *v, const char **why)
{
    int x = 0;

    if (n == 0) {
        *why = "a value is missing";
        return RL_EINVAL;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || i >= 4) {
                *why = "not a number in range";
                return RL_EINVAL;
            }
            x = x * 10 + (s[i] - '0');
        }
        *v = x;
        return 0;
    }
    if (n == 3 && (f == F_MONTH || f == F_DOW)) {
        const char *const *names = f == F_MONTH ? month_names : dow_names;
        int count = f == F_MONTH ? 12 : 7;

        for (int i = 0; i < count; i++)
            if (strncasecmp(s, names[i], 3) == 0) {
                *v = f == F_MONTH ? i + 1 : i;
                return 0;
            }
    }
    *why = f == F_MONTH   ? "not a number or month name (JAN-DEC)"
           : f == F_DOW ? "not a number or weekday name (SUN-SAT)"
                        : "not a number";
    return RL_EINVAL;
}

/* One field (s..s+n) into *bits; *star if it is "*" or "?" (with no step but 1). */
static int parse_field(enum field f, const char *s, size_t n, uint64_t *bits, bool *star,
                       char *err, size_t errlen)
{
    const char *end = s + n, *item = s;
    char why[96];

    *bits = 0;
    *star = false;
    while (item <= end) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *iend = comma ? comma : end, *slash, *dash;
        const char *reason = NULL;
        int lo, hi, step = 1;
        bool is_star = false;

        if (iend == item)
            return field_error(err, errlen, f, s, n, "empty list item");
        slash = memchr(item, '/', (size_t)(iend - item));
        if (slash && memchr(slash + 1, '/', (size_t)(iend - slash - 1)))
            return field_error(err, errlen, f, item, (size_t)(iend - item), "more than one '/'");
        if (slash) {
            const char *st = slash + 1;

            if (st == iend || !(*st >= '0' && *st <= '9'))
                return field_error(err, errlen, f, item, (size_t)(iend - item),
                                   "the step is not a number");
            if (parse_value(F_MINUTE, st, (size_t)(iend - st), &step, &reason))
                return field_error(err, errlen, f, item, (size_t)(iend - item),
                                   "the step is not a number in range");
            if (step == 0)
                return field_error(err, errlen, f, item, (size_t)(iend - item),
                                   "the step must be at least 1");
        }
        const char *rend = slash ? slash : iend;

        if (rend - item == 1 && (*item == '*' || *item == '?')) {
            is_star = true;
            lo = fields[f].min;
            hi = fields[f].max;
        } else {
            dash = memchr(item, '-', (size_t)(rend - item));
            if (dash && memchr(dash + 1, '-', (size_t)(rend - dash - 1)))
                return field_error(err, errlen, f, item, (size_t)(iend - item),
                                   "more than one '-'");
            if (parse_value(f, item, (size_t)((dash ? dash : rend) - item), &lo, &reason) ||
                (dash && parse_value(f, dash + 1, (size_t)(rend - dash - 1), &hi, &reason)))
                return field_error(err, errlen, f, item, (size_t)(iend - item), reason);
            if (!dash)
                hi = slash ? fields[f].max : lo;   /* "5/15": 5 to the maximum */
            if (lo < fields[f].min || lo > fields[f].max_value) {
                snprintf(why, sizeof(why), "%d is out of range %d-%d", lo, fields[f].min,
                         fields[f].max_value);
                return field_error(err, errlen, f, item, (size_t)(iend - item), why);
            }
            if (hi < fields[f].min || hi > fields[f].max_value) {
                snprintf(why, sizeof(why), "%d is out of range %d-%d", hi, fields[f].min,
                         fields[f].max_value);
                return field_error(err, errlen, f, item, (size_t)(iend - item), why);
            }
            if (lo > hi) {
                snprintf(why, sizeof(why), "the range starts after it ends (%d > %d)", lo, hi);
                return field_error(err, errlen, f, item, (size_t)(iend - item), why);
            }
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << (f == F_DOW && v == 7 ? 0 : v);
        if (is_star && step == 1)
            *star = true;
        if (!comma)
            break;
        item = comma + 1;
    }
    return 0;
}

int rl_cron_parse(const char *expr, struct rl_cron *out, char *err, size_t errlen)
{
    const char *start[F_COUNT + 1], *p;
    size_t len[F_COUNT + 1], n = 0;
    uint64_t bits[F_COUNT];
    bool star[F_COUNT];
    char q[48];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!expr || strlen(expr) > RL_CRON_MAX_LEN) {
        snprintf(err, errlen, "cron: the expression is missing or longer than %d bytes",
                 RL_CRON_MAX_LEN);
        return RL_EINVAL;
    }
    p = expr + strspn(expr, " \t");
    if (*p == '@') {
        size_t m = strcspn(p, " \t");

        if (p[m + strspn(p + m, " \t")] == '\0')
            for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
                if (strlen(macros[i].name) == m && memcmp(p, macros[i].name, m) == 0)
                    return rl_cron_parse(macros[i].expr, out, err, errlen);
        quote(q, sizeof(q), p, strlen(p));
        snprintf(err, errlen, "cron: \"%s\" is not one of the macros @yearly, @annually, "
                 "@monthly, @weekly, @daily, @midnight, @hourly", q);
        return RL_EINVAL;
    }
    while (*p) {
        size_t m = strcspn(p, " \t");

        if (n <= F_COUNT) {
            start[n] = p;
            len[n] = m;
        }
        n++;
        p += m;
        p += strspn(p, " \t");
    }
    if (n != F_COUNT) {
        quote(q, sizeof(q), expr, strlen(expr));
        snprintf(err, errlen, "cron: \"%s\" has %zu field%s, not 5 (minute hour day-of-month "
                 "month day-of-week)", q, n, n == 1 ? "" : "s");
        return RL_EINVAL;
    }
    for (int f = 0; f < F_COUNT; f++)
        if ((rc = parse_field((enum field)f, start[f], len[f], &bits[f], &star[f], err, errlen)))
            return rc;
    out->minute = bits[F_MINUTE];
    out->hour = (uint32_t)bits[F_HOUR];
    out->dom = (uint32_t)bits[F_DOM];
    out->month = (uint16_t)bits[F_MONTH];
    out->dow = (uint8_t)bits[F_DOW];
    out->dom_star = star[F_DOM];
    out->dow_star = star[F_DOW];
    return 0;
}

static bool day_matches(const struct rl_cron *c, int64_t y, int m, int d)
{
    int64_t days = rl_days_from_civil(y, m, d);
    int wday = (int)((days % 7 + 11) % 7);
    bool dom = c->dom >> d & 1, dow = c->dow >> wday & 1;

    return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

bool rl_cron_matches(const struct rl_cron *c, const struct rl_civil *w)
{
    return w->month >= 1 && w->month <= 12 && w->day >= 1 &&
           w->day <= rl_days_in_month(w->year, w->month) && w->hour >= 0 && w->hour < 24 &&
           w->minute >= 0 && w->minute < 60 && (c->minute >> w->minute & 1) &&
           (c->hour >> w->hour & 1) && (c->month >> w->month & 1) &&
           day_matches(c, w->year, w->month, w->day);
}

bool rl_cron_satisfiable(const struct rl_cron *c)
{
    /* Every month has every weekday; a day of month must exist in some month chosen. */
    if (!c->minute || !c->hour || !c->month || !c->dow || !c->dom)
        return false;
    if (!c->dow_star)
        return true;
    for (int m = 1; m <= 12; m++)
        if (c->month >> m & 1 && (c->dom & (((uint64_t)2 << rl_days_in_month(2000, m)) - 2)))
            return true;
    return false;
}

/* Carries minutes over into hours, days, months and years. */
static void carry(struct rl_civil *w)
{
    if (w->minute > 59) {
        w->minute = 0;
        w->hour++;
    }
    if (w->hour > 23) {
        w->hour = 0;
        w->day++;
    }
    if (w->day > rl_days_in_month(w->year, w->month)) {
        w->day = 1;
        w->month++;
    }
    if (w->month > 12) {
        w->month = 1;
        w->year++;
    }
}

/* Moves *w to the first matching wall-clock minute at or after it; false past year_limit. */
static bool next_wall(const struct rl_cron *c, struct rl_civil *w, int64_t year_limit)
{
    for (;;) {
        if (w->year > year_limit)
            return false;
        if (!(c->month >> w->month & 1)) {
            w->month++;
            w->day = 1;
            w->hour = w->minute = 0;
        } else if (!day_matches(c, w->year, w->month, w->day)) {
            w->day++;
            w->hour = w->minute = 0;
        } else if (!(c->hour >> w->hour & 1)) {
            w->hour++;
            w->minute = 0;
        } else if (!(c->minute >> w->minute & 1)) {
            w->minute++;
        } else {
            return true;
        }
        carry(w);
    }
}

int rl_cron_next(const struct rl_cron *c, const struct rl_tz *tz, int64_t after_s,
                 int64_t *next_s)
{
    struct rl_civil w;
    int64_t at[2], limit;

    if (after_s < RL_TIME_MIN || after_s > RL_TIME_MAX)
        return RL_EINVAL;
    if (!rl_cron_satisfiable(c))
        return RL_ENOENT;
    /* Wall minutes up to after_s's own have fired at or before after_s (see cron.h). */
    rl_tz_to_civil(tz, after_s, &w);
    w.second = 0;
    w.minute++;
    carry(&w);
    limit = w.year + RL_CRON_HORIZON_YEARS;
    while (next_wall(c, &w, limit)) {
        int n = rl_tz_from_civil(tz, &w, at);

        /* None: in a gap, skipped. The first at or before after_s: fired in the first pass. */
        if (n > 0 && at[0] > after_s) {
            if (at[0] > RL_TIME_MAX)
                return RL_ENOENT;
            *next_s = at[0];
            return 0;
        }
        w.minute++;
        carry(&w);
    }
    return RL_ENOENT;
}
