/* clock.c - the real clock and RFC 3339 time stamps */
#include "reloadd/base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/err.h"
#include "reloadd/base/banned.h"

static uint64_t sys_mono_ms(const struct rl_clock *c)
{
    (void)c;
    return rl_mono_ms();
}

static int64_t sys_wall_us(const struct rl_clock *c)
{
    struct timespec ts;

    (void)c;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const struct rl_clock system_clock = { sys_mono_ms, sys_wall_us };

const struct rl_clock *rl_clock_system(void)
{
    return &system_clock;
}

uint64_t rl_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void split(int64_t wall_us, struct tm *tm, long *frac_us)
{
    time_t sec = (time_t)(wall_us / 1000000);
    long us = (long)(wall_us % 1000000);

    if (us < 0) {
        us += 1000000;
        sec -= 1;
    }
    gmtime_r(&sec, tm);
    *frac_us = us;
}

void rl_format_micro_time(int64_t wall_us, char out[32])
{
    struct tm tm;
    long us;

    size_t n;

    split(wall_us, &tm, &us);
    n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06ldZ", us);
}

void rl_format_rfc3339(int64_t wall_us, char out[32])
{
    struct tm tm;
    long us;

    split(wall_us, &tm, &us);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int rl_parse_rfc3339(const char *s, int64_t *wall_us)
{
    int y, mo, d, h, mi, sec, n = 0;
    long frac = 0;
    int64_t t;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return RL_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return RL_EINVAL;
    s += n;
    if (*s == '.') {
        long scale = 100000;

        s++;
        if (*s < '0' || *s > '9')
            return RL_EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
            frac += (*s - '0') * scale;
            scale /= 10;
        }
    }
    t = (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec);
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om, sign = *s == '-' ? -1 : 1;

        if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
            return RL_EINVAL;
        t -= sign * (oh * 3600 + om * 60);
        s += 6;
    } else {
        return RL_EINVAL;
    }
    if (*s)
        return RL_EINVAL;
    *wall_us = t * 1000000 + frac;
    return 0;
}
