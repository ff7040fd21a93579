/*
 * test_log.c - the log's two formats are logrus's (issue 15, item 4)
 *
 * Records with awkward values (spaces, quotes, '=', newlines, control
 * bytes, UTF-8, HTML characters, an empty value, a field named like a
 * fixed key) are written through rl_log_kv() to a captured stderr, then
 * read back the way a log pipeline reads Reloader's: text by a logfmt
 * parser (the go-logfmt grammar Loki's `| logfmt` follows: key=value
 * pairs, values bare or double-quoted with Go escapes), JSON by a JSON
 * parser. Every value must come back byte for byte, with logrus's keys
 * (time, level, msg), level names (warning, not warn), sorted fields and
 * an RFC 3339 time.
 */
#define _GNU_SOURCE                 /* strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "reloadd/base/log.h"

/* The values of one record, by key. */
struct kv {
    char key[64];
    char value[512];
};

static struct {
    const char *key, *value;
} const fields[] = {
    { "workload", "deployment/ns/app" },
    { "source", "configmap/cfg" },
    { "message", "a \"quoted\" value with spaces, = and \\ and\nnewline\tand tab" },
    { "empty", "" },
    { "html", "<script>&amp;</script>" },
    { "utf8", "caf\xc3\xa9 \xe2\x9c\x93" },
    { "control", "bell\x07 del\x7f" },
    { "msg", "a field named msg" },
    { "bare", "a-z.A_Z/0@9^+" },
};
#define NF (sizeof(fields) / sizeof(fields[0]))

struct record {
    enum rl_log_format format;
    enum rl_log_level level;
    const char *msg;
};

static void write_record(void *ctx)
{
    const struct record *r = ctx;

    rl_log_setup(RL_LOG_TRACE, r->format);
    rl_log_kv(r->level, r->msg, fields[0].key, fields[0].value, fields[1].key, fields[1].value,
              fields[2].key, fields[2].value, fields[3].key, fields[3].value, fields[4].key,
              fields[4].value, fields[5].key, fields[5].value, fields[6].key, fields[6].value,
              fields[7].key, fields[7].value, fields[8].key, fields[8].value, NULL);
    rl_log_setup(RL_LOG_INFO, RL_LOG_TEXT);
}

static char *capture(enum rl_log_format format, enum rl_log_level level, const char *msg)
{
    struct record r = { format, level, msg };
    char *text = test_capture_stderr(write_record, &r);

    cr_assert(ne(ptr, text, NULL));
    cr_assert(gt(sz, strlen(text), 0));
    return text;
}

/* A logfmt parser (go-logfmt's grammar); returns the number of pairs, -1 if malformed. */
static int parse_logfmt(const char *line, struct kv *out, int max)
{
    const char *p = line;
    int n = 0;

    while (*p && *p != '\n') {
        size_t kl = 0, vl = 0;

        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        if (n == max)
            return -1;
        while (*p > ' ' && *p != '=' && *p != '"' && kl + 1 < sizeof(out[n].key))
            out[n].key[kl++] = *p++;
        out[n].key[kl] = '\0';
        if (!kl || *p != '=')
            return -1;
        p++;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                char c = *p;

                if (!c || c == '\n')
                    return -1;
                if (c == '\\') {
                    c = *++p;
                    switch (c) {
                    case 'n': c = '\n'; break;
                    case 't': c = '\t'; break;
                    case 'r': c = '\r'; break;
                    case '"': case '\\': break;
                    case 'x': {
                        char hex[3] = { p[1], p[2], 0 };

                        c = (char)strtol(hex, NULL, 16);
                        p += 2;
                        break;
                    }
                    default:
                        return -1;
                    }
                }
                if (vl + 1 < sizeof(out[n].value))
                    out[n].value[vl++] = c;
            }
            p++;
        } else {
            while (*p > ' ' && *p != '"' && *p != '=' && vl + 1 < sizeof(out[n].value))
                out[n].value[vl++] = *p++;
        }
        out[n].value[vl] = '\0';
        if (*p && *p != ' ' && *p != '\n')
            return -1;
        n++;
    }
    return n;
}

