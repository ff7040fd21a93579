/* test_window.c - maintenance windows: the value's syntax, and open or closed around boundaries */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/err.h"
#include "reloadd/base/tz.h"
#include "reloadd/reload/window.h"

#define ZDIR "/usr/share/zoneinfo"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };

    return (int64_t)timegm(&tm);
}

static struct rl_window parse(const char *value)
{
    struct rl_window w;
    char err[512] = "";

    cr_assert(eq(int, rl_window_parse(value, ZDIR, &w, err, sizeof(err)), 0), "\"%s\": %s",
              value, err);
    return w;
}

struct state {
    bool open;
    int64_t opens, closes;
};

static struct state at(const struct rl_window *w, int64_t now)
{
    struct state s = { false, -1, -1 };

    cr_assert(eq(int, rl_window_state(w, now, &s.open, &s.opens, &s.closes), 0));
    return s;
}

Test(window, forms)
{
    struct rl_window w = parse("0 2 * * 1-5; 2h; Europe/Berlin");

    cr_assert(eq(i64, w.duration_s, 7200));
    cr_assert(eq(str, (char *)rl_tz_name(w.tz), "Europe/Berlin"));
    cr_assert(eq(u32, w.cron.hour, 1u << 2));
    rl_window_release(&w);
    rl_window_release(&w);              /* twice: harmless */

    w = parse("@daily; 30m");
    cr_assert(eq(i64, w.duration_s, 1800));
    cr_assert(eq(ptr, (void *)w.tz, (void *)rl_tz_utc()), "no zone: UTC, built in");
    rl_window_release(&w);
    w = parse("@daily;30m");
    rl_window_release(&w);
    w = parse(" \t@hourly ;\t15m ; UTC \t");
    cr_assert(eq(ptr, (void *)w.tz, (void *)rl_tz_utc()));
    cr_assert(eq(i64, w.duration_s, 900));
    rl_window_release(&w);
    w = parse("30 22 * * SAT,SUN; 1h30m; America/New_York");
    cr_assert(eq(i64, w.duration_s, 5400));
    rl_window_release(&w);
    w = parse("0 0 * * *; 168h");
    cr_assert(eq(i64, w.duration_s, 7 * 86400), "7 days is the maximum, allowed");
    rl_window_release(&w);
    w = parse("0 0 * * *; 1s");
    cr_assert(eq(i64, w.duration_s, 1));
    rl_window_release(&w);
    w = parse("0 0 * * *; 1.5m");
    cr_assert(eq(i64, w.duration_s, 90));
    rl_window_release(&w);
}

