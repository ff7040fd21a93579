/*
 * test_alerts.c - Reloader's alert payloads byte for byte, and a sender
 * that never blocks its caller, against a loopback receiver
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http_sink.h"
#include "testutil.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/ops/alerts.h"

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    curl_global_cleanup();
}

TestSuite(alerts, .init = setup, .fini = teardown, .timeout = 60);

static char *body_of(enum rl_alert_sink sink, const char *msg, const char **ct)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_alert_body(&b, sink, msg, ct), 0));
    return rl_buf_detach(&b);
}

Test(alerts, message_is_reloaders_with_optional_prefix)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_alert_message(&b, NULL, "cm", "CONFIGMAP", "ns", "app", "Deployment"), 0));
    cr_assert(eq(str, b.buf, "Reloader detected changes in *cm* of type *CONFIGMAP* in namespace "
                             "*ns*. Hence reloaded *app* of type *Deployment* in namespace *ns*"));
    rl_buf_reset(&b);
    cr_assert(eq(int, rl_alert_message(&b, "prod-eu", "s", "SECRET", "n", "w", "StatefulSet"), 0));
    cr_assert(eq(str, b.buf, "prod-eu : Reloader detected changes in *s* of type *SECRET* in "
                             "namespace *n*. Hence reloaded *w* of type *StatefulSet* in "
                             "namespace *n*"));
    rl_buf_reset(&b);
    /* Present but empty still prefixes, as os.LookupEnv does. */
    cr_assert(eq(int, rl_alert_message(&b, "", "a", "CONFIGMAP", "n", "w", "Job"), 0));
    cr_assert(eq(int, strncmp(b.buf, " : Reloader", 11), 0), "%s", b.buf);
    rl_buf_release(&b);
}

Test(alerts, payload_per_sink)
{
    const char *ct;
    char *s;

    s = body_of(RL_SINK_SLACK, "hi *x*", &ct);
    cr_assert(eq(str, s, "{\"attachments\":[{\"author_name\":\"Reloader\",\"color\":\"good\","
                         "\"text\":\"hi *x*\"}]}"));
    cr_assert(eq(str, (char *)ct, "application/json"));
    free(s);
    s = body_of(RL_SINK_TEAMS, "hi *x*", &ct);
    cr_assert(eq(str, s, "{\"text\":\"hi *x*\"}"));
    free(s);
    s = body_of(RL_SINK_GCHAT, "hi *x*", &ct);
    cr_assert(eq(str, s, "{\"text\":\"hi *x*\"}"));
    cr_assert(eq(str, (char *)ct, "application/json"));
    free(s);
    s = body_of(RL_SINK_RAW, "hi *x* **", &ct);
    cr_assert(eq(str, s, "hi x "));
    cr_assert(eq(str, (char *)ct, "text/plain"));
    free(s);
    s = body_of(RL_SINK_WEBHOOK, "ignored", &ct);
    cr_assert(eq(str, s, "{\"webhook\":\"update successful\"}"));
    cr_assert(eq(str, (char *)ct, "application/json"));
    free(s);
}

Test(alerts, json_escaping_is_gos)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_buf_add_json_str(&b, "a<b>&\"c\\\n\t\x01 \xe2\x80\xa8 \xc3\xa9 \xff!"), 0));
    cr_assert(eq(str, b.buf, "\"a\\u003cb\\u003e\\u0026\\\"c\\\\\\n\\t\\u0001 \\u2028 \xc3\xa9 "
                             "\\ufffd!\""));
    rl_buf_release(&b);
}

Test(alerts, sink_names_and_success_rules)
{
    cr_assert(eq(int, rl_alert_sink_parse("slack"), RL_SINK_SLACK));
    cr_assert(eq(int, rl_alert_sink_parse("teams"), RL_SINK_TEAMS));
    cr_assert(eq(int, rl_alert_sink_parse("gchat"), RL_SINK_GCHAT));
    cr_assert(eq(int, rl_alert_sink_parse("webhook"), RL_SINK_RAW));
    cr_assert(eq(int, rl_alert_sink_parse(NULL), RL_SINK_RAW));
    cr_assert(rl_alert_status_ok(RL_SINK_SLACK, 204));
    cr_assert(not(rl_alert_status_ok(RL_SINK_SLACK, 302)));
    cr_assert(not(rl_alert_status_ok(RL_SINK_SLACK, 400)));
    cr_assert(rl_alert_status_ok(RL_SINK_TEAMS, 200));
    cr_assert(not(rl_alert_status_ok(RL_SINK_TEAMS, 202)));
    cr_assert(not(rl_alert_status_ok(RL_SINK_GCHAT, 201)));
    cr_assert(not(rl_alert_status_ok(RL_SINK_WEBHOOK, 500)));
}

