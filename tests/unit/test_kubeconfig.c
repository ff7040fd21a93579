#define _GNU_SOURCE 1                   /* nftw's FTW_DEPTH, FTW_PHYS */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/kube/kubeconfig.h"

/* "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n" */
#define CERT_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClRFU1QKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n"

static char dir[64];
static char errbuf[1024];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strlcpy(dir, "/tmp/rl-kubeconfig-XXXXXX", sizeof(dir));
    cr_assert(ne(ptr, mkdtemp(dir), NULL));
    errbuf[0] = '\0';
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(kubeconfig, .init = setup, .fini = teardown);

/* Writes dir/name; returns the full path (caller frees). */
static char *write_file(const char *name, int mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *write_file(const char *name, int mode, const char *fmt, ...)
{
    char *path = rl_xasprintf("%s/%s", dir, name);
    char *tmp = rl_xasprintf("%s.tmp", path);
    va_list ap;
    FILE *f = fopen(tmp, "w");

    cr_assert(ne(ptr, f, NULL));
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    chmod(tmp, (mode_t)mode);
    /* rename: a new inode, as a rotating token file gets */
    cr_assert(eq(int, rename(tmp, path), 0));
    free(tmp);
    return path;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = rl_xcalloc(1, 8192);

    if (f) {
        size_t n = fread(buf, 1, 8191, f);

        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static const char basic[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "- name: local\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: " CERT_B64 "\n"
    "users:\n"
    "- name: admin\n"
    "  user:\n"
    "    client-certificate-data: " CERT_B64 "\n"
    "    client-key-data: " CERT_B64 "\n"
    "contexts:\n"
    "- name: local\n"
    "  context: {cluster: local, user: admin, namespace: team-a}\n"
    "current-context: local\n";

Test(kubeconfig, basic_file_with_embedded_data)
{
    struct rl_kubeconfig *cfg;
    char *path = write_file("config", 0600, "%s", basic);
    char *auth = (char *)"unset";

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(str, cfg->source, path));
    cr_assert(eq(str, cfg->context, "local"));
    cr_assert(eq(str, cfg->server, "https://127.0.0.1:6443"));
    cr_assert(eq(str, cfg->ca_data, CERT_PEM));
    cr_assert(eq(str, cfg->cert_data, CERT_PEM));
    cr_assert(eq(str, cfg->key_data, CERT_PEM));
    cr_assert(eq(ptr, cfg->ca_file, NULL));
    cr_assert(eq(str, cfg->namespace_, "team-a"));
    cr_assert(not(cfg->insecure_skip_tls_verify));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(ptr, auth, NULL), "client-cert users send no Authorization");
    rl_kubeconfig_free(cfg);
    free(path);
}

Test(kubeconfig, kubeconfig_env_merges_first_file_wins)
{
    struct rl_kubeconfig *cfg;
    char *a = write_file("a", 0600,
                         "current-context: one\n"
                         "clusters:\n"
                         "- name: c1\n  cluster: {server: 'https://first:1'}\n"
                         "contexts:\n"
                         "- name: one\n  context: {cluster: c1, user: u1}\n"
                         "users:\n"
                         "- name: u1\n  user: {token: first-token}\n");
    char *b = write_file("b", 0600,
                         "current-context: two\n"
                         "clusters:\n"
                         "- name: c1\n  cluster: {server: 'https://second:2'}\n"
                         "- name: c2\n  cluster: {server: 'https://second:3'}\n"
                         "contexts:\n"
                         "- name: one\n  context: {cluster: c2, user: u1}\n"
                         "- name: two\n  context: {cluster: c2, user: u2}\n"
                         "users:\n"
                         "- name: u1\n  user: {token: second-token}\n"
                         "- name: u2\n  user: {token: u2-token}\n");
    char *env = rl_xasprintf("%s/missing:%s::%s", dir, a, b);
    char *auth;

    setenv("KUBECONFIG", env, 1);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, NULL, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    /* current-context, the context, the cluster and the user: all from the first file. */
    cr_assert(eq(str, cfg->context, "one"));
    cr_assert(eq(str, cfg->server, "https://first:1"));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer first-token"));
    rl_free_secret(auth);
    cr_assert(ne(ptr, strstr(cfg->source, a), NULL));
    cr_assert(ne(ptr, strstr(cfg->source, b), NULL));
    rl_kubeconfig_free(cfg);

    /* An explicit context found only in the second file, with its entries. */
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, NULL, "two", errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(str, cfg->server, "https://second:3"));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer u2-token"));
    rl_free_secret(auth);
    rl_kubeconfig_free(cfg);

    /* The explicit path beats $KUBECONFIG. */
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, b, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(str, cfg->context, "two"));
    rl_kubeconfig_free(cfg);
    free(env);
    free(a);
    free(b);
}