Test(window, bad_values)
{
    static const struct {
        const char *value, *want;
        int rc;
    } bad[] = {
        { "", "not \"<cron>; <duration>[; <zone>]\"", RL_EINVAL },
        { "0 2 * * *", "not \"<cron>; <duration>", RL_EINVAL },
        { "0 2 * * *; 2h; Europe/Berlin; x", "not \"<cron>", RL_EINVAL },
        { "; 2h", "cron: \"\" has 0 fields", RL_EINVAL },
        { "60 2 * * *; 2h", "minute field \"60\"", RL_EINVAL },
        { "0 2 * * * *; 2h", "has 6 fields", RL_EINVAL },
        { "0 0 30 2 *; 1h", "never matches", RL_EINVAL },
        { "0 2 * * *;", "the duration \"\"", RL_EINVAL },
        { "0 2 * * *; 0s", "the duration \"0s\"", RL_EINVAL },
        { "0 2 * * *; 0", "the duration \"0\"", RL_EINVAL },
        { "0 2 * * *; -1h", "the duration \"-1h\"", RL_EINVAL },
        { "0 2 * * *; 168h1s", "from 1s to 168h", RL_EINVAL },
        { "0 2 * * *; 7d", "the duration \"7d\"", RL_EINVAL },
        { "0 2 * * *; 500ms", "whole seconds", RL_EINVAL },
        { "0 2 * * *; 1.5s", "whole seconds", RL_EINVAL },
        { "0 2 * * *; 2 h", "the duration \"2 h\"", RL_EINVAL },
        { "0 2 * * *; 2h;", "the zone after the second ';' is empty", RL_EINVAL },
        { "0 2 * * *; 2h; ../../etc/passwd", "not an IANA zone name", RL_EINVAL },
        { "0 2 * * *; 2h; /etc/passwd", "not an IANA zone name", RL_EINVAL },
        { "0 2 * * *; 2h; Europe/Berlin/../../..", "not an IANA zone name", RL_EINVAL },
        { "0 2 * * *; 2h; Local", "not an IANA zone name", RL_EINVAL },
        { "0 2 * * *; 2h; Europe/Atlantis", "\"Europe/Atlantis\": unknown", RL_ENOENT },
        { "0 2 * * *; 2h; Europe", "\"Europe\": unknown", RL_ENOENT },
    };
    struct rl_window w;
    char err[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert(eq(int, rl_window_parse(bad[i].value, ZDIR, &w, err, sizeof(err)), bad[i].rc),
                  "\"%s\": %s", bad[i].value, err);
        cr_assert(strstr(err, bad[i].want) != NULL, "\"%s\": %s", bad[i].value, err);
        cr_assert(eq(int, strncmp(err, "maintenance window: ", 20), 0), "%s", err);
        cr_assert(eq(ptr, strchr(err, '\n'), NULL));
        cr_assert(eq(ptr, (void *)w.owned, NULL), "nothing to release on error");
    }
    cr_assert(eq(int, rl_window_parse(NULL, ZDIR, &w, err, sizeof(err)), RL_EINVAL));
    /* Overlong: refused whole, whatever it holds. */
    char longer[RL_WINDOW_MAX_LEN + 2];

    memset(longer, ' ', sizeof(longer) - 1);
    memcpy(longer, "0 2 * * *; 2h", 13);
    longer[sizeof(longer) - 1] = '\0';
    cr_assert(eq(int, rl_window_parse(longer, ZDIR, &w, err, sizeof(err)), RL_EINVAL));
    cr_assert(strstr(err, "longer than 256 bytes") != NULL, "%s", err);
    longer[sizeof(longer) - 2] = '\0';  /* 256 bytes: fine */
    cr_assert(eq(int, rl_window_parse(longer, ZDIR, &w, err, sizeof(err)), 0), "%s", err);
    rl_window_release(&w);
    /* Control bytes in the duration are not echoed. */
    cr_assert(eq(int, rl_window_parse("0 2 * * *; 2h\x1b[0m", ZDIR, &w, err, sizeof(err)),
                 RL_EINVAL));
    cr_assert(eq(ptr, strchr(err, '\x1b'), NULL), "%s", err);
}

Test(window, boundaries_in_utc)
{
    struct rl_window w = parse("0 2 * * *; 2h");
    int64_t open = utc(2026, 5, 6, 2, 0, 0);
    struct state s;

    s = at(&w, open - 1);
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, open));
    cr_assert(eq(i64, s.closes, open + 7200));
    s = at(&w, open);
    cr_assert(s.open, "exactly at the cron time: open");
    cr_assert(eq(i64, s.opens, open));
    cr_assert(eq(i64, s.closes, open + 7200));
    s = at(&w, open + 7199);
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, open + 7200));
    s = at(&w, open + 7200);
    cr_assert(not(s.open), "exactly at open + duration: closed");
    cr_assert(eq(i64, s.opens, open + 86400));
    cr_assert(eq(i64, s.closes, open + 86400 + 7200));
    s = at(&w, open - 86400 + 7200);
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, open));
    rl_window_release(&w);

    /* A window of a second. */
    w = parse("30 12 * * *; 1s");
    s = at(&w, utc(2026, 5, 6, 12, 30, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 12, 30, 1)));
    cr_assert(not(at(&w, utc(2026, 5, 6, 12, 30, 1)).open));
    rl_window_release(&w);

    /* Seven days, weekly: closed one instant a week. */
    w = parse("0 0 * * 1; 167h59m");
    s = at(&w, utc(2026, 5, 10, 23, 59, 0));    /* Sunday 23:59 */
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, utc(2026, 5, 11, 0, 0, 0)));
    s = at(&w, utc(2026, 5, 10, 23, 58, 59));
    cr_assert(s.open);
    cr_assert(eq(i64, s.opens, utc(2026, 5, 4, 0, 0, 0)));
    rl_window_release(&w);
}

