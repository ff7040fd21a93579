/*
 * kube-int.h - what kube.c (requests) and kube-watch.c (streams) share
 *
 * Not part of the public API. struct rl_kube is defined here so both files
 * can configure curl handles the same way.
 */
#ifndef RL_KUBE_INT_H
#define RL_KUBE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "reloadd/base/list.h"
#include "reloadd/base/ratelimit.h"
#include "reloadd/kube/kube.h"

struct rl__kube_thread;

struct rl_kube {
    /* Immutable after rl_kube_new(). */
    struct rl_kubeconfig *cfg;
    const struct rl_clock *clock;
    long connect_timeout_ms;
    long request_timeout_ms;
    int max_retries;
    char *user_agent;
    char *base_url;             /* the server, or its tls-server-name form */
    struct curl_slist *connect_to; /* maps the tls-server-name host to the server */
    CURLSH *share;              /* TLS sessions and DNS, shared by every handle */
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_key_t thread_key;   /* -> struct rl__kube_thread */

    /* rl_kube_shutdown(): no more waiting; requests end by the deadline. */
    atomic_bool stopping;
    _Atomic uint64_t stop_deadline_ms;  /* rl_mono_ms() scale */

    /* Protected by mu. */
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* naps end early at shutdown */
    struct rl_bucket bucket;
    struct rl_list threads;          /* every live per-thread easy handle */
    rl_kube_observe_fn *observe;
    void *observe_ctx;
};

/* Applies what every request and watch shares: TLS, timeouts, agent, share. */
void rl__kube_setup_easy(struct rl_kube *k, CURL *h, char *errbuf);
/*
 * For a request or watch of path: Secrets travel over HTTP/1.1 without
 * compression, so no copy of their bytes stays in curl's HTTP/2 connection
 * buffer or in zlib's window; the write callbacks take and wipe every byte
 * curl hands them (never an error, which would leave the rest unread).
 */
void rl__kube_protect(CURL *h, const char *path);
bool rl__kube_sensitive_path(const char *path);

/* The HTTP headers of a request; the Authorization value is wiped on free. */
struct curl_slist *rl__kube_headers(const char *auth, const char *content_type);
void rl__kube_headers_free(struct curl_slist *h);

/* Maps a failed transfer to an error and a message naming the URL. */
int rl__kube_curl_error(CURLcode rc, const char *curl_msg, const char *url, char *msg,
                        size_t msglen);

/* Fills reason/message of a non-2xx answer from its Status body. */
void rl__kube_parse_status(const char *body, size_t len, long status, char *reason,
                           size_t reason_len, char *message, size_t message_len);

/* Appends s percent-encoded as a query value. */
void rl__kube_add_escaped(struct rl_buf *b, const char *s);
/* Appends "&name=<value, percent-encoded>" unless value is NULL or empty. */
void rl__kube_add_param(struct rl_buf *b, const char *name, const char *value);

/* Calls the observer, if any; verb and resource derived from method and path. */
void rl__kube_observe(struct rl_kube *k, const char *method, const char *path, long status,
                      double seconds);

/* Seconds on the monotonic clock, with sub-millisecond precision. */
double rl__kube_now_s(void);

/* Records the calling thread's last error message (rl_kube_last_error()). */
void rl__kube_set_last_error(const char *msg);

#endif /* RL_KUBE_INT_H */