Test(kubeconfig, unknown_context_and_missing_entries)
{
    struct rl_kubeconfig *cfg = NULL;
    char *path = write_file("config", 0600,
                            "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "contexts:\n- name: a\n  context: {cluster: nope, user: u}\n"
                            "- name: b\n  context: {cluster: c, user: nobody}\n");
    char want[512];

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(eq(ptr, cfg, NULL));
    snprintf(want, sizeof(want), "kubeconfig '%s': current-context is not set and no context was given", path);
    cr_assert(eq(str, errbuf, want));

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, "zz", errbuf, sizeof(errbuf)), RL_ECONFIG));
    snprintf(want, sizeof(want), "kubeconfig '%s': context 'zz' not found", path);
    cr_assert(eq(str, errbuf, want));

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, "a", errbuf, sizeof(errbuf)), RL_ECONFIG));
    snprintf(want, sizeof(want), "kubeconfig '%s': context 'a': cluster 'nope' not found", path);
    cr_assert(eq(str, errbuf, want));

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, "b", errbuf, sizeof(errbuf)), RL_ECONFIG));
    snprintf(want, sizeof(want), "kubeconfig '%s': context 'b': user 'nobody' not found", path);
    cr_assert(eq(str, errbuf, want));
    free(path);
}

Test(kubeconfig, files_are_resolved_relative_to_the_kubeconfig)
{
    struct rl_kubeconfig *cfg;
    char *ca, *crt, *key, *path, *want = rl_xasprintf("%s/pki", dir);

    cr_assert(eq(int, mkdir(want, 0700), 0));
    free(want);
    ca = write_file("pki/ca.crt", 0600, CERT_PEM);
    crt = write_file("pki/me.crt", 0600, CERT_PEM);
    key = write_file("pki/me.key", 0600, "KEY");
    path = write_file("config", 0600,
                      "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
                      "    certificate-authority: pki/ca.crt\n"
                      "users:\n- name: u\n  user:\n    client-certificate: %s\n"
                      "    client-key: ./pki/me.key\n"
                      "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                      "current-context: x\n",
                      crt);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(str, cfg->ca_file, ca));
    cr_assert(eq(str, cfg->cert_file, crt));
    want = rl_xasprintf("%s/./pki/me.key", dir);
    cr_assert(eq(str, cfg->key_file, want));
    cr_assert(eq(ptr, cfg->ca_data, NULL));
    cr_assert(eq(ptr, cfg->key_data, NULL));
    rl_kubeconfig_free(cfg);

    /* A file that is not there is named with the field that names it. */
    unlink(key);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    free(want);
    want = rl_xasprintf("kubeconfig '%s': user 'u': cannot read client-key '%s/./pki/me.key': "
                        "No such file or directory", path, dir);
    cr_assert(eq(str, errbuf, want));
    free(want);
    free(ca);
    free(crt);
    free(key);
    free(path);
}

Test(kubeconfig, bad_base64_names_file_user_and_field)
{
    struct rl_kubeconfig *cfg = NULL;
    char *path = write_file("config", 0600,
                            "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                            "users:\n- name: bob\n  user:\n"
                            "    client-certificate-data: " CERT_B64 "\n"
                            "    client-key-data: 'not*base64'\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: bob}\n"
                            "current-context: x\n");
    char *want = rl_xasprintf("kubeconfig '%s': user 'bob': client-key-data is not valid base64",
                              path);

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(eq(str, errbuf, want));
    cr_assert(eq(ptr, cfg, NULL));
    free(want);
    free(path);
}

Test(kubeconfig, base64_padding_and_whitespace_rules)
{
    static const struct {
        const char *b64;
        bool ok;
    } cases[] = {
        { "YQ==", true }, { "YWI=", true }, { "YWJj", true }, { "YW Jj\n", true },
        { "YQ", false }, { "YQ=", false }, { "Y===", false }, { "YQ==YQ==", false },
        { "YWJj!", false }, { "", false },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rl_kubeconfig *cfg = NULL;
        char *yaml = rl_xasprintf(
            "clusters:\n- name: c\n  cluster: {server: 'https://h', "
            "certificate-authority-data: '%s'}\n"
            "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
            cases[i].b64);
        int err = rl_kubeconfig_parse(&cfg, "/mem/config", yaml, strlen(yaml), NULL, errbuf,
                                      sizeof(errbuf));

        cr_assert(eq(int, err, cases[i].ok ? 0 : RL_ECONFIG), "'%s': %s", cases[i].b64, errbuf);
        rl_kubeconfig_free(cfg);
        free(yaml);
    }
}

