#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/sha.h>

#include "promparse.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/syntax.h"
#include "reloadd/config/options.h"
#include "reloadd/ops/explain.h"
#include "reloadd/ops/httpd.h"
#include "reloadd/ops/metrics.h"

/* ---- a client ---- */

struct reply {
    CURLcode rc;
    long status;
    struct rl_buf body;
    char ctype[128];
    char allow[64];
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;

    return rl_buf_add(&r->body, data, size * n) ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = size * n;
    char line[256];

    snprintf(line, sizeof(line), "%.*s", (int)len, data);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "Content-Type: ", 14) == 0)
        strlcpy(r->ctype, line + 14, sizeof(r->ctype));
    if (strncasecmp(line, "Allow: ", 7) == 0)
        strlcpy(r->allow, line + 7, sizeof(r->allow));
    return len;
}

/*
 * One request from local address src (NULL: any) that must end within
 * timeout_ms; the caller releases r->body.
 */
static void request_from(struct reply *r, const char *src, long timeout_ms, uint16_t port,
                         const char *method, const char *path)
{
    CURL *c = curl_easy_init();
    char url[512];

    memset(r, 0, sizeof(*r));
    rl_buf_init(&r->body, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (src)
        curl_easy_setopt(c, CURLOPT_INTERFACE, src);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

static void request(struct reply *r, uint16_t port, const char *method, const char *path)
{
    request_from(r, NULL, 10000L, port, method, path);
}

static void get(struct reply *r, uint16_t port, const char *path)
{
    request(r, port, "GET", path);
    cr_assert(eq(int, r->rc, CURLE_OK), "GET %s: %s", path, curl_easy_strerror(r->rc));
}

/* The "error" member of a JSON body; fails the test if there is none. */
static void expect_json_error(const struct reply *r, long status, const char *needle)
{
    cJSON *root = cJSON_Parse(r->body.buf);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");

    cr_assert(eq(long, r->status, status), "body: %s", r->body.buf);
    cr_assert(eq(str, (char *)r->ctype, "application/json"));
    cr_assert(cJSON_IsString(e), "no error member in %s", r->body.buf);
    cr_assert(strstr(e->valuestring, needle) != NULL, "'%s' lacks '%s'", e->valuestring, needle);
    cJSON_Delete(root);
}

/* ---- the integrator's side ---- */

struct fixture {
    struct rl_metrics *metrics;
    struct rl_httpd *httpd;             /* operations */
    uint16_t port;
    struct rl_httpd *explain_httpd;     /* explain; started by setup() only */
    uint16_t eport;
    atomic_bool live;
    atomic_bool ready;
    atomic_int explains;
};

static bool live_probe(void *ctx, struct rl_buf *why)
{
    struct fixture *fx = ctx;

    if (atomic_load(&fx->live))
        return true;
    rl_buf_adds(why, "watch for configmaps silent for 300s");
    return false;
}

static bool ready_probe(void *ctx, struct rl_buf *why)
{
    struct fixture *fx = ctx;

    if (atomic_load(&fx->ready))
        return true;
    rl_buf_adds(why, "caches not synced: secrets\n");
    return false;
}

static int explain(void *ctx, const char *kind, const char *ns, const char *name,
                   struct rl_buf *json)
{
    struct fixture *fx = ctx;

    atomic_fetch_add(&fx->explains, 1);
    if (strcmp(name, "missing") == 0)
        return RL_ENOTFOUND;
    if (strcmp(kind, "pod") == 0) {
        rl_buf_adds(json, "{\"error\":\"unsupported kind 'pod'\"}");
        return RL_EINVAL;
    }
    if (strcmp(name, "boom") == 0)
        return RL_EIO;
    rl_buf_adds(json, "{\"kind\":");
    rl_buf_add_json_str(json, kind);
    rl_buf_adds(json, ",\"namespace\":");
    rl_buf_add_json_str(json, ns);
    rl_buf_adds(json, ",\"name\":");
    rl_buf_add_json_str(json, name);
    rl_buf_adds(json, ",\"decision\":\"reloaded\"}");
    return 0;
}

static struct fixture fx;

static void start(const struct rl_httpd_opts *extra)
{
    struct rl_metrics_opts mo = { .process = true };
    struct rl_httpd_opts o = {
        .live = live_probe, .live_ctx = &fx,
        .ready = ready_probe, .ready_ctx = &fx,
        .explain = explain, .explain_ctx = &fx,
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx.metrics = rl_metrics_new(&mo);
    if (extra)
        o = *extra;
    o.metrics = extra ? extra->metrics : fx.metrics;
    atomic_store(&fx.live, true);
    atomic_store(&fx.ready, false);
    cr_assert(eq(int, rl_httpd_new(&fx.httpd, "127.0.0.1:0", &o), 0));
    fx.port = rl_httpd_port(fx.httpd);
    cr_assert(fx.port != 0);
}

/* The operations server, and an explain server on another port as main() runs them. */
static void setup(void)
{
    struct rl_httpd_opts eo = {
        .role = RL_HTTPD_EXPLAIN,
        .explain = explain, .explain_ctx = &fx,
    };

    start(NULL);
    cr_assert(eq(int, rl_httpd_new(&fx.explain_httpd, "127.0.0.1:0", &eo), 0));
    fx.eport = rl_httpd_port(fx.explain_httpd);
    cr_assert(fx.eport != 0 && fx.eport != fx.port);
}

static void teardown(void)
{
    rl_httpd_free(fx.httpd);
    rl_httpd_free(fx.explain_httpd);
    fx.httpd = fx.explain_httpd = NULL;
    rl_metrics_free(fx.metrics);
    curl_global_cleanup();
}

/* ---- routes ---- */

Test(httpd, metrics_serves_a_strictly_valid_exposition, .init = setup, .fini = teardown)
{
    struct reply r;
    struct prom_doc doc;
    char err[256];

    rl_metrics_reload_executed(fx.metrics, true, "ns");
    rl_metrics_reload_executed(fx.metrics, true, "ns");
    rl_metrics_api_request(fx.metrics, "get", "leases", 200, 0.01);

    get(&r, fx.port, "/metrics");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.ctype, RL_METRICS_CONTENT_TYPE));
    cr_assert(eq(int, prom_parse(r.body.buf, r.body.len, &doc, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "true", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_api_requests_total", "verb", "get", "resource", "leases", "code", "200", NULL)->value, 1));
    cr_assert(prom_sample(&doc, "process_resident_memory_bytes", NULL)->value > 0);
    cr_assert(prom_sample(&doc, "process_open_fds", NULL)->value >= 3);
    prom_doc_release(&doc);
    rl_buf_release(&r.body);

    /* A query string does not change the route. */
    get(&r, fx.port, "/metrics?name[]=x");
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
}

Test(httpd, head_has_status_and_headers_but_no_body, .init = setup, .fini = teardown)
{
    struct reply r;

    request(&r, fx.port, "HEAD", "/metrics");
    cr_assert(eq(int, r.rc, CURLE_OK));
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.ctype, RL_METRICS_CONTENT_TYPE));
    cr_assert(eq(sz, r.body.len, 0));
    rl_buf_release(&r.body);

    request(&r, fx.port, "HEAD", "/live");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(sz, r.body.len, 0));
    rl_buf_release(&r.body);
}

Test(httpd, live_follows_its_probe, .init = setup, .fini = teardown)
{
    struct reply r;

    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.body.buf, "alive"));
    rl_buf_release(&r.body);

    atomic_store(&fx.live, false);
    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 500));
    cr_assert(eq(str, r.body.buf, "watch for configmaps silent for 300s\n"));
    cr_assert(eq(str, r.ctype, "text/plain; charset=utf-8"));
    rl_buf_release(&r.body);
}