Test(window, weekdays_in_berlin)
{
    struct rl_window w = parse("0 2 * * 1-5; 2h; Europe/Berlin");
    struct state s;

    /* Friday 2026-05-08 02:00 CEST = 00:00Z. */
    s = at(&w, utc(2026, 5, 8, 0, 0, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, utc(2026, 5, 8, 2, 0, 0)));
    s = at(&w, utc(2026, 5, 8, 2, 0, 0));
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, utc(2026, 5, 11, 0, 0, 0)), "over the weekend to Monday");
    /* Winter: 02:00 CET = 01:00Z. */
    s = at(&w, utc(2026, 1, 6, 0, 30, 0));
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, utc(2026, 1, 6, 1, 0, 0)));
    rl_window_release(&w);
}

Test(window, overlapping_and_touching_windows_merge)
{
    struct rl_window w = parse("0 2,3 * * *; 2h");
    struct state s;

    s = at(&w, utc(2026, 5, 6, 3, 30, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.opens, utc(2026, 5, 6, 2, 0, 0)), "the earliest window holding now");
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 5, 0, 0)), "02:00-04:00 + 03:00-05:00");
    s = at(&w, utc(2026, 5, 6, 4, 30, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.opens, utc(2026, 5, 6, 3, 0, 0)));
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 5, 0, 0)));
    s = at(&w, utc(2026, 5, 6, 1, 0, 0));
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 5, 0, 0)), "the next one, merged");
    cr_assert(not(at(&w, utc(2026, 5, 6, 5, 0, 0)).open));
    rl_window_release(&w);

    /* Touching: 02:00-04:00 and 04:00-06:00 are one window. */
    w = parse("0 2,4 * * *; 2h");
    s = at(&w, utc(2026, 5, 6, 2, 0, 0));
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 6, 0, 0)));
    cr_assert(at(&w, utc(2026, 5, 6, 4, 0, 0)).open);
    rl_window_release(&w);

    /* Not touching by a second. */
    w = parse("0 2,4 * * *; 1h59m59s");
    s = at(&w, utc(2026, 5, 6, 2, 0, 0));
    cr_assert(eq(i64, s.closes, utc(2026, 5, 6, 3, 59, 59)));
    rl_window_release(&w);

    /* Always open: closes "never" (past the horizon). */
    static const char *const always[] = { "0 * * * *; 1h", "* * * * *; 1m", "*/5 * * * *; 10m",
                                          "0 0 * * *; 168h" };

    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
        w = parse(always[i]);
        s = at(&w, utc(2026, 5, 6, 2, 30, 0));
        cr_assert(s.open, "%s", always[i]);
        cr_assert(eq(i64, s.closes, RL_WINDOW_FOREVER), "%s", always[i]);
        rl_window_release(&w);
    }
    /* Nine days open on end: the end is reported once it is within the 8-day horizon. */
    w = parse("0 0 1-9 * *; 24h");
    s = at(&w, utc(2026, 5, 1, 12, 0, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, RL_WINDOW_FOREVER), "8.5 days away: past the horizon");
    s = at(&w, utc(2026, 5, 2, 12, 0, 0));
    cr_assert(eq(i64, s.closes, utc(2026, 5, 10, 0, 0, 0)), "7.5 days away");
    rl_window_release(&w);
    /* Open for 6 days on end, then closed: found exactly (inside the horizon). */
    w = parse("0 0 * * 1-6; 24h");
    s = at(&w, utc(2026, 5, 4, 12, 0, 0));    /* Monday */
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, utc(2026, 5, 10, 0, 0, 0)), "Sunday is closed");
    rl_window_release(&w);
}

