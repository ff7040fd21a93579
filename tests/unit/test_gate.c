/* test_gate.c - health-gated propagation: first batch, verdicts, timeouts, new versions, memory */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fake_clock.h"
#include "reloadd/reload/gate.h"

#define T0 1000000u
#define SRC "configmap/ns/app-config"
#define V1 "1111111111111111111111111111111111111111"
#define V2 "2222222222222222222222222222222222222222"

#define ROLL RL_GATE_ROLL
#define WAIT RL_GATE_WAIT
#define HOLD RL_GATE_HOLD

static enum rl_gate_verdict check(struct rl_gate *g, const char *ver, const char *w, uint64_t t)
{
    return rl_gate_check(g, SRC, ver, w, t, NULL);
}

Test(gate, no_gate_rolls_everything)
{
    struct rl_gate *g = rl_gate_new(0, 1000, 10);
    struct rl_gate_counts n;

    for (int i = 0; i < 50; i++)
        cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(not(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_FAILED, T0)));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0), ROLL));
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.sources, 0));
    rl_gate_free(g);
    rl_gate_free(NULL);
}

Test(gate, the_rest_wait_for_the_first_batch_then_roll)
{
    struct rl_gate *g = rl_gate_new(2, 60000, 10);
    struct rl_gate_info info;
    bool in;

    cr_assert(eq(int, rl_gate_check(g, SRC, V1, "d/ns/a", T0, &in), ROLL));
    cr_assert(in, "a is of the first batch");
    cr_assert(eq(int, rl_gate_check(g, SRC, V1, "d/ns/b", T0, &in), ROLL));
    cr_assert(in);
    cr_assert(eq(int, rl_gate_check(g, SRC, V1, "d/ns/c", T0, &in), WAIT));
    cr_assert(not(in));
    cr_assert(eq(int, check(g, V1, "d/ns/d", T0), WAIT));
    /* A batch member asking again rolls (its own reconcile, again). */
    cr_assert(eq(int, check(g, V1, "d/ns/a", T0 + 1), ROLL));

    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_RUNNING, T0 + 1));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_DONE, T0 + 2));
    cr_assert(not(rl_gate_report(g, SRC, V1, "d/ns/c", RL_PROGRESS_DONE, T0 + 2)),
              "c is not of the batch");
    cr_assert(not(rl_gate_report(g, SRC, V2, "d/ns/b", RL_PROGRESS_DONE, T0 + 2)),
              "another version");
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 3), WAIT), "b still running");
    rl_gate_info(g, SRC, T0 + 3, &info);
    cr_assert(info.tracked);
    cr_assert(eq(str, info.version, V1));
    cr_assert(eq(u32, info.members, 2));
    cr_assert(eq(u32, info.done, 1));
    cr_assert(eq(int, info.verdict, WAIT));

    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, T0 + 4));
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 5), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/d", T0 + 5), ROLL));
    /* Passing is final: a late failure of a member does not hold the others. */
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_FAILED, T0 + 6));
    cr_assert(eq(int, check(g, V1, "d/ns/e", T0 + 7), ROLL));
    rl_gate_free(g);
}

Test(gate, a_failure_in_the_batch_holds_the_version)
{
    struct rl_gate *g = rl_gate_new(3, 60000, 10);
    struct rl_gate_counts n;

    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0), ROLL));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_FAILED, T0 + 1));
    /* Held at once, even with room left in the batch. */
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 2), HOLD));
    cr_assert(eq(int, check(g, V1, "d/ns/d", T0 + 2), HOLD));
    /* b, of the batch, is not held; and b's success does not undo the hold. */
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0 + 3), ROLL));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, T0 + 4));
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 5), HOLD));
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.held, 1));
    cr_assert(eq(u64, n.held_total, 1));

    /* A new version of the source starts afresh. */
    cr_assert(eq(int, check(g, V2, "d/ns/c", T0 + 6), ROLL));
    cr_assert(eq(int, check(g, V2, "d/ns/d", T0 + 6), ROLL));
    cr_assert(eq(int, check(g, V2, "d/ns/a", T0 + 6), ROLL));
    cr_assert(eq(int, check(g, V2, "d/ns/b", T0 + 6), WAIT));
    /* A report for the old version is ignored. */
    cr_assert(not(rl_gate_report(g, SRC, V1, "d/ns/c", RL_PROGRESS_FAILED, T0 + 7)));
    cr_assert(eq(int, check(g, V2, "d/ns/b", T0 + 7), WAIT));
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.held, 0));
    rl_gate_free(g);
}

