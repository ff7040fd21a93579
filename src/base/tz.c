/* tz.c - time zones from TZif files, and civil time, without TZ or localtime */
#include "reloadd/base/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

#define DAY 86400LL
/* RFC 8536 bounds a UT offset to -89999..93599 s: |offset| < 26 h. */
#define OFF_MAX (26 * 3600)
#define FOOTER_MAX 255

/* One date of a POSIX TZ rule: Jn (kind 'J'), n (kind 'D') or Mm.w.d (kind 'M'). */
struct rule_date {
    char kind;
    int n, m, w, d;
    int32_t time;                       /* seconds after local midnight; -167h..167h */
};

/* The POSIX TZ string of a footer ("CET-1CEST,M3.5.0,M10.5.0/3"). */
struct rule {
    int32_t std_off, dst_off;           /* seconds east of UTC */
    bool has_dst;
    struct rule_date start, end;
};

struct rl_tz {
    char name[RL_TZ_NAME_MAX + 1];
    size_t n_trans;
    int64_t *trans;                     /* ascending */
    uint8_t *idx;                       /* the type each transition starts */
    size_t n_types;
    int32_t off[256];                   /* UT offset of each type */
    bool has_rule;                      /* a non-empty footer */
    struct rule rule;
};

static const struct rl_tz utc_zone = { .name = "UTC", .n_types = 1 };

/* ---------------------------------------------------------------- civil time --- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int64_t rl_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y = clamp64(y, -1000000, 1000000);
    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void rl_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468, era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int rl_days_in_month(int64_t y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (m < 1 || m > 12)
        return 0;
    return dim[m - 1] + (m == 2 && leap_year(y));
}

void rl_civil_from_unix(int64_t t, struct rl_civil *out)
{
    int64_t days, secs;

    t = clamp64(t, RL_TIME_MIN - 2 * DAY, RL_TIME_MAX + 2 * DAY);
    days = floor_div(t, DAY);
    secs = t - days * DAY;
    rl_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    out->wday = (int)((days % 7 + 11) % 7);     /* 1970-01-01 was a Thursday (4) */
}

int64_t rl_civil_to_unix(const struct rl_civil *c)
{
    int64_t m0 = (int64_t)c->month - 1;
    int64_t y = clamp64(c->year, 0, 10000) + floor_div(m0, 12);
    int m = (int)(m0 - floor_div(m0, 12) * 12) + 1;

    return rl_days_from_civil(y, m, 1) * DAY + ((int64_t)c->day - 1) * DAY +
           (int64_t)c->hour * 3600 + (int64_t)c->minute * 60 + c->second;
}

/* ------------------------------------------------------------ POSIX TZ rule --- */

/* An abbreviation: 3 or more letters, or <...> of alphanumerics, '+' and '-'. */
static bool parse_abbr(const char **p)
{
    const char *s = *p;
    size_t n = 0;

    if (*s == '<') {
        for (s++; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                  (*s >= '0' && *s <= '9') || *s == '+' || *s == '-';
             s++)
            n++;
        if (*s != '>' || n < 3)
            return false;
        *p = s + 1;
        return true;
    }
    for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++)
        n++;
    if (n < 3)
        return false;
    *p = s;
    return true;
}

