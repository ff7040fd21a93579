/* test_tz.c - time zones read from TZif files, and civil time, checked against glibc and by hand */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reloadd/base/err.h"
#include "reloadd/base/tz.h"

#define ZDIR "/usr/share/zoneinfo"

/* The test's oracle for UTC: glibc's timegm, not our own arithmetic. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };

    return (int64_t)timegm(&tm);
}

static struct rl_tz *load(const char *name)
{
    struct rl_tz *tz = NULL;
    char err[256] = "";
    int rc = rl_tz_load(name, ZDIR, &tz, err, sizeof(err));

    cr_assert(eq(int, rc, 0), "%s: %s (the tests need the tzdata package)", name, err);
    return tz;
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);

    cr_assert(f != NULL && buf != NULL, "%s", path);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

/* A TZif header: no UT/standard indicators, no leap seconds. */
static unsigned char *header(unsigned char *p, char version, uint32_t ntrans, uint32_t ntypes)
{
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    memset(p + 5, 0, 15);
    p += 20;
    p = put32(p, 0);
    p = put32(p, 0);
    p = put32(p, 0);
    p = put32(p, ntrans);
    p = put32(p, ntypes);
    return put32(p, 2);                 /* the abbreviations: "X" */
}

/* A TZif file: version 0 (v1 only, 32-bit times) or '2'.. (an empty v1 block, then 64-bit). */
static size_t tzif(unsigned char *out, char version, const int64_t *trans, const uint8_t *idx,
                   uint32_t n, const int32_t *off, uint32_t ntypes, const char *footer)
{
    unsigned char *p = out;

    if (version) {
        p = header(p, version, 0, 1);
        p = put32(p, 0);
        memcpy(p, "\0\0X", 4);
        p += 4;
    }
    p = header(p, version, n, ntypes);
    for (uint32_t i = 0; i < n; i++) {
        if (version)
            p = put32(p, (uint32_t)((uint64_t)trans[i] >> 32));
        p = put32(p, (uint32_t)trans[i]);
    }
    for (uint32_t i = 0; i < n; i++)
        *p++ = idx[i];
    for (uint32_t i = 0; i < ntypes; i++) {
        p = put32(p, (uint32_t)off[i]);
        *p++ = 0;
        *p++ = 0;
    }
    *p++ = 'X';
    *p++ = 0;
    if (version)
        p += (size_t)sprintf((char *)p, "\n%s\n", footer);
    return (size_t)(p - out);
}

Test(tz, civil_arithmetic_against_glibc)
{
    int64_t y;
    int m, d;

    cr_assert(eq(i64, rl_days_from_civil(1970, 1, 1), 0));
    cr_assert(eq(i64, rl_days_from_civil(2000, 3, 1), 11017));
    cr_assert(eq(i64, rl_days_from_civil(1969, 12, 31), -1));
    cr_assert(eq(int, rl_days_in_month(2024, 2), 29));
    cr_assert(eq(int, rl_days_in_month(2000, 2), 29));
    cr_assert(eq(int, rl_days_in_month(1900, 2), 28), "1900 was not a leap year");
    cr_assert(eq(int, rl_days_in_month(2100, 2), 28));
    cr_assert(eq(int, rl_days_in_month(2026, 4), 30));
    cr_assert(eq(int, rl_days_in_month(2026, 12), 31));
    for (int64_t days = -800000; days < 3000000; days += 7) {
        rl_civil_from_days(days, &y, &m, &d);
        cr_assert(eq(i64, rl_days_from_civil(y, m, d), days));
    }
    /* Every instant from year 1 to 9999, in 9999 steps, against gmtime_r. */
    for (int64_t t = RL_TIME_MIN; t <= RL_TIME_MAX - 31556952; t += 31556952 + 86400 + 3601 + 7) {
        time_t tt = (time_t)t;
        struct tm tm;
        struct rl_civil c;

        cr_assert(gmtime_r(&tt, &tm) != NULL);
        rl_civil_from_unix(t, &c);
        cr_assert(eq(i64, c.year, tm.tm_year + 1900));
        cr_assert(eq(int, c.month, tm.tm_mon + 1));
        cr_assert(eq(int, c.day, tm.tm_mday));
        cr_assert(eq(int, c.hour, tm.tm_hour));
        cr_assert(eq(int, c.minute, tm.tm_min));
        cr_assert(eq(int, c.second, tm.tm_sec));
        cr_assert(eq(int, c.wday, tm.tm_wday), "%lld", (long long)t);
        cr_assert(eq(i64, rl_civil_to_unix(&c), t));
    }
    /* Out-of-range fields carry over. */
    struct rl_civil c = { 2026, 13, 1, 0, 0, 0, 0 };

    cr_assert(eq(i64, rl_civil_to_unix(&c), utc(2027, 1, 1, 0, 0, 0)));
    c = (struct rl_civil){ 2026, 2, 29, 24, 0, 0, 0 };
    cr_assert(eq(i64, rl_civil_to_unix(&c), utc(2026, 3, 2, 0, 0, 0)));
}

