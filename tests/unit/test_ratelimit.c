#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/ratelimit.h"

Test(ratelimit, bucket_spends_burst_then_spaces_requests)
{
    struct rl_bucket b;

    rl_bucket_init(&b, 10.0, 100.0, 0);
    for (int i = 0; i < 100; i++)
        cr_assert(eq(u64, rl_bucket_reserve(&b, 0), 0), "request %d", i);
    cr_assert(eq(u64, rl_bucket_reserve(&b, 0), 100));
    cr_assert(eq(u64, rl_bucket_reserve(&b, 0), 200));
    /* A second refills ten tokens, more than the debt of two. */
    cr_assert(eq(u64, rl_bucket_reserve(&b, 1000), 0));
}

Test(ratelimit, unlimited_bucket_never_waits)
{
    struct rl_bucket b;

    rl_bucket_init(&b, 0, 1, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert(eq(u64, rl_bucket_reserve(&b, 0), 0));
}

Test(ratelimit, hold_defers_next_token_until_retry_after)
{
    struct rl_bucket b;

    rl_bucket_init(&b, 5.0, 10.0, 0);
    rl_bucket_hold(&b, 0, 3000);
    cr_assert(eq(u64, rl_bucket_reserve(&b, 0), 3000));
    cr_assert(eq(u64, rl_bucket_reserve(&b, 3000), 200));
}

Test(ratelimit, try_take_uses_only_spare_tokens)
{
    struct rl_bucket b;

    rl_bucket_init(&b, 10, 2, 1000);
    cr_assert_eq(rl_bucket_try_take(&b, 1000, 0), 0);      /* burst: free tokens */
    cr_assert_eq(rl_bucket_try_take(&b, 1000, 0), 0);
    cr_assert_eq(rl_bucket_try_take(&b, 1000, 0), 100);    /* empty: next in 100 ms */
    cr_assert_eq(rl_bucket_try_take(&b, 1050, 0), 50);     /* nothing taken meanwhile */
    cr_assert_eq(rl_bucket_try_take(&b, 1100, 0), 0);
    /* A foreground reserve promises future tokens: spare capacity waits for them. */
    cr_assert_eq(rl_bucket_reserve(&b, 1100), 100);
    cr_assert_eq(rl_bucket_reserve(&b, 1100), 200);
    cr_assert_eq(rl_bucket_try_take(&b, 1250, 0), 150);    /* -1.5 tokens at 1250 */
    cr_assert_eq(rl_bucket_try_take(&b, 1400, 0), 0);
    /* A reserve of 2 in a bucket of 4: two tokens for background work, no more. */
    rl_bucket_init(&b, 10, 4, 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 2), 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 2), 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 2), 100);
    cr_assert_eq(rl_bucket_reserve(&b, 0), 0);          /* the reserve is the foreground's */
    cr_assert_eq(rl_bucket_reserve(&b, 0), 0);
    /* A reserve beyond the burst still lets the last token go when the bucket is full. */
    rl_bucket_init(&b, 10, 2, 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 5), 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 5), 100);      /* until the bucket is full again */
    /* Unlimited: always free. */
    rl_bucket_init(&b, 0, 1, 0);
    cr_assert_eq(rl_bucket_try_take(&b, 0, 0), 0);
}

Test(ratelimit, backoff_doubles_and_caps)
{
    cr_assert(eq(u64, rl_backoff_ms(0, 5, 1000), 5));
    cr_assert(eq(u64, rl_backoff_ms(3, 5, 1000), 40));
    cr_assert(eq(u64, rl_backoff_ms(20, 5, 1000), 1000));
    cr_assert(eq(u64, rl_backoff_ms(200, 5, 1000), 1000));
    cr_assert(eq(u64, rl_backoff_jitter_ms(1, 100, 1000, 0.5, 0.0), 100));
    cr_assert(eq(u64, rl_backoff_jitter_ms(1, 100, 1000, 0.5, 0.5), 200));
}
