/* heap.c - binary min-heap of pointers, with positions reported back */
#include "reloadd/base/heap.h"

#include <stdlib.h>

#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

void rl_heap_init(struct rl_heap *h, bool (*less)(const void *a, const void *b),
                  void (*moved)(void *item, size_t index))
{
    h->_items = NULL;
    h->_cap = 0;
    h->len = 0;
    h->_less = less;
    h->_moved = moved;
}

void rl_heap_release(struct rl_heap *h)
{
    free(h->_items);
    h->_items = NULL;
    h->_cap = 0;
    h->len = 0;
}

static void place(struct rl_heap *h, size_t i, void *item)
{
    h->_items[i] = item;
    if (h->_moved)
        h->_moved(item, i);
}

/* Moves the item at i towards the root; true if it moved. */
static bool sift_up(struct rl_heap *h, size_t i)
{
    void *item = h->_items[i];
    size_t start = i;

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!h->_less(item, h->_items[parent]))
            break;
        place(h, i, h->_items[parent]);
        i = parent;
    }
    if (i != start)
        place(h, i, item);
    return i != start;
}

static void sift_down(struct rl_heap *h, size_t i)
{
    void *item = h->_items[i];
    size_t start = i;

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->len)
            break;
        if (child + 1 < h->len && h->_less(h->_items[child + 1], h->_items[child]))
            child++;
        if (!h->_less(h->_items[child], item))
            break;
        place(h, i, h->_items[child]);
        i = child;
    }
    if (i != start)
        place(h, i, item);
}

void rl_heap_push(struct rl_heap *h, void *item)
{
    if (h->len == h->_cap) {
        h->_cap = h->_cap ? h->_cap * 2 : 16;
        h->_items = rl_xreallocarray(h->_items, h->_cap, sizeof(*h->_items));
    }
    place(h, h->len++, item);
    sift_up(h, h->len - 1);
}

void *rl_heap_peek(const struct rl_heap *h)
{
    return h->len ? h->_items[0] : NULL;
}

void *rl_heap_pop(struct rl_heap *h)
{
    return h->len ? rl_heap_remove(h, 0) : NULL;
}

void *rl_heap_remove(struct rl_heap *h, size_t index)
{
    void *item;

    RL_ASSERT(index < h->len);
    item = h->_items[index];
    h->len--;
    if (index != h->len) {
        /* The last item fills the hole, then finds its place either way. */
        place(h, index, h->_items[h->len]);
        rl_heap_fix(h, index);
    }
    if (h->_moved)
        h->_moved(item, RL_HEAP_NONE);
    return item;
}

void rl_heap_fix(struct rl_heap *h, size_t index)
{
    RL_ASSERT(index < h->len);
    if (!sift_up(h, index))
        sift_down(h, index);
}