Test(alerts, bad_url_is_refused)
{
    struct rl_alerts *a = NULL;
    struct rl_alerts_opts o = { .url = "ftp://x", .sink = RL_SINK_SLACK };

    cr_assert(eq(int, rl_alerts_new(&a, &o), RL_EINVAL));
    o.url = NULL;
    cr_assert(eq(int, rl_alerts_new(&a, &o), RL_EINVAL));
    cr_assert(eq(ptr, a, NULL));
}

static struct rl_alerts *sender(struct http_sink *s, enum rl_alert_sink sink, long timeout_ms,
                                size_t qmax)
{
    struct rl_alerts *a = NULL;
    struct rl_alerts_opts o = {
        .url = http_sink_url(s),
        .sink = sink,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = 1000,
        .backoff_ms = 20,
        .max_attempts = 3,
        .queue_max = qmax,
    };

    cr_assert(eq(int, rl_alerts_new(&a, &o), 0));
    cr_assert(eq(int, rl_alerts_start(a), 0));
    return a;
}

static void wait_done(struct rl_alerts *a, uint64_t n)
{
    struct rl_alerts_stats st;
    uint64_t until = rl_mono_ms() + 10000;

    do {
        rl_alerts_stats(a, &st);
        if (st.sent + st.failed >= n)
            return;
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    } while (rl_mono_ms() < until);
    cr_assert(false, "only %llu of %llu notifications finished",
                   (unsigned long long)(st.sent + st.failed), (unsigned long long)n);
}

Test(alerts, receiver_gets_the_exact_payload_per_sink)
{
    static const struct {
        enum rl_alert_sink sink;
        const char *ctype, *body;
    } cases[] = {
        { RL_SINK_SLACK, "application/json",
          "{\"attachments\":[{\"author_name\":\"Reloader\",\"color\":\"good\",\"text\":\"m *a* \\u003c\"}]}" },
        { RL_SINK_TEAMS, "application/json", "{\"text\":\"m *a* \\u003c\"}" },
        { RL_SINK_GCHAT, "application/json", "{\"text\":\"m *a* \\u003c\"}" },
        { RL_SINK_RAW, "text/plain", "m a <" },
        { RL_SINK_WEBHOOK, "application/json", "{\"webhook\":\"update successful\"}" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_sink *s = http_sink_start();
        struct rl_alerts *a = sender(s, cases[i].sink, 5000, 0);
        struct http_sink_req r;
        struct rl_alerts_stats st;

        rl_alerts_post(a, "m *a* <", "test");
        wait_done(a, 1);
        cr_assert(http_sink_request(s, 0, &r));
        cr_assert(eq(str, r.method, "POST"));
        cr_assert(eq(str, r.content_type, (char *)cases[i].ctype));
        cr_assert(eq(str, r.body, (char *)cases[i].body));
        http_sink_req_release(&r);
        rl_alerts_stats(a, &st);
        cr_assert(eq(u64, st.sent, 1));
        cr_assert(eq(u64, st.retries, 0));
        rl_alerts_free(a);
        http_sink_stop(s);
    }
}

Test(alerts, server_errors_are_retried_then_delivered)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_SLACK, 5000, 0);
    struct rl_alerts_stats st;

    http_sink_fail_next(s, 2, 503);
    rl_alerts_post(a, "m", "test");
    wait_done(a, 1);
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.sent, 1));
    cr_assert(eq(u64, st.retries, 2));
    cr_assert(eq(sz, http_sink_count(s), 3));
    rl_alerts_free(a);
    http_sink_stop(s);
}

Test(alerts, client_errors_and_wrong_success_codes_are_not_retried)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_TEAMS, 5000, 0);
    struct rl_alerts_stats st;

    http_sink_respond(s, 202, "accepted");    /* teams wants exactly 200 */
    rl_alerts_post(a, "m", "test");
    wait_done(a, 1);
    http_sink_respond(s, 400, "bad");
    rl_alerts_post(a, "m", "test");
    wait_done(a, 2);
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.failed, 2));
    cr_assert(eq(u64, st.sent, 0));
    cr_assert(eq(sz, http_sink_count(s), 2));
    rl_alerts_free(a);
    http_sink_stop(s);
}

Test(alerts, redirects_are_refused)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_RAW, 5000, 0);
    struct rl_alerts_stats st;

    http_sink_respond(s, 302, "");
    rl_alerts_post(a, "m", "test");
    wait_done(a, 1);
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.failed, 1));
    cr_assert(eq(sz, http_sink_count(s), 1));
    rl_alerts_free(a);
    http_sink_stop(s);
}

