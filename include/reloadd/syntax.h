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
 *    starting and ending alphanumeric, at most 253 characters).
 *
 * Pure functions; any thread.
 */
#ifndef RL_SYNTAX_H
#define RL_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

/* The value of s; *ok (if not NULL) says whether s was one. False on anything else, NULL too. */
bool rl_parse_bool_go(const char *s, bool *ok);

/* Whether the n bytes at s are a DNS subdomain. */
bool rl_dns_subdomain_ok(const char *s, size_t n);

#endif /* RL_SYNTAX_H */
