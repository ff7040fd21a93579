#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "fake_clock.h"
#include "testutil.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/kube/leader.h"

#define T0 1000000u             /* fake clocks start away from zero */
#define WALL0 INT64_C(1795000000000000) /* 2026-11-18T11:06:40Z, in µs */
#define ME "pod-a"
#define OTHER "pod-b"

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);

    cr_assert(j != NULL, "bad fixture %s", s);
    return j;
}

static void lease_of(struct rl_lease *l, const char *json)
{
    cJSON *j = parse(json);

    cr_assert(eq(int, rl_lease_from_json(l, j), 0), "cannot read %s", json);
    cJSON_Delete(j);
}

/* A record as a holder's renewal writes it. */
static void record(struct rl_lease *l, const char *holder, int dur, const char *renew, int trans)
{
    char buf[512];

    snprintf(buf, sizeof(buf),
             "{\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%d,"
             "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\",\"renewTime\":\"%s\","
             "\"leaseTransitions\":%d}}",
             holder, dur, renew, trans);
    lease_of(l, buf);
}

/* ---- the record ---- */

Test(lease, reads_every_spec_field)
{
    struct rl_lease l = RL_LEASE_INIT;

    lease_of(&l, "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"holderIdentity\":\"pod-b\","
                 "\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","
                 "\"renewTime\":\"2026-01-01T00:00:10.500000Z\",\"leaseTransitions\":7,"
                 "\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-c\"}}");
    cr_assert(eq(str, l.holder, "pod-b"));
    cr_assert(eq(i64, l.duration_s, 15));
    cr_assert(eq(str, l.acquire_time, "2026-01-01T00:00:00.000000Z"));
    cr_assert(eq(str, l.renew_time, "2026-01-01T00:00:10.500000Z"));
    cr_assert(eq(i64, l.transitions, 7));
    cr_assert(eq(str, l.strategy, "OldestEmulationVersion"));
    cr_assert(eq(str, l.preferred_holder, "pod-c"));
    cr_assert(rl_lease_held_by(&l, "pod-b"));
    cr_assert(not(rl_lease_held_by(&l, "pod-a")));
    cr_assert(not(rl_lease_is_free(&l)));
    rl_lease_release(&l);
    cr_assert(l.holder == NULL && l.renew_time == NULL);
}

Test(lease, missing_spec_or_fields_are_a_free_lease)
{
    struct rl_lease l = RL_LEASE_INIT;

    lease_of(&l, "{\"metadata\":{\"name\":\"x\"}}");
    cr_assert(rl_lease_is_free(&l));
    cr_assert(eq(i64, l.duration_s, 0));
    lease_of(&l, "{\"spec\":{\"holderIdentity\":null,\"renewTime\":null}}");
    cr_assert(rl_lease_is_free(&l));
    cr_assert(l.renew_time == NULL);
    lease_of(&l, "{\"spec\":{\"holderIdentity\":\"\"}}");
    cr_assert(rl_lease_is_free(&l));
    cr_assert(not(rl_lease_held_by(&l, "")));
    rl_lease_release(&l);
}

Test(lease, wrong_types_are_rejected)
{
    static const char *bad[] = {
        "[]",
        "{\"spec\":[]}",
        "{\"spec\":{\"holderIdentity\":5}}",
        "{\"spec\":{\"leaseDurationSeconds\":\"15\"}}",
        "{\"spec\":{\"leaseDurationSeconds\":1.5}}",
        "{\"spec\":{\"leaseTransitions\":3000000000}}",
        "{\"spec\":{\"renewTime\":true}}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rl_lease l = RL_LEASE_INIT;
        cJSON *j = parse(bad[i]);

        cr_assert(eq(int, rl_lease_from_json(&l, j), RL_EPARSE), "%s", bad[i]);
        cr_assert(l.holder == NULL);
        cJSON_Delete(j);
    }
    {
        struct rl_lease l = RL_LEASE_INIT;

        cr_assert(eq(int, rl_lease_from_json(&l, NULL), RL_EPARSE));
    }
}

