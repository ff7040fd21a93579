/*
 * test_events.c - the Event bodies and messages Reloader records, and a
 * poster that never blocks its caller (loopback receiver as the API server)
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "http_sink.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/kube/kube.h"
#include "reloadd/ops/events.h"

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    curl_global_cleanup();
}

TestSuite(events, .init = setup, .fini = teardown, .timeout = 60);

static const struct rl_event reloaded = {
    .kind = RL_KIND_DEPLOYMENT,
    .ns = "ns",
    .name = "app",
    .uid = "u-1",
    .type = "Normal",
    .reason = "Reloaded",
    .message = "Changes detected in 'cm' of type 'CONFIGMAP' in namespace 'ns', "
               "Updated 'app' of type 'Deployment' in namespace 'ns'",
    .component = "reloader-configmaps",
};

Test(events, messages_are_reloaders)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_event_reloaded_message(&b, "cm", "CONFIGMAP", "ns", "app", "Deployment"), 0));
    cr_assert(eq(str, b.buf, (char *)reloaded.message));
    rl_buf_reset(&b);
    cr_assert(eq(int, rl_event_failed_message(&b, "app", "Rollout", "ns", "conflict (HTTP 409)"), 0));
    cr_assert(eq(str, b.buf, "Update for 'app' of type 'Rollout' in namespace 'ns' failed with "
                             "error conflict (HTTP 409)"));
    rl_buf_release(&b);
}

Test(events, body_is_a_core_v1_event_on_the_workload)
{
    struct rl_buf b;
    cJSON *j;
    struct rl_event ev = reloaded;

    rl_buf_init(&b, 0);
    /* 2026-11-25T19:22:12.5Z */
    cr_assert(eq(int, rl_event_body(&b, &ev, 1795634532500000LL), 0));
    j = cJSON_Parse(b.buf);
    cr_assert(ne(ptr, j, NULL), "%s", b.buf);
    cr_assert(eq(str, (char *)rl_json_str(j, "apiVersion"), "v1"));
    cr_assert(eq(str, (char *)rl_json_str(j, "kind"), "Event"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(j, "metadata"), "name"), "app.18eb6017f8164d00"),
              "%s", b.buf);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(j, "metadata"), "namespace"), "ns"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "involvedObject"), "kind"), "Deployment"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "involvedObject"), "apiVersion"), "apps/v1"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "involvedObject"), "uid"), "u-1"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "involvedObject"), "name"), "app"));
    cr_assert(eq(str, (char *)rl_json_str(j, "reason"), "Reloaded"));
    cr_assert(eq(str, (char *)rl_json_str(j, "type"), "Normal"));
    cr_assert(eq(str, (char *)rl_json_str(j, "message"), (char *)reloaded.message));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(j, "source"), "component"), "reloader-configmaps"));
    cr_assert(eq(str, (char *)rl_json_str(j, "reportingComponent"), "reloader-configmaps"));
    cr_assert(eq(str, (char *)rl_json_str(j, "firstTimestamp"), "2026-11-25T19:22:12Z"));
    cr_assert(eq(i64, rl_json_int(j, "count", 0), 1));
    cJSON_Delete(j);

    rl_buf_reset(&b);
    ev.kind = RL_KIND_ROLLOUT;
    ev.uid = NULL;
    cr_assert(eq(int, rl_event_body(&b, &ev, 1), 0));
    j = cJSON_Parse(b.buf);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "involvedObject"), "apiVersion"),
                 "argoproj.io/v1alpha1"));
    cr_assert(eq(ptr, (void *)rl_json_get(rl_json_path(j, "involvedObject"), "uid"), NULL));
    cJSON_Delete(j);
    ev.ns = NULL;
    cr_assert(eq(int, rl_event_body(&b, &ev, 1), RL_EINVAL));
    rl_buf_release(&b);
}

static struct rl_kube *client_for(struct http_sink *s)
{
    struct rl_kube_opts ko = { .request_timeout_ms = 500, .max_retries = 0 };

    return http_sink_kube(s, &ko);
}

static void wait_finished(struct rl_events *e, uint64_t n)
{
    struct rl_events_stats st;
    uint64_t until = rl_mono_ms() + 10000;

    do {
        rl_events_stats(e, &st);
        if (st.created + st.failed >= n)
            return;
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    } while (rl_mono_ms() < until);
    cr_assert(false, "events did not finish");
}

Test(events, posted_event_reaches_the_api_once)
{
    struct http_sink *s = http_sink_start();
    struct rl_kube *k = client_for(s);
    struct rl_events *e = rl_events_new(k, NULL, NULL);
    struct rl_events_stats st;
    struct http_sink_req r;
    cJSON *j;

    http_sink_respond(s, 201, "{}");
    rl_events_start(e);
    rl_events_post(e, &reloaded);
    wait_finished(e, 1);
    cr_assert(eq(sz, http_sink_count(s), 1));
    cr_assert(http_sink_request(s, 0, &r));
    cr_assert(eq(str, r.method, "POST"));
    cr_assert(eq(str, r.path, "/api/v1/namespaces/ns/events"));
    j = cJSON_Parse(r.body);
    cr_assert(eq(str, (char *)rl_json_str(j, "reason"), "Reloaded"));
    cJSON_Delete(j);
    http_sink_req_release(&r);
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.created, 1));
    rl_events_free(e);
    rl_kube_free(k);
    http_sink_stop(s);
}

