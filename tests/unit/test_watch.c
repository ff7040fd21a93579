#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/kube/watch.h"

/* What the framer delivered, as "TYPE name rv" lines. */
struct seen {
    char log[4096];
    int n;
    int stop_after;             /* return 99 from this event on (1-based); 0: never */
};

static int record(void *ctx, const char *type, const cJSON *object)
{
    struct seen *s = ctx;
    size_t len = strlen(s->log);

    snprintf(s->log + len, sizeof(s->log) - len, "%s %s %s\n", type,
             rl_json_str_or(rl_json_obj(object, "metadata"), "name", "-"),
             rl_json_str_or(rl_json_obj(object, "metadata"), "resourceVersion", "-"));
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 99 : 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"10\"},\"data\":{\"k\":\"v\\n{}\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"11\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
    "{\"resourceVersion\":\"12\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"13\"}}}\n";

static const char expected[] =
    "ADDED a 10\nMODIFIED a 11\nBOOKMARK - 12\nDELETED a 13\n";

Test(watch, split_at_every_pair_of_byte_boundaries)
{
    size_t len = strlen(stream);

    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            struct seen s = { .log = "" };
            struct rl_watch w;

            rl_watch_init(&w, 0, record, &s);
            cr_assert(eq(int, rl_watch_feed(&w, stream, i), 0));
            cr_assert(eq(int, rl_watch_feed(&w, stream + i, j - i), 0));
            cr_assert(eq(int, rl_watch_feed(&w, stream + j, len - j), 0));
            cr_assert(eq(int, rl_watch_finish(&w), 0));
            cr_assert(eq(str, s.log, (char *)expected), "split at %zu and %zu", i, j);
            cr_assert(eq(sz, w.events, 4));
            rl_watch_release(&w);
        }
    }
}

Test(watch, byte_by_byte)
{
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    for (size_t i = 0; stream[i]; i++)
        cr_assert(eq(int, rl_watch_feed(&w, stream + i, 1), 0));
    cr_assert(not(rl_watch_pending(&w)));
    cr_assert(eq(str, s.log, (char *)expected));
    rl_watch_release(&w);
}

Test(watch, several_lines_per_chunk_with_crlf_and_blank_lines)
{
    const char *in =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}}"
        "\r\n\n  \n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\",\"resourceVersion\":\"2\"}}}\r\n";
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, in, strlen(in)), 0));
    cr_assert(eq(str, s.log, "ADDED x 1\nADDED y 2\n"));
    rl_watch_release(&w);
}

Test(watch, over_long_line_is_toobig_and_buffer_stays_bounded)
{
    char chunk[100];
    struct seen s = { .log = "" };
    struct rl_watch w;
    int err = 0;

    memset(chunk, 'x', sizeof(chunk));
    rl_watch_init(&w, 1000, record, &s);
    for (int i = 0; i < 50 && !err; i++)
        err = rl_watch_feed(&w, chunk, sizeof(chunk));
    cr_assert(eq(int, err, RL_ETOOBIG));
    cr_assert(le(sz, w._line.len, 1000));
    cr_assert(le(sz, w._line._alloc, 2048));
    cr_assert(ne(ptr, strstr(w.status_message, "longer than 1000 bytes"), NULL));
    /* Spent: later input, even a valid event, returns the same error. */
    cr_assert(eq(int, rl_watch_feed(&w, stream, strlen(stream)), RL_ETOOBIG));
    cr_assert(eq(int, s.n, 0));
    rl_watch_release(&w);
}

Test(watch, over_long_complete_line_in_one_piece)
{
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 50, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, stream, strlen(stream)), RL_ETOOBIG));
    cr_assert(eq(int, s.n, 0));
    rl_watch_release(&w);
}

Test(watch, line_of_exactly_max_bytes_is_accepted)
{
    const char *line = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n\"}}}\n";
    size_t n = strlen(line) - 1;
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, n, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, line, 10), 0));
    cr_assert(eq(int, rl_watch_feed(&w, line + 10, strlen(line) - 10), 0));
    cr_assert(eq(int, s.n, 1));
    rl_watch_release(&w);
}

Test(watch, garbage_line_is_parse_error_after_earlier_events)
{
    const char *in =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}}\n"
        "<html>proxy error</html>\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\",\"resourceVersion\":\"2\"}}}\n";
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, in, strlen(in)), RL_EPARSE));
    cr_assert(eq(str, s.log, "ADDED x 1\n"));
    cr_assert(ne(ptr, strstr(w.status_message, "event 2"), NULL), "%s", w.status_message);
    rl_watch_release(&w);
}

Test(watch, unknown_type_or_non_object_is_parse_error)
{
    const char *bad[] = {
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "{\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":[1]}\n",
        "{\"type\":\"ADDED\"}\n",
        "[1,2,3]\n",
        "{\"type\":\"ADDED\",\"object\":{}} trailing\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct seen s = { .log = "" };
        struct rl_watch w;

        rl_watch_init(&w, 0, record, &s);
        cr_assert(eq(int, rl_watch_feed(&w, bad[i], strlen(bad[i])), RL_EPARSE), "%s", bad[i]);
        cr_assert(eq(int, s.n, 0));
        rl_watch_release(&w);
    }
}

Test(watch, error_event_410_is_gone_with_reason)
{
    const char *in =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}}\n"
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
        "\"Failure\",\"message\":\"too old resource version: 1 (42)\",\"reason\":\"Expired\","
        "\"code\":410}}\n";
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, in, strlen(in)), RL_EGONE));
    cr_assert(eq(str, s.log, "ADDED x 1\n"));
    cr_assert(eq(long, w.status_code, 410));
    cr_assert(eq(str, w.status_reason, "Expired"));
    cr_assert(eq(str, w.status_message, "too old resource version: 1 (42)"));
    rl_watch_release(&w);
}

Test(watch, error_event_other_codes)
{
    const char *e500 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500}}\n";
    const char *enocode = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}\n";
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, e500, strlen(e500)), rl_err_from_http(500)));
    rl_watch_release(&w);
    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, enocode, strlen(enocode)), RL_EPARSE));
    rl_watch_release(&w);
}

Test(watch, handler_return_value_stops_the_stream)
{
    struct seen s = { .log = "", .stop_after = 2 };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, stream, strlen(stream)), 99));
    cr_assert(eq(int, s.n, 2));
    cr_assert(eq(int, rl_watch_finish(&w), 99));
    rl_watch_release(&w);
}

Test(watch, finish_detects_a_cut_event)
{
    struct seen s = { .log = "" };
    struct rl_watch w;
    size_t first = strchr(stream, '\n') - stream + 1;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, stream, first + 20), 0));
    cr_assert(rl_watch_pending(&w));
    cr_assert(eq(int, rl_watch_finish(&w), RL_ETRANSPORT));
    cr_assert(eq(int, s.n, 1));
    cr_assert(ne(ptr, strstr(w.status_message, "ended inside event 2"), NULL), "%s",
              w.status_message);
    rl_watch_release(&w);
}

Test(watch, finish_accepts_a_whole_last_event_without_newline)
{
    const char *in = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"z\"}}}";
    struct seen s = { .log = "" };
    struct rl_watch w;

    rl_watch_init(&w, 0, record, &s);
    cr_assert(eq(int, rl_watch_feed(&w, in, strlen(in)), 0));
    cr_assert(eq(int, s.n, 0));
    cr_assert(eq(int, rl_watch_finish(&w), 0));
    cr_assert(eq(str, s.log, "ADDED z -\n"));
    rl_watch_release(&w);
}