Test(lease, same_record_compares_every_field)
{
    static const char *variants[] = {
        "{\"spec\":{\"holderIdentity\":\"b\"}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":16}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"acquireTime\":\"2026-01-01T00:00:00.000001Z\"}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"renewTime\":\"2026-01-01T00:00:00.000001Z\"}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"leaseTransitions\":1}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"strategy\":\"s\"}}",
        "{\"spec\":{\"holderIdentity\":\"a\",\"preferredHolder\":\"p\"}}",
    };
    struct rl_lease base = RL_LEASE_INIT, copy = RL_LEASE_INIT, empty1 = RL_LEASE_INIT,
                    empty2 = RL_LEASE_INIT;

    lease_of(&base, "{\"spec\":{\"holderIdentity\":\"a\"}}");
    rl_lease_copy(&copy, &base);
    cr_assert(rl_lease_same_record(&base, &copy));
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct rl_lease v = RL_LEASE_INIT;

        lease_of(&v, variants[i]);
        cr_assert(not(rl_lease_same_record(&base, &v)), "%s", variants[i]);
        rl_lease_release(&v);
    }
    /* An absent holder and an empty one are the same record (client-go). */
    lease_of(&empty1, "{\"spec\":{}}");
    lease_of(&empty2, "{\"spec\":{\"holderIdentity\":\"\"}}");
    cr_assert(rl_lease_same_record(&empty1, &empty2));
    rl_lease_release(&base);
    rl_lease_release(&copy);
    rl_lease_release(&empty1);
    rl_lease_release(&empty2);
}

/* ---- the decision ---- */

Test(decide, held_by_other_and_fresh_waits_until_unchanged_for_the_duration)
{
    struct rl_lease_view v = RL_LEASE_VIEW_INIT;
    struct rl_lease cur = RL_LEASE_INIT;

    /* renewTime is long past by any wall clock: it must not matter. */
    record(&cur, OTHER, 15, "2001-01-01T00:00:00.000000Z", 3);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0), RL_LEASE_WAIT));
    cr_assert(eq(u64, v.seen_at_ms, T0));
    cr_assert(eq(u64, rl_lease_view_expiry_ms(&v), T0 + 15000));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 14999), RL_LEASE_WAIT));
    cr_assert(eq(u64, v.seen_at_ms, T0), "an unchanged record must not reset the timer");
    /* Expired: unchanged for leaseDurationSeconds on our monotonic clock. */
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 15000), RL_LEASE_ACQUIRE));
    rl_lease_release(&cur);
    rl_lease_view_release(&v);
}

Test(decide, a_changed_record_resets_the_timer)
{
    struct rl_lease_view v = RL_LEASE_VIEW_INIT;
    struct rl_lease cur = RL_LEASE_INIT;

    record(&cur, OTHER, 15, "2026-01-01T00:00:00.000000Z", 3);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0), RL_LEASE_WAIT));

    /* The holder renews at +10 s: the lease is good until +25 s. */
    record(&cur, OTHER, 15, "2026-01-01T00:00:10.000000Z", 3);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 10000), RL_LEASE_WAIT));
    cr_assert(eq(u64, v.seen_at_ms, T0 + 10000));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 15000), RL_LEASE_WAIT));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 24999), RL_LEASE_WAIT));

    /* Any field counts as a change, even with the same renewTime. */
    record(&cur, OTHER, 15, "2026-01-01T00:00:10.000000Z", 4);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 24999), RL_LEASE_WAIT));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 39998), RL_LEASE_WAIT));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 39999), RL_LEASE_ACQUIRE));

    /* The duration judged is the record's, not ours. */
    record(&cur, OTHER, 40, "2026-01-01T00:00:50.000000Z", 4);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 50000), RL_LEASE_WAIT));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 89999), RL_LEASE_WAIT));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 90000), RL_LEASE_ACQUIRE));
    rl_lease_release(&cur);
    rl_lease_view_release(&v);
}

Test(decide, held_by_self_renews)
{
    struct rl_lease_view v = RL_LEASE_VIEW_INIT;
    struct rl_lease cur = RL_LEASE_INIT;

    record(&cur, ME, 15, "2026-01-01T00:00:00.000000Z", 0);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0), RL_LEASE_RENEW));
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 100000), RL_LEASE_RENEW));
    /* The other replica sees the same record as someone else's. */
    cr_assert(eq(int, rl_lease_decide(&v, &cur, OTHER, T0 + 100000), RL_LEASE_ACQUIRE));
    rl_lease_release(&cur);
    rl_lease_view_release(&v);
}

