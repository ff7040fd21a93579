/* test_pause.c - the pause-period states and patches (docs/reloader.md §10; §15.7 fixed) */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/reload/pause.h"

/* 2026-11-25T19:22:12Z */
#define NOW_US 1795634532000000LL
#define AT "2026-11-25T19:22:12Z"

Test(pause, no_period_no_pause)
{
    struct rl_pause p;

    rl_pause_eval(&p, NULL, NULL, NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_NONE));
    rl_pause_eval(&p, NULL, "", NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_NONE));
}

Test(pause, valid_period_is_ready)
{
    struct rl_pause p;

    rl_pause_eval(&p, "5m", NULL, NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_READY));
    cr_assert(eq(i64, p.period_ms, 300000));
    rl_pause_eval(&p, "1h30m", "", NOW_US);
    cr_assert(eq(i64, p.period_ms, 5400000));
}

Test(pause, negative_zero_and_bad_periods_are_refused)
{
    struct rl_pause p;
    const char *bad[] = { "-5m", "0", "0s", "500us", "abc", "5", "" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rl_pause_eval(&p, bad[i], NULL, NOW_US);
        cr_assert(eq(int, p.state, RL_PAUSE_INVALID), "%s", bad[i]);
    }
}

Test(pause, window_open_then_due)
{
    struct rl_pause p;

    rl_pause_eval(&p, "10s", AT, NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_OPEN));
    cr_assert(eq(i64, p.remaining_ms, 10000));
    rl_pause_eval(&p, "10s", AT, NOW_US + 9500000);
    cr_assert(eq(int, p.state, RL_PAUSE_OPEN));
    cr_assert(eq(i64, p.remaining_ms, 500));
    rl_pause_eval(&p, "10s", AT, NOW_US + 10000000);
    cr_assert(eq(int, p.state, RL_PAUSE_DUE));
    /* A restart long after: still resumed, at once. */
    rl_pause_eval(&p, "10s", AT, NOW_US + 3600000000LL);
    cr_assert(eq(int, p.state, RL_PAUSE_DUE));
}

Test(pause, future_paused_at_never_extends_the_window)
{
    struct rl_pause p;

    rl_pause_eval(&p, "10s", "2026-11-25T20:22:12Z", NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_OPEN));
    cr_assert(eq(i64, p.remaining_ms, 10000));
}

Test(pause, unparsable_paused_at_or_lost_period_resumes)
{
    struct rl_pause p;

    rl_pause_eval(&p, "10s", "yesterday", NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_DUE));
    rl_pause_eval(&p, NULL, AT, NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_DUE));
    rl_pause_eval(&p, "-1m", AT, NOW_US);
    cr_assert(eq(int, p.state, RL_PAUSE_DUE));
}

Test(pause, pause_joins_the_rollout_patch)
{
    struct rl_buf b;
    cJSON *j;

    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "{\"metadata\":{\"annotations\":{\"reloadd.io/applied\":\"{}\"}},"
                    "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\"}]}}}}");
    cr_assert(eq(int, rl_pause_add_to_patch(&b, "deployment.reloader.stakater.com/paused-at",
                                            NOW_US + 123456), 0));
    j = cJSON_Parse(b.buf);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "metadata.annotations"),
                                          "deployment.reloader.stakater.com/paused-at"), AT));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "metadata.annotations"),
                                          "reloadd.io/applied"), "{}"));
    cr_assert(rl_json_bool(rl_json_obj(j, "spec"), "paused", false));
    cr_assert(ne(ptr, (void *)rl_json_path(j, "spec.template.spec"), NULL));
    cJSON_Delete(j);

    rl_buf_reset(&b);
    rl_buf_adds(&b, "{}");
    cr_assert(eq(int, rl_pause_add_to_patch(&b, "k", NOW_US), 0));
    cr_assert(eq(str, b.buf, "{\"metadata\":{\"annotations\":{\"k\":\"" AT "\"}},\"spec\":{\"paused\":true}}"));
    rl_buf_reset(&b);
    rl_buf_adds(&b, "[1]");
    cr_assert(eq(int, rl_pause_add_to_patch(&b, "k", NOW_US), RL_EINVAL));
    rl_buf_release(&b);
}

Test(pause, resume_patch_is_reloaders)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_pause_resume_patch(&b, "deployment.reloader.stakater.com/paused-at"), 0));
    cr_assert(eq(str, b.buf, "{\"metadata\":{\"annotations\":{\"deployment.reloader.stakater.com/"
                             "paused-at\":null}},\"spec\":{\"paused\":false}}"));
    rl_buf_release(&b);
}