Test(httpd, readyz_follows_its_probe, .init = setup, .fini = teardown)
{
    struct reply r;

    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 503));
    cr_assert(eq(str, r.body.buf, "caches not synced: secrets\n"));
    rl_buf_release(&r.body);

    atomic_store(&fx.ready, true);
    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.body.buf, "ready"));
    rl_buf_release(&r.body);
}

Test(httpd, explain_answers_from_the_callback, .init = setup, .fini = teardown)
{
    struct reply r;
    cJSON *root;

    get(&r, fx.eport, "/explain?kind=Deployment&namespace=team%2Da&name=web%20app");
    cr_assert(eq(long, r.status, 200), "%s", r.body.buf);
    cr_assert(eq(str, r.ctype, "application/json"));
    root = cJSON_Parse(r.body.buf);
    cr_assert(root != NULL, "%s", r.body.buf);
    cr_assert(eq(str, cJSON_GetObjectItem(root, "kind")->valuestring, "Deployment"));
    cr_assert(eq(str, cJSON_GetObjectItem(root, "namespace")->valuestring, "team-a"));
    cr_assert(eq(str, cJSON_GetObjectItem(root, "name")->valuestring, "web app"));
    cJSON_Delete(root);
    rl_buf_release(&r.body);

    get(&r, fx.eport, "/explain?kind=Deployment&namespace=ns&name=missing");
    expect_json_error(&r, 404, "Deployment ns/missing not found");
    rl_buf_release(&r.body);

    get(&r, fx.eport, "/explain?kind=pod&namespace=ns&name=p");
    expect_json_error(&r, 400, "unsupported kind 'pod'");
    rl_buf_release(&r.body);

    get(&r, fx.eport, "/explain?kind=Deployment&namespace=ns&name=boom");
    expect_json_error(&r, 500, "input/output error");
    rl_buf_release(&r.body);
}

