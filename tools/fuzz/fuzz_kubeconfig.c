/*
 * fuzz_kubeconfig.c - the kubeconfig parser under arbitrary YAML
 *
 * Oracle: never crash or leak; a failure always comes with a message that
 * names the file; a success yields a server URL. Exec plugins are parsed
 * but never run (the input would choose the command).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rl_kubeconfig *cfg = NULL;
    char errbuf[1024] = "";
    const char *context = NULL;
    char ctx[32];
    int err;

    /* A leading "@name\n" picks the context, to reach non-current ones. */
    if (size > 2 && data[0] == '@') {
        const uint8_t *nl = memchr(data, '\n', size < sizeof(ctx) ? size : sizeof(ctx));

        if (nl) {
            memcpy(ctx, data + 1, (size_t)(nl - data - 1));
            ctx[nl - data - 1] = '\0';
            context = ctx;
            size -= (size_t)(nl - data + 1);
            data = nl + 1;
        }
    }
    err = rl_kubeconfig_parse(&cfg, "/fuzz/config", (const char *)data, size, context, errbuf,
                              sizeof(errbuf));
    if (err) {
        if (cfg || err != RL_ECONFIG || !strstr(errbuf, "kubeconfig '/fuzz/config'"))
            abort();
        return 0;
    }
    if (!cfg || !cfg->server || strncmp(cfg->server, "http", 4) != 0)
        abort();
    if (!rl_kubeconfig_auth_refreshable(cfg)) {
        char *auth = NULL;

        /* Static token or client certificate: no file, no process. */
        if (rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)) != 0)
            abort();
        rl_free_secret(auth);
    }
    rl_kubeconfig_free(cfg);
    return 0;
}
