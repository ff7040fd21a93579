/* testutil.c - small helpers shared by the integration tests */
#include "testutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/hash.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/base/mem.h"
#include "reloadd/kube/kube.h"

double test_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void test_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

const char *test_env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

void test_delete_namespace(struct rl_kube *kube, const char *ns)
{
    struct rl_kube_response r;
    char *path = rl_xasprintf("/api/v1/namespaces/%s", ns);

    rl_kube_response_init(&r);
    rl_kube_delete(kube, path, "Background", &r);
    rl_kube_response_release(&r);
    free(path);
}

char *test_capture_stderr(void (*fn)(void *), void *ctx)
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *out = NULL;
    size_t cap = 0;

    if (!f || saved < 0 || dup2(fileno(f), STDERR_FILENO) < 0) {
        if (f)
            fclose(f);
        if (saved >= 0)
            close(saved);
        return NULL;
    }
    fn(ctx);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    if (getdelim(&out, &cap, '\0', f) < 0) {
        free(out);
        out = calloc(1, 1);     /* wrote nothing */
    }
    fclose(f);
    return out;
}

int test_lock_cluster(const char *cluster_dir, bool exclusive)
{
    char *path = rl_xasprintf("%s/.reloadd-test-kube.lock", cluster_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    free(path);
    if (fd >= 0 && flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

bool test_is_micro_time(const char *s)
{
    int64_t us;

    if (!s || strlen(s) != 27 || s[19] != '.' || s[26] != 'Z')
        return false;
    for (int i = 20; i < 26; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return rl_parse_rfc3339(s, &us) == 0;
}

struct rl_policy *test_policy(const char *flag, ...)
{
    char *argv[32] = { "reloadd" };
    char *envp[] = { NULL };
    char err[512];
    int argc = 1;
    struct rl_options o;
    struct rl_policy *p;
    va_list ap;

    va_start(ap, flag);
    for (const char *f = flag; f && argc < 31; f = va_arg(ap, const char *))
        argv[argc++] = (char *)f;
    va_end(ap);
    if (rl_options_parse(&o, argc, argv, envp, err, sizeof(err)) != 0) {
        fprintf(stderr, "test_policy: %s\n", err);
        abort();
    }
    p = rl_policy_new(&o);
    rl_options_release(&o);
    return p;
}

const struct rl_sha1 *test_sha1(const char *hex)
{
    static _Thread_local struct rl_sha1 slot[8];
    static _Thread_local unsigned next;
    struct rl_sha1 *h = &slot[next++ % 8];

    if (!rl_sha1_from_hex(hex, h)) {
        fprintf(stderr, "test_sha1: '%s' is not 40 lower-case hex digits\n", hex);
        abort();
    }
    return h;
}