Test(httpd, explain_requires_every_parameter, .init = setup, .fini = teardown)
{
    static const struct { const char *q, *missing; } cases[] = {
        { "/explain", "kind" },
        { "/explain?namespace=ns&name=n", "kind" },
        { "/explain?kind=Deployment&name=n", "namespace" },
        { "/explain?kind=Deployment&namespace=ns", "name" },
        { "/explain?kind=&namespace=ns&name=n", "kind" },
        { "/explain?kind=Deployment&namespace=ns&name=", "name" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reply r;
        char want[64];

        snprintf(want, sizeof(want), "missing query parameter '%s'", cases[i].missing);
        get(&r, fx.eport, cases[i].q);
        expect_json_error(&r, 400, want);
        rl_buf_release(&r.body);
    }
    cr_assert(eq(int, atomic_load(&fx.explains), 0), "callback called without parameters");
}

Test(httpd, unknown_paths_are_404, .init = setup, .fini = teardown)
{
    const char *paths[] = { "/", "/metrics/", "/livez", "/debug/pprof/", "/debug/pprof/heap",
                            "/explain/x", "/METRICS" };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct reply r;

        get(&r, fx.port, paths[i]);
        cr_assert(eq(long, r.status, 404), "%s", paths[i]);
        rl_buf_release(&r.body);
        get(&r, fx.eport, paths[i]);
        cr_assert(eq(long, r.status, 404), "explain port: %s", paths[i]);
        rl_buf_release(&r.body);
    }
}

/* Issue 13: /explain is not on the port every address reaches, and nothing else is on its own. */
Test(httpd, explain_has_a_listener_of_its_own, .init = setup, .fini = teardown)
{
    const char *ops_only[] = { "/metrics", "/live", "/readyz" };
    struct reply r;

    get(&r, fx.port, "/explain?kind=Deployment&namespace=ns&name=web");
    expect_json_error(&r, 404, "--explain-addr");
    cr_assert(strchr(r.body.buf, '\n') == r.body.buf + r.body.len - 1, "not one line: %s",
              r.body.buf);
    rl_buf_release(&r.body);
    cr_assert(eq(int, atomic_load(&fx.explains), 0), "the operations port ran explain");

    get(&r, fx.eport, "/explain?kind=Deployment&namespace=ns&name=web");
    cr_assert(eq(long, r.status, 200), "%s", r.body.buf);
    cr_assert(strstr(r.body.buf, "\"decision\":\"reloaded\"") != NULL, "%s", r.body.buf);
    rl_buf_release(&r.body);
    cr_assert(eq(int, atomic_load(&fx.explains), 1));

    for (size_t i = 0; i < sizeof(ops_only) / sizeof(ops_only[0]); i++) {
        get(&r, fx.eport, ops_only[i]);
        cr_assert(eq(long, r.status, 404), "explain port serves %s", ops_only[i]);
        rl_buf_release(&r.body);
    }
    request(&r, fx.eport, "POST", "/explain?kind=a&namespace=b&name=c");
    cr_assert(eq(long, r.status, 405));
    rl_buf_release(&r.body);
}

Test(httpd, only_get_and_head_are_allowed, .init = setup, .fini = teardown)
{
    const char *methods[] = { "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct reply r;

        request(&r, fx.port, methods[i], "/metrics");
        cr_assert(eq(int, r.rc, CURLE_OK), "%s: %s", methods[i], curl_easy_strerror(r.rc));
        cr_assert(eq(long, r.status, 405), "%s", methods[i]);
        cr_assert(eq(str, r.allow, "GET, HEAD"), "%s", methods[i]);
        rl_buf_release(&r.body);
    }
}

Test(httpd, optional_callbacks_have_safe_defaults)
{
    struct rl_httpd_opts none = { .metrics = NULL };
    struct reply r;

    start(&none);
    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 503), "no readiness check means not ready");
    rl_buf_release(&r.body);
    get(&r, fx.port, "/metrics");
    cr_assert(eq(long, r.status, 404));
    rl_buf_release(&r.body);
    teardown();

    none.role = RL_HTTPD_EXPLAIN;
    start(&none);
    get(&r, fx.port, "/explain?kind=a&namespace=b&name=c");
    expect_json_error(&r, 404, "not available");
    rl_buf_release(&r.body);
    teardown();
}

