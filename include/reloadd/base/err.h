/*
 * err.h - one error space for all of reloadd
 *
 * Fallible functions return 0 or a negative RL_E* code. System errors are
 * the negated errno; API outcomes are -(4000 + HTTP status) so that "-4409"
 * in a log reads as 409. Transport failures (no answer at all) are distinct
 * from API errors (the server answered with a Status).
 *
 * Threads: everything here is pure and thread-safe.
 */
#ifndef RL_ERR_H
#define RL_ERR_H

#include <errno.h>
#include <stdbool.h>

#define RL_ERR_MAP(X)                                                       \
    X(NOMEM,        -ENOMEM,    "out of memory")                            \
    X(INVAL,        -EINVAL,    "invalid argument")                         \
    X(NOENT,        -ENOENT,    "no such file or directory")                \
    X(IO,           -EIO,       "input/output error")                       \
    X(TOOBIG,       -E2BIG,     "too big")                                  \
    X(AGAIN,        -EAGAIN,    "nothing ready yet")                        \
    X(TRANSPORT,    -4001,      "cannot reach the API server")              \
    X(PARSE,        -4002,      "malformed response")                       \
    X(SHUTDOWN,     -4003,      "shutting down")                            \
    X(TIMEOUT,      -4004,      "timed out")                                \
    X(TLS,          -4005,      "TLS handshake or certificate failure")     \
    X(CONFIG,       -4006,      "invalid configuration")                    \
    X(NOTLEADER,    -4007,      "not the leader")                           \
    X(BUSY,         -4008,      "no spare API request capacity")            \
    X(BADREQUEST,   -4400,      "bad request (HTTP 400)")                   \
    X(UNAUTHORIZED, -4401,      "unauthorized (HTTP 401)")                  \
    X(FORBIDDEN,    -4403,      "forbidden (HTTP 403)")                     \
    X(NOTFOUND,     -4404,      "not found (HTTP 404)")                     \
    X(METHOD,       -4405,      "method not allowed (HTTP 405)")            \
    X(CONFLICT,     -4409,      "conflict (HTTP 409)")                      \
    X(GONE,         -4410,      "resource version expired (HTTP 410)")      \
    X(INVALID,      -4422,      "invalid object (HTTP 422)")                \
    X(TOOMANY,      -4429,      "too many requests (HTTP 429)")             \
    X(SERVER,       -4500,      "internal server error (HTTP 500)")         \
    X(UNAVAILABLE,  -4503,      "service unavailable (HTTP 503)")           \
    X(GATEWAY,      -4504,      "gateway timeout (HTTP 504)")

enum rl_err {
    RL_OK = 0,
#define RL_X_(name, code, msg) RL_E##name = (code),
    RL_ERR_MAP(RL_X_)
#undef RL_X_
};

/* A static description, e.g. "conflict (HTTP 409)"; never NULL. */
const char *rl_strerror(int err);

/*
 * The C library's description of a positive errno value, e.g. "No such
 * file or directory", like strerror() but thread-safe (strerror may write
 * a shared buffer); "Unknown error N" for a value it does not know.
 */
const char *rl_errno_str(int errnum);

/* The code's symbolic name, e.g. "CONFLICT"; never NULL. */
const char *rl_err_name(int err);

/*
 * Maps an HTTP status to an error: 2xx is 0, any other status is
 * -(4000 + status); those without an entry above read as "unexpected HTTP
 * status" (4xx) or "server error (HTTP 5xx)" in rl_strerror().
 */
int rl_err_from_http(long status);

/* The HTTP status an API error stands for, or 0 if it is not one. */
long rl_err_http_status(int err);

/* True for outcomes worth retrying: transport, timeouts, 429, 5xx. */
bool rl_err_retriable(int err);

#endif /* RL_ERR_H */