Test(kubeconfig, malformed_yaml_names_file_and_line)
{
    struct rl_kubeconfig *cfg = NULL;
    char *path = write_file("config", 0600, "clusters:\n- name: c\n  cluster: [unclosed\n"
                                            "users: {}\n");
    char *prefix = rl_xasprintf("kubeconfig '%s': invalid YAML at line ", path);

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(eq(int, strncmp(errbuf, prefix, strlen(prefix)), 0), "%s", errbuf);
    free(prefix);
    free(path);
}

Test(kubeconfig, wrong_shapes_name_the_field)
{
    static const struct {
        const char *yaml;
        const char *msg;
    } cases[] = {
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters: {a: b}\n",
          "clusters is not a list" },
        { "- a\n- b\n", "the top level is not a map" },
        { "current-context: x\ncontexts:\n- context: {cluster: c}\n", "contexts[0] has no name" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
          "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: 'yes'}\n",
          "cluster 'c': server is not set" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
          "clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}\n",
          "cluster 'c': insecure-skip-tls-verify must be true or false, not 'maybe'" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
          "clusters:\n- name: c\n  cluster: {server: [a]}\n",
          "cluster 'c': server is not a string" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
          "users:\n- name: u\n  user: {client-certificate-data: " CERT_B64 "}\n",
          "user 'u': client-certificate is set but client-key is not" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
          "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
          "users:\n- name: u\n  user: {exec: {command: x, apiVersion: v9}}\n",
          "user 'u': exec.apiVersion must be client.authentication.k8s.io/v1 or v1beta1, not 'v9'" },
        { "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
          "clusters:\n- name: c\n  cluster: {server: 'ftp://h'}\n",
          "cluster 'c': server 'ftp://h' is not an http(s) URL" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rl_kubeconfig *cfg = NULL;
        char want[512];

        snprintf(want, sizeof(want), "kubeconfig '/m/c': %s", cases[i].msg);
        cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/m/c", cases[i].yaml,
                                              strlen(cases[i].yaml), NULL, errbuf,
                                              sizeof(errbuf)),
                     RL_ECONFIG), "case %zu", i);
        cr_assert(eq(str, errbuf, want), "case %zu", i);
        cr_assert(eq(ptr, cfg, NULL));
    }
}

Test(kubeconfig, insecure_only_when_the_file_says_true)
{
#define INSECURE_FMT                                                                     \
    "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"                 \
    "clusters:\n- name: c\n  cluster: {server: 'h:6443'%s}\n"
    const char *variants[] = { "", ", insecure-skip-tls-verify: false",
                               ", insecure-skip-tls-verify: true" };

    for (int i = 0; i < 3; i++) {
        struct rl_kubeconfig *cfg;
        char *yaml = rl_xasprintf(INSECURE_FMT, variants[i]);

        cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/m/c", yaml, strlen(yaml), NULL, errbuf,
                                              sizeof(errbuf)), 0), "%s", errbuf);
        cr_assert(eq(int, cfg->insecure_skip_tls_verify, i == 2));
        cr_assert(eq(str, cfg->server, "https://h:6443"));
        rl_kubeconfig_free(cfg);
        free(yaml);
    }
    /* Insecure and a CA: refused, as client-go does (issue 13: was accepted silently). */
    {
        struct rl_kubeconfig *cfg = NULL;
        char *yaml = rl_xasprintf(INSECURE_FMT, ", insecure-skip-tls-verify: true, "
                                  "certificate-authority-data: 'LS0tLS1CRUdJTg=='");

        cr_assert(ne(int, rl_kubeconfig_parse(&cfg, "/m/c", yaml, strlen(yaml), NULL, errbuf,
                                              sizeof(errbuf)), 0));
        cr_assert(ne(ptr, strstr(errbuf, "insecure flag is not allowed"), NULL), "%s", errbuf);
        free(yaml);
    }
}