/* ---- addresses and lifecycle ---- */

Test(httpd, parse_addr_accepts_the_usual_forms)
{
    struct sockaddr_storage ss;
    bool any;

    cr_assert(eq(int, rl_httpd_parse_addr(":9090", &ss, &any), 0));
    cr_assert(any);
    cr_assert(eq(u16, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9090));
    cr_assert(eq(int, rl_httpd_parse_addr("127.0.0.1:0", &ss, &any), 0));
    cr_assert(any == false);
    cr_assert(eq(int, ss.ss_family, AF_INET));
    cr_assert(eq(int, rl_httpd_parse_addr("[::1]:8080", &ss, &any), 0));
    cr_assert(eq(int, ss.ss_family, AF_INET6));
    cr_assert(eq(u16, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8080));
    cr_assert(eq(int, rl_httpd_parse_addr("0.0.0.0:65535", &ss, &any), 0));
    cr_assert(eq(int, rl_httpd_parse_addr("localhost:1", &ss, &any), 0));
}

Test(httpd, check_addr_is_syntax_only)
{
    const char *good[] = { ":9090", "127.0.0.1:9091", "[::1]:9091", "[fe80::1%eth0]:80",
                           "localhost:1", "no-such-host.invalid:80", "0.0.0.0:65535" };
    const char *bad[] = { "127.0.0.1 :80", "a b:80", "[foo]:80", "[::1%]:80", "host/x:80",
                          "[::1%e/0]:80", "off", "127.0.0.1:9091\n" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(rl_listen_addr_ok(good[i]), "'%s'", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(not(rl_listen_addr_ok(bad[i])), "'%s'", bad[i]);
}

Test(httpd, bad_addresses_are_rejected)
{
    const char *bad[] = { "", "9090", ":", ":70000", ":-1", ":+80", ":80x", ":0x50", "::1:80",
                          "[::1]", "[::1]80", "[]:80", "host:abc", "[::1:80" };
    struct rl_httpd_opts o = { 0 };
    struct sockaddr_storage ss;
    struct rl_httpd *h = NULL;
    bool any;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(not(rl_listen_addr_ok(bad[i])), "'%s'", bad[i]);
        cr_assert(eq(int, rl_httpd_parse_addr(bad[i], &ss, &any), RL_EINVAL), "'%s'", bad[i]);
        cr_assert(eq(int, rl_httpd_new(&h, bad[i], &o), RL_EINVAL), "'%s'", bad[i]);
        cr_assert(h == NULL);
    }
    cr_assert(eq(int, rl_httpd_new(&h, NULL, &o), RL_EINVAL));
    cr_assert(not(rl_listen_addr_ok(NULL)));
    o.threads = 3;
    cr_assert(eq(int, rl_httpd_new(&h, "127.0.0.1:0", &o), RL_EINVAL));
}

/* --explain-addr as main() reads it: an address, or "" / "off" for none; a bad one is an error. */
static int parse_explain_addr(struct rl_options *o, char *arg, char *err, size_t errlen)
{
    char *argv[] = { "reloadd", arg, NULL };
    char *envp[] = { NULL };

    memset(o, 0, sizeof(*o));
    return rl_options_parse(o, arg ? 2 : 1, argv, envp, err, errlen);
}

Test(httpd, explain_addr_flag)
{
    static const struct { char *arg, *want; } ok[] = {
        { NULL, "127.0.0.1:9091" },
        { "--explain-addr=off", "" },
        { "--explain-addr=", "" },
        { "--explain-addr=[::1]:9191", "[::1]:9191" },
        { "--explain-addr=:9091", ":9091" },
    };
    char *bad[] = { "--explain-addr=9091", "--explain-addr=localhost", "--explain-addr=a b:1",
                    "--explain-addr=::1:9091", "--explain-addr=:99999", "--explain-addr=OFF" };
    struct rl_options o;
    char err[512];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert(eq(int, parse_explain_addr(&o, ok[i].arg, err, sizeof(err)), 0), "%s: %s",
                  ok[i].arg, err);
        cr_assert(eq(str, o.explain_addr, ok[i].want));
        cr_assert(eq(str, o.metrics_addr, ":9090"));
        rl_options_release(&o);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(eq(int, parse_explain_addr(&o, bad[i], err, sizeof(err)), RL_EINVAL), "%s",
                  bad[i]);
        cr_assert(strstr(err, "for flag --explain-addr") != NULL, "%s", err);
        rl_options_release(&o);
    }
}