Test(tz, known_offsets)
{
    struct rl_tz *berlin = load("Europe/Berlin"), *ny = load("America/New_York");
    struct rl_tz *kolkata = load("Asia/Kolkata"), *sydney = load("Australia/Sydney");

    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2026, 3, 29, 0, 59, 59)), 3600));
    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2026, 3, 29, 1, 0, 0)), 7200));
    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2026, 10, 25, 0, 59, 59)), 7200));
    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2026, 10, 25, 1, 0, 0)), 3600));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2026, 11, 1, 5, 59, 59)), -4 * 3600));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2026, 11, 1, 6, 0, 0)), -5 * 3600));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2026, 3, 8, 6, 59, 59)), -5 * 3600));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2026, 3, 8, 7, 0, 0)), -4 * 3600));
    /* Past the file's table (2037): the footer's rule. */
    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2060, 3, 28, 0, 59, 59)), 3600));
    cr_assert(eq(i32, rl_tz_offset(berlin, utc(2060, 3, 28, 1, 0, 0)), 7200));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2060, 11, 7, 5, 59, 59)), -4 * 3600));
    cr_assert(eq(i32, rl_tz_offset(ny, utc(2060, 11, 7, 6, 0, 0)), -5 * 3600));
    cr_assert(eq(i32, rl_tz_offset(kolkata, utc(2026, 6, 1, 0, 0, 0)), 19800));
    /* Southern hemisphere: summer time over the new year. */
    cr_assert(eq(i32, rl_tz_offset(sydney, utc(2026, 1, 1, 0, 0, 0)), 11 * 3600));
    cr_assert(eq(i32, rl_tz_offset(sydney, utc(2026, 7, 1, 0, 0, 0)), 10 * 3600));
    cr_assert(eq(i32, rl_tz_offset(sydney, utc(2070, 1, 1, 0, 0, 0)), 11 * 3600));
    cr_assert(eq(i32, rl_tz_offset(rl_tz_utc(), utc(2026, 7, 1, 0, 0, 0)), 0));
    cr_assert(eq(str, (char *)rl_tz_name(berlin), "Europe/Berlin"));
    rl_tz_free(berlin);
    rl_tz_free(ny);
    rl_tz_free(kolkata);
    rl_tz_free(sydney);
}

/* glibc's offset and wall time at t in zone name (TZ set in this test process only). */
static void glibc_at(int64_t t, struct tm *tm)
{
    time_t tt = (time_t)t;

    cr_assert(localtime_r(&tt, tm) != NULL);
}