Test(decide, released_or_empty_is_acquired_at_once)
{
    struct rl_lease_view v = RL_LEASE_VIEW_INIT;
    struct rl_lease cur = RL_LEASE_INIT;

    record(&cur, OTHER, 15, "2026-01-01T00:00:00.000000Z", 2);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0), RL_LEASE_WAIT));
    /* Released the client-go way: holder "", leaseDurationSeconds 1. */
    record(&cur, "", 1, "2026-01-01T00:00:01.000000Z", 2);
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 1), RL_LEASE_ACQUIRE));
    lease_of(&cur, "{\"spec\":{}}");
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 2), RL_LEASE_ACQUIRE));
    /* A holder without a duration is never valid (client-go). */
    lease_of(&cur, "{\"spec\":{\"holderIdentity\":\"pod-b\"}}");
    cr_assert(eq(int, rl_lease_decide(&v, &cur, ME, T0 + 3), RL_LEASE_ACQUIRE));
    rl_lease_release(&cur);
    rl_lease_view_release(&v);
}

/* ---- the records we write ---- */

Test(next, takeover_counts_a_transition_and_sets_acquire_time)
{
    struct rl_lease cur = RL_LEASE_INIT, next = RL_LEASE_INIT;

    lease_of(&cur, "{\"spec\":{\"holderIdentity\":\"pod-b\",\"leaseDurationSeconds\":15,"
                   "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","
                   "\"renewTime\":\"2026-01-01T00:00:10.000000Z\",\"leaseTransitions\":4,"
                   "\"preferredHolder\":\"pod-c\"}}");
    rl_lease_next(&next, &cur, RL_LEASE_ACQUIRE, ME, 3, WALL0 + 123456);
    cr_assert(eq(str, next.holder, ME));
    cr_assert(eq(i64, next.duration_s, 3));
    cr_assert(eq(i64, next.transitions, 5));
    cr_assert(eq(str, next.acquire_time, "2026-11-18T11:06:40.123456Z"));
    cr_assert(eq(str, next.renew_time, next.acquire_time));
    cr_assert(eq(str, next.preferred_holder, "pod-c"), "unknown fields are carried over");
    cr_assert(not(rl_lease_same_record(&cur, &next)));
    rl_lease_release(&next);
    rl_lease_release(&cur);
}

Test(next, renewal_keeps_acquire_time_and_transitions)
{
    struct rl_lease cur = RL_LEASE_INIT, next = RL_LEASE_INIT;

    record(&cur, ME, 15, "2026-01-01T00:00:10.000000Z", 4);
    rl_lease_next(&next, &cur, RL_LEASE_RENEW, ME, 15, WALL0);
    cr_assert(eq(str, next.holder, ME));
    cr_assert(eq(i64, next.transitions, 4));
    cr_assert(eq(str, next.acquire_time, "2026-01-01T00:00:00.000000Z"));
    cr_assert(eq(str, next.renew_time, "2026-11-18T11:06:40.000000Z"));
    rl_lease_release(&next);
    rl_lease_release(&cur);
}

Test(next, create_starts_at_zero_transitions)
{
    struct rl_lease next = RL_LEASE_INIT;

    rl_lease_next(&next, NULL, RL_LEASE_ACQUIRE, ME, 15, WALL0 + 5);
    cr_assert(eq(i64, next.transitions, 0));
    cr_assert(eq(str, next.acquire_time, "2026-11-18T11:06:40.000005Z"));
    cr_assert(test_is_micro_time(next.renew_time));
    rl_lease_release(&next);
}

Test(next, release_clears_the_holder_like_client_go)
{
    struct rl_lease cur = RL_LEASE_INIT, next = RL_LEASE_INIT;

    record(&cur, ME, 15, "2026-01-01T00:00:10.000000Z", 9);
    rl_lease_released(&next, &cur, WALL0);
    cr_assert(rl_lease_is_free(&next));
    cr_assert(eq(str, next.holder, ""));
    cr_assert(eq(i64, next.duration_s, 1));
    cr_assert(eq(i64, next.transitions, 9));
    cr_assert(eq(str, next.renew_time, "2026-11-18T11:06:40.000000Z"));
    rl_lease_release(&next);
    rl_lease_release(&cur);
}