Test(httpd, a_taken_port_is_an_error, .init = setup, .fini = teardown)
{
    struct rl_httpd_opts o = { 0 };
    struct rl_httpd *h = NULL;
    char addr[32];

    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)fx.port);
    cr_assert(eq(int, rl_httpd_new(&h, addr, &o), RL_EIO));
    cr_assert(h == NULL);
}

Test(httpd, stop_closes_the_port)
{
    struct reply r;

    start(NULL);
    rl_httpd_free(fx.httpd);
    fx.httpd = NULL;
    request(&r, fx.port, "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_COULDNT_CONNECT), "%s", curl_easy_strerror(r.rc));
    rl_buf_release(&r.body);
    rl_httpd_free(NULL);
    teardown();
}

Test(httpd, empty_host_serves_ipv4_clients)
{
    struct rl_httpd_opts o = { 0 };
    struct rl_httpd *h = NULL;
    struct reply r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    cr_assert(eq(int, rl_httpd_new(&h, ":0", &o), 0));
    request(&r, rl_httpd_port(h), "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_OK), "%s", curl_easy_strerror(r.rc));
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    rl_httpd_free(h);
    curl_global_cleanup();
}

static int connect_raw(uint16_t port)
{
    struct sockaddr_in sin = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(eq(int, connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0));
    return fd;
}

/* True if the server closed fd within ms (recv sees EOF or a reset). */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;

    if (poll(&p, 1, ms) != 1)
        return false;
    return recv(fd, &c, 1, 0) <= 0;
}

Test(httpd, idle_connections_time_out)
{
    struct rl_httpd_opts o = { .threads = 1, .timeout_s = 1 };
    int fd;

    start(&o);
    fd = connect_raw(fx.port);
    cr_assert(closed_within(fd, 5000), "idle connection still open after 5s");
    close(fd);
    teardown();
}

/* Waits up to ms for fd to have something to read; false on timeout. */
static bool readable_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, ms) == 1;
}

Test(httpd, connections_past_the_limit_wait_their_turn)
{
    struct rl_httpd_opts o = { .threads = 1, .max_connections = 2, .timeout_s = 30 };
    static const char req[] = "GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[256] = "";
    ssize_t n;
    int a, b, c;

    start(&o);
    a = connect_raw(fx.port);
    b = connect_raw(fx.port);
    /* Let the server take a and b before c arrives. */
    cr_assert(readable_within(a, 200) == false);
    c = connect_raw(fx.port);
    cr_assert(eq(long, (long)send(c, req, sizeof(req) - 1, MSG_NOSIGNAL), (long)sizeof(req) - 1));
    /* At the limit, c is not served however long it waits... */
    cr_assert(readable_within(c, 500) == false, "a third connection was served");
    /* ...until one of the others goes away. */
    close(a);
    cr_assert(readable_within(c, 5000), "third connection not served after one closed");
    n = recv(c, buf, sizeof(buf) - 1, 0);
    cr_assert(n > 0);
    buf[n] = '\0';
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    close(c);
    close(b);
    teardown();
}

/* ---- slow clients (issue 13) ---- */

/* A TCP connection from local address src to 127.0.0.1:port. */
static int connect_from(const char *src, uint16_t port)
{
    struct sockaddr_in me = { 0 }, sin = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert(fd >= 0);
    me.sin_family = AF_INET;
    cr_assert(eq(int, inet_pton(AF_INET, src, &me.sin_addr), 1));
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&me, sizeof(me)), 0), "bind %s", src);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(eq(int, connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0));
    return fd;
}

#define TRICKLERS 72

/* Connections that send a request's headers a byte at a time and never finish them. */
struct trickle {
    int fds[TRICKLERS];
    int n;
    unsigned period_ms;
    atomic_bool stop;
    pthread_t thread;
};