Test(events, server_errors_retried_forbidden_not)
{
    struct http_sink *s = http_sink_start();
    struct rl_kube *k = client_for(s);
    struct rl_events_opts o = { .backoff_ms = 10 };
    struct rl_events *e = rl_events_new(k, NULL, &o);
    struct rl_events_stats st;

    http_sink_respond(s, 201, "{}");
    http_sink_fail_next(s, 2, 503);
    rl_events_start(e);
    rl_events_post(e, &reloaded);
    wait_finished(e, 1);
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.created, 1));
    cr_assert(eq(sz, http_sink_count(s), 3));
    http_sink_fail_next(s, 1, 403);
    rl_events_post(e, &reloaded);
    wait_finished(e, 2);
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.failed, 1));
    cr_assert(eq(sz, http_sink_count(s), 4));
    rl_events_free(e);
    rl_kube_free(k);
    http_sink_stop(s);
}

Test(events, a_hanging_api_never_blocks_post_and_the_queue_is_bounded)
{
    struct http_sink *s = http_sink_start();
    struct rl_kube *k = client_for(s);
    struct rl_events_opts o = { .queue_max = 4, .max_attempts = 1 };
    struct rl_events *e = rl_events_new(k, NULL, &o);
    struct rl_events_stats st;
    uint64_t t0, took;

    http_sink_hang(s, true);
    rl_events_start(e);
    rl_events_post(e, &reloaded);
    cr_assert(eq(sz, http_sink_wait(s, 1, 5000), 1));
    t0 = rl_mono_ms();
    for (int i = 0; i < 50; i++)
        rl_events_post(e, &reloaded);
    took = rl_mono_ms() - t0;
    cr_assert(lt(u64, took, 100), "posts took %llu ms", (unsigned long long)took);
    rl_events_stats(e, &st);
    cr_assert(eq(sz, st.queued, 4));
    cr_assert(eq(u64, st.dropped, 46));
    rl_events_stop(e, 0);
    rl_events_free(e);
    rl_kube_free(k);
    http_sink_stop(s);
}

/*
 * At 1 QPS with a burst of 2, one token is the foreground's reserve: after
 * two foreground requests an Event waits for the bucket to hold two tokens
 * again, is abandoned (not sent, counted dropped) by a stop meanwhile, and
 * is sent once the budget is back when nothing stops it.
 */
Test(events, events_use_only_the_spare_api_budget)
{
    struct http_sink *s = http_sink_start();
    struct rl_kube_opts ko = { .qps = 1, .burst = 2, .request_timeout_ms = 500, .max_retries = -1 };
    struct rl_kube *k = http_sink_kube(s, &ko);
    struct rl_events *e = rl_events_new(k, NULL, NULL);
    struct rl_kube_response resp;
    struct rl_events_stats st;
    struct timespec pause = { 0, 300 * 1000000L };
    uint64_t t0;

    http_sink_respond(s, 201, "{}");
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_get(k, "/api/v1/namespaces/a", &resp), 0));
    cr_assert(eq(int, rl_kube_get(k, "/api/v1/namespaces/b", &resp), 0));
    rl_events_start(e);
    rl_events_post(e, &reloaded);
    nanosleep(&pause, NULL);
    cr_assert(eq(sz, http_sink_count(s), 2), "the Event took the foreground's reserve");
    t0 = rl_mono_ms();
    rl_events_stop(e, 0);
    cr_assert(lt(u64, rl_mono_ms() - t0, 1000), "stop waited for the API budget");
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.dropped, 1));
    cr_assert(eq(u64, st.created, 0));
    rl_events_free(e);

    e = rl_events_new(k, NULL, NULL);
    rl_events_start(e);
    rl_events_post(e, &reloaded);
    wait_finished(e, 1);
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.created, 1));
    cr_assert(eq(sz, http_sink_count(s), 3));
    rl_events_free(e);
    rl_kube_response_release(&resp);
    rl_kube_free(k);
    http_sink_stop(s);
}

Test(events, repeated_warnings_are_recorded_once_per_interval)
{
    struct http_sink *s = http_sink_start();
    struct rl_kube *k = client_for(s);
    struct rl_events_opts o = { .warning_interval_ms = 60000 };
    struct rl_events *e = rl_events_new(k, NULL, &o);
    struct rl_event fail = reloaded;
    struct rl_events_stats st;

    fail.type = "Warning";
    fail.reason = "ReloadFail";
    fail.message = "Update for 'app' of type 'Deployment' in namespace 'ns' failed with error x";
    http_sink_respond(s, 201, "{}");
    rl_events_start(e);
    for (int i = 0; i < 5; i++)
        rl_events_post(e, &fail);
    rl_events_post(e, &reloaded);
    rl_events_post(e, &reloaded);
    fail.name = "other";
    rl_events_post(e, &fail);
    wait_finished(e, 4);
    rl_events_stats(e, &st);
    cr_assert(eq(u64, st.created, 4));
    cr_assert(eq(u64, st.suppressed, 4));
    cr_assert(eq(sz, http_sink_count(s), 4));
    rl_events_free(e);
    rl_kube_free(k);
    http_sink_stop(s);
}