Test(body, put_keeps_metadata_and_writes_micro_times)
{
    cJSON *base = parse("{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                        "\"metadata\":{\"name\":\"lock\",\"namespace\":\"ns\","
                        "\"resourceVersion\":\"4711\",\"labels\":{\"a\":\"b\"}},"
                        "\"spec\":{\"holderIdentity\":\"pod-b\",\"leaseDurationSeconds\":15,"
                        "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","
                        "\"renewTime\":\"2026-01-01T00:00:01.000000Z\",\"leaseTransitions\":1,"
                        "\"strategy\":\"OldestEmulationVersion\"}}");
    struct rl_lease cur = RL_LEASE_INIT, next = RL_LEASE_INIT, back = RL_LEASE_INIT;
    char *body;
    cJSON *out;

    cr_assert(eq(int, rl_lease_from_json(&cur, base), 0));
    rl_lease_next(&next, &cur, RL_LEASE_ACQUIRE, ME, 15, WALL0 + 1);
    body = rl_lease_body(base, &next, "ns", "lock");
    out = parse(body);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "metadata"), "resourceVersion"),
                 "4711"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(out, "metadata.labels"), "a"), "b"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "spec"), "renewTime"),
                 "2026-11-18T11:06:40.000001Z"));
    cr_assert(test_is_micro_time(rl_json_str(rl_json_obj(out, "spec"), "acquireTime")));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "spec"), "strategy"),
                 "OldestEmulationVersion"));
    cr_assert(eq(int, rl_lease_from_json(&back, out), 0));
    cr_assert(rl_lease_same_record(&back, &next), "the body carries exactly the record");
    cJSON_Delete(out);
    free(body);

    /* The release writes an explicit empty holder. */
    rl_lease_released(&next, &cur, WALL0);
    body = rl_lease_body(base, &next, "ns", "lock");
    out = parse(body);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "spec"), "holderIdentity"), ""));
    cr_assert(eq(i64, rl_json_int(rl_json_obj(out, "spec"), "leaseDurationSeconds", 0), 1));
    cr_assert(eq(i64, rl_json_int(rl_json_obj(out, "spec"), "leaseTransitions", -1), 1));
    cJSON_Delete(out);
    free(body);

    rl_lease_release(&back);
    rl_lease_release(&next);
    rl_lease_release(&cur);
    cJSON_Delete(base);
}

Test(body, create_names_the_lease)
{
    struct rl_lease next = RL_LEASE_INIT;
    char *body;
    cJSON *out;

    rl_lease_next(&next, NULL, RL_LEASE_ACQUIRE, "pod \"quoted\"", 15, WALL0);
    body = rl_lease_body(NULL, &next, "reloadd", "stakater-reloader-lock");
    out = parse(body);
    cr_assert(eq(str, (char *)rl_json_str(out, "apiVersion"), "coordination.k8s.io/v1"));
    cr_assert(eq(str, (char *)rl_json_str(out, "kind"), "Lease"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "metadata"), "name"),
                 "stakater-reloader-lock"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "metadata"), "namespace"), "reloadd"));
    cr_assert(rl_json_str(rl_json_obj(out, "metadata"), "resourceVersion") == NULL);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(out, "spec"), "holderIdentity"),
                 "pod \"quoted\""));
    cr_assert(eq(i64, rl_json_int(rl_json_obj(out, "spec"), "leaseTransitions", -1), 0));
    cJSON_Delete(out);
    free(body);
    rl_lease_release(&next);
}

Test(micro_time, exactly_six_fractional_digits)
{
    char out[32];
    int64_t us;

    rl_format_micro_time(0, out);
    cr_assert(eq(str, out, "1970-01-01T00:00:00.000000Z"));
    rl_format_micro_time(WALL0 + 120, out);
    cr_assert(eq(str, out, "2026-11-18T11:06:40.000120Z"));
    rl_format_micro_time(WALL0 + 999999, out);
    cr_assert(eq(str, out, "2026-11-18T11:06:40.999999Z"));
    cr_assert(test_is_micro_time(out));
    cr_assert(eq(int, rl_parse_rfc3339(out, &us), 0));
    cr_assert(eq(i64, us, WALL0 + 999999));
}

/* ---- leadership and the fence ---- */

