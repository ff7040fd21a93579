/* test_budget.c - the restart budget's arithmetic, with hand-made times */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/reload/budget.h"

static const struct rl_budget three_per_600 = { 3, 600 };

Test(budget, history_format)
{
    cr_assert(rl_rollouts_valid("100"));
    cr_assert(rl_rollouts_valid("100,100,250"));
    cr_assert(not(rl_rollouts_valid("")));
    cr_assert(not(rl_rollouts_valid("100,")));
    cr_assert(not(rl_rollouts_valid(",100")));
    cr_assert(not(rl_rollouts_valid("250,100")), "not ascending");
    cr_assert(not(rl_rollouts_valid("-5")));
    cr_assert(not(rl_rollouts_valid("1e3")));
    cr_assert(not(rl_rollouts_valid("99999999999999999999999")), "overflow");
}

Test(budget, annotation_forms)
{
    struct rl_budget b;
    char err[200];

    cr_assert(eq(int, rl_budget_parse(NULL, &three_per_600, &b, err, sizeof(err)), 0));
    cr_assert(eq(u32, b.max, 3));
    cr_assert(eq(int, rl_budget_parse("5", &three_per_600, &b, err, sizeof(err)), 0));
    cr_assert(eq(u32, b.max, 5));
    cr_assert(eq(i64, b.period_s, 600), "N alone keeps the default period");
    cr_assert(eq(int, rl_budget_parse("2/1h30m", &three_per_600, &b, err, sizeof(err)), 0));
    cr_assert(eq(u32, b.max, 2));
    cr_assert(eq(i64, b.period_s, 5400));
    cr_assert(eq(int, rl_budget_parse("off", &three_per_600, &b, err, sizeof(err)), 0));
    cr_assert(eq(u32, b.max, 0));
    cr_assert(eq(int, rl_budget_parse("0", &three_per_600, &b, err, sizeof(err)), 0));
    cr_assert(eq(u32, b.max, 0));
    static const char *const bad[] = { "", "x", "3/", "3/0s", "3/500ms", "101", "-1", "3/10m/2",
                                       "3 ", "3/forever" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert(eq(int, rl_budget_parse(bad[i], &three_per_600, &b, err, sizeof(err)),
                     RL_EINVAL), "\"%s\" accepted", bad[i]);
        cr_assert(eq(u32, b.max, 3), "a bad value keeps the default");
        cr_assert(strstr(err, "restart budget") != NULL);
    }
}

Test(budget, holds_past_max_and_frees_when_the_oldest_ages_out)
{
    struct rl_buf h;

    cr_assert(eq(i64, rl_budget_held_until(&three_per_600, NULL, 1000), 0));
    cr_assert(eq(i64, rl_budget_held_until(&three_per_600, "1000,1001", 1002), 0));
    cr_assert(eq(i64, rl_budget_held_until(&three_per_600, "1000,1001,1002", 1003), 1600));
    cr_assert(eq(u32, rl_budget_used(&three_per_600, "1000,1001,1002", 1003), 3));
    /* At 1600 the first left the period: two used, one free. */
    cr_assert(eq(i64, rl_budget_held_until(&three_per_600, "1000,1001,1002", 1600), 0));
    cr_assert(eq(u32, rl_budget_used(&three_per_600, "1000,1001,1002", 1600), 2));
    /* A budget lowered below the history's length waits for enough of it to leave. */
    struct rl_budget one = { 1, 600 };

    cr_assert(eq(i64, rl_budget_held_until(&one, "1000,1001,1002", 1003), 1602));
    struct rl_budget none = { 0, 600 };

    cr_assert(eq(i64, rl_budget_held_until(&none, "1000,1001,1002", 1003), 0));
    cr_assert(eq(i64, rl_budget_held_until(&three_per_600, "garbage", 1003), 0),
              "a history that does not parse holds nothing");

    rl_buf_init(&h, 0);
    cr_assert(eq(int, rl_budget_add(&h, &three_per_600, "100,1000,1001", 1600), 0));
    cr_assert(eq(str, h.buf, "1001,1600"), "entries out of the period are dropped: %s", h.buf);
    rl_buf_reset(&h);
    cr_assert(eq(int, rl_budget_add(&h, &three_per_600, NULL, 5), 0));
    cr_assert(eq(str, h.buf, "5"));
    rl_buf_reset(&h);
    cr_assert(eq(int, rl_budget_add(&h, &none, "1,2", 5), 0));
    cr_assert(eq(sz, h.len, 0), "no budget: no history");
    rl_buf_release(&h);
}

Test(budget, history_never_grows_past_the_cap)
{
    struct rl_budget big = { RL_BUDGET_MAX, 1000000 };
    struct rl_buf h, next;

    rl_buf_init(&h, 0);
    rl_buf_init(&next, 0);
    for (int64_t t = 1; t <= 3 * RL_BUDGET_MAX; t++) {
        rl_buf_reset(&next);
        cr_assert(eq(int, rl_budget_add(&next, &big, h.len ? h.buf : NULL, t), 0));
        rl_buf_reset(&h);
        rl_buf_adds(&h, next.buf);
        cr_assert(rl_rollouts_valid(h.buf), "%s", h.buf);
    }
    cr_assert(eq(u32, rl_budget_used(&big, h.buf, 3 * RL_BUDGET_MAX), RL_BUDGET_MAX));
    rl_buf_release(&h);
    rl_buf_release(&next);
}