static void *trickle_main(void *arg)
{
    static const char head[] = "GET /live HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    struct trickle *tr = arg;

    for (size_t i = 0; !atomic_load(&tr->stop); i++) {
        char c = i < sizeof(head) - 1 ? head[i] : 'a';

        for (int k = 0; k < tr->n; k++)
            (void)send(tr->fds[k], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        usleep(tr->period_ms * 1000);
    }
    return NULL;
}

static void trickle_start(struct trickle *tr, int n, const char *src, uint16_t port,
                          unsigned period_ms)
{
    memset(tr, 0, sizeof(*tr));
    tr->n = n;
    tr->period_ms = period_ms;
    for (int k = 0; k < n; k++)
        tr->fds[k] = connect_from(src, port);
    pthread_create(&tr->thread, NULL, trickle_main, tr);
}

static void trickle_stop(struct trickle *tr)
{
    atomic_store(&tr->stop, true);
    pthread_join(tr->thread, NULL);
    for (int k = 0; k < tr->n; k++)
        close(tr->fds[k]);
}

static uint64_t ms_since(uint64_t t0)
{
    return rl_mono_ms() - t0;
}

/*
 * Issue 13: 70 slowly trickling connections made /live time out for 28 s.
 * With the default limits, probes from other addresses are answered at once
 * while one address trickles on every connection it can open.
 */
Test(httpd, probes_answer_while_one_address_trickles, .init = setup, .fini = teardown)
{
    struct trickle tr;
    struct reply r;
    uint64_t t0;

    atomic_store(&fx.ready, true);
    trickle_start(&tr, TRICKLERS, "127.0.0.1", fx.port, 100);
    usleep(300 * 1000);             /* the server has taken all it takes */

    t0 = rl_mono_ms();
    request_from(&r, "127.0.0.2", 1000L, fx.port, "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_OK), "/live from 127.0.0.2: %s after %llu ms",
              curl_easy_strerror(r.rc), (unsigned long long)ms_since(t0));
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    request_from(&r, "127.0.0.3", 1000L, fx.port, "GET", "/readyz");
    cr_assert(eq(int, r.rc, CURLE_OK), "/readyz from 127.0.0.3: %s",
              curl_easy_strerror(r.rc));
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    cr_assert(ms_since(t0) < 1000, "two probes took %llu ms",
              (unsigned long long)ms_since(t0));
    trickle_stop(&tr);
}

/* How long after t0 each fd was closed by the server (UINT64_MAX: not within ms). */
static void wait_closed(const int *fds, int n, uint64_t t0, int ms, uint64_t *at)
{
    int open = n;

    for (int k = 0; k < n; k++)
        at[k] = UINT64_MAX;
    while (open && ms_since(t0) < (uint64_t)ms) {
        for (int k = 0; k < n; k++) {
            struct pollfd p = { .fd = fds[k], .events = POLLIN };
            char buf[64];

            if (at[k] != UINT64_MAX || poll(&p, 1, 0) != 1)
                continue;
            if (recv(fds[k], buf, sizeof(buf), MSG_DONTWAIT) <= 0) {
                at[k] = ms_since(t0);
                open--;
            }
        }
        usleep(20 * 1000);
    }
}

/* The idle timeout restarts with every byte; the header deadline does not. */
Test(httpd, trickling_connections_are_closed_at_the_header_deadline)
{
    struct rl_httpd_opts o = { .threads = 1, .timeout_s = 1, .header_timeout_ms = 1000 };
    struct trickle tr;
    uint64_t t0, at[6];

    start(&o);
    t0 = rl_mono_ms();
    trickle_start(&tr, 6, "127.0.0.1", fx.port, 100);
    wait_closed(tr.fds, tr.n, t0, 3000, at);
    for (int k = 0; k < tr.n; k++) {
        cr_assert(at[k] != UINT64_MAX, "connection %d still open after 3 s of trickling", k);
        cr_assert(at[k] >= 900 && at[k] <= 2000, "connection %d closed after %llu ms", k,
                  (unsigned long long)at[k]);
    }
    cr_assert(eq(u64, rl_httpd_deadline_drops(fx.httpd), 6));
    trickle_stop(&tr);
    teardown();
}

/* Reads from fd until the server closes it (2 s at most) into buf. */
static void read_to_eof(int fd, char *buf, size_t len)
{
    size_t got = 0;

    buf[0] = '\0';
    while (got + 1 < len) {
        ssize_t n;

        cr_assert(readable_within(fd, 2000), "no response or EOF after 2 s: %s", buf);
        n = recv(fd, buf + got, len - 1 - got, 0);
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = '\0';
    }
}

/*
 * Slow but in time is served. One request per connection (the deadline
 * relies on it: a kept-alive connection would need one per request).
 */
Test(httpd, slow_headers_in_time_are_served_once)
{
    static const char req[] = "GET /live HTTP/1.1\r\nHost: x\r\n\r\n";
    struct rl_httpd_opts o = { .threads = 1, .header_timeout_ms = 1000 };
    char buf[1024];
    int fd;

    start(&o);
    fd = connect_from("127.0.0.1", fx.port);
    /* Headers over 600 ms of a 1 s deadline, then a second request at once. */
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        cr_assert(eq(long, (long)send(fd, &req[i], 1, MSG_NOSIGNAL), 1L));
        usleep(600 * 1000 / (unsigned)sizeof(req));
    }
    cr_assert(eq(long, (long)send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
                 (long)sizeof(req) - 1));
    read_to_eof(fd, buf, sizeof(buf));
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    cr_assert(strstr(buf, "\r\nConnection: close\r\n") != NULL, "%s", buf);
    cr_assert(strstr(buf + 12, "HTTP/1.1") == NULL, "a second request was served: %s", buf);
    cr_assert(eq(u64, rl_httpd_deadline_drops(fx.httpd), 0));
    close(fd);
    teardown();
}

