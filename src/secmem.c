/* secmem.c - freeing memory that may have held Secret bytes */
#include "reloadd/secmem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void rl_free_wiped(void *p)
{
    if (!p)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}
