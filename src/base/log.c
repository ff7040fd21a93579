/* log.c - leveled logging, text or JSON */
#include "reloadd/base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/banned.h"

static enum rl_log_level min_level = RL_LOG_INFO;
static enum rl_log_format out_format = RL_LOG_TEXT;

/* logrus's names: "warning", not "warn". */
static const char *const level_names[] = { "trace", "debug", "info", "warning", "error" };

#define MAX_FIELDS 32

bool rl_log_parse_level(const char *s, enum rl_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum rl_log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warn") == 0) {
        *out = RL_LOG_WARN;
        return true;
    }
    return false;
}

void rl_log_setup(enum rl_log_level level, enum rl_log_format format)
{
    min_level = level;
    out_format = format;
}

bool rl_log_enabled(enum rl_log_level level)
{
    return level >= min_level;
}

/* RFC 3339 in UTC, as logrus (its default format), with milliseconds kept. */
static void format_time(char out[64])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));
}

/* logrus's TextFormatter.needsQuoting: anything but [A-Za-z0-9-._/@^+] (empty: no quotes). */
static bool needs_quotes(const char *v)
{
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._/@^+", c)))
            return true;
    }
    return false;
}

/* Go's %q of a UTF-8 string: what logrus's text format writes for a value that needs quotes. */
static void add_go_quoted(struct rl_buf *b, const char *v)
{
    rl_buf_addc(b, '"');
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        switch (c) {
        case '"': rl_buf_adds(b, "\\\""); break;
        case '\\': rl_buf_adds(b, "\\\\"); break;
        case '\n': rl_buf_adds(b, "\\n"); break;
        case '\r': rl_buf_adds(b, "\\r"); break;
        case '\t': rl_buf_adds(b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                rl_buf_addf(b, "\\x%02x", c);
            else
                rl_buf_addc(b, (char)c);
        }
    }
    rl_buf_addc(b, '"');
}

struct field {
    char key[64];
    const char *value;
};

static int field_cmp(const void *a, const void *b)
{
    return strcmp(((const struct field *)a)->key, ((const struct field *)b)->key);
}

/*
 * One record as logrus writes it (Reloader logs through logrus), fields sorted by key:
 *   text: time="…" level=info msg="…" k=v k2="v w"
 *   JSON: {"k":"v","level":"info","msg":"…","time":"…"} (every key sorted,
 *         strings as encoding/json writes them: rl_buf_add_json_str())
 * A field named time, level or msg becomes fields.time, … (logrus's rule).
 */
static void emit(enum rl_log_level level, const char *msg, va_list *kv)
{
    struct field f[MAX_FIELDS];
    size_t n = 0;
    struct rl_buf b;
    char ts[64];
    const char *k;

    while (kv && (k = va_arg(*kv, const char *)) != NULL) {
        const char *v = va_arg(*kv, const char *);

        if (n == MAX_FIELDS)
            continue;               /* a programming error; drop, do not overflow */
        snprintf(f[n].key, sizeof(f[n].key), "%s%s",
                 strcmp(k, "time") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0
                     ? "fields." : "", k);
        f[n++].value = v ? v : "";
    }
    qsort(f, n, sizeof(f[0]), field_cmp);
    format_time(ts);
    rl_buf_init(&b, 1 << 20);
    if (out_format == RL_LOG_JSON) {
        size_t i = 0;
        struct field fixed[3] = { { "level", level_names[level] }, { "msg", msg }, { "time", ts } };

        /* Merge the sorted fields with the three fixed keys, themselves in order. */
        rl_buf_addc(&b, '{');
        for (size_t j = 0; i < n || j < 3;) {
            const struct field *next = j == 3 || (i < n && strcmp(f[i].key, fixed[j].key) < 0)
                                           ? &f[i++] : &fixed[j++];

            if (b.len > 1)
                rl_buf_addc(&b, ',');
            rl_buf_add_json_str(&b, next->key);
            rl_buf_addc(&b, ':');
            rl_buf_add_json_str(&b, next->value);
        }
        rl_buf_addc(&b, '}');
    } else {
        rl_buf_addf(&b, "time=\"%s\" level=%s msg=", ts, level_names[level]);
        if (needs_quotes(msg))
            add_go_quoted(&b, msg);
        else
            rl_buf_adds(&b, msg);
        for (size_t i = 0; i < n; i++) {
            rl_buf_addf(&b, " %s=", f[i].key);
            if (needs_quotes(f[i].value))
                add_go_quoted(&b, f[i].value);
            else
                rl_buf_adds(&b, f[i].value);
        }
    }
    rl_buf_addc(&b, '\n');
    /* One write per record: lines of concurrent threads do not interleave. */
    if (write(STDERR_FILENO, b.buf, b.len) < 0) {
        /* Nowhere left to report it. */
    }
    rl_buf_release(&b);
}

void rl_log(enum rl_log_level level, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    struct rl_buf b;

    if (level < min_level)
        return;
    rl_buf_init(&b, 1 << 20);
    va_start(ap, fmt);
    rl_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    msg = b.buf;
    emit(level, msg, NULL);
    rl_buf_release(&b);
}

void rl_log_kv(enum rl_log_level level, const char *msg, ...)
{
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, msg);
    emit(level, msg, &ap);
    va_end(ap);
}

void rl_bug_at(const char *file, int line, const char *what)
{
    fprintf(stderr, "reloadd: BUG at %s:%d: %s\n", file, line, what);
    abort();
}
