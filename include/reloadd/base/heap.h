/*
 * heap.h - binary min-heap of pointers, with positions reported back
 *
 * The heap orders items by a caller-supplied less(); it never owns or
 * frees them. When given a moved() callback, it tells each item its index
 * every time the item moves, and RL_HEAP_NONE when it leaves the heap, so
 * the owner can remove an item or fix its place after changing its key in
 * O(log n) (the timer heap of the workqueue re-times a key this way).
 *
 * Threads: none; callers lock.
 */
#ifndef RL_HEAP_H
#define RL_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_HEAP_NONE SIZE_MAX

struct rl_heap {
    void **_items;
    size_t _cap;
    size_t len;                                 /* read-only */
    bool (*_less)(const void *a, const void *b);
    void (*_moved)(void *item, size_t index);   /* may be NULL */
};

/* An empty heap; less() is required, moved() optional. */
void rl_heap_init(struct rl_heap *h, bool (*less)(const void *a, const void *b),
                  void (*moved)(void *item, size_t index));
/* Frees the heap's array, not the items (they are the caller's). */
void rl_heap_release(struct rl_heap *h);

void rl_heap_push(struct rl_heap *h, void *item);
/* The least item, or NULL if empty; it stays in the heap. */
void *rl_heap_peek(const struct rl_heap *h);
/* Removes and returns the least item, or NULL if empty. */
void *rl_heap_pop(struct rl_heap *h);
/* Removes and returns the item at index (as last told by moved()). */
void *rl_heap_remove(struct rl_heap *h, size_t index);
/* Restores order after the key of the item at index changed either way. */
void rl_heap_fix(struct rl_heap *h, size_t index);

#endif /* RL_HEAP_H */