Test(kubeconfig, empty_and_missing_files)
{
    struct rl_kubeconfig *cfg = NULL;
    char *empty = write_file("empty", 0600, "%s", "");
    char *missing = rl_xasprintf("%s/nope", dir);
    char *both = rl_xasprintf("%s:%s/nope2", missing, dir);
    char *want;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, empty, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "current-context is not set"), NULL), "%s", errbuf);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, missing, NULL, errbuf, sizeof(errbuf)), RL_ENOENT));
    want = rl_xasprintf("kubeconfig '%s': No such file or directory", missing);
    cr_assert(eq(str, errbuf, want));
    free(want);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, both, NULL, errbuf, sizeof(errbuf)), RL_ENOENT));
    cr_assert(ne(ptr, strstr(errbuf, "none of"), NULL), "%s", errbuf);
    /* A FIFO (no writer: open() alone would block for ever) is refused at once. */
    {
        char *fifo = rl_xasprintf("%s/fifo", dir);

        cr_assert(eq(int, mkfifo(fifo, 0600), 0));
        cr_assert(ne(int, rl_kubeconfig_load(&cfg, fifo, NULL, errbuf, sizeof(errbuf)), 0));
        cr_assert(ne(ptr, strstr(errbuf, "not a regular file"), NULL), "%s", errbuf);
        /* So is a FIFO named as a CA, client certificate or token file (curl would block). */
        for (int i = 0; i < 3; i++) {
            static const char *const users[] = {
                "{token: t}", "{client-certificate: fifo, client-key: fifo}", "{tokenFile: fifo}",
            };
            char *path = write_file("config", 0600,
                                    "current-context: x\ncontexts:\n- name: x\n  context: "
                                    "{cluster: c, user: u}\nclusters:\n- name: c\n  cluster: "
                                    "{server: 'https://h:1'%s}\nusers:\n- name: u\n  user: %s\n",
                                    i == 0 ? ", certificate-authority: fifo" : "", users[i]);

            cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)),
                         RL_ECONFIG), "%d", i);
            cr_assert(ne(ptr, strstr(errbuf, "/fifo' is not a regular file"), NULL), "%s", errbuf);
            free(path);
        }
        unlink(fifo);
        free(fifo);
    }
    free(empty);
    free(missing);
    free(both);
}

/* Builds a kubeconfig text whose users entry nests `depth` levels of `open` deeper. */
static char *nested(size_t bytes, const char *open, const char *close)
{
    size_t n = bytes / strlen(open), k = 0, cap = bytes * 2 + 512;
    char *s = rl_xmalloc(cap);

    k += (size_t)snprintf(s, cap, "current-context: x\nusers:\n- name: u\n  user: {exec: ");
    for (size_t i = 0; i < n; i++, k += strlen(open))
        memcpy(s + k, open, strlen(open));
    for (size_t i = 0; close && i < n; i++, k += strlen(close))
        memcpy(s + k, close, strlen(close));
    s[k] = '\0';
    return s;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Refuses a text and says why, in well under libyaml's quadratic time. */
static void refused_for_nesting(const char *what, const char *text, double *took)
{
    struct rl_kubeconfig *cfg = NULL;
    double t0 = mono_s();
    int err = rl_kubeconfig_parse(&cfg, "/k/config", text, strlen(text), NULL, errbuf,
                                  sizeof(errbuf));

    *took = mono_s() - t0;
    cr_assert(eq(int, err, RL_ECONFIG), "%s", what);
    cr_assert(eq(ptr, cfg, NULL));
    cr_assert(ne(ptr, strstr(errbuf, "kubeconfig '/k/config': nesting deeper than 64 at line "),
                 NULL), "%s: %s", what, errbuf);
    cr_assert(lt(dbl, *took, 2.0), "%s: %.2f s", what, *took);
}

/*
 * libyaml takes time quadratic in the nesting (400 KB of '[' took 124 s):
 * the text is measured first, and anything deeper than 64 levels refused.
 */
Test(kubeconfig, deep_nesting_is_refused_before_parsing, .timeout = 60)
{
    struct rl_kubeconfig *cfg = NULL;
    struct rl_buf b;
    double took;
    char *s;

    s = nested(400 << 10, "[", NULL);
    refused_for_nesting("400 KB of [", s, &took);
    cr_log_info("400 KB of '[': refused in %.3f s", took);
    free(s);
    s = nested(400 << 10, "{", NULL);
    refused_for_nesting("400 KB of {", s, &took);
    cr_log_info("400 KB of '{': refused in %.3f s", took);
    free(s);
    s = nested(400 << 10, "[", "]");        /* balanced, so valid YAML */
    refused_for_nesting("[[[...]]]", s, &took);
    free(s);
    s = nested(200 << 10, "{a: ", "}");
    refused_for_nesting("{a: {a: ...}}", s, &took);
    free(s);

    /* Block nesting: a map per line, each indented one more; and "- - - -". */
    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "current-context: x\n");
    for (int i = 0; i < 2000; i++)
        rl_buf_addf(&b, "%*sk%d:\n", i, "", i);
    refused_for_nesting("block maps", b.buf, &took);
    cr_log_info("2000 nested block maps: refused in %.3f s", took);
    rl_buf_reset(&b);
    rl_buf_adds(&b, "current-context: x\nusers:\n");
    for (int i = 0; i < 100000; i++)
        rl_buf_adds(&b, "- ");
    rl_buf_adds(&b, "x\n");
    refused_for_nesting("- - - -", b.buf, &took);
    cr_log_info("100000 nested '- ': refused in %.3f s", took);
    rl_buf_release(&b);

    /* Brackets in quotes, comments, plain and block scalars are not nesting. */
    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                    "clusters:\n- name: c\n  cluster:\n    server: https://h:1/[[[[[\n"
                    "    certificate-authority-data: " CERT_B64 "\n"
                    "    # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
                    "    extensions:\n    - name: a\n      extension: {x: '[[[[', y: \"{{\\\"\"}\n"
                    "    - name: b\n      extension: |\n");
    for (int i = 0; i < 100; i++)
        rl_buf_addf(&b, "        %*s[{ %d\n", i, "", i);
    cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/k/config", b.buf, b.len, NULL, errbuf,
                                          sizeof(errbuf)), 0), "%s", errbuf);
    cr_assert(eq(str, cfg->server, "https://h:1/[[[[["));
    rl_kubeconfig_free(cfg);
    rl_buf_release(&b);

    /* 64 levels (the top map, '{', 62 '[') pass and parse; 65 do not. */
    for (int extra = 0; extra < 2; extra++) {
        rl_buf_init(&b, 0);
        rl_buf_adds(&b, "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                        "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
                        "certificate-authority-data: " CERT_B64 "}\npreferences: {x: ");
        for (int i = 0; i < 62 + extra; i++)
            rl_buf_addc(&b, '[');
        for (int i = 0; i < 62 + extra; i++)
            rl_buf_addc(&b, ']');
        rl_buf_adds(&b, "}\n");
        if (extra) {
            refused_for_nesting("65 levels", b.buf, &took);
        } else {
            cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/k/config", b.buf, b.len, NULL, errbuf,
                                                  sizeof(errbuf)), 0), "%s", errbuf);
            rl_kubeconfig_free(cfg);
        }
        rl_buf_release(&b);
    }
}

