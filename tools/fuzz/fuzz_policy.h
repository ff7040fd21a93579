/*
 * fuzz_policy.h - the policy of a set of flags, for the fuzz targets
 *
 * Header-only (the fuzz targets are one file each): fuzz_policy() parses
 * the NULL-terminated flags as main does and resolves their policy; a
 * flag set that does not parse is a bug of the target (abort).
 */
#ifndef FUZZ_POLICY_H
#define FUZZ_POLICY_H

#include <stdlib.h>

#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"

static inline struct rl_policy *fuzz_policy(const char *const *flags)
{
    char *av[16] = { (char *)"reloadd" };
    char *envp[] = { NULL };
    char err[256];
    struct rl_options o;
    struct rl_policy *p;
    int ac = 1;

    for (; *flags && ac < 15; flags++)
        av[ac++] = (char *)*flags;
    av[ac] = NULL;
    if (rl_options_parse(&o, ac, av, envp, err, sizeof(err)) != 0)
        abort();
    p = rl_policy_new(&o);
    rl_options_release(&o);
    return p;
}

#endif
