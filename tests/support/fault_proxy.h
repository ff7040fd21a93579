/*
 * fault_proxy.h - a fault-injecting HTTP proxy in front of the real API server
 *
 * A plain-HTTP/1.1 listener on 127.0.0.1 that forwards every request to the
 * API server of an upstream kubeconfig over TLS with that kubeconfig's
 * credentials, streaming responses (watches included) back chunk by chunk.
 * The client under test talks plain http to it, so the proxy sees every
 * byte and can:
 *
 *  - answer the next N matching requests itself with a canned response
 *    (a 429 with Retry-After, a 500, ...), without forwarding them;
 *  - cut the next matching streamed response mid-line: forward `lines`
 *    complete lines and `extra` bytes of the next, then drop the
 *    connection;
 *  - log every request (method, path, arrival time) for assertions.
 *
 * Threads: one accept thread and one thread per client connection, all
 * joined by fault_proxy_stop(). Every function is thread-safe.
 */
#ifndef RL_FAULT_PROXY_H
#define RL_FAULT_PROXY_H

#include <stddef.h>

struct fault_proxy;

/* Starts the proxy; NULL (with a message in errbuf) if the kubeconfig cannot be loaded. */
struct fault_proxy *fault_proxy_start(const char *upstream_kubeconfig, char *errbuf,
                                      size_t errlen);
/* Drops every connection, joins every thread, frees. NULL is a no-op. */
void fault_proxy_stop(struct fault_proxy *p);

/* "http://127.0.0.1:<port>" (borrowed). */
const char *fault_proxy_url(const struct fault_proxy *p);

/*
 * The next n requests whose "METHOD path" contains match (NULL: any) are
 * answered with status, extra header lines (each ending "\r\n", or NULL)
 * and body (JSON; NULL: a Status naming the code).
 */
void fault_proxy_fail_next(struct fault_proxy *p, int n, const char *match, int status,
                           const char *headers, const char *body);

/* The next response to a request matching match is cut as described above. */
void fault_proxy_cut_next(struct fault_proxy *p, const char *match, int lines, size_t extra);

/* Drops the armed rules whose match string is exactly match (NULL: those for any request). */
void fault_proxy_disarm(struct fault_proxy *p, const char *match);

/* Number of cuts and canned answers still armed. */
int fault_proxy_pending(struct fault_proxy *p);

/*
 * Requests seen so far whose "METHOD path" contains match (NULL: all);
 * fills up to max arrival times (seconds, monotonic) if times is not NULL.
 */
size_t fault_proxy_seen(struct fault_proxy *p, const char *match, double *times, size_t max);

#endif /* RL_FAULT_PROXY_H */