Test(tz, same_offsets_and_wall_times_as_glibc)
{
    static const char *const zones[] = {
        "Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/Dublin",
        "Asia/Kolkata", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Chatham",
        "Africa/Casablanca", "Pacific/Apia", "Antarctica/Troll", "America/St_Johns",
        "Asia/Tehran", "Europe/London", "America/Los_Angeles", "Pacific/Kiritimati",
        "Australia/Lord_Howe", "Asia/Jerusalem", "America/Santiago", "Etc/GMT+5",
        "America/Nuuk", "Europe/Moscow", "America/Havana", "Asia/Gaza",
    };
    uint64_t seed = 42;

    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct rl_tz *tz = load(zones[z]);
        int64_t prev_t = utc(1890, 1, 1, 0, 0, 0);
        long prev_off;
        struct tm tm;
        int transitions = 0;

        setenv("TZ", zones[z], 1);
        tzset();
        glibc_at(prev_t, &tm);
        prev_off = tm.tm_gmtoff;
        /*
         * Every 6 hours to 2110 (the files' tables end in 2037, then the footer's rule);
         * each change found is pinned to the second and checked on both sides.
         */
        for (int64_t t = prev_t + 6 * 3600; t < utc(2110, 1, 1, 0, 0, 0); t += 6 * 3600) {
            glibc_at(t, &tm);
            if (tm.tm_gmtoff != prev_off) {
                int64_t lo = t - 6 * 3600, hi = t;

                while (hi - lo > 1) {
                    int64_t mid = lo + (hi - lo) / 2;
                    struct tm m;

                    glibc_at(mid, &m);
                    if (m.tm_gmtoff == prev_off)
                        lo = mid;
                    else
                        hi = mid;
                }
                cr_assert(eq(i32, rl_tz_offset(tz, lo), (int32_t)prev_off), "%s at %lld",
                          zones[z], (long long)lo);
                cr_assert(eq(i32, rl_tz_offset(tz, hi), (int32_t)tm.tm_gmtoff), "%s at %lld",
                          zones[z], (long long)hi);
                prev_off = tm.tm_gmtoff;
                transitions++;
            }
        }
        /* And random instants, wall time field by field. */
        for (int i = 0; i < 3000; i++) {
            struct rl_civil c;
            int64_t t;

            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            t = utc(1900, 1, 1, 0, 0, 0) + (int64_t)((seed >> 11) % (uint64_t)(250LL * 31556952));
            glibc_at(t, &tm);
            rl_tz_to_civil(tz, t, &c);
            cr_assert(eq(i32, rl_tz_offset(tz, t), (int32_t)tm.tm_gmtoff), "%s at %lld",
                      zones[z], (long long)t);
            cr_assert(eq(i64, c.year, tm.tm_year + 1900));
            cr_assert(eq(int, c.month, tm.tm_mon + 1));
            cr_assert(eq(int, c.day, tm.tm_mday));
            cr_assert(eq(int, c.hour, tm.tm_hour));
            cr_assert(eq(int, c.minute, tm.tm_min));
            cr_assert(eq(int, c.second, tm.tm_sec));
            cr_assert(eq(int, c.wday, tm.tm_wday));
        }
        cr_log_info("%s: %d transitions checked", zones[z], transitions);
        if (strncmp(zones[z], "Etc/", 4) != 0)
            cr_assert(gt(int, transitions, 0), "%s: the walk found no transitions", zones[z]);
        if (strcmp(zones[z], "Europe/Berlin") == 0)
            cr_assert(gt(int, transitions, 250), "Berlin: %d", transitions);
        rl_tz_free(tz);
    }
}

Test(tz, wall_time_back_to_instants_gap_and_repeat)
{
    struct rl_tz *berlin = load("Europe/Berlin"), *ny = load("America/New_York");
    int64_t at[2];
    struct rl_civil w;

    /* Berlin, 2026-03-29: 02:00-02:59 does not exist. */
    w = (struct rl_civil){ 2026, 3, 29, 2, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 0));
    w = (struct rl_civil){ 2026, 3, 29, 1, 59, 59, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 1));
    cr_assert(eq(i64, at[0], utc(2026, 3, 29, 0, 59, 59)));
    w = (struct rl_civil){ 2026, 3, 29, 3, 0, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 1));
    cr_assert(eq(i64, at[0], utc(2026, 3, 29, 1, 0, 0)));
    /* Berlin, 2026-10-25: 02:00-02:59 twice, CEST then CET. */
    w = (struct rl_civil){ 2026, 10, 25, 2, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 2));
    cr_assert(eq(i64, at[0], utc(2026, 10, 25, 0, 30, 0)));
    cr_assert(eq(i64, at[1], utc(2026, 10, 25, 1, 30, 0)));
    w = (struct rl_civil){ 2026, 10, 25, 3, 0, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 1));
    /* New York, 2026-03-08 02:30 does not exist; 2026-11-01 01:30 is EDT then EST. */
    w = (struct rl_civil){ 2026, 3, 8, 2, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(ny, &w, at), 0));
    w = (struct rl_civil){ 2026, 11, 1, 1, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(ny, &w, at), 2));
    cr_assert(eq(i64, at[0], utc(2026, 11, 1, 5, 30, 0)));
    cr_assert(eq(i64, at[1], utc(2026, 11, 1, 6, 30, 0)));
    /* The same in 2060, from the footer's rule. */
    w = (struct rl_civil){ 2060, 10, 31, 2, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 2));
    cr_assert(eq(i64, at[0], utc(2060, 10, 31, 0, 30, 0)));
    w = (struct rl_civil){ 2060, 3, 28, 2, 30, 0, 0 };
    cr_assert(eq(int, rl_tz_from_civil(berlin, &w, at), 0));
    rl_tz_free(berlin);
    rl_tz_free(ny);
}