Test(kubeconfig, token_file_is_reread_when_it_rotates)
{
    struct rl_kubeconfig *cfg;
    char *tok = write_file("token", 0600, "first\n");
    char *path = write_file("config", 0600,
                            "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                            "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                            "users:\n- name: u\n  user: {token: static, tokenFile: token}\n");
    char *auth;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(rl_kubeconfig_auth_refreshable(cfg));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0), "%s", errbuf);
    cr_assert(eq(str, auth, "Bearer first"), "tokenFile wins over token");
    rl_free_secret(auth);

    free(write_file("token", 0600, "second"));
    /* Checked at most every few seconds: the old token is still served... */
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer first"));
    rl_free_secret(auth);
    /* ...until the server refuses it. */
    rl_kubeconfig_auth_failed(cfg);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer second"));
    rl_free_secret(auth);

    /* A token file that vanishes mid-rotation keeps the last token. */
    unlink(tok);
    rl_kubeconfig_auth_failed(cfg);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer second"));
    rl_free_secret(auth);
    rl_kubeconfig_free(cfg);

    /* At load time a missing token file is an error naming it. */
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "user 'u': cannot read tokenFile"), NULL), "%s", errbuf);
    free(tok);
    free(path);
}

static char *exec_config(const char *script, const char *extra)
{
    return write_file("config", 0600,
                      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                      "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
                      "certificate-authority-data: " CERT_B64 "}\n"
                      "users:\n- name: u\n  user:\n    exec:\n"
                      "      apiVersion: client.authentication.k8s.io/v1\n"
                      "      command: %s\n"
                      "      args: [alpha, 'two words']\n"
                      "      env:\n      - {name: PLUGIN_FOO, value: bar}\n"
                      "      installHint: install the plugin\n"
                      "      provideClusterInfo: true\n"
                      "      interactiveMode: Never\n%s",
                      script, extra ? extra : "");
}

/* The plugin counts its runs, records its input, and prints a credential. */
static char *plugin(const char *expiry, const char *extra_shell)
{
    return write_file("plugin.sh", 0700,
                      "#!/bin/sh\n"
                      "d=$(dirname \"$0\")\n"
                      "n=$(cat \"$d/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$d/count\"\n"
                      "printf '%%s|%%s|%%s' \"$1\" \"$2\" \"$PLUGIN_FOO\" > \"$d/args\"\n"
                      "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > \"$d/info\"\n"
                      "%s\n"
                      "cat <<EOF\n"
                      "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                      "\"status\":{\"token\":\"tok-$n\"%s%s%s}}\n"
                      "EOF\n",
                      extra_shell ? extra_shell : "", expiry ? ",\"expirationTimestamp\":\"" : "",
                      expiry ? expiry : "", expiry ? "\"" : "");
}

