/* log.c - leveled logging, text or JSON */
#include "reloadd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "reloadd/buf.h"

static enum rl_log_level min_level = RL_LOG_INFO;
static enum rl_log_format out_format = RL_LOG_TEXT;

static const char *const level_names[] = { "trace", "debug", "info", "warn", "error" };

bool rl_log_parse_level(const char *s, enum rl_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum rl_log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
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

static void add_time(struct rl_buf *b)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    rl_buf_addf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000);
}

static bool needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (; *v; v++)
        if (*v <= ' ' || *v == '"' || *v == '=' || (unsigned char)*v >= 0x7f)
            return true;
    return false;
}

static void emit(enum rl_log_level level, const char *msg, va_list *kv)
{
    struct rl_buf b;
    const char *k;

    rl_buf_init(&b, 1 << 20);
    if (out_format == RL_LOG_JSON) {
        rl_buf_adds(&b, "{\"time\":\"");
        add_time(&b);
        rl_buf_addf(&b, "\",\"level\":\"%s\",\"msg\":", level_names[level]);
        rl_buf_add_json_str(&b, msg);
    } else {
        add_time(&b);
        rl_buf_addf(&b, " %-5s %s", level_names[level], msg);
    }
    while (kv && (k = va_arg(*kv, const char *)) != NULL) {
        const char *v = va_arg(*kv, const char *);

        if (!v)
            v = "";
        if (out_format == RL_LOG_JSON) {
            rl_buf_addc(&b, ',');
            rl_buf_add_json_str(&b, k);
            rl_buf_addc(&b, ':');
            rl_buf_add_json_str(&b, v);
        } else {
            rl_buf_addf(&b, " %s=", k);
            if (needs_quotes(v))
                rl_buf_add_json_str(&b, v);
            else
                rl_buf_adds(&b, v);
        }
    }
    if (out_format == RL_LOG_JSON)
        rl_buf_addc(&b, '}');
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