Test(tz, every_instant_round_trips_through_its_wall_time)
{
    static const char *const zones[] = { "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                         "Pacific/Apia", "Europe/Dublin", "Asia/Kathmandu" };
    uint64_t seed = 7;

    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct rl_tz *tz = load(zones[z]);

        for (int i = 0; i < 20000; i++) {
            struct rl_civil w, back;
            int64_t t, at[2];
            int n;

            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            t = utc(1950, 1, 1, 0, 0, 0) + (int64_t)((seed >> 11) % (uint64_t)(150LL * 31556952));
            rl_tz_to_civil(tz, t, &w);
            n = rl_tz_from_civil(tz, &w, at);
            cr_assert(n == 1 || n == 2, "%s %lld: %d", zones[z], (long long)t, n);
            cr_assert(at[0] == t || (n == 2 && at[1] == t), "%s %lld", zones[z], (long long)t);
            for (int k = 0; k < n; k++) {
                rl_tz_to_civil(tz, at[k], &back);
                cr_assert(back.year == w.year && back.month == w.month && back.day == w.day &&
                          back.hour == w.hour && back.minute == w.minute &&
                          back.second == w.second);
            }
            if (n == 2)
                cr_assert(lt(i64, at[0], at[1]));
        }
        rl_tz_free(tz);
    }
}

Test(tz, names)
{
    static const char *const good[] = { "", "UTC", "Europe/Berlin", "America/Argentina/Salta",
                                        "Etc/GMT+5", "Etc/GMT-14", "America/Port-au-Prince",
                                        "EST5EDT" };
    static const char *const bad[] = {
        "../../etc/passwd", "/etc/passwd", "Europe/../../../etc/passwd", "..", ".", "Europe/.",
        "Europe//Berlin", "Europe/", "/", "Europe/Berlin ", " Europe/Berlin", "Europe/Berlin\n",
        "Europe\\Berlin", "Europe/Ber.lin", "Local", "local", "LOCAL", "Europe/Berlin%00",
        "Eur\xc3\xb6pe", "a:b", "Europe/Berlin;rm",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
    };
    struct rl_tz *tz;
    char err[256];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(rl_tz_name_ok(good[i]), "\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(not(rl_tz_name_ok(bad[i])), "\"%s\" accepted", bad[i]);
        err[0] = '\0';
        cr_assert(eq(int, rl_tz_load(bad[i], ZDIR, &tz, err, sizeof(err)), RL_EINVAL), "%s",
                  bad[i]);
        cr_assert(eq(ptr, tz, NULL));
        cr_assert(strstr(err, "not an IANA zone name") != NULL, "%s", err);
        cr_assert(strstr(err, "passwd") == NULL, "the bad name is not repeated: %s", err);
    }
    cr_assert(rl_tz_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
              "64 bytes");
    cr_assert(eq(int, rl_tz_load(NULL, ZDIR, &tz, err, sizeof(err)), RL_EINVAL));
}