Test(fence, renew_deadline_counts_from_the_start_of_the_renewal)
{
    struct fake_clock fc;
    struct rl_lead_state s = { false, 0 };
    uint64_t start;

    fake_clock_init(&fc, T0, WALL0);
    cr_assert(not(rl_lead_may_write(&s, T0)));

    /* An acquisition that took 200 ms: the fence is start + 10 s. */
    start = rl_clock_mono_ms(&fc.clock);
    fake_clock_advance(&fc, 200);
    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, start, rl_clock_mono_ms(&fc.clock),
                                            10000),
                 RL_LEAD_STARTED));
    cr_assert(eq(u64, s.fence_until_ms, T0 + 10000));
    cr_assert(rl_lead_may_write(&s, rl_clock_mono_ms(&fc.clock)));

    /* Renewals fail from here on (API unreachable), each without effect... */
    for (int i = 0; i < 4; i++) {
        fake_clock_advance(&fc, 2000);
        cr_assert(eq(int, rl_lead_after_attempt(&s, false, false, rl_clock_mono_ms(&fc.clock),
                                                rl_clock_mono_ms(&fc.clock), 10000),
                     RL_LEAD_NONE));
        cr_assert(eq(int, rl_lead_check(&s, rl_clock_mono_ms(&fc.clock)), RL_LEAD_NONE));
        cr_assert(rl_lead_may_write(&s, rl_clock_mono_ms(&fc.clock)));
    }
    /* ...until the deadline, to the millisecond. */
    fake_clock_advance(&fc, 1799);
    cr_assert(eq(u64, rl_clock_mono_ms(&fc.clock), T0 + 9999));
    cr_assert(rl_lead_may_write(&s, rl_clock_mono_ms(&fc.clock)));
    fake_clock_advance(&fc, 1);
    cr_assert(not(rl_lead_may_write(&s, rl_clock_mono_ms(&fc.clock))));
    cr_assert(eq(int, rl_lead_check(&s, rl_clock_mono_ms(&fc.clock)), RL_LEAD_STOPPED));
    cr_assert(not(s.leader));
    cr_assert(eq(int, rl_lead_check(&s, rl_clock_mono_ms(&fc.clock)), RL_LEAD_NONE),
              "stopped once");
}

Test(fence, successful_renewals_move_the_fence)
{
    struct rl_lead_state s = { false, 0 };

    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0, T0 + 10, 10000),
                 RL_LEAD_STARTED));
    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0 + 2000, T0 + 2010, 10000),
                 RL_LEAD_NONE));
    cr_assert(eq(u64, s.fence_until_ms, T0 + 12000));
    cr_assert(rl_lead_may_write(&s, T0 + 11999));
    /* A failure before the fence keeps us leader; one after it does not. */
    cr_assert(eq(int, rl_lead_after_attempt(&s, false, false, T0 + 4000, T0 + 11999, 10000),
                 RL_LEAD_NONE));
    cr_assert(eq(int, rl_lead_after_attempt(&s, false, false, T0 + 6000, T0 + 12000, 10000),
                 RL_LEAD_STOPPED));
    cr_assert(not(rl_lead_may_write(&s, T0 + 12000)));
}

Test(fence, lost_lease_steps_down_at_once)
{
    struct rl_lead_state s = { false, 0 };

    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0, T0, 10000), RL_LEAD_STARTED));
    cr_assert(eq(int, rl_lead_after_attempt(&s, false, true, T0 + 2000, T0 + 2001, 10000),
                 RL_LEAD_STOPPED));
    cr_assert(not(rl_lead_may_write(&s, T0 + 2001)));
    /* A follower losing a race is no event. */
    cr_assert(eq(int, rl_lead_after_attempt(&s, false, true, T0 + 4000, T0 + 4001, 10000),
                 RL_LEAD_NONE));
}

Test(fence, a_success_that_comes_back_after_the_deadline_does_not_count)
{
    struct rl_lead_state s = { false, 0 };

    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0, T0 + 10000, 10000),
                 RL_LEAD_NONE));
    cr_assert(not(s.leader));
    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0 + 20000, T0 + 20001, 10000),
                 RL_LEAD_STARTED));
    cr_assert(eq(int, rl_lead_after_attempt(&s, true, false, T0 + 22000, T0 + 32000, 10000),
                 RL_LEAD_STOPPED));
    cr_assert(not(rl_lead_may_write(&s, T0 + 32000)));
}

/* ---- the elector object, with a client that reaches nothing ---- */

static char kc_path[64];
static struct rl_kube *kube;
static atomic_int requests;

static void count_request(void *ctx, const char *verb, const char *resource, long status,
                          double seconds)
{
    atomic_fetch_add(&requests, 1);
}

