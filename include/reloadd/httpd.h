/*
 * httpd.h - the operations HTTP server: /metrics, /live, /readyz, /explain
 *
 * A libmicrohttpd daemon in internal-thread mode with a pool of one or two
 * threads, an idle-connection timeout and a connection limit. Routes, all
 * GET or HEAD (any other method gets 405 with "Allow: GET, HEAD"):
 *
 *   /metrics   200, the registry's text exposition (format 0.0.4)
 *   /live      200 "alive" while the live probe says so (or when none is
 *              registered), else 500 with the probe's reason
 *   /readyz    200 "ready" while the ready probe says so, else 503 with
 *              the probe's reason; 503 when no probe is registered
 *   /explain?kind=&namespace=&name=
 *              200 and the explain callback's JSON; 400 with a JSON error
 *              when a parameter is missing or empty or the callback returns
 *              RL_EINVAL; 404 when it returns RL_ENOTFOUND; 500 otherwise
 *   anything else: 404
 *
 * Reloader served pprof on the same port, unauthenticated (§15.22); this
 * server has no such route.
 *
 * Ownership: the server borrows opts->metrics and the callbacks' contexts,
 * which must outlive rl_httpd_stop(). The address string is not kept.
 *
 * Threads: callbacks run on the server's threads, up to two at a time, so
 * they must be thread-safe; they must also be quick and never block on the
 * reconcile path (a probe that hangs fails the kubelet's probe anyway).
 * rl_httpd_start() and rl_httpd_stop() belong to one owner thread.
 */
#ifndef RL_HTTPD_H
#define RL_HTTPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct rl_buf;
struct rl_metrics;
struct rl_httpd;

/* True if healthy; otherwise may append a short reason to why (text). */
typedef bool rl_httpd_probe_fn(void *ctx, struct rl_buf *why);

/*
 * Fills json with the explanation of workload kind/ns/name. Returns 0,
 * RL_ENOTFOUND, RL_EINVAL (e.g. an unknown kind) or another error; json,
 * if filled on an error, is sent as the error body.
 */
typedef int rl_httpd_explain_fn(void *ctx, const char *kind, const char *ns,
                                const char *name, struct rl_buf *json);

struct rl_httpd_opts {
    struct rl_metrics *metrics;         /* NULL: /metrics is 404 */
    rl_httpd_probe_fn *live;
    void *live_ctx;
    rl_httpd_probe_fn *ready;
    void *ready_ctx;
    rl_httpd_explain_fn *explain;       /* NULL: /explain is 404 */
    void *explain_ctx;
    unsigned threads;                   /* 1 or 2; 0 means 2 */
    unsigned max_connections;           /* 0 means 64 */
    unsigned timeout_s;                 /* idle connection timeout; 0 means 10 */
};

/*
 * Parses "host:port", ":port" (every address) or "[v6]:port"; a host may
 * be a name, resolved once. Sets *any_host for an empty host. Returns 0
 * or RL_EINVAL.
 */
int rl_httpd_parse_addr(const char *addr, struct sockaddr_storage *out, bool *any_host);

/*
 * Starts serving on addr (port 0: the kernel picks one). An empty host
 * binds [::] dual-stack, falling back to 0.0.0.0 where IPv6 is off.
 * Returns 0 and the server in *out, RL_EINVAL for a bad address or
 * options, or RL_EIO if the daemon cannot start (port in use, ...).
 */
int rl_httpd_start(struct rl_httpd **out, const char *addr, const struct rl_httpd_opts *opts);

/* Stops accepting, finishes with the threads (joins them) and frees h. NULL: no-op. */
void rl_httpd_stop(struct rl_httpd *h);

/* The port actually bound. */
uint16_t rl_httpd_port(const struct rl_httpd *h);

#endif /* RL_HTTPD_H */
