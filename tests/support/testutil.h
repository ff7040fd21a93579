/*
 * testutil.h - small helpers shared by the integration tests
 *
 * Time for measuring (monotonic seconds), sleeping, environment
 * variables that count only when set and non-empty, what a call writes to
 * stderr, the policy of a set of flags, the cluster's test lock, Kubernetes times, and deleting a test's
 * namespace.
 */
#ifndef RL_TESTUTIL_H
#define RL_TESTUTIL_H

#include <stdbool.h>

double test_now_s(void);
void test_sleep_ms(long ms);
/* getenv() that treats "" as unset. */
const char *test_env(const char *name);

/* Runs fn(ctx) with stderr going to a file; returns what it wrote (free it), NULL on error. */
char *test_capture_stderr(void (*fn)(void *), void *ctx);

/*
 * Takes the cluster's test lock (<cluster_dir>/.reloadd-test-kube.lock),
 * shared or exclusive (a test that restarts the API server); returns the
 * fd that holds it (close it to let go), -1 on error.
 */
int test_lock_cluster(const char *cluster_dir, bool exclusive);

/* A Kubernetes MicroTime: RFC 3339 with exactly six fraction digits, in UTC. */
bool test_is_micro_time(const char *s);

struct rl_sha1;
/*
 * The SHA-1 whose 40 hex digits are hex (aborts the test if not), in a
 * per-thread slot valid until this thread's 8th next call.
 */
const struct rl_sha1 *test_sha1(const char *hex);

struct rl_policy;
/*
 * The policy of reloadd started with these flags (NULL-terminated; the
 * environment empty), as main resolves it; aborts the test on a bad flag.
 * Free with rl_policy_free().
 */
struct rl_policy *test_policy(const char *flag, ...);

struct rl_kube;
/* Deletes namespace ns (in the background); errors are ignored. */
void test_delete_namespace(struct rl_kube *kube, const char *ns);

#endif