/* A real API client pointed at a closed loopback port: every call fails. */
static void setup_kube(void)
{
    static const char yaml[] =
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n- name: u\n  user:\n    token: t\n"
        "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
        "current-context: x\n";
    struct rl_kube_opts ko = { .qps = 0, .max_retries = -1, .connect_timeout_ms = 500,
                               .request_timeout_ms = 1000 };
    struct rl_kubeconfig *cfg = NULL;
    char err[256] = "";
    int fd;
    FILE *f;

    strlcpy(kc_path, "/tmp/test_leader_kc.XXXXXX", sizeof(kc_path));
    fd = mkstemp(kc_path);
    cr_assert(fd >= 0);
    f = fdopen(fd, "w");
    cr_assert(f != NULL);
    fputs(yaml, f);
    fclose(f);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, kc_path, NULL, err, sizeof(err)), 0), "%s", err);
    kube = rl_kube_new(cfg, &ko, rl_clock_system());
    cr_assert(kube != NULL);
    atomic_store(&requests, 0);
    rl_kube_set_observer(kube, count_request, NULL);
}

static void teardown_kube(void)
{
    rl_kube_free(kube);
    unlink(kc_path);
}

TestSuite(elector, .init = setup_kube, .fini = teardown_kube);

static struct rl_elector_opts good_opts(void)
{
    struct rl_elector_opts o = {
        .namespace_ = "reloadd",
        .name = "stakater-reloader-lock",
        .identity = ME,
        .lease_duration_ms = 3000,
        .renew_deadline_ms = 2000,
        .retry_period_ms = 500,
    };
    return o;
}

