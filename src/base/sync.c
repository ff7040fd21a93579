/* sync.c - pthread wrappers that abort on impossible failures */
#define _GNU_SOURCE /* pthread_setname_np */
#include "reloadd/base/sync.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "reloadd/base/log.h"
#include "reloadd/base/banned.h"

#define CHECK(call) do { int rc_ = (call); if (rc_) rl_bug_at(__FILE__, __LINE__, #call); } while (0)

void rl_mutex_init(pthread_mutex_t *mu) { CHECK(pthread_mutex_init(mu, NULL)); }
void rl_mutex_destroy(pthread_mutex_t *mu) { CHECK(pthread_mutex_destroy(mu)); }
void rl_mutex_lock(pthread_mutex_t *mu) { CHECK(pthread_mutex_lock(mu)); }
void rl_mutex_unlock(pthread_mutex_t *mu) { CHECK(pthread_mutex_unlock(mu)); }

/*
 * glibc's default rwlock prefers readers: workers reading the store in a loop
 * would starve the informer thread's writes forever. Writers go first; no
 * caller takes a read lock twice, which this kind forbids.
 */
void rl_rwlock_init(pthread_rwlock_t *rw)
{
    pthread_rwlockattr_t attr;

    CHECK(pthread_rwlockattr_init(&attr));
    CHECK(pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
    CHECK(pthread_rwlock_init(rw, &attr));
    CHECK(pthread_rwlockattr_destroy(&attr));
}
void rl_rwlock_destroy(pthread_rwlock_t *rw) { CHECK(pthread_rwlock_destroy(rw)); }
void rl_rwlock_rdlock(pthread_rwlock_t *rw) { CHECK(pthread_rwlock_rdlock(rw)); }
void rl_rwlock_wrlock(pthread_rwlock_t *rw) { CHECK(pthread_rwlock_wrlock(rw)); }
void rl_rwlock_unlock(pthread_rwlock_t *rw) { CHECK(pthread_rwlock_unlock(rw)); }

void rl_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    CHECK(pthread_condattr_init(&attr));
    CHECK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    CHECK(pthread_cond_init(cv, &attr));
    CHECK(pthread_condattr_destroy(&attr));
}

void rl_cond_destroy(pthread_cond_t *cv) { CHECK(pthread_cond_destroy(cv)); }
void rl_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu) { CHECK(pthread_cond_wait(cv, mu)); }
void rl_cond_signal(pthread_cond_t *cv) { CHECK(pthread_cond_signal(cv)); }
void rl_cond_broadcast(pthread_cond_t *cv) { CHECK(pthread_cond_broadcast(cv)); }

bool rl_cond_wait_until_ms(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline_ms)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ms / 1000),
        .tv_nsec = (long)(deadline_ms % 1000) * 1000000,
    };
    int rc = pthread_cond_timedwait(cv, mu, &ts);

    if (rc == ETIMEDOUT)
        return false;
    if (rc)
        rl_bug_at(__FILE__, __LINE__, "pthread_cond_timedwait");
    return true;
}

void rl_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
    char shortname[16];

    CHECK(pthread_create(t, NULL, fn, arg));
    strlcpy(shortname, name, sizeof(shortname));
    pthread_setname_np(*t, shortname);
}

void rl_thread_join(pthread_t t) { CHECK(pthread_join(t, NULL)); }
