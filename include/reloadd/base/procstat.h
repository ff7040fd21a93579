/*
 * procstat.h - this process's resource usage, read from /proc (Linux)
 *
 * What the process_* metrics report, with client_golang's meanings: RSS and
 * virtual size in bytes, user+system CPU seconds, open and maximum file
 * descriptors, start time in seconds since the epoch, and thread count.
 *
 * The parsers take text and the system constants as parameters so unit
 * tests can feed them recorded files; rl_procstat_read() supplies the real
 * ones. A comm field holding spaces or ')' is handled (the last ')' ends it).
 *
 * Threads: all functions are reentrant.
 */
#ifndef RL_PROCSTAT_H
#define RL_PROCSTAT_H

#include <stdint.h>

struct rl_procstat {
    uint64_t rss_bytes;
    uint64_t vsize_bytes;
    double cpu_seconds;         /* utime + stime */
    double start_time_s;        /* since the epoch */
    uint64_t threads;
    uint64_t open_fds;
    uint64_t max_fds;           /* soft RLIMIT_NOFILE; UINT64_MAX if unlimited */
};

/* Fills *out from /proc/self. Returns 0, RL_EIO or RL_EPARSE. */
int rl_procstat_read(struct rl_procstat *out);

/*
 * Parses the text of /proc/<pid>/stat into the rss, vsize, cpu, start time
 * and thread fields of *out. boot_time_s is /proc/stat's btime. Returns 0
 * or RL_EPARSE (out untouched).
 */
int rl_procstat_parse_stat(const char *text, long ticks_per_s, long page_bytes,
                           double boot_time_s, struct rl_procstat *out);

/* Finds "btime N" in the text of /proc/stat. Returns 0 or RL_EPARSE. */
int rl_procstat_parse_btime(const char *text, double *boot_time_s);

#endif /* RL_PROCSTAT_H */
