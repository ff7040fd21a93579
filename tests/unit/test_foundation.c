#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/map.h"
#include "reloadd/base/syntax.h"

Test(err, http_statuses_map_to_codes_and_back)
{
    cr_assert(eq(int, rl_err_from_http(200), 0));
    cr_assert(eq(int, rl_err_from_http(409), RL_ECONFLICT));
    cr_assert(eq(int, rl_err_from_http(410), RL_EGONE));
    cr_assert(eq(int, rl_err_from_http(418), -4418));
    cr_assert(eq(long, rl_err_http_status(RL_ETOOMANY), 429));
    cr_assert(eq(long, rl_err_http_status(RL_ETRANSPORT), 0));
    cr_assert(eq(str, (char *)rl_strerror(-4502), "server error (HTTP 5xx)"));
    cr_assert(eq(str, (char *)rl_strerror(RL_ECONFLICT), "conflict (HTTP 409)"));
    cr_assert(rl_err_retriable(RL_ETOOMANY));
    cr_assert(rl_err_retriable(-4503));
    cr_assert(not(rl_err_retriable(RL_ECONFLICT)));
}

Test(buf, cap_refuses_growth_and_keeps_contents)
{
    struct rl_buf b;

    rl_buf_init(&b, 8);
    cr_assert(eq(str, b.buf, ""));
    cr_assert(eq(int, rl_buf_adds(&b, "12345"), 0));
    cr_assert(eq(int, rl_buf_adds(&b, "6789"), RL_ETOOBIG));
    cr_assert(eq(str, b.buf, "12345"));
    cr_assert(eq(int, rl_buf_addf(&b, "%d", 678), 0));
    cr_assert(eq(str, b.buf, "12345678"));
    rl_buf_release(&b);
}

Test(buf, json_string_escapes_controls_and_quotes)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    rl_buf_add_json_str(&b, "a\"b\\c\n\x01");
    cr_assert(eq(str, b.buf, "\"a\\\"b\\\\c\\n\\u0001\""));
    /* As Go's encoding/json (>= 1.22): \b and \f short, HTML-safe, bad UTF-8 replaced. */
    rl_buf_reset(&b);
    rl_buf_add_json_str(&b, "\b\f<&>\xe2\x80\xa9\xc3");
    cr_assert(eq(str, b.buf, "\"\\b\\f\\u003c\\u0026\\u003e\\u2029\\ufffd\""));
    rl_buf_release(&b);
}

Test(map, put_get_delete_under_churn)
{
    struct rl_map m = RL_MAP_INIT;
    char key[32];

    for (int round = 0; round < 3; round++) {
        for (intptr_t i = 0; i < 5000; i++) {
            snprintf(key, sizeof(key), "ns/obj-%ld", (long)i);
            rl_map_put(&m, key, (void *)(i + 1));
        }
        for (intptr_t i = 0; i < 5000; i += 2) {
            snprintf(key, sizeof(key), "ns/obj-%ld", (long)i);
            cr_assert(eq(ptr, rl_map_del(&m, key), (void *)(i + 1)));
        }
        cr_assert(eq(sz, m.len, 2500));
        for (intptr_t i = 0; i < 5000; i++) {
            snprintf(key, sizeof(key), "ns/obj-%ld", (long)i);
            cr_assert(eq(ptr, rl_map_get(&m, key), (i % 2) ? (void *)(i + 1) : NULL), "%s", key);
        }
    }
    size_t it = 0, n = 0;
    while (rl_map_next(&m, &it, NULL, NULL))
        n++;
    cr_assert(eq(sz, n, 2500));
    rl_map_release(&m, NULL);
}

struct del_if_ctx {
    size_t calls;
    unsigned seen[4096];
    unsigned mod;
};

static bool drop_multiples(void *arg, const char *key, void *value)
{
    struct del_if_ctx *c = arg;
    uintptr_t v = (uintptr_t)value;

    (void)key;
    c->calls++;
    c->seen[v]++;
    return v % c->mod == 0;
}

/* Every member is asked once, however the backward shifts move the others. */
Test(map, del_if_asks_each_member_once_and_keeps_the_rest_reachable)
{
    char key[32];

    for (unsigned mod = 1; mod <= 5; mod++) {
        for (unsigned size = 1; size < 4096; size = size * 3 + 1) {
            struct rl_map m = RL_MAP_INIT;
            struct del_if_ctx c = { .mod = mod };
            size_t gone = 0;

            for (uintptr_t i = 0; i < size; i++) {
                snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
                rl_map_put(&m, key, (void *)i);
                gone += i % mod == 0;
            }
            cr_assert(eq(sz, rl_map_del_if(&m, drop_multiples, &c), gone));
            cr_assert(eq(sz, c.calls, size), "mod %u size %u", mod, size);
            for (uintptr_t i = 0; i < size; i++) {
                snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
                cr_assert(eq(uint, c.seen[i], 1));
                cr_assert(eq(ptr, rl_map_get(&m, key), i % mod ? (void *)i : NULL), "%s", key);
            }
            cr_assert(eq(sz, m.len, size - gone));
            rl_map_release(&m, NULL);
        }
    }
}

Test(clock, rfc3339_round_trip_with_micro_time)
{
    char out[32];
    int64_t us;

    cr_assert(eq(int, rl_parse_rfc3339("2026-11-25T17:36:00.123456Z", &us), 0));
    rl_format_micro_time(us, out);
    cr_assert(eq(str, out, "2026-11-25T17:36:00.123456Z"));
    rl_format_rfc3339(us, out);
    cr_assert(eq(str, out, "2026-11-25T17:36:00Z"));
    cr_assert(eq(int, rl_parse_rfc3339("2026-11-25T19:36:00+02:00", &us), 0));
    rl_format_rfc3339(us, out);
    cr_assert(eq(str, out, "2026-11-25T17:36:00Z"));
    cr_assert(eq(int, rl_parse_rfc3339("2026-11-25 17:36:00Z", &us), RL_EINVAL));
}

Test(syntax, dns_subdomains_and_go_booleans)
{
    static const char *const good[] = { "a", "reloadd.io", "kube-system", "a.b-c.d9", "0x" };
    static const char *const bad[] = { "", "-a", "a-", ".a", "a.", "A", "a_b", "a b", "é" };
    char long_name[300];
    bool ok;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(rl_dns_subdomain_ok(good[i], strlen(good[i])), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(not(rl_dns_subdomain_ok(bad[i], strlen(bad[i]))), "%s", bad[i]);
    memset(long_name, 'a', sizeof(long_name));
    cr_assert(rl_dns_subdomain_ok(long_name, 253));
    cr_assert(not(rl_dns_subdomain_ok(long_name, 254)));
    cr_assert(not(rl_dns_subdomain_ok(NULL, 0)));

    cr_assert(rl_parse_bool_go("T", &ok) && ok);
    cr_assert(eq(int, rl_parse_bool_go("FALSE", &ok), 0));
    cr_assert(ok);
    cr_assert(eq(int, rl_parse_bool_go("yes", &ok), 0));
    cr_assert(eq(int, ok, 0));
    cr_assert(eq(int, rl_parse_bool_go("tRUE", &ok), 0));
    cr_assert(eq(int, ok, 0));
    cr_assert(eq(int, rl_parse_bool_go(NULL, &ok), 0));
    cr_assert(eq(int, ok, 0));
}
