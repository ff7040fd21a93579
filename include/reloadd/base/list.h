/*
 * list.h - an intrusive doubly linked list with a tail and a length
 *
 * The element embeds a `struct rl_list_node` and is found from it with
 * rl_list_entry() (container_of). Nothing is allocated; an element is in
 * at most one list per node it embeds. O(1) insert and removal anywhere:
 * the workqueue's ready and lent queues, the concurrency cap's waiting and
 * in-flight queues, the watch mux's streams, the API client's per-thread
 * handles. Not thread-safe: the owner's lock covers the list and its
 * elements' nodes.
 */
#ifndef RELOADD_BASE_LIST_H
#define RELOADD_BASE_LIST_H

#include <stddef.h>

struct rl_list_node {
    struct rl_list_node *prev, *next;
};

struct rl_list {
    struct rl_list_node *head, *tail;   /* the front and the back */
    size_t len;
};

/* The element of type `type` whose member `member` is the node `node` (not NULL). */
#define rl_list_entry(node, type, member)                                                        \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* The element after `node`'s or the first of `l`'s, or NULL at the end. */
#define rl_list_next_entry(node, type, member)                                                   \
    ((node)->next ? rl_list_entry((node)->next, type, member) : (type *)NULL)
#define rl_list_first_entry(l, type, member)                                                     \
    ((l)->head ? rl_list_entry((l)->head, type, member) : (type *)NULL)

/* Inserts n after `after`, or at the head when `after` is NULL. */
static inline void rl_list_insert_after(struct rl_list *l, struct rl_list_node *after,
                                        struct rl_list_node *n)
{
    n->prev = after;
    n->next = after ? after->next : l->head;
    if (n->next)
        n->next->prev = n;
    else
        l->tail = n;
    if (after)
        after->next = n;
    else
        l->head = n;
    l->len++;
}

static inline void rl_list_append(struct rl_list *l, struct rl_list_node *n)
{
    rl_list_insert_after(l, l->tail, n);
}

static inline void rl_list_push_front(struct rl_list *l, struct rl_list_node *n)
{
    rl_list_insert_after(l, NULL, n);
}

/* Removes n, which must be in l. */
static inline void rl_list_remove(struct rl_list *l, struct rl_list_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    l->len--;
}

#endif
