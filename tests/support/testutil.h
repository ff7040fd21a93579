/*
 * testutil.h - small helpers shared by the integration tests
 *
 * Time for measuring (monotonic seconds), sleeping, environment
 * variables that count only when set and non-empty, what a call writes to
 * stderr, and deleting a test's namespace.
 */
#ifndef RL_TESTUTIL_H
#define RL_TESTUTIL_H

double test_now_s(void);
void test_sleep_ms(long ms);
/* getenv() that treats "" as unset. */
const char *test_env(const char *name);

/* Runs fn(ctx) with stderr going to a file; returns what it wrote (free it), NULL on error. */
char *test_capture_stderr(void (*fn)(void *), void *ctx);

struct rl_kube;
/* Deletes namespace ns (in the background); errors are ignored. */
void test_delete_namespace(struct rl_kube *kube, const char *ns);

#endif
