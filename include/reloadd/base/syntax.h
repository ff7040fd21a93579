/*
 * syntax.h - the syntax of values reloadd reads, as Kubernetes and Go define it
 *
 * One definition each, shared by every module that reads such a value
 * (flags, annotations, Lease settings), so that they cannot drift:
 *
 *  - rl_parse_bool_go(): Go's strconv.ParseBool, the only booleans Reloader
 *    accepts (1, t, T, TRUE, true, True and their false twins);
 *  - rl_dns_subdomain_ok(): an RFC 1123 DNS subdomain as Kubernetes
 *    validates names and prefixes (lower-case alphanumerics, '-' and '.',
 *    starting and ending alphanumeric, at most 253 characters);
 *  - rl_duration_parse(): Go's time.ParseDuration, the syntax of every
 *    duration flag and annotation.
 *
 * Pure functions; any thread.
 */
#ifndef RL_SYNTAX_H
#define RL_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of s; *ok (if not NULL) says whether s was one. False on anything else, NULL too. */
bool rl_parse_bool_go(const char *s, bool *ok);

/* Whether the n bytes at s are a DNS subdomain. */
bool rl_dns_subdomain_ok(const char *s, size_t n);

/* Go's time.ParseDuration ("1h30m", "500ms", "-2s", "0") in nanoseconds; RL_EINVAL if bad. */
int rl_duration_parse(const char *s, int64_t *ns);

/*
 * A listen address: "host:port", ":port" (every address) or "[v6]:port",
 * port 0..65535; the host a name, an IPv4 address or, in brackets, an IPv6
 * address with an optional %zone. rl_listen_addr_split() writes the host
 * (NUL-terminated, without brackets) and the port, and says whether the
 * host came in brackets: 0 or RL_EINVAL. rl_listen_addr_ok() checks the
 * whole syntax without resolving a name (flags at start-up).
 */
int rl_listen_addr_split(const char *addr, char host[256], long *port, bool *bracketed);
bool rl_listen_addr_ok(const char *addr);

#endif /* RL_SYNTAX_H */