Test(window, dst_days)
{
    struct rl_window w = parse("30 2 * * *; 1h; Europe/Berlin");
    struct state s;

    /* 2026-03-29: 02:30 does not exist, no window that day. */
    s = at(&w, utc(2026, 3, 28, 23, 0, 0));
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, utc(2026, 3, 30, 0, 30, 0)));
    /* 2026-10-25: 02:30 CEST to 03:30 CEST... which is 02:30 CET: one hour of real time. */
    s = at(&w, utc(2026, 10, 25, 0, 30, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.closes, utc(2026, 10, 25, 1, 30, 0)));
    s = at(&w, utc(2026, 10, 25, 1, 30, 0));
    cr_assert(not(s.open), "02:30 CET does not open it again");
    cr_assert(eq(i64, s.opens, utc(2026, 10, 26, 1, 30, 0)));
    rl_window_release(&w);

    /* A duration is real time: 01:00 + 3h on the spring day in New York ends at 05:00 EDT. */
    w = parse("0 1 * * *; 3h; America/New_York");
    s = at(&w, utc(2026, 3, 8, 6, 0, 0));
    cr_assert(s.open);
    cr_assert(eq(i64, s.opens, utc(2026, 3, 8, 6, 0, 0)));
    cr_assert(eq(i64, s.closes, utc(2026, 3, 8, 9, 0, 0)));
    rl_window_release(&w);
}

Test(window, leap_days_and_the_limits)
{
    struct rl_window w = parse("0 0 29 2 *; 1h");
    struct state s;
    bool open = true;
    int64_t a = -1, b = -1;

    s = at(&w, utc(2025, 6, 1, 0, 0, 0));
    cr_assert(not(s.open));
    cr_assert(eq(i64, s.opens, utc(2028, 2, 29, 0, 0, 0)));
    cr_assert(eq(int, rl_window_state(&w, RL_TIME_MAX + 1, &open, &a, &b), RL_EINVAL));
    cr_assert(not(open));
    cr_assert(eq(int, rl_window_state(&w, INT64_MIN, &open, &a, &b), RL_EINVAL));
    cr_assert(eq(int, rl_window_state(&w, utc(9999, 3, 1, 0, 0, 0), &open, &a, &b), RL_ENOENT));
    cr_assert(not(open));
    rl_window_release(&w);
}

/* A zone cache as the wiring would have one: the window borrows, never frees. */
struct cache {
    struct rl_tz *berlin;
    int calls;
};

static int from_cache(void *ctx, const char *name, const struct rl_tz **tz, char *err,
                      size_t errlen)
{
    struct cache *c = ctx;

    c->calls++;
    if (strcmp(name, "Europe/Berlin") != 0) {
        snprintf(err, errlen, "zone %s not in the test's cache", name);
        return RL_ENOENT;
    }
    *tz = c->berlin;
    return 0;
}

Test(window, parse_with_a_zone_cache_borrows)
{
    struct cache c = { NULL, 0 };
    struct rl_window w;
    char err[512] = "";

    cr_assert(eq(int, rl_tz_load("Europe/Berlin", ZDIR, &c.berlin, err, sizeof(err)), 0), "%s",
              err);
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, rl_window_parse_with("0 2 * * *; 2h; Europe/Berlin", from_cache, &c,
                                               &w, err, sizeof(err)),
                     0), "%s", err);
        cr_assert(eq(ptr, (void *)w.tz, (void *)c.berlin));
        cr_assert(eq(ptr, (void *)w.owned, NULL));
        rl_window_release(&w);
    }
    cr_assert(eq(int, c.calls, 3));
    cr_assert(eq(i32, rl_tz_offset(c.berlin, utc(2026, 7, 1, 0, 0, 0)), 7200),
              "still alive after the releases");
    cr_assert(eq(int, rl_window_parse_with("@daily; 1h; UTC", from_cache, &c, &w, err,
                                           sizeof(err)), 0));
    cr_assert(eq(int, c.calls, 3), "UTC is built in: the cache is not asked");
    cr_assert(eq(int, rl_window_parse_with("@daily; 1h; Asia/Tokyo", from_cache, &c, &w, err,
                                           sizeof(err)), RL_ENOENT));
    cr_assert(strstr(err, "not in the test's cache") != NULL, "%s", err);
    cr_assert(eq(int, rl_window_parse_with("@daily; 1h; ../x", from_cache, &c, &w, err,
                                           sizeof(err)), RL_EINVAL));
    cr_assert(eq(int, c.calls, 4), "a bad name never reaches the cache");
    rl_tz_free(c.berlin);
}
