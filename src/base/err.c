/* err.c - the error table of err.h */
#include "reloadd/base/err.h"

#include <locale.h>
#include <string.h>
#include "reloadd/base/banned.h"

const char *rl_strerror(int err)
{
    switch (err) {
    case RL_OK:
        return "success";
#define RL_X_(name, code, msg) case RL_E##name: return msg;
    RL_ERR_MAP(RL_X_)
#undef RL_X_
    }
    if (err <= -4500 && err >= -4599)
        return "server error (HTTP 5xx)";
    if (err <= -4100 && err >= -4499)
        return "unexpected HTTP status";
    return "unknown error";
}

const char *rl_errno_str(int errnum)
{
    /* POSIX makes strerror_l() thread-safe; the locale is the thread's. */
    return strerror_l(errnum, uselocale((locale_t)0));
}

const char *rl_err_name(int err)
{
    switch (err) {
    case RL_OK:
        return "OK";
#define RL_X_(name, code, msg) case RL_E##name: return #name;
    RL_ERR_MAP(RL_X_)
#undef RL_X_
    }
    if (err <= -4100 && err >= -4599)
        return "HTTP";
    return "UNKNOWN";
}

int rl_err_from_http(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    if (status < 100 || status > 599)
        return RL_EPARSE;
    return (int)(-4000 - status);
}

long rl_err_http_status(int err)
{
    if (err <= -4100 && err >= -4599)
        return -(long)err - 4000;
    return 0;
}

bool rl_err_retriable(int err)
{
    long status = rl_err_http_status(err);

    if (err == RL_ETRANSPORT || err == RL_ETIMEOUT)
        return true;
    return status == 429 || status >= 500;
}
