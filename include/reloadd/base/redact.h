/*
 * redact.h - what of a credential-bearing URL may be logged
 *
 * Webhook and alert URLs carry their credentials: a Slack, Teams or Google
 * Chat token in the path or the query, user:password before the host. A
 * log line names such a URL by its scheme and host only:
 * "https://user:pass@host:8443/path?token=x" is logged as
 * "https://host:8443". A string without "scheme://" is not shown at all.
 *
 * Threads: pure, any thread.
 */
#ifndef RL_REDACT_H
#define RL_REDACT_H

#include <stddef.h>

/* Room for any result; a longer host is cut. */
#define RL_REDACTED_URL_SIZE 280

/*
 * Writes "scheme://host[:port]" of url into out (always NUL-terminated,
 * cut to outlen) and returns out. NULL or "" gives ""; a string that is
 * not "scheme://..." gives "(not a URL)".
 */
const char *rl_redact_url(const char *url, char *out, size_t outlen);

#endif /* RL_REDACT_H */
