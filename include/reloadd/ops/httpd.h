/*
 * httpd.h - the operations HTTP servers: /metrics, /live, /readyz; /explain
 *
 * A libmicrohttpd daemon in internal-thread mode with a pool of one or two
 * threads. Each server has a role, and main() starts one of each:
 *
 *   RL_HTTPD_OPERATIONS (--metrics-addr, every address by default), for
 *   Prometheus and the kubelet:
 *     /metrics   200, the registry's text exposition (format 0.0.4)
 *     /live      200 "alive" while the live probe says so (or when none is
 *                registered), else 500 with the probe's reason
 *     /readyz    200 "ready" while the ready probe says so, else 503 with
 *                the probe's reason; 503 when no probe is registered
 *     /explain   404 with a JSON error naming --explain-addr
 *
 *   RL_HTTPD_EXPLAIN (--explain-addr, loopback by default), for a person
 *   with `kubectl port-forward` or a shell in the pod:
 *     /explain?kind=&namespace=&name=
 *                200 and the explain callback's JSON; 400 with a JSON error
 *                when a parameter is missing or empty or the callback returns
 *                RL_EINVAL; 404 when it returns RL_ENOTFOUND; 500 otherwise
 *
 * Anything else is 404; a method other than GET or HEAD is 405 with
 * "Allow: GET, HEAD". Reloader served pprof on the same port,
 * unauthenticated (docs/reloader.md §15.22); these servers have no such route.
 *
 * Clients that hold connections open cannot starve the probes (issue 13):
 *   - header deadline: a connection that has not sent the complete headers
 *     of its request within header_timeout_ms of its start is shut down,
 *     however steadily it trickles bytes (the idle timeout restarts with
 *     every byte). A connection serves one request ("Connection: close").
 *     A sweeper thread, asleep while no connection awaits headers,
 *     enforces the deadline.
 *   - per-address limit: past max_per_address connections from one
 *     address, a new one from it is closed as soon as it is accepted, so
 *     one address never holds every slot;
 *   - overall limit: past max_connections, new connections wait in the
 *     listen backlog until a slot frees (at most one header deadline);
 *   - idle timeout: a connection silent for timeout_s is closed.
 * So a probe from another address is answered at once whatever one address
 * does; many addresses together can delay it by one header deadline.
 *
 * Ownership: the server borrows opts->metrics and the callbacks' contexts,
 * which must outlive rl_httpd_free(). The address string is not kept.
 *
 * Threads: each server has one or two libmicrohttpd threads and a sweeper
 * thread. Callbacks run on the libmicrohttpd threads, up to two at a time,
 * so they must be thread-safe; they must also be quick and never block on
 * the reconcile path (a probe that hangs fails the kubelet's probe anyway).
 * rl_httpd_new() and rl_httpd_free() belong to one owner thread.
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

enum rl_httpd_role {
    RL_HTTPD_OPERATIONS,                /* /metrics, /live, /readyz */
    RL_HTTPD_EXPLAIN,                   /* /explain only */
};

struct rl_httpd_opts {
    enum rl_httpd_role role;
    struct rl_metrics *metrics;         /* operations; NULL: /metrics is 404 */
    rl_httpd_probe_fn *live;            /* operations */
    void *live_ctx;
    rl_httpd_probe_fn *ready;           /* operations */
    void *ready_ctx;
    rl_httpd_explain_fn *explain;       /* explain; NULL: /explain is 404 */
    void *explain_ctx;
    unsigned threads;                   /* 1 or 2; 0 means 2 */
    unsigned max_connections;           /* 0 means 64 */
    unsigned max_per_address;           /* 0 means 8 */
    unsigned timeout_s;                 /* idle connection timeout; 0 means 10 */
    unsigned header_timeout_ms;         /* header deadline; 0 means 5000 */
};

/*
 * Parses "host:port", ":port" (every address) or "[v6]:port" (the syntax
 * of rl_listen_addr_ok(), syntax.h); a host may be a name, resolved once.
 * Sets *any_host for an empty host. Returns 0 or RL_EINVAL.
 */
int rl_httpd_parse_addr(const char *addr, struct sockaddr_storage *out, bool *any_host);

/*
 * Starts serving on addr (port 0: the kernel picks one). An empty host
 * binds [::] dual-stack, falling back to 0.0.0.0 where IPv6 is off.
 * Returns 0 and the server in *out, RL_EINVAL for a bad address or
 * options, or RL_EIO if the daemon cannot start (port in use, ...).
 */
int rl_httpd_new(struct rl_httpd **out, const char *addr, const struct rl_httpd_opts *opts);

/* Stops accepting, finishes with the threads (joins them) and frees h. NULL: no-op. */
void rl_httpd_free(struct rl_httpd *h);

/* The port actually bound. */
uint16_t rl_httpd_port(const struct rl_httpd *h);

/* Connections shut down so far for missing their header deadline. */
uint64_t rl_httpd_deadline_drops(const struct rl_httpd *h);

#endif /* RL_HTTPD_H */