Test(alerts, a_hanging_receiver_never_blocks_post_and_times_out)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_SLACK, 300, 0);
    struct rl_alerts_stats st;
    uint64_t t0, took;

    http_sink_hang(s, true);
    t0 = rl_mono_ms();
    for (int i = 0; i < 100; i++)
        rl_alerts_post(a, "m", "test");
    took = rl_mono_ms() - t0;
    cr_assert(lt(u64, took, 100), "100 posts took %llu ms", (unsigned long long)took);
    /* The first message: 3 attempts of 300 ms each (plus backoff), then failed. */
    t0 = rl_mono_ms();
    while (rl_mono_ms() - t0 < 5000) {
        rl_alerts_stats(a, &st);
        if (st.failed >= 1)
            break;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    took = rl_mono_ms() - t0;
    cr_assert(eq(u64, st.failed, 1));
    cr_assert(ge(u64, took, 800), "gave up after %llu ms", (unsigned long long)took);
    cr_assert(eq(u64, st.retries, 2));
    t0 = rl_mono_ms();
    rl_alerts_stop(a, 0);
    took = rl_mono_ms() - t0;
    cr_assert(lt(u64, took, 1000), "stop took %llu ms", (unsigned long long)took);
    rl_alerts_stats(a, &st);
    cr_assert(ge(u64, st.dropped, 90));
    rl_alerts_free(a);
    http_sink_stop(s);
}

Test(alerts, full_queue_drops_the_oldest)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_TEAMS, 5000, 2);
    struct rl_alerts_stats st;
    struct http_sink_req r;

    http_sink_hang(s, true);
    rl_alerts_post(a, "first", "1");
    cr_assert(eq(sz, http_sink_wait(s, 1, 5000), 1));     /* in flight, out of the queue */
    rl_alerts_post(a, "second", "2");
    rl_alerts_post(a, "third", "3");
    rl_alerts_post(a, "fourth", "4");
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.dropped, 1));
    cr_assert(eq(sz, st.queued, 2));
    http_sink_hang(s, false);
    wait_done(a, 3);
    cr_assert(eq(sz, http_sink_count(s), 3));
    cr_assert(http_sink_request(s, 1, &r));
    cr_assert(eq(str, r.body, "{\"text\":\"third\"}"));
    http_sink_req_release(&r);
    cr_assert(http_sink_request(s, 2, &r));
    cr_assert(eq(str, r.body, "{\"text\":\"fourth\"}"));
    http_sink_req_release(&r);
    rl_alerts_free(a);
    http_sink_stop(s);
}

Test(alerts, stop_drains_what_is_queued)
{
    struct http_sink *s = http_sink_start();
    struct rl_alerts *a = sender(s, RL_SINK_GCHAT, 5000, 0);
    struct rl_alerts_stats st;

    for (int i = 0; i < 5; i++)
        rl_alerts_post(a, "m", "test");
    rl_alerts_stop(a, 5000);
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.sent, 5));
    cr_assert(eq(u64, st.dropped, 0));
    rl_alerts_post(a, "late", "test");      /* after stop: dropped, not queued */
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.dropped, 1));
    cr_assert(eq(sz, st.queued, 0));
    rl_alerts_free(a);
    http_sink_stop(s);
}

/* Runs fn with fd 2 going to a temporary file; returns what it wrote (caller frees). */
static void fail_twice_with_credentials_in_the_url(void *ctx)
{
    struct http_sink *s = ctx;
    struct rl_alerts *a = NULL;
    struct rl_alerts_stats st;
    char *url;
    struct rl_alerts_opts o = {
        .sink = RL_SINK_SLACK,
        .timeout_ms = 5000,
        .connect_timeout_ms = 1000,
        .backoff_ms = 20,
        .max_attempts = 2,
    };

    /* http://user:pass@127.0.0.1:port/services/PATHSECRET?token=QUERYSECRET */
    url = rl_xasprintf("http://user:PASSSECRET@%s/services/PATHSECRET?token=QUERYSECRET",
                       http_sink_url(s) + strlen("http://"));
    o.url = url;
    cr_assert(eq(int, rl_alerts_new(&a, &o), 0));
    cr_assert(eq(int, rl_alerts_start(a), 0));
    http_sink_fail_next(s, 2, 503);
    rl_alerts_post(a, "m", "test");
    wait_done(a, 1);
    rl_alerts_stats(a, &st);
    cr_assert(eq(u64, st.failed, 1));
    rl_alerts_free(a);
    free(url);
}

Test(alerts, logs_name_the_host_never_the_credentials)
{
    struct http_sink *s = http_sink_start();
    char *log, host[64];

    rl_log_setup(RL_LOG_DEBUG, RL_LOG_TEXT);
    log = test_capture_stderr(fail_twice_with_credentials_in_the_url, s);
    cr_assert(ne(ptr, log, NULL));
    snprintf(host, sizeof(host), "url=\"%s\"", http_sink_url(s));
    cr_assert(ne(ptr, strstr(log, "notification attempt failed; retrying"), NULL), "%s", log);
    cr_assert(ne(ptr, strstr(log, "error sending alert"), NULL), "%s", log);
    cr_assert(ne(ptr, strstr(log, host), NULL), "no '%s' in: %s", host, log);
    cr_assert(eq(ptr, strstr(log, "SECRET"), NULL), "a credential was logged: %s", log);
    cr_assert(eq(ptr, strstr(log, "user"), NULL), "the user was logged: %s", log);
    free(log);
    http_sink_stop(s);
}
