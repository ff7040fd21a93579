/* test_cron.c - cron expressions: the syntax, bad input, the next firing in UTC and across DST */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/cron.h"
#include "reloadd/base/err.h"
#include "reloadd/base/tz.h"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };

    return (int64_t)timegm(&tm);
}

static struct rl_cron parse(const char *expr)
{
    struct rl_cron c;
    char err[256] = "";

    cr_assert(eq(int, rl_cron_parse(expr, &c, err, sizeof(err)), 0), "\"%s\": %s", expr, err);
    return c;
}

static uint64_t bits(const int *v, size_t n)
{
    uint64_t b = 0;

    for (size_t i = 0; i < n; i++)
        b |= (uint64_t)1 << v[i];
    return b;
}
#define BITS(...)                                                                           \
    bits((const int[]){ __VA_ARGS__ }, sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

static struct rl_tz *load(const char *name)
{
    struct rl_tz *tz = NULL;
    char err[256] = "";

    cr_assert(eq(int, rl_tz_load(name, "/usr/share/zoneinfo", &tz, err, sizeof(err)), 0),
              "%s: %s (the tests need the tzdata package)", name, err);
    return tz;
}

static int64_t next(const char *expr, const struct rl_tz *tz, int64_t after)
{
    struct rl_cron c = parse(expr);
    int64_t n = -1;

    cr_assert(eq(int, rl_cron_next(&c, tz ? tz : rl_tz_utc(), after, &n), 0), "%s", expr);
    return n;
}

Test(cron, fields_values_ranges_lists_steps)
{
    struct rl_cron c = parse("5 4 3 2 1");

    cr_assert(eq(u64, c.minute, BITS(5)));
    cr_assert(eq(u32, c.hour, (uint32_t)BITS(4)));
    cr_assert(eq(u32, c.dom, (uint32_t)BITS(3)));
    cr_assert(eq(u16, c.month, (uint16_t)BITS(2)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(1)));
    cr_assert(not(c.dom_star));
    cr_assert(not(c.dow_star));

    c = parse("* * * * *");
    cr_assert(eq(u64, c.minute, ((uint64_t)1 << 60) - 1));
    cr_assert(eq(u32, c.hour, (1u << 24) - 1));
    cr_assert(eq(u32, c.dom, 0xfffffffeu));
    cr_assert(eq(u16, c.month, (uint16_t)0x1ffe));
    cr_assert(eq(u8, c.dow, (uint8_t)0x7f));
    cr_assert(c.dom_star && c.dow_star);

    c = parse("1,2,59 0-3,22 1-5/2 */4 1-5");
    cr_assert(eq(u64, c.minute, BITS(1, 2, 59)));
    cr_assert(eq(u32, c.hour, (uint32_t)BITS(0, 1, 2, 3, 22)));
    cr_assert(eq(u32, c.dom, (uint32_t)BITS(1, 3, 5)));
    cr_assert(eq(u16, c.month, (uint16_t)BITS(1, 5, 9)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(1, 2, 3, 4, 5)));

    c = parse("*/15 */6 */10 * *");
    cr_assert(eq(u64, c.minute, BITS(0, 15, 30, 45)));
    cr_assert(eq(u32, c.hour, (uint32_t)BITS(0, 6, 12, 18)));
    cr_assert(eq(u32, c.dom, (uint32_t)BITS(1, 11, 21, 31)), "*/n counts from the minimum");
    cr_assert(not(c.dom_star), "a step other than 1 restricts");
    cr_assert(c.dow_star);

    /* "N/step" is N to the maximum, as robfig reads it. */
    c = parse("5/20 3/10 * * 1/2");
    cr_assert(eq(u64, c.minute, BITS(5, 25, 45)));
    cr_assert(eq(u32, c.hour, (uint32_t)BITS(3, 13, 23)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(1, 3, 5)));

    /* "*" + "/1" is still "*"; a step larger than the range keeps the start alone. */
    c = parse("*/1 */100 ? ? */1");
    cr_assert(eq(u64, c.minute, ((uint64_t)1 << 60) - 1));
    cr_assert(eq(u32, c.hour, (uint32_t)BITS(0)));
    cr_assert(c.dom_star && c.dow_star, "? is *");

    /* Leading zeros, tabs and spaces around. */
    c = parse(" \t05\t 00  01 01 \t 00 ");
    cr_assert(eq(u64, c.minute, BITS(5)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(0)));
}

Test(cron, names_and_sunday_as_seven)
{
    struct rl_cron c = parse("0 0 * JAN,mar,Dec MON-fri");

    cr_assert(eq(u16, c.month, (uint16_t)BITS(1, 3, 12)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(1, 2, 3, 4, 5)));
    c = parse("0 0 * feb-APR/2 SUN,sat");
    cr_assert(eq(u16, c.month, (uint16_t)BITS(2, 4)));
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(0, 6)));
    c = parse("0 0 * * 7");
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(0)), "7 is Sunday");
    c = parse("0 0 * * 5-7");
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(0, 5, 6)));
    c = parse("0 0 * * 0,7");
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(0)));
    c = parse("0 0 * * 1-7/2");
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(1, 3, 5, 0)));
    c = parse("0 0 * * thu-7");
    cr_assert(eq(u8, c.dow, (uint8_t)BITS(4, 5, 6, 0)));
}