Test(tz, utc_is_built_in_and_unknown_zones_are_enoent)
{
    struct rl_tz *tz = NULL;
    char err[256] = "";

    /* No file is read for UTC: a directory that does not exist does not matter. */
    cr_assert(eq(int, rl_tz_load("UTC", "/nonexistent", &tz, err, sizeof(err)), 0));
    cr_assert(eq(i32, rl_tz_offset(tz, 1774746000), 0));
    cr_assert(eq(str, (char *)rl_tz_name(tz), "UTC"));
    rl_tz_free(tz);
    cr_assert(eq(int, rl_tz_load("", "/nonexistent", &tz, err, sizeof(err)), 0));
    rl_tz_free(tz);
    rl_tz_free((struct rl_tz *)rl_tz_utc());   /* a no-op */
    rl_tz_free(NULL);
    cr_assert(eq(i32, rl_tz_offset(rl_tz_utc(), 0), 0));

    cr_assert(eq(int, rl_tz_load("Mars/Olympus_Mons", ZDIR, &tz, err, sizeof(err)), RL_ENOENT));
    cr_assert(eq(ptr, tz, NULL));
    cr_assert(strstr(err, "\"Mars/Olympus_Mons\": unknown") != NULL, "%s", err);
    /* A directory, or a path through a file, is no zone either. */
    cr_assert(eq(int, rl_tz_load("Europe", ZDIR, &tz, err, sizeof(err)), RL_ENOENT), "%s", err);
    cr_assert(eq(int, rl_tz_load("Europe/Berlin/x", ZDIR, &tz, err, sizeof(err)), RL_ENOENT));
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rl-tz-XXXXXX");
    cr_assert(mkdtemp(tmpdir) != NULL);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    cr_assert(f != NULL, "%s", path);
    cr_assert(eq(sz, fwrite(data, 1, len, f), len));
    fclose(f);
}

Test(tz, dir_parameter_and_zoneinfo_variable)
{
    size_t len;
    void *berlin = slurp(ZDIR "/Europe/Berlin", &len);
    struct rl_tz *tz;
    char err[256] = "", cmd[128];

    make_tmpdir();
    write_file("Test_Zone", berlin, len);
    cr_assert(eq(int, rl_tz_load("Test_Zone", tmpdir, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), 7200));
    rl_tz_free(tz);
    cr_assert(eq(int, rl_tz_load("Europe/Berlin", tmpdir, &tz, err, sizeof(err)), RL_ENOENT),
              "an explicit directory is the only one");
    /* dir NULL: $ZONEINFO first, then the system's. */
    unsetenv("ZONEINFO");
    cr_assert(eq(int, rl_tz_load("Test_Zone", NULL, &tz, err, sizeof(err)), RL_ENOENT));
    setenv("ZONEINFO", tmpdir, 1);
    cr_assert(eq(int, rl_tz_load("Test_Zone", NULL, &tz, err, sizeof(err)), 0), "%s", err);
    rl_tz_free(tz);
    cr_assert(eq(int, rl_tz_load("America/New_York", NULL, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), -4 * 3600));
    rl_tz_free(tz);
    unsetenv("ZONEINFO");
    free(berlin);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert(eq(int, system(cmd), 0));
}

Test(tz, big_files_and_fifos_are_refused)
{
    unsigned char *big = calloc(1, RL_TZ_FILE_MAX + 1);
    struct rl_tz *tz;
    char err[256] = "", path[128], cmd[128];

    make_tmpdir();
    memcpy(big, "TZif2", 5);
    write_file("Big", big, RL_TZ_FILE_MAX + 1);
    cr_assert(eq(int, rl_tz_load("Big", tmpdir, &tz, err, sizeof(err)), RL_ETOOBIG));
    cr_assert(strstr(err, "larger than") != NULL, "%s", err);
    write_file("Max", big, RL_TZ_FILE_MAX);
    cr_assert(eq(int, rl_tz_load("Max", tmpdir, &tz, err, sizeof(err)), RL_EINVAL),
              "read whole, then refused as not TZif: %s", err);
    snprintf(path, sizeof(path), "%s/Fifo", tmpdir);
    cr_assert(eq(int, mkfifo(path, 0600), 0));
    cr_assert(eq(int, rl_tz_load("Fifo", tmpdir, &tz, err, sizeof(err)), RL_ENOENT),
              "a FIFO neither blocks nor counts");
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert(eq(int, system(cmd), 0));
}

/* Lookups on a zone that parsed must stay in bounds whatever the file said. */
static void exercise(const struct rl_tz *tz)
{
    struct rl_civil w;
    int64_t at[2];

    for (int64_t t = RL_TIME_MIN; t < RL_TIME_MAX; t += 86400LL * 365 * 97 + 12345) {
        rl_tz_to_civil(tz, t, &w);
        (void)rl_tz_from_civil(tz, &w, at);
    }
    (void)rl_tz_offset(tz, INT64_MIN);
    (void)rl_tz_offset(tz, INT64_MAX);
}

