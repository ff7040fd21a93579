/*
 * sync.h - pthread wrappers that abort on impossible failures
 *
 * As libuv's uv_mutex_lock(): a failing lock is a bug, not a condition to
 * handle. Condition variables run on CLOCK_MONOTONIC, so
 * rl_cond_wait_until_ms() takes a deadline on rl_mono_ms()'s scale.
 * Read-write locks prefer writers (a waiting writer blocks new readers), so a
 * thread must never take the same read lock twice.
 */
#ifndef RL_SYNC_H
#define RL_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

void rl_mutex_init(pthread_mutex_t *mu);
void rl_mutex_destroy(pthread_mutex_t *mu);
void rl_mutex_lock(pthread_mutex_t *mu);
void rl_mutex_unlock(pthread_mutex_t *mu);

void rl_rwlock_init(pthread_rwlock_t *rw);
void rl_rwlock_destroy(pthread_rwlock_t *rw);
void rl_rwlock_rdlock(pthread_rwlock_t *rw);
void rl_rwlock_wrlock(pthread_rwlock_t *rw);
void rl_rwlock_unlock(pthread_rwlock_t *rw);

void rl_cond_init(pthread_cond_t *cv);         /* CLOCK_MONOTONIC */
void rl_cond_destroy(pthread_cond_t *cv);
void rl_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu);
/* Waits until signalled or rl_mono_ms() >= deadline_ms; false on timeout. */
bool rl_cond_wait_until_ms(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline_ms);
void rl_cond_signal(pthread_cond_t *cv);
void rl_cond_broadcast(pthread_cond_t *cv);

/* Starts a thread or aborts; name (≤ 15 chars) shows in top/gdb. */
void rl_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);
void rl_thread_join(pthread_t t);

#endif /* RL_SYNC_H */
