/*
 * log.h - leveled logging, text or JSON, one line per record
 *
 * Records go to stderr, one write(2) each, so lines from several threads
 * never interleave. The two formats are logrus's, as Reloader writes them,
 * so Loki's `| logfmt`, Vector and log-based alerts keep working:
 *   text: time="2026-11-25T19:22:12.123Z" level=info msg="message" k=v
 *   JSON: {"k":"v","level":"info","msg":"message","time":"…"}
 * level is trace, debug, info, warning or error; fields are sorted by key
 * (in JSON, every key); a value is quoted as Go's %q when it holds anything
 * but [A-Za-z0-9-._/@^+]; a field named time, level or msg is written as
 * fields.time, ... The time is RFC 3339 in UTC with milliseconds. Fields
 * are given as NULL-terminated key/value string pairs through rl_log_kv()
 * (at most 32). Never pass Secret data to a log call.
 *
 * Threads: rl_log_setup() before any thread starts; logging from any thread.
 */
#ifndef RL_LOG_H
#define RL_LOG_H

#include <stdbool.h>

enum rl_log_level {
    RL_LOG_TRACE,
    RL_LOG_DEBUG,
    RL_LOG_INFO,
    RL_LOG_WARN,
    RL_LOG_ERROR,
};

enum rl_log_format {
    RL_LOG_TEXT,
    RL_LOG_JSON,
};

/* Parses "trace|debug|info|warn|warning|error" (any case); false if unknown. */
bool rl_log_parse_level(const char *s, enum rl_log_level *out);

void rl_log_setup(enum rl_log_level level, enum rl_log_format format);
bool rl_log_enabled(enum rl_log_level level);

void rl_log(enum rl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Logs msg with fields: rl_log_kv(RL_LOG_INFO, "reloaded", "kind", "Deployment",
 * "name", "ns/app", NULL).
 */
void rl_log_kv(enum rl_log_level level, const char *msg, ...) __attribute__((sentinel));

#define rl_trace(...) rl_log(RL_LOG_TRACE, __VA_ARGS__)
#define rl_debug(...) rl_log(RL_LOG_DEBUG, __VA_ARGS__)
#define rl_info(...)  rl_log(RL_LOG_INFO, __VA_ARGS__)
#define rl_warn(...)  rl_log(RL_LOG_WARN, __VA_ARGS__)
#define rl_error(...) rl_log(RL_LOG_ERROR, __VA_ARGS__)

/* Assertions stay on in release builds (redis). */
void rl_bug_at(const char *file, int line, const char *what) __attribute__((noreturn));
#define RL_BUG(what) rl_bug_at(__FILE__, __LINE__, (what))
#define RL_ASSERT(cond) ((cond) ? (void)0 : rl_bug_at(__FILE__, __LINE__, #cond))

#endif /* RL_LOG_H */