Test(httpd, one_address_gets_max_per_address_connections)
{
    struct rl_httpd_opts o = { .threads = 1, .max_per_address = 2, .timeout_s = 30 };
    struct reply r;
    int a, b, c;

    start(&o);
    a = connect_from("127.0.0.1", fx.port);
    b = connect_from("127.0.0.1", fx.port);
    cr_assert(readable_within(a, 200) == false);
    c = connect_from("127.0.0.1", fx.port);
    cr_assert(closed_within(c, 1000), "a third connection from 127.0.0.1 was kept");
    request_from(&r, "127.0.0.2", 1000L, fx.port, "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_OK), "%s", curl_easy_strerror(r.rc));
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    cr_assert(readable_within(a, 0) == false && readable_within(b, 0) == false);
    close(a);
    close(b);
    close(c);
    teardown();
}

/* ---- Secret hashes in /explain (issue 13) ---- */

static void *fingerprint_in_thread(void *arg)
{
    static char fp[RL_EXPLAIN_FP_SIZE];

    return rl_explain_secret_fingerprint(arg, fp) ? fp : NULL;
}

Test(httpd, secret_fingerprints_are_keyed_and_stable)
{
    char sha1[RL_HASH_HEX_SIZE], other[RL_HASH_HEX_SIZE], fp[RL_EXPLAIN_FP_SIZE],
        fp2[RL_EXPLAIN_FP_SIZE], fp3[RL_EXPLAIN_FP_SIZE], unkeyed[13];
    unsigned char sha256[SHA256_DIGEST_LENGTH];
    const char *hex = fp + strlen(RL_EXPLAIN_FP_PREFIX);
    pthread_t t;
    void *ret;

    rl_hash_sha1_hex("password=hunter2", 16, sha1);
    rl_hash_sha1_hex("password=hunter3", 16, other);
    cr_assert(rl_explain_secret_fingerprint(sha1, fp));
    cr_assert(eq(sz, strlen(fp), strlen(RL_EXPLAIN_FP_PREFIX) + 12), "%s", fp);
    cr_assert(strncmp(fp, RL_EXPLAIN_FP_PREFIX, strlen(RL_EXPLAIN_FP_PREFIX)) == 0, "%s", fp);
    cr_assert(strspn(hex, "0123456789abcdef") == 12, "%s", fp);
    /* Not the SHA-1, nor a piece of it, nor an unkeyed SHA-256 of it. */
    cr_assert(strstr(sha1, hex) == NULL, "%s is part of %s", hex, sha1);
    cr_assert(strncmp(hex, sha1, 12) != 0);
    SHA256((const unsigned char *)sha1, strlen(sha1), sha256);
    for (int i = 0; i < 6; i++)
        snprintf(unkeyed + 2 * i, 3, "%02x", sha256[i]);
    cr_assert(strcmp(hex, unkeyed) != 0, "unkeyed SHA-256");
    /* Stable within the process, on any thread; different data, different fingerprint. */
    cr_assert(rl_explain_secret_fingerprint(sha1, fp2));
    cr_assert(eq(str, fp2, fp));
    pthread_create(&t, NULL, fingerprint_in_thread, sha1);
    pthread_join(t, &ret);
    cr_assert(ret != NULL);
    cr_assert(eq(str, (char *)ret, fp));
    cr_assert(rl_explain_secret_fingerprint(other, fp3));
    cr_assert(strcmp(fp3, fp) != 0);
}

Test(httpd, explain_json_never_carries_a_secret_sha1)
{
    char sha1[RL_HASH_HEX_SIZE], fp[RL_EXPLAIN_FP_SIZE];
    cJSON *root, *srcs;
    char *text;

    rl_hash_sha1_hex("token=s3cret", 12, sha1);
    cr_assert(rl_explain_secret_fingerprint(sha1, fp));
    text = rl_xasprintf("{\"kind\":\"Deployment\",\"sources\":["
                        "{\"type\":\"secret\",\"name\":\"s\",\"hash\":\"%s\",\"applied\":\"%s\"},"
                        "{\"type\":\"secret\",\"name\":\"gone\",\"hash\":null,\"applied\":\"%s\"},"
                        "{\"type\":\"configmap\",\"name\":\"c\",\"hash\":\"%s\",\"applied\":null}"
                        "]}", sha1, sha1, RL_HASH_DELETE_MARKER, sha1);
    root = cJSON_Parse(text);
    free(text);
    rl_explain_redact(root);
    text = cJSON_PrintUnformatted(root);
    srcs = cJSON_GetObjectItem(root, "sources");
    /* Secrets: fingerprints, equal where the hashes were; null stays null. */
    cr_assert(eq(str, cJSON_GetObjectItem(cJSON_GetArrayItem(srcs, 0), "hash")->valuestring, fp));
    cr_assert(eq(str, cJSON_GetObjectItem(cJSON_GetArrayItem(srcs, 0), "applied")->valuestring, fp));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(srcs, 1), "hash")));
    cr_assert(strstr(text, RL_HASH_DELETE_MARKER) == NULL, "%s", text);
    /* ConfigMaps as they were. */
    cr_assert(eq(str, cJSON_GetObjectItem(cJSON_GetArrayItem(srcs, 2), "hash")->valuestring, sha1));
    {
        const char *p = strstr(text, sha1);
        char *cm = rl_xasprintf("\"type\":\"configmap\",\"name\":\"c\",\"hash\":\"%s\"", sha1);

        cr_assert(p && !strstr(p + 1, sha1), "a Secret's SHA-1 is in %s", text);
        cr_assert(strstr(text, cm) != NULL, "%s", text);
        free(cm);
    }
    cr_assert(strstr(text, "\"secretHashes\":\"Secret hashes are keyed fingerprints") != NULL,
              "%s", text);
    free(text);
    /* Twice is the same as once; other shapes are left alone. */
    text = cJSON_PrintUnformatted(root);
    rl_explain_redact(root);
    {
        char *again = cJSON_PrintUnformatted(root);

        cr_assert(eq(str, again, text));
        free(again);
    }
    free(text);
    cJSON_Delete(root);
    root = cJSON_Parse("[{\"type\":\"secret\",\"hash\":\"x\"}]");
    rl_explain_redact(root);
    rl_explain_redact(NULL);
    cJSON_Delete(root);
}

