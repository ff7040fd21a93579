#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>

#include "reloadd/base/list.h"

struct elem {
    int v;
    struct rl_list_node node;
};

/* The list read both ways equals want[0..n) and its length is n. */
static void assert_list(const struct rl_list *l, const int *want, size_t n)
{
    size_t i = 0;

    cr_assert(eq(sz, l->len, n));
    for (const struct rl_list_node *p = l->head; p; p = p->next, i++) {
        cr_assert(lt(sz, i, n));
        cr_assert(eq(int, rl_list_entry(p, struct elem, node)->v, want[i]));
        if (i)
            cr_assert(eq(ptr, (void *)p->prev->next, (void *)p));
        else
            cr_assert(eq(ptr, (void *)p->prev, NULL));
    }
    cr_assert(eq(sz, i, n));
    for (const struct rl_list_node *p = l->tail; p; p = p->prev)
        cr_assert(eq(int, rl_list_entry(p, struct elem, node)->v, want[--i]));
    cr_assert(eq(sz, i, 0));
}

Test(list, append_push_front_insert_and_remove_keep_both_directions)
{
    struct elem e[5];
    struct rl_list l = { 0 };

    for (int i = 0; i < 5; i++)
        e[i].v = i;
    cr_assert(eq(ptr, rl_list_first_entry(&l, struct elem, node), NULL));
    rl_list_append(&l, &e[1].node);
    rl_list_append(&l, &e[3].node);
    rl_list_push_front(&l, &e[0].node);
    rl_list_insert_after(&l, &e[1].node, &e[2].node);
    rl_list_insert_after(&l, l.tail, &e[4].node);
    assert_list(&l, (int[]){ 0, 1, 2, 3, 4 }, 5);
    cr_assert(eq(ptr, rl_list_first_entry(&l, struct elem, node), &e[0]));
    cr_assert(eq(ptr, rl_list_next_entry(&e[3].node, struct elem, node), &e[4]));
    cr_assert(eq(ptr, rl_list_next_entry(&e[4].node, struct elem, node), NULL));

    rl_list_remove(&l, &e[2].node);                 /* middle */
    assert_list(&l, (int[]){ 0, 1, 3, 4 }, 4);
    rl_list_remove(&l, &e[0].node);                 /* head */
    rl_list_remove(&l, &e[4].node);                 /* tail */
    assert_list(&l, (int[]){ 1, 3 }, 2);
    cr_assert(eq(ptr, (void *)e[4].node.next, NULL));
    rl_list_remove(&l, &e[1].node);
    rl_list_remove(&l, &e[3].node);
    assert_list(&l, NULL, 0);
    cr_assert(eq(ptr, (void *)l.head, NULL));
    cr_assert(eq(ptr, (void *)l.tail, NULL));
    rl_list_push_front(&l, &e[2].node);             /* into an emptied list */
    assert_list(&l, (int[]){ 2 }, 1);
}