static int runs(void)
{
    char *p = rl_xasprintf("%s/count", dir);
    char *s = read_all(p);
    int n = (int)strtol(s, NULL, 10);

    free(s);
    free(p);
    return n;
}

Test(kubeconfig, exec_plugin_token_cached_until_expiry)
{
    struct rl_kubeconfig *cfg;
    char *script = plugin("2999-01-01T00:00:00Z", NULL);
    char *path = exec_config("./plugin.sh", NULL);
    char *auth, *args, *info, *p;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(int, runs(), 0), "the plugin runs on first use, not at load");
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0), "%s", errbuf);
    cr_assert(eq(str, auth, "Bearer tok-1"));
    rl_free_secret(auth);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0), "%s", errbuf);
    cr_assert(eq(str, auth, "Bearer tok-1"));
    rl_free_secret(auth);
    cr_assert(eq(int, runs(), 1));

    p = rl_xasprintf("%s/args", dir);
    args = read_all(p);
    cr_assert(eq(str, args, "alpha|two words|bar"));
    free(p);
    p = rl_xasprintf("%s/info", dir);
    info = read_all(p);
    cr_assert(ne(ptr, strstr(info, "\"kind\":\"ExecCredential\""), NULL), "%s", info);
    cr_assert(ne(ptr, strstr(info, "\"apiVersion\":\"client.authentication.k8s.io/v1\""), NULL));
    cr_assert(ne(ptr, strstr(info, "\"interactive\":false"), NULL), "%s", info);
    cr_assert(ne(ptr, strstr(info, "\"server\":\"https://h:1\""), NULL), "%s", info);
    cr_assert(ne(ptr, strstr(info, "\"certificate-authority-data\":\"" CERT_B64 "\""), NULL),
              "%s", info);

    /* A 401 drops the cached credential. */
    rl_kubeconfig_auth_failed(cfg);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0), "%s", errbuf);
    cr_assert(eq(str, auth, "Bearer tok-2"));
    rl_free_secret(auth);
    rl_kubeconfig_free(cfg);
    free(args);
    free(info);
    free(p);
    free(script);
    free(path);
}

Test(kubeconfig, exec_plugin_rerun_when_expired)
{
    struct rl_kubeconfig *cfg;
    char *script = plugin("2001-01-01T00:00:00Z", NULL);
    char *path = exec_config("./plugin.sh", NULL);
    char *auth;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    for (int i = 1; i <= 3; i++) {
        char want[32];

        cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0), "%s",
                  errbuf);
        snprintf(want, sizeof(want), "Bearer tok-%d", i);
        cr_assert(eq(str, auth, want));
        rl_free_secret(auth);
    }
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);
}

Test(kubeconfig, exec_plugin_failures_are_explained)
{
    struct rl_kubeconfig *cfg;
    char *script = plugin(NULL, "echo 'login required' >&2; exit 3");
    char *path = exec_config("./plugin.sh", NULL);
    char *auth = NULL;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(eq(ptr, auth, NULL));
    cr_assert(ne(ptr, strstr(errbuf, "failed (exit 3): login required"), NULL), "%s", errbuf);
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);

    /* Output that is not an ExecCredential. */
    script = write_file("plugin.sh", 0700, "#!/bin/sh\necho '{\"kind\":\"Pod\"}'\n");
    path = exec_config("./plugin.sh", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "did not print an ExecCredential"), NULL), "%s", errbuf);
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);

    /* A command that does not exist gets the install hint. */
    path = exec_config("rl-no-such-plugin-xyz", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "rl-no-such-plugin-xyz"), NULL), "%s", errbuf);
    cr_assert(ne(ptr, strstr(errbuf, "install the plugin"), NULL), "%s", errbuf);
    rl_kubeconfig_free(cfg);
    free(path);

    /* A bad expirationTimestamp. */
    script = plugin("yesterday", NULL);
    path = exec_config("./plugin.sh", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "expirationTimestamp 'yesterday'"), NULL), "%s", errbuf);
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);
}