Test(elector, options_are_validated_with_a_message)
{
    struct {
        const char *ns, *name, *identity;
        uint64_t lease, renew, retry;
        const char *msg;
    } bad[] = {
        { "", "lock", ME, 0, 0, 0, "namespace" },
        { "Bad_NS", "lock", ME, 0, 0, 0, "namespace" },
        { "ns", "-lock", ME, 0, 0, 0, "name" },
        { "ns", "lock/x", ME, 0, 0, 0, "name" },
        { "ns", "lock", "", 0, 0, 0, "identity" },
        { "ns", "lock", NULL, 0, 0, 0, "identity" },
        { "ns", "lock", ME, 10000, 10000, 0, "greater than renew" },
        { "ns", "lock", ME, 15000, 2400, 2000, "1.2" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rl_elector_opts o = good_opts();
        struct rl_elector *el = (struct rl_elector *)1;
        char err[128] = "";

        o.namespace_ = bad[i].ns;
        o.name = bad[i].name;
        o.identity = bad[i].identity;
        o.lease_duration_ms = bad[i].lease;
        o.renew_deadline_ms = bad[i].renew;
        o.retry_period_ms = bad[i].retry;
        cr_assert(eq(int, rl_elector_new(&el, kube, rl_clock_system(), &o, err, sizeof(err)),
                     RL_EINVAL), "case %zu", i);
        cr_assert(el == NULL);
        cr_assert(strstr(err, bad[i].msg) != NULL, "case %zu: '%s'", i, err);
    }
}

Test(elector, idle_elector_never_writes_and_releases_nothing)
{
    struct rl_elector_opts o = good_opts();
    struct rl_elector *el;
    char err[128];

    cr_assert(eq(int, rl_elector_new(&el, kube, rl_clock_system(), &o, err, sizeof(err)), 0));
    cr_assert(eq(str, (char *)rl_elector_identity(el), ME));
    cr_assert(not(rl_elector_may_write(el)));
    cr_assert(not(rl_elector_is_leader(el)));
    cr_assert(eq(u64, rl_elector_transitions(el), 0));
    cr_assert(eq(u64, rl_elector_acquired_at_ms(el), 0));
    /* Never started and never saw the Lease: nothing to release, no request. */
    cr_assert(eq(int, rl_elector_resign(el), 0));
    cr_assert(eq(int, rl_elector_resign(el), 0));
    cr_assert(eq(int, atomic_load(&requests), 0));
    rl_elector_stop(el);
    rl_elector_free(el);
    rl_elector_free(NULL);
}

Test(elector, observe_checks_what_it_is_given)
{
    struct rl_elector_opts o = good_opts();
    struct rl_elector *el;
    cJSON *other = parse("{\"metadata\":{\"name\":\"other\",\"namespace\":\"reloadd\"},"
                         "\"spec\":{\"holderIdentity\":5}}");
    cJSON *bad = parse("{\"metadata\":{\"name\":\"stakater-reloader-lock\"},"
                       "\"spec\":{\"holderIdentity\":5}}");
    cJSON *noname = parse("{\"spec\":{}}");
    cJSON *arr = parse("[1]");
    char err[128];

    cr_assert(eq(int, rl_elector_new(&el, kube, rl_clock_system(), &o, err, sizeof(err)), 0));
    cr_assert(eq(int, rl_elector_observe(el, other), 0), "another Lease is ignored");
    cr_assert(eq(int, rl_elector_observe(el, bad), RL_EPARSE));
    cr_assert(eq(int, rl_elector_observe(el, noname), RL_EPARSE));
    cr_assert(eq(int, rl_elector_observe(el, arr), RL_EPARSE));
    cr_assert(eq(int, rl_elector_observe(el, NULL), 0));
    rl_elector_free(el);
    cJSON_Delete(other);
    cJSON_Delete(bad);
    cJSON_Delete(noname);
    cJSON_Delete(arr);
}

static void wait_requests_settle(int *out)
{
    int last = -1;

    /*
     * Settled: no new request for 700 ms. The fake clock holds the next
     * round back; a round already scheduled runs within one retry period.
     */
    for (int i = 0; i < 100; i++) {
        int n = atomic_load(&requests);

        if (n == last && n > 0)
            break;
        last = n;
        usleep(700 * 1000);
    }
    *out = last;
}

static void wait_requests_above(int n)
{
    for (int i = 0; i < 200 && atomic_load(&requests) <= n; i++)
        usleep(20 * 1000);
}

/*
 * The elector thread against an unreachable API: it stays a follower, and
 * on a frozen fake clock it makes another attempt only when observe()
 * reports a Lease that is free, never for one a live leader holds.
 */
Test(elector, observe_wakes_a_follower_only_for_a_free_lease)
{
    struct rl_elector_opts o = good_opts();
    struct fake_clock fc;
    struct rl_elector *el;
    cJSON *held = parse("{\"metadata\":{\"name\":\"stakater-reloader-lock\","
                        "\"namespace\":\"reloadd\"},\"spec\":{\"holderIdentity\":\"pod-b\","
                        "\"leaseDurationSeconds\":3,\"renewTime\":\"2026-01-01T00:00:00.000000Z\"}}");
    cJSON *freed = parse("{\"metadata\":{\"name\":\"stakater-reloader-lock\","
                         "\"namespace\":\"reloadd\"},\"spec\":{\"holderIdentity\":\"\","
                         "\"leaseDurationSeconds\":1}}");
    char err[128];
    int n0, n1, n2;

    fake_clock_init(&fc, T0, WALL0);
    cr_assert(eq(int, rl_elector_new(&el, kube, &fc.clock, &o, err, sizeof(err)), 0));
    rl_elector_start(el);
    wait_requests_settle(&n0);
    cr_assert(n0 > 0, "the first round makes a request");
    cr_assert(not(rl_elector_may_write(el)));

    cr_assert(eq(int, rl_elector_observe(el, held), 0));
    wait_requests_settle(&n1);
    cr_assert(eq(int, n1, n0), "a live leader's Lease does not wake the follower");

    cr_assert(eq(int, rl_elector_observe(el, freed), 0));
    wait_requests_above(n1);
    wait_requests_settle(&n2);
    cr_assert(n2 > n1, "a released Lease wakes the follower at once");

    /* Held unchanged for its 3 s on our clock: expired, which wakes it too. */
    cr_assert(eq(int, rl_elector_observe(el, held), 0));
    wait_requests_settle(&n1);
    fake_clock_advance(&fc, 3000);
    wait_requests_settle(&n1);          /* the round that was due has run */
    cr_assert(eq(int, rl_elector_observe(el, held), 0));
    wait_requests_above(n1);
    cr_assert(atomic_load(&requests) > n1);

    cr_assert(not(rl_elector_is_leader(el)));
    cr_assert(eq(u64, rl_elector_transitions(el), 0));
    rl_elector_stop(el);
    cr_assert(not(rl_elector_may_write(el)));
    rl_elector_free(el);
    cJSON_Delete(held);
    cJSON_Delete(freed);
}