Test(cron, macros)
{
    static const struct {
        const char *macro, *expr;
    } m[] = { { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
              { "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
              { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
              { "@hourly", "0 * * * *" },  { "  @daily\t", "0 0 * * *" } };

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        struct rl_cron a = parse(m[i].macro), b = parse(m[i].expr);

        cr_assert(eq(int, memcmp(&a, &b, sizeof(a)), 0), "%s", m[i].macro);
    }
    struct rl_cron y = parse("@yearly"), h = parse("@hourly");

    cr_assert(eq(u64, y.minute, BITS(0)));
    cr_assert(eq(u32, y.dom, (uint32_t)BITS(1)));
    cr_assert(eq(u64, h.minute, BITS(0)));
    cr_assert(eq(u32, h.hour, (1u << 24) - 1));
}

Test(cron, bad_expressions_name_the_field_and_the_text)
{
    static const struct {
        const char *expr, *want;
    } bad[] = {
        { "", "has 0 fields, not 5" },
        { "   ", "has 0 fields" },
        { "* * * *", "has 4 fields" },
        { "0 * * * * *", "has 6 fields" },
        { "CRON_TZ=UTC 0 0 * * *", "has 6 fields" },
        { "60 * * * *", "minute field \"60\": 60 is out of range 0-59" },
        { "* 24 * * *", "hour field \"24\": 24 is out of range 0-23" },
        { "* * 0 * *", "day-of-month field \"0\": 0 is out of range 1-31" },
        { "* * 32 * *", "day-of-month field \"32\"" },
        { "* * * 0 *", "month field \"0\"" },
        { "* * * 13 *", "month field \"13\"" },
        { "* * * * 8", "day-of-week field \"8\": 8 is out of range 0-7" },
        { "5-1 * * * *", "minute field \"5-1\": the range starts after it ends (5 > 1)" },
        { "*/0 * * * *", "minute field \"*/0\": the step must be at least 1" },
        { "* * * * 7-1", "day-of-week field \"7-1\"" },
        { "MON * * * *", "minute field \"MON\": not a number" },
        { "* JAN * * *", "hour field \"JAN\": not a number" },
        { "* * MON * *", "day-of-month field \"MON\"" },
        { "* * * MON *", "month field \"MON\": not a number or month name (JAN-DEC)" },
        { "* * * * JAN", "day-of-week field \"JAN\": not a number or weekday name (SUN-SAT)" },
        { "* * * * MONDAY", "day-of-week field \"MONDAY\"" },
        { "* * * * */MON", "day-of-week field \"*/MON\": the step is not a number" },
        { "1,,2 * * * *", "minute field \"1,,2\": empty list item" },
        { "1, * * * *", "minute field \"1,\": empty list item" },
        { ",1 * * * *", "empty list item" },
        { "+5 * * * *", "minute field \"+5\": not a number" },
        { "-5 * * * *", "minute field \"-5\": a value is missing" },
        { "5- * * * *", "minute field \"5-\": a value is missing" },
        { "1-2-3 * * * *", "minute field \"1-2-3\": more than one '-'" },
        { "1/2/3 * * * *", "minute field \"1/2/3\": more than one '/'" },
        { "*/ * * * *", "minute field \"*/\": the step is not a number" },
        { "*/99999 * * * *", "the step is not a number in range" },
        { "00005 * * * *", "not a number in range" },
        { "*-5 * * * *", "minute field \"*-5\"" },
        { "1.5 * * * *", "minute field \"1.5\"" },
        { "@every 1h", "is not one of the macros" },
        { "@DAILY", "is not one of the macros" },
        { "@daily 0", "is not one of the macros" },
        { "@reboot", "is not one of the macros" },
        { "0 0 * * 1\n", "day-of-week field \"1?\"" },
    };
    struct rl_cron c;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert(eq(int, rl_cron_parse(bad[i].expr, &c, err, sizeof(err)), RL_EINVAL),
                  "\"%s\" accepted", bad[i].expr);
        cr_assert(strstr(err, bad[i].want) != NULL, "\"%s\": %s", bad[i].expr, err);
        cr_assert(eq(ptr, strchr(err, '\n'), NULL), "one line: %s", err);
        cr_assert(eq(int, strncmp(err, "cron: ", 6), 0));
    }
    /* Overlong: refused before any parsing; hostile bytes are not echoed. */
    char longer[RL_CRON_MAX_LEN + 2];

    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    cr_assert(eq(int, rl_cron_parse(longer, &c, err, sizeof(err)), RL_EINVAL));
    cr_assert(strstr(err, "longer than 255 bytes") != NULL, "%s", err);
    cr_assert(eq(int, rl_cron_parse(NULL, &c, err, sizeof(err)), RL_EINVAL));
    cr_assert(eq(int, rl_cron_parse("\x1b[31m * * * *", &c, err, sizeof(err)), RL_EINVAL));
    cr_assert(eq(ptr, strchr(err, '\x1b'), NULL), "%s", err);
    char many[200];

    snprintf(many, sizeof(many), "%s * * * *",
             "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,99");
    cr_assert(eq(int, rl_cron_parse(many, &c, err, sizeof(err)), RL_EINVAL));
    cr_assert(strstr(err, "99 is out of range") != NULL, "%s", err);
    cr_assert(lt(sz, strlen(err), 160), "the quoted text is capped: %s", err);
}

Test(cron, day_of_month_or_day_of_week)
{
    struct rl_cron both = parse("0 0 13 * 5"), dom = parse("0 0 13 * *");
    struct rl_cron dow = parse("0 0 * * 5"), step = parse("0 0 */2 * 5");
    struct rl_civil fri13 = { 2026, 3, 13, 0, 0, 0, 0 };  /* 2026-03-13 is a Friday */
    struct rl_civil fri6 = { 2026, 3, 6, 0, 0, 0, 0 }, tue13 = { 2026, 1, 13, 0, 0, 0, 0 };
    struct rl_civil sat14 = { 2026, 3, 14, 0, 0, 0, 0 }, wed15 = { 2026, 4, 15, 0, 0, 0, 0 };

    cr_assert(rl_cron_matches(&both, &fri13));
    cr_assert(rl_cron_matches(&both, &fri6), "both restricted: a Friday that is not the 13th");
    cr_assert(rl_cron_matches(&both, &tue13), "both restricted: a 13th that is not a Friday");
    cr_assert(not(rl_cron_matches(&both, &sat14)));
    cr_assert(rl_cron_matches(&dom, &tue13));
    cr_assert(not(rl_cron_matches(&dom, &fri6)), "dow *: the 13th only");
    cr_assert(rl_cron_matches(&dow, &fri6));
    cr_assert(not(rl_cron_matches(&dow, &tue13)), "dom *: Fridays only");
    cr_assert(rl_cron_matches(&step, &wed15), "*/2 restricts: the 15th (odd) though a Wednesday");
    cr_assert(rl_cron_matches(&step, &fri6), "and Fridays");
    cr_assert(not(rl_cron_matches(&step, &sat14)));
    /* The other fields, and the invalid dates. */
    struct rl_civil at = { 2026, 3, 13, 0, 1, 0, 0 }, feb30 = { 2026, 2, 30, 0, 0, 0, 0 };

    cr_assert(not(rl_cron_matches(&dom, &at)));
    struct rl_cron every = parse("* * * * *");

    cr_assert(not(rl_cron_matches(&every, &feb30)));
    /* Next: after Friday 2026-03-06, the 13th (also a Friday), then the 20th, ... */
    cr_assert(eq(i64, next("0 0 13 * 5", NULL, utc(2026, 3, 6, 0, 0, 0)),
                 utc(2026, 3, 13, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 13 * 5", NULL, utc(2026, 3, 13, 0, 0, 0)),
                 utc(2026, 3, 20, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 13 * 5", NULL, utc(2026, 3, 27, 0, 0, 0)),
                 utc(2026, 4, 3, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 13 * 5", NULL, utc(2026, 4, 10, 0, 0, 0)),
                 utc(2026, 4, 13, 0, 0, 0)));
}

Test(cron, next_is_strictly_after)
{
    int64_t t = utc(2026, 5, 6, 7, 8, 0);

    cr_assert(eq(i64, next("* * * * *", NULL, t), t + 60), "a match at after_s is not returned");
    cr_assert(eq(i64, next("* * * * *", NULL, t - 1), t));
    cr_assert(eq(i64, next("* * * * *", NULL, t + 59), t + 60));
    cr_assert(eq(i64, next("8 7 * * *", NULL, t), utc(2026, 5, 7, 7, 8, 0)));
    cr_assert(eq(i64, next("8 7 * * *", NULL, t - 60), t));
    cr_assert(eq(i64, next("*/15 * * * *", NULL, t), utc(2026, 5, 6, 7, 15, 0)));
    cr_assert(eq(i64, next("@hourly", NULL, t), utc(2026, 5, 6, 8, 0, 0)));
    cr_assert(eq(i64, next("0 2 * * 1-5", NULL, utc(2026, 5, 8, 2, 0, 0)),
                 utc(2026, 5, 11, 2, 0, 0)),
              "Friday to Monday");
    /* Before 1970 too. */
    cr_assert(eq(i64, next("30 12 * * *", NULL, utc(1969, 12, 31, 13, 0, 0)),
                 utc(1970, 1, 1, 12, 30, 0)));
}

Test(cron, month_ends_leap_years_and_year_ends)
{
    cr_assert(eq(i64, next("0 0 31 * *", NULL, utc(2026, 1, 31, 0, 0, 0)),
                 utc(2026, 3, 31, 0, 0, 0)),
              "February and its lack of a 31st are skipped");
    cr_assert(eq(i64, next("0 0 31 * *", NULL, utc(2026, 5, 31, 0, 0, 0)),
                 utc(2026, 7, 31, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 30 * *", NULL, utc(2026, 1, 30, 0, 0, 0)),
                 utc(2026, 3, 30, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 29 2 *", NULL, utc(2025, 1, 1, 0, 0, 0)),
                 utc(2028, 2, 29, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 29 2 *", NULL, utc(2024, 2, 29, 0, 0, 0)),
                 utc(2028, 2, 29, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 29 2 *", NULL, utc(2096, 3, 1, 0, 0, 0)),
                 utc(2104, 2, 29, 0, 0, 0)),
              "2100 is not a leap year: 8 years");
    cr_assert(eq(i64, next("0 0 29 2 *", NULL, utc(1999, 3, 1, 0, 0, 0)),
                 utc(2000, 2, 29, 0, 0, 0)),
              "2000 is one");
    cr_assert(eq(i64, next("59 23 31 12 *", NULL, utc(2026, 12, 31, 23, 59, 0)),
                 utc(2027, 12, 31, 23, 59, 0)));
    cr_assert(eq(i64, next("* * * * *", NULL, utc(2026, 12, 31, 23, 59, 30)),
                 utc(2027, 1, 1, 0, 0, 0)));
    cr_assert(eq(i64, next("0 0 1 1 *", NULL, utc(2026, 1, 1, 0, 0, 0)), utc(2027, 1, 1, 0, 0, 0)));
    cr_assert(eq(i64, next("0 12 28-31 * *", NULL, utc(2026, 2, 28, 12, 0, 0)),
                 utc(2026, 3, 28, 12, 0, 0)));
    cr_assert(eq(i64, next("0 0 * * 0", NULL, utc(2026, 12, 31, 0, 0, 0)),
                 utc(2027, 1, 3, 0, 0, 0)));
}

Test(cron, never_and_out_of_range)
{
    struct rl_cron c;
    int64_t n = 42;

    c = parse("0 0 30 2 *");
    cr_assert(not(rl_cron_satisfiable(&c)));
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), utc(2026, 1, 1, 0, 0, 0), &n), RL_ENOENT));
    cr_assert(eq(i64, n, 42));
    c = parse("0 0 31 4,6,9,11 *");
    cr_assert(not(rl_cron_satisfiable(&c)));
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), 0, &n), RL_ENOENT));
    c = parse("0 0 30 2 1");
    cr_assert(rl_cron_satisfiable(&c), "either matches: Mondays in February");
    c = parse("0 0 29 2 *");
    cr_assert(rl_cron_satisfiable(&c));
    c = parse("0 0 31 1-3 *");
    cr_assert(rl_cron_satisfiable(&c));
    c = parse("* * * * *");
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), RL_TIME_MAX + 1, &n), RL_EINVAL));
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), RL_TIME_MIN - 1, &n), RL_EINVAL));
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), RL_TIME_MAX, &n), RL_ENOENT), "past 9999");
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), RL_TIME_MAX - 60, &n), 0));
    cr_assert(eq(i64, n, RL_TIME_MAX - 59));
    cr_assert(eq(int, rl_cron_next(&c, rl_tz_utc(), RL_TIME_MIN, &n), 0));
    cr_assert(eq(i64, n, RL_TIME_MIN + 60));
}

