/*
 * testutil.h - small helpers shared by the integration tests
 *
 * Time for measuring (monotonic seconds), sleeping, and environment
 * variables that count only when set and non-empty.
 */
#ifndef RL_TESTUTIL_H
#define RL_TESTUTIL_H

double test_now_s(void);
void test_sleep_ms(long ms);
/* getenv() that treats "" as unset. */
const char *test_env(const char *name);

#endif