#define NOW() rl_clock_mono_ms(&fc.clock)

Test(gate, a_batch_member_past_the_timeout_holds)
{
    struct fake_clock fc;
    struct rl_gate *g = rl_gate_new(2, 60000, 10);
    struct rl_gate_info info;

    fake_clock_init(&fc, T0, 0);
    cr_assert(eq(int, check(g, V1, "d/ns/a", NOW()), ROLL));
    fake_clock_advance(&fc, 30000);
    cr_assert(eq(int, check(g, V1, "d/ns/b", NOW()), ROLL));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_RUNNING, NOW()));
    /* a's rollout is written 40 s after it was let through: its clock restarts then. */
    fake_clock_advance(&fc, 10000);
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_RUNNING, NOW()));
    /* A second RUNNING does not restart it. */
    fake_clock_advance(&fc, 20000);
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_RUNNING, NOW()));
    fake_clock_advance(&fc, 29999);             /* b: 59.999 s since written */
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, NOW()));
    cr_assert(eq(int, check(g, V1, "d/ns/c", NOW()), WAIT));
    fake_clock_advance(&fc, 10000);             /* a: 59.999 s since written */
    cr_assert(eq(int, check(g, V1, "d/ns/c", NOW()), WAIT));
    fake_clock_advance(&fc, 1);                 /* a: 60 s */
    rl_gate_info(g, SRC, NOW(), &info);
    cr_assert(eq(u32, info.timed_out, 1));
    cr_assert(eq(u32, info.done, 1));
    cr_assert(eq(int, info.verdict, HOLD));
    cr_assert(eq(int, check(g, V1, "d/ns/c", NOW()), HOLD));
    /* a reaching DONE after the timeout does not undo the hold. */
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_DONE, NOW()));
    cr_assert(eq(int, check(g, V1, "d/ns/c", NOW()), HOLD));
    rl_gate_free(g);
}

Test(gate, done_reported_after_the_deadline_is_too_late)
{
    struct rl_gate *g = rl_gate_new(1, 60000, 10);

    /* Nobody asked in between: the report itself finds the deadline passed. */
    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_RUNNING, T0 + 1000));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_DONE, T0 + 61000));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0 + 61001), HOLD));
    /* Just in time passes. */
    cr_assert(eq(int, check(g, V2, "d/ns/a", T0), ROLL));
    cr_assert(rl_gate_report(g, SRC, V2, "d/ns/a", RL_PROGRESS_DONE, T0 + 59999));
    cr_assert(eq(int, check(g, V2, "d/ns/b", T0 + 200000), ROLL));
    rl_gate_free(g);
}

Test(gate, no_timeout_waits_for_the_judge)
{
    struct rl_gate *g = rl_gate_new(1, 0, 10);

    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/b", UINT64_MAX / 2), WAIT));
    rl_gate_free(g);
}

Test(gate, fewer_dependents_than_the_batch_all_roll)
{
    struct rl_gate *g = rl_gate_new(5, 60000, 10);

    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0), ROLL));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_DONE, T0));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, T0));
    /* Room left: a late dependent joins the batch. */
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 1), ROLL));
    rl_gate_free(g);
}

