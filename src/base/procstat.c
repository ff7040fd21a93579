/* procstat.c - this process's resource usage, read from /proc (Linux) */
#include "reloadd/base/procstat.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/banned.h"

#define PROC_FILE_CAP ((size_t)1 << 20)

/* Reads a whole (small, virtual) file; /proc files report size 0. */
static int read_file(const char *path, struct rl_buf *out)
{
    char chunk[4096];
    int fd;
    int err = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RL_EIO;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = RL_EIO;
            break;
        }
        if (n == 0)
            break;
        err = rl_buf_add(out, chunk, (size_t)n);
        if (err)
            break;
    }
    close(fd);
    return err;
}

/* Parses a decimal unsigned token [s, end); false unless all digits. */
static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;

    if (s == end)
        return false;
    for (; s < end; s++) {
        unsigned d;

        if (!isdigit((unsigned char)*s))
            return false;
        d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int rl_procstat_parse_stat(const char *text, long ticks_per_s, long page_bytes,
                           double boot_time_s, struct rl_procstat *out)
{
    uint64_t utime = 0, stime = 0, threads = 0, start = 0, vsize = 0, rss = 0;
    const char *open_paren, *p;
    int field;

    if (!text || ticks_per_s <= 0 || page_bytes <= 0)
        return RL_EINVAL;
    /* comm may hold anything, ')' included: it ends at the last ')'. */
    open_paren = strchr(text, '(');
    p = strrchr(text, ')');
    if (!open_paren || !p || p < open_paren)
        return RL_EPARSE;
    p++;

    for (field = 3; field <= 24; field++) {
        const char *tok;
        uint64_t *dst = NULL;

        if (*p != ' ')
            return RL_EPARSE;
        while (*p == ' ')
            p++;
        tok = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        if (p == tok)
            return RL_EPARSE;
        switch (field) {
        case 14: dst = &utime; break;
        case 15: dst = &stime; break;
        case 20: dst = &threads; break;
        case 22: dst = &start; break;
        case 23: dst = &vsize; break;
        case 24: dst = &rss; break;
        default: break;
        }
        if (dst && !parse_u64(tok, p, dst))
            return RL_EPARSE;
    }
    if (rss > UINT64_MAX / (uint64_t)page_bytes)
        return RL_EPARSE;

    out->cpu_seconds = (double)(utime + stime) / (double)ticks_per_s;
    out->threads = threads;
    out->start_time_s = boot_time_s + (double)start / (double)ticks_per_s;
    out->vsize_bytes = vsize;
    out->rss_bytes = rss * (uint64_t)page_bytes;
    return 0;
}

int rl_procstat_parse_btime(const char *text, double *boot_time_s)
{
    const char *line = text;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);

        if (strncmp(line, "btime ", 6) == 0) {
            uint64_t v;

            if (!parse_u64(line + 6, end, &v))
                return RL_EPARSE;
            *boot_time_s = (double)v;
            return 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    return RL_EPARSE;
}

static int count_open_fds(uint64_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    uint64_t n = 0;

    if (!d)
        return RL_EIO;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            n++;
    }
    closedir(d);
    /* The directory stream's own descriptor was listed too. */
    *out = n ? n - 1 : 0;
    return 0;
}

int rl_procstat_read(struct rl_procstat *out)
{
    struct rl_buf stat = { 0 }, sys = { 0 };
    struct rl_procstat ps = { 0 };
    struct rlimit rl;
    double btime = 0;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    int err;

    rl_buf_init(&stat, PROC_FILE_CAP);
    rl_buf_init(&sys, PROC_FILE_CAP);

    err = read_file("/proc/self/stat", &stat);
    if (err)
        goto out;
    err = read_file("/proc/stat", &sys);
    if (err)
        goto out;
    err = rl_procstat_parse_btime(sys.buf, &btime);
    if (err)
        goto out;
    err = rl_procstat_parse_stat(stat.buf, ticks, page, btime, &ps);
    if (err)
        goto out;
    err = count_open_fds(&ps.open_fds);
    if (err)
        goto out;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        err = RL_EIO;
        goto out;
    }
    ps.max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    *out = ps;
out:
    rl_buf_release(&sys);
    rl_buf_release(&stat);
    return err;
}