Test(cron, dst_gap_is_skipped)
{
    struct rl_tz *berlin = load("Europe/Berlin"), *ny = load("America/New_York");

    /* Berlin 2026-03-29: 02:00 CET becomes 03:00 CEST. 02:30 does not exist that day. */
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2026, 3, 28, 12, 0, 0)),
                 utc(2026, 3, 30, 0, 30, 0)));
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2026, 3, 27, 12, 0, 0)),
                 utc(2026, 3, 28, 1, 30, 0)), "the day before: 02:30 CET");
    cr_assert(eq(i64, next("0 2 29 3 *", berlin, utc(2026, 1, 1, 0, 0, 0)),
                 utc(2027, 3, 29, 0, 0, 0)), "the only date is in the gap: next year");
    /* Hourly and every minute: 01:59 CET, then 03:00 CEST, one minute of real time. */
    cr_assert(eq(i64, next("* * * * *", berlin, utc(2026, 3, 29, 0, 59, 0)),
                 utc(2026, 3, 29, 1, 0, 0)));
    cr_assert(eq(i64, next("0 * * * *", berlin, utc(2026, 3, 29, 0, 0, 0)),
                 utc(2026, 3, 29, 1, 0, 0)), "03:00 CEST right after 01:00 CET");
    cr_assert(eq(i64, next("*/15 2 * * *", berlin, utc(2026, 3, 29, 0, 0, 0)),
                 utc(2026, 3, 30, 0, 0, 0)));
    /* After the last transition of the file's table: the footer's rule (2060-03-28). */
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2060, 3, 27, 12, 0, 0)),
                 utc(2060, 3, 29, 0, 30, 0)));
    /* New York 2026-03-08: 02:00 EST becomes 03:00 EDT. */
    cr_assert(eq(i64, next("30 2 * * *", ny, utc(2026, 3, 7, 12, 0, 0)),
                 utc(2026, 3, 9, 6, 30, 0)));
    cr_assert(eq(i64, next("0 3 * * *", ny, utc(2026, 3, 7, 12, 0, 0)),
                 utc(2026, 3, 8, 7, 0, 0)), "03:00 exists");
    cr_assert(eq(i64, next("59 1 * * *", ny, utc(2026, 3, 7, 12, 0, 0)),
                 utc(2026, 3, 8, 6, 59, 0)));
    rl_tz_free(berlin);
    rl_tz_free(ny);
}

