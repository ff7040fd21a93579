#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

#include "reloadd/base/heap.h"


struct node {
    int key;
    size_t idx;
};

static bool node_less(const void *a, const void *b)
{
    return ((const struct node *)a)->key < ((const struct node *)b)->key;
}

static void node_moved(void *item, size_t index)
{
    ((struct node *)item)->idx = index;
}

/* Every parent is no greater than its children and every index is right. */
static void assert_heap(const struct rl_heap *h)
{
    for (size_t i = 0; i < h->len; i++) {
        const struct node *n = h->_items[i];

        cr_assert(eq(sz, n->idx, i), "index of item at %zu", i);
        if (i > 0)
            cr_assert(le(int, ((const struct node *)h->_items[(i - 1) / 2])->key, n->key));
    }
}

Test(heap, pops_in_order)
{
    static const int keys[] = { 5, 3, 9, 1, 7, 3, 8, 0, 2, 6 };
    struct node nodes[10];
    struct rl_heap h;
    int last = -1;

    rl_heap_init(&h, node_less, node_moved);
    cr_assert(eq(ptr, rl_heap_pop(&h), NULL));
    for (int i = 0; i < 10; i++) {
        nodes[i].key = keys[i];
        rl_heap_push(&h, &nodes[i]);
        assert_heap(&h);
    }
    cr_assert(eq(int, ((struct node *)rl_heap_peek(&h))->key, 0));
    for (int i = 0; i < 10; i++) {
        struct node *n = rl_heap_pop(&h);

        cr_assert(ge(int, n->key, last));
        cr_assert(eq(sz, n->idx, RL_HEAP_NONE));
        last = n->key;
        assert_heap(&h);
    }
    cr_assert(eq(sz, h.len, 0));
    rl_heap_release(&h);
}

Test(heap, remove_and_fix_keep_order_under_churn)
{
    enum { N = 500 };
    struct node *nodes = calloc(N, sizeof(*nodes));
    bool in[N] = { false };
    struct rl_heap h;

    srand(42);
    rl_heap_init(&h, node_less, node_moved);
    for (int round = 0; round < 20000; round++) {
        int i = rand() % N;

        switch (rand() % 4) {
        case 0:
            if (!in[i]) {
                nodes[i].key = rand() % 1000;
                rl_heap_push(&h, &nodes[i]);
                in[i] = true;
            }
            break;
        case 1:
            if (in[i]) {
                cr_assert(eq(ptr, rl_heap_remove(&h, nodes[i].idx), &nodes[i]));
                in[i] = false;
            }
            break;
        case 2:
            if (in[i]) {
                nodes[i].key = rand() % 1000;
                rl_heap_fix(&h, nodes[i].idx);
            }
            break;
        default:
            if (h.len) {
                struct node *n = rl_heap_pop(&h);

                for (int j = 0; j < N; j++)
                    cr_assert(not(in[j] && j != n - nodes && nodes[j].key < n->key));
                in[n - nodes] = false;
            }
        }
        if (round % 97 == 0)
            assert_heap(&h);
    }
    assert_heap(&h);
    rl_heap_release(&h);
    free(nodes);
}