Test(tz, truncated_and_corrupt_files_are_refused_without_crashing)
{
    size_t len;
    unsigned char *berlin = slurp(ZDIR "/Europe/Berlin", &len), *copy = malloc(len);
    struct rl_tz *tz;
    char err[256];
    uint64_t seed = 1;
    int parsed = 0;

    cr_assert(eq(int, rl_tz_parse("x", berlin, len, &tz, err, sizeof(err)), 0), "%s", err);
    rl_tz_free(tz);
    /* Every truncation: refused (malloc'ed to its length, so ASan sees any read past it). */
    for (size_t n = 0; n < len; n++) {
        unsigned char *cut = malloc(n ? n : 1);

        memcpy(cut, berlin, n);
        cr_assert(eq(int, rl_tz_parse("x", cut, n, &tz, err, sizeof(err)), RL_EINVAL), "%zu", n);
        cr_assert(eq(ptr, tz, NULL));
        cr_assert(strstr(err, "not a valid TZif file") != NULL);
        free(cut);
    }
    /* Random bytes flipped: refused, or parsed into a zone whose lookups stay in bounds. */
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, berlin, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            copy[(seed >> 20) % len] ^= (unsigned char)(1u << ((seed >> 8) % 8));
        }
        int rc = rl_tz_parse("x", copy, len, &tz, err, sizeof(err));

        cr_assert(rc == 0 || rc == RL_EINVAL);
        if (rc == 0) {
            parsed++;
            exercise(tz);
            rl_tz_free(tz);
        }
    }
    cr_log_info("%d of 3000 corrupted copies still parsed", parsed);
    /* Garbage after a valid header. */
    for (int i = 0; i < 2000; i++) {
        size_t n = 44 + (size_t)(i * 7 % 3000);
        unsigned char *g = malloc(n);

        for (size_t k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            g[k] = (unsigned char)(seed >> 33);
        }
        memcpy(g, "TZif2", 5);
        int rc = rl_tz_parse("x", g, n, &tz, err, sizeof(err));

        cr_assert(rc == 0 || rc == RL_EINVAL);
        if (rc == 0) {
            exercise(tz);
            rl_tz_free(tz);
        }
        free(g);
    }
    free(berlin);
    free(copy);
}