Test(cron, dst_repeated_hour_fires_once)
{
    struct rl_tz *berlin = load("Europe/Berlin"), *ny = load("America/New_York");

    /* Berlin 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, fires at the first. */
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2026, 10, 24, 12, 0, 0)),
                 utc(2026, 10, 25, 0, 30, 0)));
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2026, 10, 25, 0, 30, 0)),
                 utc(2026, 10, 26, 1, 30, 0)), "not again at 02:30 CET");
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2026, 10, 25, 1, 0, 0)),
                 utc(2026, 10, 26, 1, 30, 0)), "from inside the second pass");
    /* Every 15 minutes: 02:45 CEST, then 03:00 CET - nothing in the second pass. */
    cr_assert(eq(i64, next("*/15 * * * *", berlin, utc(2026, 10, 25, 0, 45, 0)),
                 utc(2026, 10, 25, 2, 0, 0)));
    cr_assert(eq(i64, next("*/15 * * * *", berlin, utc(2026, 10, 25, 1, 10, 0)),
                 utc(2026, 10, 25, 2, 0, 0)));
    cr_assert(eq(i64, next("*/15 * * * *", berlin, utc(2026, 10, 25, 0, 40, 0)),
                 utc(2026, 10, 25, 0, 45, 0)), "the first pass as usual");
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2060, 10, 30, 12, 0, 0)),
                 utc(2060, 10, 31, 0, 30, 0)), "from the footer's rule");
    cr_assert(eq(i64, next("30 2 * * *", berlin, utc(2060, 10, 31, 0, 30, 0)),
                 utc(2060, 11, 1, 1, 30, 0)));
    /* New York 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 fires once, at 05:30Z. */
    cr_assert(eq(i64, next("30 1 * * *", ny, utc(2026, 10, 31, 12, 0, 0)),
                 utc(2026, 11, 1, 5, 30, 0)));
    cr_assert(eq(i64, next("30 1 * * *", ny, utc(2026, 11, 1, 5, 30, 0)),
                 utc(2026, 11, 2, 6, 30, 0)));
    cr_assert(eq(i64, next("0 2 * * *", ny, utc(2026, 11, 1, 5, 30, 0)),
                 utc(2026, 11, 1, 7, 0, 0)), "02:00 EST, once");
    rl_tz_free(berlin);
    rl_tz_free(ny);
}

