/*
 * test_redact.c - a webhook or alert URL is logged by its scheme and host
 * only: no user, password, path or query (where Slack, Teams and Google
 * Chat keep their tokens)
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <string.h>

#include "reloadd/base/redact.h"

static const char *redact(const char *url)
{
    static char out[RL_REDACTED_URL_SIZE];

    return rl_redact_url(url, out, sizeof(out));
}

Test(redact, credentials_path_query_and_fragment_go)
{
    cr_assert(eq(str, (char *)redact("https://user:pass@host:8443/path?token=x"),
                 "https://host:8443"));
    cr_assert(eq(str, (char *)redact("https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
                 "https://hooks.slack.com"));
    cr_assert(eq(str, (char *)redact("https://chat.googleapis.com/v1/spaces/AAA/messages?"
                                     "key=KEY&token=TOKEN"), "https://chat.googleapis.com"));
    cr_assert(eq(str, (char *)redact("https://example.webhook.office.com/webhookb2/abc@def/"
                                     "IncomingWebhook/123/456"),
                 "https://example.webhook.office.com"));
    cr_assert(eq(str, (char *)redact("http://127.0.0.1:8080"), "http://127.0.0.1:8080"));
    cr_assert(eq(str, (char *)redact("http://h?secret"), "http://h"));
    cr_assert(eq(str, (char *)redact("http://h#secret"), "http://h"));
    cr_assert(eq(str, (char *)redact("http://[::1]:9000/x"), "http://[::1]:9000"));
    cr_assert(eq(str, (char *)redact("http://token@h/"), "http://h"));
    /* An unencoded '@' in a password: cut at the last one, as curl does. */
    cr_assert(eq(str, (char *)redact("https://u:p@ss@host/x"), "https://host"));
}

Test(redact, nothing_of_a_malformed_url_is_shown)
{
    cr_assert(eq(str, (char *)redact(NULL), ""));
    cr_assert(eq(str, (char *)redact(""), ""));
    /* A bare token, or a URL without its scheme, may be the secret itself. */
    cr_assert(eq(str, (char *)redact("xoxb-123-secret"), "(not a URL)"));
    cr_assert(eq(str, (char *)redact("hooks.slack.com/services/T/B/X"), "(not a URL)"));
    cr_assert(eq(str, (char *)redact("  https://h/x"), "(not a URL)"));
    /* A '/' in a password cuts the authority short: "user:pa" is not a host. */
    cr_assert(eq(str, (char *)redact("https://user:pa/ss@host/x"), "https://(invalid host)"));
    cr_assert(eq(str, (char *)redact("https://user:secret"), "https://(invalid host)"));
    cr_assert(eq(str, (char *)redact("https://[::1/x"), "https://(invalid host)"));
}

Test(redact, output_is_bounded)
{
    char small[12], big[600];

    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "https://", 8);
    big[sizeof(big) - 1] = '\0';
    cr_assert(eq(str, (char *)rl_redact_url("https://example.com/x", small, sizeof(small)),
                 "https://exa"));
    cr_assert(eq(sz, strlen(redact(big)), (size_t)RL_REDACTED_URL_SIZE - 1));
    cr_assert(eq(str, (char *)rl_redact_url("https://h", small, 0), ""));
}