Test(kubeconfig, exec_plugin_stderr_and_status_are_one_bounded_line)
{
    struct rl_kubeconfig *cfg;
    char *script, *path, *auth = NULL, *msg, big[8192];

    /* Two lines, then 5000 bytes in one write: the message is one line, its head. */
    script = write_file("plugin.sh", 0700,
                        "#!/bin/sh\nprintf 'token expired\\n\\trun  login\\n' >&2\n"
                        "head -c 5000 /dev/zero | tr '\\0' x >&2\nexit 7\n");
    path = exec_config("./plugin.sh", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, big, sizeof(big)), RL_ECONFIG));
    cr_assert(eq(ptr, auth, NULL));
    cr_assert(ne(ptr, strstr(big, "user 'u': exec plugin"), NULL), "%s", big);
    msg = strstr(big, "failed (exit 7): token expired run login xxx");
    cr_assert(ne(ptr, msg, NULL), "%s", big);
    cr_assert(eq(ptr, strpbrk(big, "\n\r\t"), NULL), "not one line: %s", big);
    msg += strlen("failed (exit 7): ");
    cr_assert(eq(sz, strlen(msg), (size_t)1024 + 3), "%s", msg);
    cr_assert(eq(str, msg + 1024, "..."));
    rl_kubeconfig_free(cfg);
    free(script);

    /* Killed by a signal: the signal and what it printed first. */
    script = write_file("plugin.sh", 0700, "#!/bin/sh\necho 'about to die' >&2\nkill -9 $$\n");
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, big, sizeof(big)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(big, "was killed by signal 9: about to die"), NULL), "%s", big);
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);
}

struct auth_call {
    struct rl_kubeconfig *cfg;
    int err;
    char *auth;
    char msg[512];
    uint64_t ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *auth_thread(void *arg)
{
    struct auth_call *c = arg;
    uint64_t t0 = now_ms();

    c->err = rl_kubeconfig_auth(c->cfg, &c->auth, c->msg, sizeof(c->msg));
    c->ms = now_ms() - t0;
    return NULL;
}

/*
 * The plugin runs outside the lock: while a refresh hangs, a request whose
 * credential has not expired yet (it is only within the 5 s refresh
 * margin) is served at once with it.
 */
Test(kubeconfig, hung_exec_plugin_does_not_block_a_valid_credential)
{
    struct rl_kubeconfig *cfg;
    struct auth_call refresh = { 0 }, other = { 0 };
    pthread_t t;
    char *script, *path;

    /* Run 1: a token valid for 3 s more; run 2: hangs 3 s, then a lasting token. */
    script = write_file("plugin.sh", 0700,
                        "#!/bin/sh\nd=$(dirname \"$0\")\n"
                        "n=$(cat \"$d/count\" 2>/dev/null || echo 0); n=$((n+1)); "
                        "echo $n > \"$d/count\"\n"
                        "exp=$(date -u -d \"@$(( $(date +%%s) + 4 ))\" +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
                        "[ $n -ge 2 ] && { sleep 3; exp=2999-01-01T00:00:00Z; }\n"
                        "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                        "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-'$n'\","
                        "\"expirationTimestamp\":\"'$exp'\"}}'\n");
    path = exec_config("./plugin.sh", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    refresh.cfg = other.cfg = cfg;
    auth_thread(&other);
    cr_assert(eq(int, other.err, 0), "%s", other.msg);
    cr_assert(eq(str, other.auth, "Bearer tok-1"));
    rl_free_secret(other.auth);

    /* tok-1 is within the refresh margin: the next call refreshes, and hangs. */
    cr_assert(eq(int, pthread_create(&t, NULL, auth_thread, &refresh), 0));
    while (runs() < 2)
        usleep(10000);
    auth_thread(&other);
    cr_assert(eq(int, other.err, 0), "%s", other.msg);
    cr_assert(eq(str, other.auth, "Bearer tok-1"));
    cr_assert(lt(u64, other.ms, 500), "a valid credential waited %llu ms for the plugin",
              (unsigned long long)other.ms);
    rl_free_secret(other.auth);
    pthread_join(t, NULL);
    cr_assert(eq(int, refresh.err, 0), "%s", refresh.msg);
    cr_assert(eq(str, refresh.auth, "Bearer tok-2"));
    cr_assert(ge(u64, refresh.ms, 2500));
    rl_free_secret(refresh.auth);
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);
}

/* With no valid credential, concurrent callers share one run: its token or its failure. */
Test(kubeconfig, concurrent_exec_refreshes_run_the_plugin_once)
{
    struct rl_kubeconfig *cfg;
    struct auth_call calls[4] = { 0 };
    pthread_t t[4];
    char *script = plugin("2999-01-01T00:00:00Z", "sleep 1");
    char *path = exec_config("./plugin.sh", NULL);

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    for (int i = 0; i < 4; i++) {
        calls[i].cfg = cfg;
        cr_assert(eq(int, pthread_create(&t[i], NULL, auth_thread, &calls[i]), 0));
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert(eq(int, calls[i].err, 0), "%s", calls[i].msg);
        cr_assert(eq(str, calls[i].auth, "Bearer tok-1"));
        rl_free_secret(calls[i].auth);
    }
    cr_assert(eq(int, runs(), 1));
    rl_kubeconfig_free(cfg);
    free(script);

    /* A failing plugin: the callers that waited for its run get its error, not a run each. */
    unlink(path);
    free(path);
    script = plugin(NULL, "sleep 1; echo 'login required' >&2; exit 3");
    path = exec_config("./plugin.sh", NULL);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, errbuf, sizeof(errbuf)), 0));
    {
        char *count = rl_xasprintf("%s/count", dir);

        unlink(count);
        free(count);
    }
    for (int i = 0; i < 4; i++) {
        calls[i].cfg = cfg;
        cr_assert(eq(int, pthread_create(&t[i], NULL, auth_thread, &calls[i]), 0));
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert(eq(int, calls[i].err, RL_ECONFIG));
        cr_assert(eq(ptr, calls[i].auth, NULL));
        cr_assert(ne(ptr, strstr(calls[i].msg, "failed (exit 3): login required"), NULL), "%s",
                  calls[i].msg);
        cr_assert(lt(u64, calls[i].ms, 2500), "%llu ms", (unsigned long long)calls[i].ms);
    }
    cr_assert(eq(int, runs(), 1));
    rl_kubeconfig_free(cfg);
    free(script);
    free(path);
}