static const char *get(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

/* RFC 3339 in UTC with milliseconds, within a minute of now. */
static void check_time(const char *t)
{
    struct tm tm;
    const char *rest;
    time_t at;

    cr_assert(ne(ptr, (void *)t, NULL));
    memset(&tm, 0, sizeof(tm));
    rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    cr_assert(ne(ptr, (void *)rest, NULL), "time %s", t);
    cr_assert(eq(int, (int)strlen(rest), 5), "time %s", t);
    cr_assert(rest[0] == '.' && rest[4] == 'Z', "time %s", t);
    at = timegm(&tm);
    cr_assert(lt(long, labs((long)(at - time(NULL))), 60L), "time %s", t);
}

/* The key a field is written under: logrus prefixes fixed keys with "fields.". */
static const char *written_key(const char *k, char *buf, size_t len)
{
    if (strcmp(k, "msg") == 0 || strcmp(k, "time") == 0 || strcmp(k, "level") == 0) {
        snprintf(buf, len, "fields.%s", k);
        return buf;
    }
    return k;
}

Test(log, text_is_logfmt_with_logrus_keys_and_levels)
{
    static const struct {
        enum rl_log_level level;
        const char *name;
    } levels[] = {
        { RL_LOG_TRACE, "trace" }, { RL_LOG_DEBUG, "debug" }, { RL_LOG_INFO, "info" },
        { RL_LOG_WARN, "warning" }, { RL_LOG_ERROR, "error" },
    };

    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        const char *msg = "Changes detected in 'cfg' of type 'CONFIGMAP' in namespace 'ns'";
        char *line = capture(RL_LOG_TEXT, levels[l].level, msg), kb[80];
        struct kv kv[32];
        int n = parse_logfmt(line, kv, 32);

        cr_assert(eq(int, n, (int)NF + 3), "not logfmt: %s", line);
        cr_assert(eq(str, kv[0].key, "time"), "%s", line);
        cr_assert(eq(str, kv[1].key, "level"), "%s", line);
        cr_assert(eq(str, kv[2].key, "msg"), "%s", line);
        cr_assert(strncmp(line, "time=\"", 6) == 0, "%s", line);
        check_time(kv[0].value);
        cr_assert(eq(str, kv[1].value, (char *)levels[l].name));
        cr_assert(eq(str, kv[2].value, (char *)msg));
        for (size_t i = 0; i < NF; i++) {
            const char *v = get(kv, n, written_key(fields[i].key, kb, sizeof(kb)));

            cr_assert(ne(ptr, (void *)v, NULL), "no %s in %s", fields[i].key, line);
            cr_assert(eq(str, (char *)v, (char *)fields[i].value), "%s in %s", fields[i].key,
                      line);
        }
        for (int i = 4; i < n; i++)      /* the fields, sorted */
            cr_assert(lt(int, strcmp(kv[i - 1].key, kv[i].key), 0), "%s", line);
        /* Bare where logrus leaves a value bare, quoted where it quotes. */
        cr_assert(strstr(line, " bare=a-z.A_Z/0@9^+ ") != NULL, "%s", line);
        cr_assert(strstr(line, " empty= ") != NULL, "%s", line);
        cr_assert(strstr(line, " source=configmap/cfg") != NULL, "%s", line);
        cr_assert(strstr(line, " control=\"bell\\x07 del\\x7f\"") != NULL, "%s", line);
        cr_assert(eq(int, (int)strlen(line), (int)(strchr(line, '\n') - line) + 1),
                  "one line per record: %s", line);
        free(line);
    }
}

Test(log, json_has_logrus_keys_sorted)
{
    char *line = capture(RL_LOG_JSON, RL_LOG_WARN, "a <warning> & more"), kb[80];
    cJSON *doc = cJSON_Parse(line), *it;
    const char *prev = "";

    cr_assert(ne(ptr, doc, NULL), "not JSON: %s", line);
    cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItem(doc, "level")), "warning"));
    cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItem(doc, "msg")),
                 "a <warning> & more"));
    check_time(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "time")));
    for (size_t i = 0; i < NF; i++) {
        const char *v = cJSON_GetStringValue(
            cJSON_GetObjectItem(doc, written_key(fields[i].key, kb, sizeof(kb))));

        cr_assert(ne(ptr, (void *)v, NULL), "no %s in %s", fields[i].key, line);
        cr_assert(eq(str, (char *)v, (char *)fields[i].value), "%s in %s", fields[i].key, line);
    }
    cr_assert(eq(int, cJSON_GetArraySize(doc), (int)NF + 3), "%s", line);
    cJSON_ArrayForEach(it, doc) {      /* every key sorted, as encoding/json writes a map */
        cr_assert(lt(int, strcmp(prev, it->string), 0), "%s", line);
        prev = it->string;
    }
    /* HTML characters escaped as Go's encoder does by default. */
    cr_assert(strstr(line, "\\u003cwarning\\u003e \\u0026 more") != NULL, "%s", line);
    cJSON_Delete(doc);
    free(line);
}

Test(log, levels_parse_as_logrus_names)
{
    enum rl_log_level l;

    cr_assert(rl_log_parse_level("warning", &l));
    cr_assert(eq(int, l, RL_LOG_WARN));
    cr_assert(rl_log_parse_level("warn", &l));
    cr_assert(eq(int, l, RL_LOG_WARN));
    cr_assert(rl_log_parse_level("TRACE", &l));
    cr_assert(eq(int, l, RL_LOG_TRACE));
    cr_assert(not(rl_log_parse_level("verbose", &l)));
}