/*
 * A slow oracle for the rules of cron.h: each minute in turn, its wall time
 * from rl_tz_to_civil (itself checked against glibc in test_tz.c), fires if it
 * matches and the same wall minute did not occur one hour earlier (DST shifts
 * of Berlin and New York are one hour).
 */
static int64_t oracle(const struct rl_cron *c, const struct rl_tz *tz, int64_t after)
{
    for (int64_t t = (after / 60) * 60 + 60;; t += 60) {
        struct rl_civil w, e;

        rl_tz_to_civil(tz, t, &w);
        if (!rl_cron_matches(c, &w))
            continue;
        rl_tz_to_civil(tz, t - 3600, &e);
        if (e.year == w.year && e.month == w.month && e.day == w.day && e.hour == w.hour &&
            e.minute == w.minute)
            continue;
        return t;
    }
}

Test(cron, next_equals_a_minute_by_minute_oracle_around_dst)
{
    static const char *const exprs[] = { "30 2 * * *", "*/15 * * * *", "0 * * * *", "59 1 * * *",
                                         "0 3 * * *", "*/7 2-3 * * *", "0,30 1-3 * * 0",
                                         "* 2 * * *", "5 0 * * *", "0 0 13 * 5" };
    static const char *const zones[] = { "Europe/Berlin", "America/New_York" };
    const int64_t starts[] = { utc(2026, 3, 28, 20, 0, 0), utc(2026, 10, 24, 20, 0, 0),
                               utc(2026, 3, 7, 20, 0, 0),  utc(2026, 10, 31, 20, 0, 0),
                               utc(2060, 3, 27, 20, 0, 0), utc(2060, 11, 6, 20, 0, 0) };
    int checked = 0;

    for (size_t z = 0; z < 2; z++) {
        struct rl_tz *tz = load(zones[z]);

        for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
            struct rl_cron c = parse(exprs[e]);

            for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
                int64_t t = starts[s], n;

                for (int k = 0; k < 40; k++) {
                    int64_t want = oracle(&c, tz, t);

                    cr_assert(eq(int, rl_cron_next(&c, tz, t, &n), 0));
                    cr_assert(eq(i64, n, want), "%s %s after %lld", zones[z], exprs[e],
                              (long long)t);
                    /* Half the time from the firing, half from a second inside the next minute. */
                    t = k % 2 ? n : n + 37;
                    checked++;
                }
            }
        }
        rl_tz_free(tz);
    }
    cr_log_info("%d firings checked", checked);
}