static void make_sa(const char *token, bool with_ns)
{
    char *d = rl_xasprintf("%s/var/run/secrets/kubernetes.io/serviceaccount", dir);
    char *cmd = rl_xasprintf("mkdir -p '%s'", d);

    cr_assert(eq(int, system(cmd), 0));
    free(write_file("var/run/secrets/kubernetes.io/serviceaccount/token", 0600, "%s", token));
    free(write_file("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", 0600, CERT_PEM));
    if (with_ns)
        free(write_file("var/run/secrets/kubernetes.io/serviceaccount/namespace", 0600,
                        "reloadd\n"));
    free(cmd);
    free(d);
}

Test(kubeconfig, in_cluster)
{
    struct rl_kubeconfig *cfg = NULL;
    char *auth, *ca;

    make_sa("sa-token-1\n", true);
    cr_assert(eq(int, rl_kubeconfig_in_cluster(&cfg, dir, errbuf, sizeof(errbuf)), RL_ECONFIG));
    cr_assert(ne(ptr, strstr(errbuf, "KUBERNETES_SERVICE_HOST"), NULL));

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    cr_assert(eq(int, rl_kubeconfig_in_cluster(&cfg, dir, errbuf, sizeof(errbuf)), 0), "%s",
              errbuf);
    cr_assert(eq(str, cfg->server, "https://10.96.0.1:443"));
    cr_assert(eq(str, cfg->source, "in-cluster"));
    cr_assert(eq(str, cfg->namespace_, "reloadd"));
    ca = rl_xasprintf("%s/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", dir);
    cr_assert(eq(str, cfg->ca_file, ca));
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer sa-token-1"));
    rl_free_secret(auth);

    /* The kubelet rotates the projected token. */
    make_sa("sa-token-2", true);
    rl_kubeconfig_auth_failed(cfg);
    cr_assert(eq(int, rl_kubeconfig_auth(cfg, &auth, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, auth, "Bearer sa-token-2"));
    rl_free_secret(auth);
    rl_kubeconfig_free(cfg);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    cr_assert(eq(int, rl_kubeconfig_in_cluster(&cfg, dir, errbuf, sizeof(errbuf)), 0));
    cr_assert(eq(str, cfg->server, "https://[fd00::1]:443"));
    rl_kubeconfig_free(cfg);
    free(ca);
}

Test(kubeconfig, load_falls_back_to_in_cluster_only_when_no_kubeconfig)
{
    struct rl_kubeconfig *cfg = NULL;
    char *home = rl_xasprintf("%s/home", dir);

    /* rl_kubeconfig_load's in-cluster fallback reads the real root: an error here. */
    setenv("HOME", home, 1);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, NULL, NULL, errbuf, sizeof(errbuf)), RL_ENOENT));
    cr_assert(ne(ptr, strstr(errbuf, "no configuration"), NULL), "%s", errbuf);
    free(home);
}

Test(kubeconfig, in_cluster_without_token_fails_clearly)
{
    struct rl_kubeconfig *cfg = NULL;

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    cr_assert(eq(int, rl_kubeconfig_in_cluster(&cfg, dir, errbuf, sizeof(errbuf)), RL_ENOENT));
    cr_assert(ne(ptr, strstr(errbuf, "in-cluster: service-account token: cannot read"), NULL),
              "%s", errbuf);
    cr_assert(eq(ptr, cfg, NULL));
}
