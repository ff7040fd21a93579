/*
 * http_sink.h - a loopback HTTP/1.1 receiver for tests
 *
 * Listens on 127.0.0.1 (a free port), reads each request (headers and a
 * Content-Length body), records it, and answers with the status and body
 * configured at that moment (default 200 "ok"), then closes the
 * connection. It can also hang: hold requests without answering until
 * http_sink_hang(s, false) or http_sink_stop(), to stand for a receiver
 * that never replies.
 *
 * Threads: one accept thread and one thread per connection, all joined by
 * http_sink_stop(). Every function is thread-safe.
 */
#ifndef RL_HTTP_SINK_H
#define RL_HTTP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_sink;

struct http_sink_req {
    char method[16];
    char path[512];
    char content_type[128];
    char *body;                 /* NUL-terminated; free with http_sink_req_release() */
    size_t body_len;
    uint64_t at_ms;             /* rl_mono_ms() when the request was complete */
};

struct http_sink *http_sink_start(void);
/* Releases hung requests, joins every thread, frees. NULL: no-op. */
void http_sink_stop(struct http_sink *s);

/* "http://127.0.0.1:<port>" (borrowed). */
const char *http_sink_url(const struct http_sink *s);
int http_sink_port(const struct http_sink *s);

/* Status and body of the answers from now on. */
void http_sink_respond(struct http_sink *s, int status, const char *body);
/* The next n requests are answered with status instead. */
void http_sink_fail_next(struct http_sink *s, int n, int status);
/* While on, requests are recorded but never answered. */
void http_sink_hang(struct http_sink *s, bool hang);

/*
 * A kube client (kube.h) whose API server is the sink, with options o (NULL:
 * the defaults); aborts the test program if it cannot be made.
 */
struct rl_kube_opts;
struct rl_kube *http_sink_kube(const struct http_sink *s, const struct rl_kube_opts *o);

size_t http_sink_count(struct http_sink *s);
/* Waits until at least n requests were recorded or timeout_ms passed; the count. */
size_t http_sink_wait(struct http_sink *s, size_t n, uint64_t timeout_ms);
/* A copy of request i (0-based); false if there is none. */
bool http_sink_request(struct http_sink *s, size_t i, struct http_sink_req *out);
void http_sink_req_release(struct http_sink_req *r);

#endif /* RL_HTTP_SINK_H */