Test(tz, hand_made_files_and_footer_rules)
{
    unsigned char buf[1024];
    struct rl_tz *tz;
    char err[256] = "";
    size_t n;
    const int32_t off2[2] = { 3600, 7200 };

    /* Version 1 only: 32-bit times, no footer; the last type holds after the last transition. */
    const int64_t tr[2] = { 1000000000, 1100000000 };
    const uint8_t ix[2] = { 1, 0 };

    n = tzif(buf, 0, tr, ix, 2, off2, 2, NULL);
    cr_assert(eq(int, rl_tz_parse("v1", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, 999999999), 3600), "before the first: type 0");
    cr_assert(eq(i32, rl_tz_offset(tz, 1000000000), 7200));
    cr_assert(eq(i32, rl_tz_offset(tz, 1099999999), 7200));
    cr_assert(eq(i32, rl_tz_offset(tz, 1100000000), 3600));
    cr_assert(eq(i32, rl_tz_offset(tz, 4000000000), 3600));
    rl_tz_free(tz);

    /* No transitions: the footer alone. Offsets with minutes, in <...> names. */
    const int32_t off1[1] = { 12600 };

    n = tzif(buf, '2', NULL, NULL, 0, off1, 1, "<+0330>-3:30");
    cr_assert(eq(int, rl_tz_parse("f", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2040, 6, 1, 0, 0, 0)), 12600));
    rl_tz_free(tz);

    /* The US rule, with explicit times, from the footer only. */
    n = tzif(buf, '3', NULL, NULL, 0, off1, 1, "EST5EDT,M3.2.0/2:00:00,M11.1.0/2");
    cr_assert(eq(int, rl_tz_parse("f", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 3, 8, 6, 59, 59)), -5 * 3600));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 3, 8, 7, 0, 0)), -4 * 3600));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 11, 1, 5, 59, 59)), -4 * 3600));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 11, 1, 6, 0, 0)), -5 * 3600));
    rl_tz_free(tz);

    /* Julian days: J60 is March 1 even in a leap year; 59 (zero-based) is Feb 29 in one. */
    n = tzif(buf, '2', NULL, NULL, 0, off1, 1, "AAA0BBB,J60/0,J300/0");
    cr_assert(eq(int, rl_tz_parse("j", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2028, 2, 29, 23, 59, 59)), 0));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2028, 3, 1, 0, 0, 0)), 3600));
    rl_tz_free(tz);
    n = tzif(buf, '2', NULL, NULL, 0, off1, 1, "AAA0BBB,59/0,300/0");
    cr_assert(eq(int, rl_tz_parse("n", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2028, 2, 28, 23, 59, 59)), 0));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2028, 2, 29, 0, 0, 0)), 3600));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2027, 3, 1, 0, 0, 0)), 3600), "day 59 of 2027: Mar 1");
    rl_tz_free(tz);

    /* Southern rule, and RFC 8536's extended times: Jerusalem's M3.4.4/26 (Friday 02:00). */
    n = tzif(buf, '3', NULL, NULL, 0, off1, 1, "IST-2IDT,M3.4.4/26,M10.5.0");
    cr_assert(eq(int, rl_tz_parse("il", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 3, 26, 23, 59, 59)), 7200));
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2026, 3, 27, 0, 0, 0)), 10800), "Fri 02:00 local");
    rl_tz_free(tz);
    n = tzif(buf, '2', NULL, NULL, 0, off1, 1, "<-03>3<-02>,M9.1.6/24,M4.1.6/24");
    cr_assert(eq(int, rl_tz_parse("cl", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2027, 1, 15, 0, 0, 0)), -2 * 3600), "summer in January");
    cr_assert(eq(i32, rl_tz_offset(tz, utc(2027, 6, 15, 0, 0, 0)), -3 * 3600));
    rl_tz_free(tz);

    /* DST all year (RFC 8536 3.3.1's example): DST at every instant, new year included. */
    n = tzif(buf, '3', NULL, NULL, 0, off1, 1, "EST5EDT,0/0,J365/25");
    cr_assert(eq(int, rl_tz_parse("p", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    for (int64_t t = utc(2030, 12, 31, 0, 0, 0); t < utc(2031, 1, 2, 0, 0, 0); t += 1800)
        cr_assert(eq(i32, rl_tz_offset(tz, t), -4 * 3600), "%lld", (long long)t);
    rl_tz_free(tz);

    /* Footers that are not POSIX TZ strings make the file invalid. */
    static const char *const bad[] = { "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
                                       "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0",
                                       "CET-1CEST,J0,J100", "CET-1CEST,366,100", "C-1",
                                       "CET-25", "<+03-3", "CET-1CEST,M3.5.0/168,M10.5.0",
                                       "CET-1CEST,M3.5.0,M10.5.0x", "CET-1:60" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = tzif(buf, '2', NULL, NULL, 0, off1, 1, bad[i]);
        cr_assert(eq(int, rl_tz_parse("b", buf, n, &tz, err, sizeof(err)), RL_EINVAL), "%s",
                  bad[i]);
        cr_assert(strstr(err, "footer") != NULL, "%s", err);
    }
    /* A transition to a type that does not exist, or going back in time. */
    const uint8_t badix[2] = { 0, 2 };
    const int64_t back[2] = { 2000, 1000 };

    n = tzif(buf, '2', tr, badix, 2, off2, 2, "");
    cr_assert(eq(int, rl_tz_parse("b", buf, n, &tz, err, sizeof(err)), RL_EINVAL));
    n = tzif(buf, '2', back, ix, 2, off2, 2, "");
    cr_assert(eq(int, rl_tz_parse("b", buf, n, &tz, err, sizeof(err)), RL_EINVAL));
    const int32_t huge[1] = { 26 * 3600 };

    n = tzif(buf, '2', NULL, NULL, 0, huge, 1, "");
    cr_assert(eq(int, rl_tz_parse("b", buf, n, &tz, err, sizeof(err)), RL_EINVAL), "offset >= 26h");
    /* An empty footer is allowed: the last type holds. */
    n = tzif(buf, '2', tr, ix, 2, off2, 2, "");
    cr_assert(eq(int, rl_tz_parse("e", buf, n, &tz, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(i32, rl_tz_offset(tz, 4000000000), 3600));
    rl_tz_free(tz);
}
