/*
 * fuzz_kindfile.c - the parser of --workload-kinds-file under arbitrary YAML
 *
 * Oracle: never crash or leak; a failure is RL_ECONFIG with a message that
 * names the file and changes no kind; a success declares at most
 * RL_KIND_DECLARED_MAX kinds, each of which parses back by its key and has
 * a template path, and a set-field kind a field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/reload/kind.h"
#include "reloadd/reload/kindfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[1024] = "";
    int err = rl_kindfile_parse("/fuzz/kinds.yaml", (const char *)data, size, errbuf,
                                sizeof(errbuf));

    if (err) {
        if (err != RL_ECONFIG || rl_kind_count() != RL_KIND_COUNT ||
            strncmp(errbuf, "--workload-kinds-file '/fuzz/kinds.yaml'", 40) != 0)
            abort();
        return 0;
    }
    if (rl_kind_count() > RL_KIND_MAX)
        abort();
    for (int k = RL_KIND_COUNT; k < rl_kind_count(); k++) {
        const struct rl_kind_info *i = rl_kind_info((enum rl_kind)k);
        enum rl_kind back;

        if (!rl_kind_parse(i->key, &back) || back != (enum rl_kind)k || !i->template_path ||
            (i->writer == RL_WRITER_SET_FIELD && !i->field_path))
            abort();
    }
    rl_kind_declare(NULL, 0);
    return 0;
}
