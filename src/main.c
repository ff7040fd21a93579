/* main.c - parses the command line and wires the modules together */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: reloadd [flags]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("reloadd %s\n", RL_VERSION);
            return 0;
        }
        fprintf(stderr, "reloadd: unknown flag '%s' (see --help)\n", argv[i]);
        return 2;
    }
    return 0;
}