Test(gate, a_deleted_member_leaves_its_place)
{
    struct rl_gate *g = rl_gate_new(2, 60000, 10);
    struct rl_gate_info info;

    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0), WAIT));
    rl_gate_forget_workload(g, "d/ns/a");
    rl_gate_info(g, SRC, T0, &info);
    cr_assert(eq(u32, info.members, 1));
    cr_assert(not(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_FAILED, T0)));
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 1), ROLL), "c takes a's place");
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, T0 + 1));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/c", RL_PROGRESS_DONE, T0 + 1));
    cr_assert(eq(int, check(g, V1, "d/ns/d", T0 + 2), ROLL));

    rl_gate_forget_source(g, SRC);
    rl_gate_info(g, SRC, T0, &info);
    cr_assert(not(info.tracked));
    cr_assert(eq(int, info.verdict, ROLL));
    rl_gate_free(g);
}

Test(gate, sources_are_kept_separately)
{
    struct rl_gate *g = rl_gate_new(1, 60000, 10);

    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/x", V1, "d/ns/a", T0, NULL), ROLL));
    cr_assert(eq(int, rl_gate_check(g, "secret/ns/x", V1, "d/ns/b", T0, NULL), ROLL));
    cr_assert(rl_gate_report(g, "configmap/ns/x", V1, "d/ns/a", RL_PROGRESS_FAILED, T0));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/x", V1, "d/ns/c", T0, NULL), HOLD));
    cr_assert(eq(int, rl_gate_check(g, "secret/ns/x", V1, "d/ns/c", T0, NULL), WAIT));
    rl_gate_free(g);
}

Test(gate, memory_is_bounded_and_completed_sources_go_first)
{
    struct rl_gate *g = rl_gate_new(1, 60000, 3);
    struct rl_gate_counts n;
    struct rl_gate_info info;

    /* s1 passed, s2 held, s3 running: a fourth evicts s1 (passed) first. */
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s1", V1, "d/ns/a", T0, NULL), ROLL));
    cr_assert(rl_gate_report(g, "configmap/ns/s1", V1, "d/ns/a", RL_PROGRESS_DONE, T0));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s2", V1, "d/ns/a", T0, NULL), ROLL));
    cr_assert(rl_gate_report(g, "configmap/ns/s2", V1, "d/ns/a", RL_PROGRESS_FAILED, T0));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s2", V1, "d/ns/b", T0, NULL), HOLD));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s3", V1, "d/ns/a", T0, NULL), ROLL));
    /* s1 is the most recently asked of them, still it goes first: it passed. */
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s1", V1, "d/ns/z", T0, NULL), ROLL));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s4", V1, "d/ns/a", T0, NULL), ROLL));
    rl_gate_info(g, "configmap/ns/s1", T0, &info);
    cr_assert(not(info.tracked), "the passed source went");
    rl_gate_info(g, "configmap/ns/s2", T0, &info);
    cr_assert(info.tracked, "the held one stays while a passed one can go");
    /* s5: no passed one left; the held s2 goes before the running s3 and s4. */
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s5", V1, "d/ns/a", T0, NULL), ROLL));
    rl_gate_info(g, "configmap/ns/s2", T0, &info);
    cr_assert(not(info.tracked));
    /* s6: only running ones: the least recently asked (s3) goes. */
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s4", V1, "d/ns/a", T0, NULL), ROLL));
    cr_assert(eq(int, rl_gate_check(g, "configmap/ns/s6", V1, "d/ns/a", T0, NULL), ROLL));
    rl_gate_info(g, "configmap/ns/s3", T0, &info);
    cr_assert(not(info.tracked));
    rl_gate_info(g, "configmap/ns/s4", T0, &info);
    cr_assert(info.tracked);
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.sources, 3));
    cr_assert(eq(u64, n.evicted_total, 3));
    /* Many more: never more than 3 tracked. */
    for (int i = 0; i < 1000; i++) {
        char src[64];

        snprintf(src, sizeof(src), "secret/ns/many-%d", i);
        (void)rl_gate_check(g, src, V1, "d/ns/a", T0, NULL);
    }
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.sources, 3));
    rl_gate_free(g);
}

Test(gate, long_versions_are_cut_consistently)
{
    struct rl_gate *g = rl_gate_new(1, 60000, 10);
    char longv[200];

    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    cr_assert(eq(int, check(g, longv, "d/ns/a", T0), ROLL));
    cr_assert(rl_gate_report(g, SRC, longv, "d/ns/a", RL_PROGRESS_FAILED, T0));
    cr_assert(eq(int, check(g, longv, "d/ns/b", T0), HOLD));
    cr_assert(eq(str, (char *)rl_gate_verdict_name(HOLD), "hold"));
    rl_gate_free(g);
}