static bool parse_num(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0, n = 0;

    for (; *s >= '0' && *s <= '9' && n < 4; s++, n++)
        v = v * 10 + (*s - '0');
    if (n == 0 || (*s >= '0' && *s <= '9') || v < lo || v > hi)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h: the signed number of seconds. */
static bool parse_hms(const char **p, int max_h, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!parse_num(&s, 0, max_h, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!parse_num(&s, 0, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!parse_num(&s, 0, 59, &sec))
                return false;
        }
    }
    *p = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

static bool parse_date(const char **p, struct rule_date *r)
{
    const char *s = *p;

    memset(r, 0, sizeof(*r));
    if (*s == 'J') {
        s++;
        r->kind = 'J';
        if (!parse_num(&s, 1, 365, &r->n))
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = 'M';
        if (!parse_num(&s, 1, 12, &r->m) || *s++ != '.' || !parse_num(&s, 1, 5, &r->w) ||
            *s++ != '.' || !parse_num(&s, 0, 6, &r->d))
            return false;
    } else {
        r->kind = 'D';
        if (!parse_num(&s, 0, 365, &r->n))
            return false;
    }
    r->time = 2 * 3600;
    if (*s == '/') {
        s++;
        /* RFC 8536 3.3.1: -167..167 hours. */
        if (!parse_hms(&s, 167, &r->time))
            return false;
    }
    *p = s;
    return true;
}

/* The whole string, or false. POSIX offsets count west: "CET-1" is UTC+1. */
static bool parse_rule(const char *s, struct rule *r)
{
    int32_t v;

    memset(r, 0, sizeof(*r));
    if (!parse_abbr(&s) || !parse_hms(&s, 24, &v))
        return false;
    r->std_off = -v;
    if (!*s)
        return true;
    if (!parse_abbr(&s))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (!parse_hms(&s, 24, &v))
            return false;
        r->dst_off = -v;
    }
    if (!*s) {
        /* No rule: the default POSIX leaves to the implementation; Go's (the US rule). */
        r->start = (struct rule_date){ 'M', 0, 3, 2, 0, 2 * 3600 };
        r->end = (struct rule_date){ 'M', 0, 11, 1, 0, 2 * 3600 };
        return true;
    }
    if (*s++ != ',' || !parse_date(&s, &r->start) || *s++ != ',' || !parse_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* The instant a rule date of year y falls on, local time under offset off. */
static int64_t rule_instant(const struct rule_date *r, int64_t y, int32_t off)
{
    int64_t jan1 = rl_days_from_civil(y, 1, 1), day;

    if (r->kind == 'J')
        day = r->n - 1 + (leap_year(y) && r->n >= 60);
    else if (r->kind == 'D')
        day = r->n;
    else {
        int64_t first = rl_days_from_civil(y, r->m, 1);
        int wd1 = (int)((first % 7 + 11) % 7);
        int64_t dom = (r->d - wd1 + 7) % 7 + 1 + (int64_t)(r->w - 1) * 7;

        while (dom > rl_days_in_month(y, r->m))
            dom -= 7;
        day = first - jan1 + dom - 1;
    }
    return (jan1 + day) * DAY + r->time - off;
}

/* The offset a rule gives at t, and the next instant > t it may change (INT64_MAX: never). */
static void rule_lookup(const struct rule *r, int64_t t, int32_t *off, int64_t *next)
{
    struct {
        int64_t at;
        bool dst;
    } tr[8], x;
    struct rl_civil c;
    int n = 0;

    *off = r->std_off;
    *next = INT64_MAX;
    if (!r->has_dst)
        return;
    rl_civil_from_unix(t, &c);
    for (int64_t y = c.year - 1; y <= c.year + 2; y++) {
        tr[n].at = rule_instant(&r->start, y, r->std_off);
        tr[n++].dst = true;
        tr[n].at = rule_instant(&r->end, y, r->dst_off);
        tr[n++].dst = false;
    }
    /* Ascending; on a tie the end comes first, so "DST all year" rules stay DST. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && (tr[j - 1].at > tr[j].at ||
                                  (tr[j - 1].at == tr[j].at && tr[j - 1].dst && !tr[j].dst));
             j--) {
            x = tr[j];
            tr[j] = tr[j - 1];
            tr[j - 1] = x;
        }
    for (int i = 0; i < n; i++) {
        if (tr[i].at <= t)
            *off = tr[i].dst ? r->dst_off : r->std_off;
        else if (*next == INT64_MAX)
            *next = tr[i].at;
    }
}

/* ------------------------------------------------------------------ lookups --- */

/* The offset at t, and the next instant > t at which it may change. */
static void lookup(const struct rl_tz *tz, int64_t t, int32_t *off, int64_t *next)
{
    size_t lo = 0, hi = tz->n_trans;

    if (tz->n_trans == 0 || t >= tz->trans[tz->n_trans - 1]) {
        if (tz->has_rule) {
            rule_lookup(&tz->rule, t, off, next);
            return;
        }
        *off = tz->n_trans ? tz->off[tz->idx[tz->n_trans - 1]] : tz->off[0];
        *next = INT64_MAX;
        return;
    }
    if (t < tz->trans[0]) {
        *off = tz->off[0];
        *next = tz->trans[0];
        return;
    }
    /* The last transition <= t: trans[lo - 1]. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *off = tz->off[tz->idx[lo - 1]];
    *next = tz->trans[lo];
}

const struct rl_tz *rl_tz_utc(void)
{
    return &utc_zone;
}

const char *rl_tz_name(const struct rl_tz *tz)
{
    return tz->name;
}

int32_t rl_tz_offset(const struct rl_tz *tz, int64_t t)
{
    int32_t off;
    int64_t next;

    lookup(tz, clamp64(t, RL_TIME_MIN, RL_TIME_MAX), &off, &next);
    return off;
}

void rl_tz_to_civil(const struct rl_tz *tz, int64_t t, struct rl_civil *out)
{
    t = clamp64(t, RL_TIME_MIN, RL_TIME_MAX);
    rl_civil_from_unix(t + rl_tz_offset(tz, t), out);
}

int rl_tz_from_civil(const struct rl_tz *tz, const struct rl_civil *wall, int64_t at[2])
{
    int64_t w = rl_civil_to_unix(wall), t = w - OFF_MAX, next, cand;
    int32_t off;
    int n = 0;

    /* Walk the spans of constant offset that an instant of this wall time can lie in. */
    for (int guard = 0; guard < 4096 && t <= w + OFF_MAX; guard++) {
        lookup(tz, t, &off, &next);
        cand = w - off;
        if (cand >= t && cand < next) {
            if (n < 2)
                at[n] = cand;
            n++;
        }
        if (next == INT64_MAX)
            break;
        t = next;
    }
    return n;
}

/* ------------------------------------------------------------ TZif parsing --- */

struct hdr {
    char version;
    uint32_t isut, isstd, leap, time, type, chr;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool read_hdr(const unsigned char *p, size_t len, struct hdr *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->version = (char)p[4];
    if (h->version != 0 && (h->version < '2' || h->version > '9'))
        return false;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chr = be32(p + 40);
    /* RFC 8536 3.1: typecnt and charcnt are non-zero, isut/isstd 0 or typecnt. */
    return h->type >= 1 && h->type <= 256 && h->chr >= 1 && (h->isut == 0 || h->isut == h->type) &&
           (h->isstd == 0 || h->isstd == h->type);
}

/* The size of the data block after a header, for 4- or 8-byte times. */
static uint64_t block_size(const struct hdr *h, unsigned tsize)
{
    return (uint64_t)h->time * tsize + h->time + (uint64_t)h->type * 6 + h->chr +
           (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

static int fail(char *err, size_t errlen, const char *name, const char *why)
{
    snprintf(err, errlen, "time zone \"%s\": not a valid TZif file (%s)", name, why);
    return RL_EINVAL;
}

int rl_tz_parse(const char *name, const unsigned char *data, size_t len, struct rl_tz **out,
                char *err, size_t errlen)
{
    const unsigned char *p = data, *end = data + len, *tp, *ip, *typ;
    unsigned tsize = 4;
    struct rl_tz *tz;
    struct hdr h;
    struct rule rule;
    bool has_rule = false;
    char footer[FOOTER_MAX + 1];

    *out = NULL;
    if (!read_hdr(p, len, &h))
        return fail(err, errlen, name, "bad header");
    if (block_size(&h, 4) > len - 44)
        return fail(err, errlen, name, "truncated version 1 data");
    if (h.version >= '2') {
        p += 44 + block_size(&h, 4);
        if (!read_hdr(p, (size_t)(end - p), &h))
            return fail(err, errlen, name, "bad second header");
        if (block_size(&h, 8) > (uint64_t)(end - p) - 44)
            return fail(err, errlen, name, "truncated 64-bit data");
        tsize = 8;
    }
    tp = p + 44;
    ip = tp + (size_t)h.time * tsize;
    typ = ip + h.time;
    if (h.version >= '2') {
        const unsigned char *f = p + 44 + block_size(&h, 8), *nl;
        size_t n;

        if (f >= end || *f != '\n')
            return fail(err, errlen, name, "no footer");
        nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (!nl || (n = (size_t)(nl - f - 1)) > FOOTER_MAX)
            return fail(err, errlen, name, "unterminated or overlong footer");
        memcpy(footer, f + 1, n);
        footer[n] = '\0';
        if (memchr(footer, '\0', n))
            return fail(err, errlen, name, "NUL in footer");
        if (n) {
            if (!parse_rule(footer, &rule))
                return fail(err, errlen, name, "footer is not a POSIX TZ string");
            has_rule = true;
        }
    }

    tz = rl_xcalloc(1, sizeof(*tz));
    snprintf(tz->name, sizeof(tz->name), "%s", name);
    tz->n_types = h.type;
    for (uint32_t i = 0; i < h.type; i++) {
        const unsigned char *t = typ + (size_t)i * 6;
        int32_t off = (int32_t)be32(t);

        if (off <= -OFF_MAX || off >= OFF_MAX || t[4] > 1 || t[5] >= h.chr) {
            rl_tz_free(tz);
            return fail(err, errlen, name, "bad local time type");
        }
        tz->off[i] = off;
    }
    tz->n_trans = h.time;
    if (h.time) {
        tz->trans = rl_xreallocarray(NULL, h.time, sizeof(int64_t));
        tz->idx = rl_xmalloc(h.time);
    }
    for (uint32_t i = 0; i < h.time; i++) {
        tz->trans[i] = tsize == 8 ? be64(tp + (size_t)i * 8) : (int32_t)be32(tp + (size_t)i * 4);
        tz->idx[i] = ip[i];
        if (ip[i] >= h.type || (i && tz->trans[i] < tz->trans[i - 1])) {
            rl_tz_free(tz);
            return fail(err, errlen, name, "bad transition");
        }
    }
    tz->has_rule = has_rule;
    if (has_rule)
        tz->rule = rule;
    *out = tz;
    return 0;
}

/* ----------------------------------------------------------------- loading --- */

bool rl_tz_name_ok(const char *name)
{
    size_t n = strlen(name);
    const char *c = name;

    if (n > RL_TZ_NAME_MAX || name[0] == '/' || strcasecmp(name, "Local") == 0)
        return false;
    for (const char *s = name; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '+' || *s == '-' || *s == '/'))
            return false;
    /* Components: not empty (no "//", no trailing '/'); "." and ".." cannot occur (no '.'). */
    while (n && *c) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);

        if (len == 0 || (slash && !slash[1]))
            return false;
        c += len + (slash != NULL);
    }
    return true;
}

/* Reads dir/name: 0 and *out (free it), or an error. */
static int read_zone_file(const char *dir, const char *name, unsigned char **out, size_t *len)
{
    char path[4096];
    struct stat st;
    unsigned char *buf;
    size_t got = 0;
    int fd, rc = 0;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return RL_ENOENT;
    /* O_NONBLOCK: a FIFO in the way must not block the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? RL_ENOENT : -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return RL_ENOENT;
    }
    if (st.st_size > RL_TZ_FILE_MAX) {
        close(fd);
        return RL_ETOOBIG;
    }
    buf = rl_xmalloc(RL_TZ_FILE_MAX + 1);
    /* Read to the end (or one byte past the cap): the size may have changed since fstat. */
    while (got <= RL_TZ_FILE_MAX) {
        ssize_t r = read(fd, buf + got, RL_TZ_FILE_MAX + 1 - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!rc && got > RL_TZ_FILE_MAX)
        rc = RL_ETOOBIG;
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = got;
    return 0;
}

int rl_tz_load(const char *name, const char *dir, struct rl_tz **out, char *err, size_t errlen)
{
    const char *dirs[2];
    unsigned char *data = NULL;
    size_t len = 0, ndirs = 0;
    int rc = RL_ENOENT;

    *out = NULL;
    if (!name || !rl_tz_name_ok(name)) {
        snprintf(err, errlen, "time zone <bad name>: not an IANA zone name ([A-Za-z0-9_+-/], "
                 "at most %d bytes, no leading '/' or empty part, not Local)", RL_TZ_NAME_MAX);
        return RL_EINVAL;
    }
    if (!*name || strcmp(name, "UTC") == 0) {
        *out = rl_xcalloc(1, sizeof(**out));
        **out = utc_zone;
        return 0;
    }
    if (dir) {
        dirs[ndirs++] = dir;
    } else {
        const char *env = getenv("ZONEINFO");

        if (env && *env)
            dirs[ndirs++] = env;
        dirs[ndirs++] = RL_TZ_DEFAULT_DIR;
    }
    for (size_t i = 0; i < ndirs && rc == RL_ENOENT; i++)
        rc = read_zone_file(dirs[i], name, &data, &len);
    if (rc == RL_ENOENT) {
        snprintf(err, errlen, "time zone \"%s\": unknown (no such zone in %s%s)", name,
                 dirs[0], ndirs > 1 ? " or " RL_TZ_DEFAULT_DIR : "");
        return rc;
    }
    if (rc == RL_ETOOBIG) {
        snprintf(err, errlen, "time zone \"%s\": file larger than %d bytes", name,
                 RL_TZ_FILE_MAX);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "time zone \"%s\": cannot read it: %s", name, rl_errno_str(-rc));
        return rc;
    }
    rc = rl_tz_parse(name, data, len, out, err, errlen);
    free(data);
    return rc;
}

void rl_tz_free(struct rl_tz *tz)
{
    if (!tz || tz == &utc_zone)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz);
}