/* ---- concurrency ---- */

#define SCRAPERS 4
#define SCRAPES 40

static void *scraper(void *arg)
{
    long bad = 0;

    (void)arg;
    for (int i = 0; i < SCRAPES; i++) {
        struct reply r;
        struct prom_doc doc;
        char err[256];

        request(&r, i % 2 ? fx.port : fx.eport, "GET",
                i % 2 ? "/metrics" : "/explain?kind=a&namespace=b&name=c");
        if (r.rc != CURLE_OK || r.status != 200)
            bad++;
        else if (i % 2 && prom_parse(r.body.buf, r.body.len, &doc, err, sizeof(err)) != 0)
            bad++;
        else if (i % 2)
            prom_doc_release(&doc);
        rl_buf_release(&r.body);
    }
    return (void *)bad;
}

static atomic_bool stop_writer;

static void *writer(void *arg)
{
    unsigned n = 0;

    (void)arg;
    while (!atomic_load(&stop_writer)) {
        char ns[16];

        snprintf(ns, sizeof(ns), "ns-%u", n % 50);
        rl_metrics_reload_executed(fx.metrics, n % 3 != 0, ns);
        rl_metrics_reconcile(fx.metrics, RL_METRICS_SUCCESS, 0.001 * (n % 100));
        rl_metrics_api_request(fx.metrics, "patch", ns, 200, 0.01);
        rl_metrics_queue_depth(fx.metrics, n % 4, n % 7);
        n++;
    }
    return NULL;
}

Test(httpd, concurrent_scrapes_while_metrics_move, .init = setup, .fini = teardown)
{
    pthread_t t[SCRAPERS], w;
    long bad = 0;

    atomic_store(&stop_writer, false);
    pthread_create(&w, NULL, writer, NULL);
    for (int i = 0; i < SCRAPERS; i++)
        pthread_create(&t[i], NULL, scraper, NULL);
    for (int i = 0; i < SCRAPERS; i++) {
        void *ret;

        pthread_join(t[i], &ret);
        bad += (long)ret;
    }
    atomic_store(&stop_writer, true);
    pthread_join(w, NULL);
    cr_assert(eq(long, bad, 0));
    cr_assert(eq(int, atomic_load(&fx.explains), SCRAPERS * SCRAPES / 2));
}
