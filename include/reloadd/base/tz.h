/*
 * tz.h - time zones from TZif files, and civil (calendar) time, without TZ or localtime
 *
 * A zone is read once from its TZif file (RFC 8536: version 1, and the
 * 64-bit data and the POSIX TZ footer of versions 2 to 4) into an immutable
 * object: after rl_tz_load() returns, nothing writes it, so any number of
 * threads may read one zone at once (share it by pointer; free it when the
 * last reader is done). The process-wide TZ variable, tzset() and
 * localtime() are never touched.
 *
 * Where zones come from: rl_tz_load(name, dir, ...) reads <dir>/<name>. With
 * dir NULL it looks, as Go's time.LoadLocation does, first in the directory
 * named by the ZONEINFO environment variable (if set and non-empty; a
 * directory only, not Go's zip file) and then in /usr/share/zoneinfo. "UTC"
 * and "" are built in and read no file. Times before the first transition
 * of a file take its time type 0, times after the last one its footer's
 * rule (or the last type if there is no footer); leap-second records are
 * ignored, as Go ignores them (POSIX time has no leap seconds).
 *
 * The name comes from an annotation any namespace user may write, so it is
 * checked before any file is opened: 1 to RL_TZ_NAME_MAX bytes of
 * [A-Za-z0-9_+-/], no leading '/', no empty component ("//", trailing '/'),
 * no "." or ".." component, and not "Local" (any case; Kubernetes refuses it
 * for CronJobs too: it would mean the controller's own zone). A file must be
 * a regular file of at most RL_TZ_FILE_MAX bytes; one that is malformed in
 * any way is refused whole (RL_EINVAL), never read past its end.
 *
 * Civil time here is the proleptic Gregorian calendar, computed with
 * days-from-civil arithmetic (gmtime is banned: shared state). Instants are
 * Unix seconds; the functions are defined for RL_TIME_MIN..RL_TIME_MAX
 * (years 1 to 9999) and clamp anything outside.
 *
 * Threads: rl_tz_load() and rl_tz_free() as any allocation; everything else
 * is pure and may run on a shared zone from any thread.
 */
#ifndef RL_TZ_H
#define RL_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_TIME_MIN (-62135596800LL)    /* 0001-01-01T00:00:00Z */
#define RL_TIME_MAX 253402300799LL      /* 9999-12-31T23:59:59Z */
#define RL_TZ_NAME_MAX 64               /* the longest IANA name is 32 bytes */
#define RL_TZ_FILE_MAX (256 * 1024)     /* the largest TZif file of tzdata is < 4 KiB */
#define RL_TZ_DEFAULT_DIR "/usr/share/zoneinfo"

struct rl_tz;

/* A wall-clock (civil) time; wday is set by the conversions and ignored as input. */
struct rl_civil {
    int64_t year;
    int month;                          /* 1..12 */
    int day;                            /* 1..31 */
    int hour;                           /* 0..23 */
    int minute;                         /* 0..59 */
    int second;                         /* 0..59 */
    int wday;                           /* 0 = Sunday .. 6 = Saturday */
};

/* Whether name passes the checks above ("" and "UTC" do). */
bool rl_tz_name_ok(const char *name);

/*
 * Loads zone name from dir (NULL: $ZONEINFO, then RL_TZ_DEFAULT_DIR) into
 * *out (free it with rl_tz_free). RL_EINVAL for a name that fails the checks
 * or a file that is not a valid TZif file, RL_ENOENT for a zone that has no
 * file (or whose path is not a regular file), RL_ETOOBIG for a file over
 * RL_TZ_FILE_MAX, another negated errno for a read error; the reason, one
 * line, in err (the name in it is the checked one, or "<bad name>").
 */
int rl_tz_load(const char *name, const char *dir, struct rl_tz **out, char *err, size_t errlen);

/*
 * Parses a TZif file held in memory (what rl_tz_load() does after reading):
 * 0 and *out, or RL_EINVAL with the reason. name is only recorded.
 */
int rl_tz_parse(const char *name, const unsigned char *data, size_t len, struct rl_tz **out,
                char *err, size_t errlen);

/* The built-in UTC zone, never freed (rl_tz_free ignores it). */
const struct rl_tz *rl_tz_utc(void);

/* NULL and rl_tz_utc() are no-ops. */
void rl_tz_free(struct rl_tz *tz);

/* The name it was loaded under ("UTC" for the built-in one). */
const char *rl_tz_name(const struct rl_tz *tz);

/* The zone's offset from UTC at instant t, in seconds east (Berlin in summer: 7200). */
int32_t rl_tz_offset(const struct rl_tz *tz, int64_t t);

/* The wall-clock time of instant t in the zone. */
void rl_tz_to_civil(const struct rl_tz *tz, int64_t t, struct rl_civil *out);

/*
 * The instants whose wall-clock time in the zone is *wall (seconds and all),
 * ascending: returns how many (0 in a gap of a forward jump, 2 in a repeated
 * hour, 1 otherwise; at most 2 are written, a pathological zone may have
 * more) and writes them to at[].
 */
int rl_tz_from_civil(const struct rl_tz *tz, const struct rl_civil *wall, int64_t at[2]);

/* UTC alone: no zone needed. */
void rl_civil_from_unix(int64_t t, struct rl_civil *out);
int64_t rl_civil_to_unix(const struct rl_civil *c); /* fields out of range carry over */

/* Days since 1970-01-01 of a Gregorian date, and back (Howard Hinnant's algorithms). */
int64_t rl_days_from_civil(int64_t y, int m, int d);
void rl_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* 28..31 */
int rl_days_in_month(int64_t y, int m);

#endif /* RL_TZ_H */