/* Workers check and report concurrently (TSan runs this). */
static void *churn(void *p)
{
    struct rl_gate *g = p;
    char w[32], src[32];

    for (int i = 0; i < 2000; i++) {
        snprintf(w, sizeof(w), "d/ns/w%d", i % 50);
        snprintf(src, sizeof(src), "configmap/ns/s%d", i % 7);
        if (rl_gate_check(g, src, V1, w, T0 + (uint64_t)i, NULL) == RL_GATE_ROLL)
            (void)rl_gate_report(g, src, V1, w, RL_PROGRESS_DONE, T0 + (uint64_t)i);
        if (i % 97 == 0)
            rl_gate_forget_workload(g, w);
    }
    return NULL;
}

Test(gate, concurrent_checks_and_reports)
{
    struct rl_gate *g = rl_gate_new(3, 60000, 5);
    struct rl_gate_counts n;
    pthread_t th[6];

    for (int t = 0; t < 6; t++)
        cr_assert(eq(int, pthread_create(&th[t], NULL, churn, g), 0));
    for (int t = 0; t < 6; t++)
        pthread_join(th[t], NULL);
    rl_gate_counts(g, &n);
    cr_assert(le(sz, n.sources, 5));
    cr_assert(eq(sz, n.held, 0), "nothing failed");
    rl_gate_free(g);
}

/* The wiring's reads: membership without joining, the first deadline, a new leader's clear. */
Test(gate, member_deadline_and_clear)
{
    struct rl_gate *g = rl_gate_new(2, 60000, 10);
    struct rl_gate_info info;
    struct rl_gate_counts n;

    cr_assert(not(rl_gate_member(g, SRC, V1, "d/ns/a")), "nothing tracked yet");
    cr_assert(eq(int, check(g, V1, "d/ns/a", T0), ROLL));
    cr_assert(eq(int, check(g, V1, "d/ns/b", T0 + 500), ROLL));
    cr_assert(rl_gate_member(g, SRC, V1, "d/ns/a"));
    cr_assert(not(rl_gate_member(g, SRC, V1, "d/ns/c")));
    cr_assert(not(rl_gate_member(g, SRC, V2, "d/ns/a")), "another version");
    cr_assert(not(rl_gate_member(g, "configmap/ns/other", V1, "d/ns/a")));
    rl_gate_info(g, SRC, T0 + 1000, &info);
    cr_assert(eq(int, info.verdict, WAIT));
    cr_assert(eq(u64, info.deadline_ms, T0 + 60000), "the first member's deadline");
    /* The first RUNNING report restarts a's clock: b's deadline comes first now. */
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/a", RL_PROGRESS_RUNNING, T0 + 2000));
    rl_gate_info(g, SRC, T0 + 2000, &info);
    cr_assert(eq(u64, info.deadline_ms, T0 + 500 + 60000));
    cr_assert(rl_gate_report(g, SRC, V1, "d/ns/b", RL_PROGRESS_DONE, T0 + 3000));
    rl_gate_info(g, SRC, T0 + 3000, &info);
    cr_assert(eq(u64, info.deadline_ms, T0 + 2000 + 60000), "only running members count");
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 61000), WAIT));
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 62000), HOLD));
    rl_gate_clear(g);
    rl_gate_counts(g, &n);
    cr_assert(eq(sz, n.sources, 0));
    cr_assert(eq(u64, n.held_total, 1), "the counters stay");
    cr_assert(not(rl_gate_member(g, SRC, V1, "d/ns/a")));
    /* After a clear the version starts a first batch again: c is of it. */
    cr_assert(eq(int, check(g, V1, "d/ns/c", T0 + 63000), ROLL));
    cr_assert(rl_gate_member(g, SRC, V1, "d/ns/c"));
    rl_gate_free(g);
}
