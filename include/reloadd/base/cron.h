/*
 * cron.h - 5-field cron expressions, as a Kubernetes CronJob's schedule, evaluated in a time zone
 *
 * The syntax is robfig/cron v3's standard parser (what Kubernetes uses):
 *
 *   minute hour day-of-month month day-of-week      fields split by spaces or tabs
 *   0-59   0-23 1-31         1-12  0-6 (0 = Sunday)
 *
 * Each field is a comma-separated list of items; an item is "*" (or "?",
 * the same), a value "5", or a range "1-5", each optionally followed by a
 * step "/n" (n >= 1): "*" + "/15" is 0,15,30,45; "1-10/2" is 1,3,5,7,9; a
 * value with a step means value-max ("5/15" is 5,20,35,50 - robfig's
 * reading). Months may be named JAN..DEC and weekdays SUN..SAT (3 letters,
 * any case), in their own fields only, alone or as range ends. The macros
 * replace the whole expression: @yearly and @annually (0 0 1 1 *), @monthly
 * (0 0 1 * *), @weekly (0 0 * * 0), @daily and @midnight (0 0 * * *),
 * @hourly (0 * * * *).
 *
 * Where this differs from robfig: 7 is accepted as Sunday in the
 * day-of-week field ("5-7" is Fri, Sat, Sun; robfig refuses 7); an empty
 * list item ("1,,2") and a signed number ("+5") are refused (robfig
 * ignores the first and reads the second); @every and the CRON_TZ= prefix
 * are refused (a window needs wall-clock times; the zone is given apart);
 * an expression longer than RL_CRON_MAX_LEN bytes is refused.
 *
 * Day of month and day of week, as Vixie cron (and robfig): when both are
 * restricted (neither is "*" or "?", a step other than 1 counts as
 * restricted), a day matches if EITHER matches ("0 0 13 * 5" is every 13th
 * and every Friday); otherwise both must.
 *
 * Evaluation is in the wall-clock time of a zone (base/tz.h), minute by
 * minute. Daylight saving time, decided once here:
 *   - a matching wall time that does not exist (the hour skipped when
 *     clocks go forward) is skipped: "30 2 * * *" does not fire that day in
 *     Europe/Berlin or America/New_York (as robfig/cron, so as a CronJob);
 *   - a matching wall time that exists twice (the hour repeated when clocks
 *     go back) fires once, at its first (earlier, summer-time) instant: each
 *     wall-clock minute fires at most once. robfig fires it twice; an
 *     expression with "*" hours therefore has no firing in the repeated
 *     hour's second pass.
 *
 * Threads: pure; a parsed expression is a value any thread may read.
 */
#ifndef RL_CRON_H
#define RL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_tz;
struct rl_civil;

#define RL_CRON_MAX_LEN 255
/*
 * How far rl_cron_next() looks: 8 calendar years past the start, enough
 * for every expression that can fire at all (Feb 29 of 2096 to that of
 * 2104 is the longest wait); robfig looks 5.
 */
#define RL_CRON_HORIZON_YEARS 8

/* Bit n of a field is value n. */
struct rl_cron {
    uint64_t minute;                    /* bits 0..59 */
    uint32_t hour;                      /* bits 0..23 */
    uint32_t dom;                       /* bits 1..31 */
    uint16_t month;                     /* bits 1..12 */
    uint8_t dow;                        /* bits 0..6, 0 = Sunday */
    bool dom_star, dow_star;            /* "*" or "?" (unrestricted) */
};

/*
 * Parses expr into *out: 0, or RL_EINVAL with a one-line reason in err that
 * names the field and its text ("cron: hour field \"24\": 24 is above the
 * maximum 23").
 */
int rl_cron_parse(const char *expr, struct rl_cron *out, char *err, size_t errlen);

/* Whether the wall-clock minute of *wall matches (its seconds are ignored). */
bool rl_cron_matches(const struct rl_cron *c, const struct rl_civil *wall);

/* Whether any date can match (false for "0 0 30 2 *" or "0 0 31 4,6 *"). */
bool rl_cron_satisfiable(const struct rl_cron *c);

/*
 * The first instant strictly after after_s (Unix seconds) at which c fires
 * in the zone tz (see the DST rules above): 0 and *next_s, RL_ENOENT if
 * there is none within RL_CRON_HORIZON_YEARS or before RL_TIME_MAX,
 * RL_EINVAL if after_s is outside RL_TIME_MIN..RL_TIME_MAX.
 */
int rl_cron_next(const struct rl_cron *c, const struct rl_tz *tz, int64_t after_s,
                 int64_t *next_s);

#endif /* RL_CRON_H */
