/* kubeconfig.c - where the cluster is and who we are */
#define _GNU_SOURCE 1                   /* pipe2(): close-on-exec without a race */
#include "reloadd/kube/kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <cjson/cJSON.h>
#include <yaml.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/banned.h"

extern char **environ;

#define MAX_FILE_BYTES      ((size_t)16 << 20)  /* a kubeconfig larger than this is hostile */
#define MAX_TOKEN_BYTES     ((size_t)64 << 10)
#define MAX_EXEC_OUT_BYTES  ((size_t)1 << 20)
#define MAX_EXEC_ERR_BYTES  ((size_t)4 << 10)  /* stderr kept */
#define MAX_EXEC_ERR_SHOWN  ((size_t)1 << 10)  /* of which a message shows */
#define EXEC_TIMEOUT_MS     60000
#define EXEC_EXPIRY_MARGIN_US ((int64_t)5 * 1000000)
#define TOKEN_RECHECK_MS    5000                /* stat the token file at most this often */
#define MAX_NESTING         64                  /* YAML levels; a kubeconfig has 6 */

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct exec_plugin {
    char *command;
    char **argv;                /* argv[0] is command; NULL-terminated */
    char **env;                 /* "NAME=value", NULL-terminated */
    char *api_version;
    char *install_hint;         /* may be NULL */
    bool provide_cluster_info;
};

/*
 * Authentication state. Everything after `mu` is guarded by it; the
 * strings marked secret are wiped when replaced or freed.
 */
struct rl_kubeconfig_priv {
    char *user;                 /* the user entry's name, for messages */
    char *user_file;            /* the file that defined it, for messages */
    char *static_token;         /* secret; `token:` */
    char *token_file;           /* `tokenFile:` or the service-account token */
    struct exec_plugin *exec;

    pthread_mutex_t mu;
    char *file_token;           /* secret; last contents of token_file */
    struct timespec file_mtime;
    off_t file_size;
    ino_t file_ino;
    uint64_t file_checked_ms;   /* rl_mono_ms() of the last stat, 0: never */
    char *exec_token;           /* secret; from the plugin */
    int64_t exec_expiry_us;     /* INT64_MAX: no expiry given */
    bool exec_running;          /* a thread runs the plugin, without mu */
    uint64_t exec_runs;         /* runs finished */
    int exec_err;               /* the last run's outcome, and its message */
    char exec_errmsg[MAX_EXEC_ERR_SHOWN + 512];
    pthread_cond_t exec_done;   /* broadcast when a run finishes */
};

/* ---------------------------------------------------------------------- */
/* Small helpers */

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/*
 * Strict standard base64 (whitespace anywhere ignored, padding required),
 * through hash.h's decoder. Returns a NUL-terminated copy in *out, or
 * false. Both the copy without whitespace and a rejected result are wiped:
 * the input is often a private key.
 */
static bool b64_decode(const char *in, char **out, size_t *outlen)
{
    size_t len = strlen(in), m = 0, n = 0;
    char *packed = rl_xmalloc(len + 1);
    unsigned char *dst;
    bool ok;

    for (const char *p = in; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            packed[m++] = *p;
    dst = rl_xmalloc(rl_base64_decoded_max(m) + 1);
    ok = m % 4 == 0 && rl_base64_decode(packed, m, dst, &n) == 0;
    rl_wipe(packed, len);
    free(packed);
    if (!ok) {
        rl_wipe(dst, rl_base64_decoded_max(m) + 1);
        free(dst);
        return false;
    }
    dst[n] = '\0';
    *out = (char *)dst;
    if (outlen)
        *outlen = n;
    return true;
}

/* Standard base64 of len bytes at in, through hash.h's encoder; a new string. */
static char *b64_encode(const char *in, size_t len)
{
    char *out = rl_xmalloc(rl_base64_encoded_len(len) + 1);

    rl_base64_encode((const unsigned char *)in, len, out);
    return out;
}

/*
 * Reads a whole file of at most max bytes. Returns 0, or -errno / RL_ETOOBIG.
 * The caller wipes *out if it holds a secret.
 */
static int read_file(const char *path, size_t max, struct rl_buf *out, bool regular_only)
{
    char chunk[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0)), err = 0;
    struct stat st;

    if (fd < 0)
        return -errno;
    /* A token must not be a FIFO or device that could block or never end. */
    if (regular_only && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        return RL_EINVAL;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            err = RL_ETOOBIG;
            break;
        }
        rl_buf_add(out, chunk, (size_t)n);
    }
    rl_wipe(chunk, sizeof(chunk));
    close(fd);
    return err;
}

static const char *read_errstr(int err)
{
    if (err == RL_ETOOBIG)
        return "file too large";
    if (err == RL_EINVAL)
        return "not a regular file";
    return rl_errno_str(-err);
}

static char *trim_dup(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' ||
                   s[len - 1] == '\t'))
        len--;
    return rl_xstrndup(s, len);
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void exec_plugin_free(struct exec_plugin *e)
{
    if (!e)
        return;
    free(e->command);
    free_strv(e->argv);
    if (e->env)
        for (char **p = e->env; *p; p++)
            rl_free_secret(*p);         /* plugin env often carries secrets */
    free(e->env);
    free(e->api_version);
    free(e->install_hint);
    free(e);
}

static struct rl_kubeconfig *config_new(void)
{
    struct rl_kubeconfig *cfg = RL_NEW(struct rl_kubeconfig);

    cfg->_priv = RL_NEW(struct rl_kubeconfig_priv);
    rl_mutex_init(&cfg->_priv->mu);
    rl_cond_init(&cfg->_priv->exec_done);
    cfg->_priv->exec_expiry_us = INT64_MAX;
    return cfg;
}

void rl_kubeconfig_free(struct rl_kubeconfig *cfg)
{
    struct rl_kubeconfig_priv *p;

    if (!cfg)
        return;
    p = cfg->_priv;
    if (p) {
        free(p->user);
        free(p->user_file);
        rl_free_secret(p->static_token);
        free(p->token_file);
        exec_plugin_free(p->exec);
        rl_free_secret(p->file_token);
        rl_free_secret(p->exec_token);
        rl_mutex_destroy(&p->mu);
        rl_cond_destroy(&p->exec_done);
        free(p);
    }
    free(cfg->source);
    free(cfg->context);
    free(cfg->server);
    free(cfg->tls_server_name);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->cert_file);
    free(cfg->key_file);
    free(cfg->cert_data);
    rl_free_secret(cfg->key_data);
    free(cfg->namespace_);
    free(cfg);
}

/* ---------------------------------------------------------------------- */
/* Loading: YAML documents, kept while the merged view is resolved */

struct kc_file {
    char *path;
    char *dir;                  /* for relative paths inside the file */
    yaml_document_t doc;
    yaml_node_t *root;          /* a mapping, or NULL for an empty file */
};

struct loader {
    struct kc_file *files;
    size_t nfiles;
    char *errbuf;
    size_t errlen;
};

static int fail(struct loader *L, const struct kc_file *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats "kubeconfig '<file>': <message>" and returns RL_ECONFIG. */
static int fail(struct loader *L, const struct kc_file *f, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    set_err(L->errbuf, L->errlen, "kubeconfig '%s': %s", f->path, msg);
    return RL_ECONFIG;
}

/* Scalars may hold tokens and key data: wipe them before libyaml frees them. */
static void wipe_document(yaml_document_t *doc)
{
    for (yaml_node_t *n = doc->nodes.start; n && n < doc->nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE)
            rl_wipe(n->data.scalar.value, n->data.scalar.length);
}

static void loader_release(struct loader *L)
{
    for (size_t i = 0; i < L->nfiles; i++) {
        wipe_document(&L->files[i].doc);
        yaml_document_delete(&L->files[i].doc);
        free(L->files[i].path);
        free(L->files[i].dir);
    }
    free(L->files);
    L->files = NULL;
    L->nfiles = 0;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return rl_xstrdup(".");
    if (slash == path)
        return rl_xstrdup("/");
    return rl_xstrndup(path, (size_t)(slash - path));
}

/*
 * The nesting pre-scan. libyaml needs time quadratic in the nesting depth
 * (400 KB of '[' took 124 s), so the text is measured in one linear pass
 * before it is parsed: block levels (each deeper indentation, each "- " or
 * "? " that starts a node) plus open flow brackets, outside quoted, plain
 * and block scalars and comments. It may count a level too many on odd
 * but valid YAML (a plain scalar continued on a deeper line), never too
 * few; a real kubeconfig nests 6 deep.
 */
struct depth_scan {
    size_t cols[MAX_NESTING + 1];   /* the block levels' columns */
    size_t nblock;
    size_t flow;                    /* open '[' and '{' */
    char quote;                     /* '\'' or '"' while in a quoted scalar */
    bool node_start;                /* the next character may start a node */
    bool block_scalar;              /* skipping the lines of a '|' or '>' scalar */
    size_t scalar_indent;           /* ... more indented than this */
    size_t line_indent;             /* of the last line that began in block context */
};

static bool too_deep(const struct depth_scan *d)
{
    return d->nblock + d->flow > MAX_NESTING;
}

static void push_block(struct depth_scan *d, size_t col)
{
    while (d->nblock && d->cols[d->nblock - 1] >= col)
        d->nblock--;
    d->cols[d->nblock++] = col;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One line (without its '\n'); false when it went too deep. */
static bool scan_line(struct depth_scan *d, const char *l, size_t n)
{
    size_t i = 0;

    if (!d->quote && d->flow == 0) {
        while (i < n && l[i] == ' ')
            i++;
        if (i == n || l[i] == '#' || l[i] == '\r')
            return true;                /* blank or comment: no level */
        if (d->block_scalar && i > d->scalar_indent)
            return true;
        d->block_scalar = false;
        d->line_indent = i;
        push_block(d, i);
        d->node_start = true;
        if (too_deep(d))
            return false;
    }
    for (; i < n; i++) {
        char c = l[i], next = i + 1 < n ? l[i + 1] : '\n';

        if (d->quote) {
            if (d->quote == '"' && c == '\\')
                i++;
            else if (c == d->quote && d->quote == '\'' && next == '\'')
                i++;
            else if (c == d->quote)
                d->quote = 0, d->node_start = false;
            continue;
        }
        if (c == '#' && (i == 0 || blank(l[i - 1])))
            break;
        if (blank(c))
            continue;
        if (d->flow) {
            if (c == '[' || c == '{')
                d->flow++;
            else if ((c == ']' || c == '}') && d->flow)
                d->flow--;
            else if ((c == '\'' || c == '"') && d->node_start)
                d->quote = c;
            if (too_deep(d))
                return false;
            d->node_start = c == '[' || c == '{' || c == ',' || c == ':';
            continue;
        }
        if (d->node_start && (c == '[' || c == '{')) {
            d->flow = 1;
            if (too_deep(d))
                return false;
        } else if (d->node_start && (c == '\'' || c == '"')) {
            d->quote = c;
        } else if (d->node_start && (c == '-' || c == '?') && blank(next)) {
            push_block(d, i + 1);
            if (too_deep(d))
                return false;
        } else if (d->node_start && (c == '|' || c == '>')) {
            d->block_scalar = true;     /* its lines are those more indented than this one */
            d->scalar_indent = d->line_indent;
            break;
        } else if (d->node_start && (c == '&' || c == '!')) {
            while (i + 1 < n && !blank(l[i + 1]))
                i++;                    /* an anchor or a tag: a node still follows */
        } else {
            d->node_start = c == ':' && blank(next);
        }
    }
    return true;
}

/* 0, or the 1-based line at which text nests deeper than MAX_NESTING. */
static size_t nesting_exceeded_at(const char *text, size_t len)
{
    struct depth_scan d;
    size_t line = 1;

    memset(&d, 0, sizeof(d));
    for (size_t i = 0; i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

        if (!scan_line(&d, text + i, n))
            return line;
        i += n + 1;
    }
    return 0;
}

/* Parses one document from memory into a new kc_file. */
static int add_document(struct loader *L, const char *path, const char *text, size_t len)
{
    yaml_parser_t parser;
    struct kc_file *f;
    size_t line = nesting_exceeded_at(text, len);
    int err = 0;

    if (line)
        return set_err(L->errbuf, L->errlen, "kubeconfig '%s': nesting deeper than %d at "
                       "line %zu", path, MAX_NESTING, line),
               RL_ECONFIG;
    L->files = rl_xreallocarray(L->files, L->nfiles + 1, sizeof(*L->files));
    f = &L->files[L->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = rl_xstrdup(path);
    f->dir = dir_of(path);

    if (!yaml_parser_initialize(&parser)) {
        free(f->path);
        free(f->dir);
        return set_err(L->errbuf, L->errlen, "kubeconfig '%s': out of memory", path),
               RL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &f->doc)) {
        const char *problem = parser.problem ? parser.problem : "cannot parse";

        if (parser.context)
            set_err(L->errbuf, L->errlen,
                    "kubeconfig '%s': invalid YAML at line %zu, column %zu: %s %s", path,
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1, problem,
                    parser.context);
        else
            set_err(L->errbuf, L->errlen,
                    "kubeconfig '%s': invalid YAML at line %zu, column %zu: %s", path,
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1, problem);
        yaml_parser_delete(&parser);
        free(f->path);
        free(f->dir);
        return RL_ECONFIG;
    }
    yaml_parser_delete(&parser);
    L->nfiles++;

    f->root = yaml_document_get_root_node(&f->doc);
    if (f->root && f->root->type == YAML_SCALAR_NODE && f->root->data.scalar.length == 0)
        f->root = NULL;                 /* an empty file is an empty config */
    if (f->root && f->root->type != YAML_MAPPING_NODE)
        err = fail(L, f, "the top level is not a map");
    return err;
}

static bool is_null_scalar(const yaml_node_t *n)
{
    const char *v;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

/* The value of key in a mapping, or NULL if absent or null. */
static yaml_node_t *map_get(struct kc_file *f, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&f->doc, p->key);
        yaml_node_t *v;

        if (!k || k->type != YAML_SCALAR_NODE || strcmp((char *)k->data.scalar.value, key))
            continue;
        v = yaml_document_get_node(&f->doc, p->value);
        return v && !is_null_scalar(v) ? v : NULL;
    }
    return NULL;
}

/*
 * A string field. *out is NULL when absent; a present field that is not a
 * scalar is an error naming `what` (e.g. "user 'bob'") and the key.
 */
static int get_str(struct loader *L, struct kc_file *f, yaml_node_t *map, const char *what,
                   const char *key, const char **out)
{
    yaml_node_t *v = map_get(f, map, key);

    *out = NULL;
    if (!v)
        return 0;
    if (v->type != YAML_SCALAR_NODE)
        return what ? fail(L, f, "%s: %s is not a string", what, key)
                    : fail(L, f, "%s is not a string", key);
    if (strlen((char *)v->data.scalar.value) != v->data.scalar.length)
        return what ? fail(L, f, "%s: %s contains a NUL byte", what, key)
                    : fail(L, f, "%s contains a NUL byte", key);
    *out = (const char *)v->data.scalar.value;
    return 0;
}

static int get_bool(struct loader *L, struct kc_file *f, yaml_node_t *map, const char *what,
                    const char *key, bool *out)
{
    const char *s;
    int err = get_str(L, f, map, what, key, &s);

    *out = false;
    if (err || !s)
        return err;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return fail(L, f, "%s: %s must be true or false, not '%s'", what, key, s);
}

/*
 * Finds the entry `name` in the list `list` ("clusters", "users",
 * "contexts") of the first file that has it, as kubectl merges: the first
 * file to define a name wins. *body is the entry's `field` map.
 */
static int find_named(struct loader *L, const char *list, const char *field, const char *name,
                      struct kc_file **file, yaml_node_t **body)
{
    *file = NULL;
    *body = NULL;
    for (size_t i = 0; i < L->nfiles; i++) {
        struct kc_file *f = &L->files[i];
        yaml_node_t *seq = map_get(f, f->root, list);
        size_t idx = 0;

        if (!seq)
            continue;
        if (seq->type != YAML_SEQUENCE_NODE)
            return fail(L, f, "%s is not a list", list);
        for (yaml_node_item_t *it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++, idx++) {
            yaml_node_t *entry = yaml_document_get_node(&f->doc, *it);
            const char *n;
            int err;

            if (!entry || entry->type != YAML_MAPPING_NODE)
                return fail(L, f, "%s[%zu] is not a map", list, idx);
            err = get_str(L, f, entry, NULL, "name", &n);
            if (err)
                return err;
            if (!n)
                return fail(L, f, "%s[%zu] has no name", list, idx);
            if (strcmp(n, name) != 0)
                continue;
            *file = f;
            *body = map_get(f, entry, field);
            if (*body && (*body)->type != YAML_MAPPING_NODE)
                return fail(L, f, "%.*s '%s': %s is not a map", (int)strlen(list) - 1, list,
                            name, field);
            return 0;
        }
    }
    return 0;
}

/* A path relative to the file that names it, as kubectl resolves it. */
static char *resolve_path(const struct kc_file *f, const char *p)
{
    if (p[0] == '/')
        return rl_xstrdup(p);
    if (p[0] == '~' && p[1] == '/' && getenv("HOME"))
        return rl_xasprintf("%s/%s", getenv("HOME"), p + 2);
    return rl_xasprintf("%s/%s", f->dir, p);
}

/*
 * A file field: resolved, and checked to be a readable regular file now,
 * for a clear message (a FIFO would block whoever opens it: curl, on the
 * informers' thread, for ever).
 */
static int get_path(struct loader *L, struct kc_file *f, yaml_node_t *map, const char *what,
                    const char *key, char **out)
{
    const char *s;
    char *path;
    struct stat st;
    int err = get_str(L, f, map, what, key, &s);

    *out = NULL;
    if (err || !s)
        return err;
    path = resolve_path(f, s);
    if (access(path, R_OK) != 0 || stat(path, &st) != 0) {
        err = fail(L, f, "%s: cannot read %s '%s': %s", what, key, path, rl_errno_str(errno));
        free(path);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        err = fail(L, f, "%s: %s '%s' is not a regular file", what, key, path);
        free(path);
        return err;
    }
    *out = path;
    return 0;
}

/* A base64 `-data` field, decoded. */
static int get_data(struct loader *L, struct kc_file *f, yaml_node_t *map, const char *what,
                    const char *key, char **out)
{
    const char *s;
    int err = get_str(L, f, map, what, key, &s);

    *out = NULL;
    if (err || !s)
        return err;
    if (!b64_decode(s, out, NULL))
        return fail(L, f, "%s: %s is not valid base64", what, key);
    if (!**out) {
        rl_free_secret(*out);
        *out = NULL;
        return fail(L, f, "%s: %s is empty", what, key);
    }
    return 0;
}

static int load_cluster(struct loader *L, struct rl_kubeconfig *cfg, const char *name)
{
    struct kc_file *f;
    yaml_node_t *c;
    const char *server, *sni;
    char what[320];
    size_t len;
    int err = find_named(L, "clusters", "cluster", name, &f, &c);

    if (err)
        return err;
    if (!f)
        return set_err(L->errbuf, L->errlen, "kubeconfig '%s': context '%s': cluster '%s' not found",
                       cfg->source, cfg->context, name),
               RL_ECONFIG;
    snprintf(what, sizeof(what), "cluster '%s'", name);
    if ((err = get_str(L, f, c, what, "server", &server)) != 0)
        return err;
    if (!server || !*server)
        return fail(L, f, "%s: server is not set", what);
    if (strncmp(server, "https://", 8) == 0 || strncmp(server, "http://", 7) == 0)
        cfg->server = rl_xstrdup(server);
    else if (strstr(server, "://"))
        return fail(L, f, "%s: server '%s' is not an http(s) URL", what, server);
    else
        cfg->server = rl_xasprintf("https://%s", server);
    len = strlen(cfg->server);
    while (len && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    if (strchr(cfg->server, '?') || strchr(cfg->server, '#') || strchr(cfg->server, ' '))
        return fail(L, f, "%s: server '%s' is not a valid URL", what, server);

    if ((err = get_str(L, f, c, what, "tls-server-name", &sni)) != 0)
        return err;
    if (sni && *sni)
        cfg->tls_server_name = rl_xstrdup(sni);
    if ((err = get_bool(L, f, c, what, "insecure-skip-tls-verify",
                        &cfg->insecure_skip_tls_verify)) != 0)
        return err;
    if ((err = get_data(L, f, c, what, "certificate-authority-data", &cfg->ca_data)) != 0)
        return err;
    if (!cfg->ca_data &&
        (err = get_path(L, f, c, what, "certificate-authority", &cfg->ca_file)) != 0)
        return err;
    /* As client-go: which of the two was meant cannot be guessed. */
    if (cfg->insecure_skip_tls_verify && (cfg->ca_data || cfg->ca_file))
        return fail(L, f, "%s: insecure-skip-tls-verify and a certificate authority are both "
                    "set; specifying a root certificate with the insecure flag is not allowed",
                    what);
    return 0;
}

static int load_exec(struct loader *L, struct kc_file *f, yaml_node_t *ex, const char *what,
                     struct exec_plugin **out)
{
    struct exec_plugin *e = RL_NEW(struct exec_plugin);
    yaml_node_t *args, *env;
    const char *s;
    size_t n;
    int err;

    if (ex->type != YAML_MAPPING_NODE) {
        err = fail(L, f, "%s: exec is not a map", what);
        goto out;
    }
    if ((err = get_str(L, f, ex, what, "command", &s)) != 0)
        goto out;
    if (!s || !*s) {
        err = fail(L, f, "%s: exec.command is not set", what);
        goto out;
    }
    /* A command with a slash but not absolute is relative to the file. */
    e->command = strchr(s, '/') && s[0] != '/' ? resolve_path(f, s) : rl_xstrdup(s);

    if ((err = get_str(L, f, ex, what, "apiVersion", &s)) != 0)
        goto out;
    if (!s || (strcmp(s, "client.authentication.k8s.io/v1") != 0 &&
               strcmp(s, "client.authentication.k8s.io/v1beta1") != 0)) {
        err = fail(L, f, "%s: exec.apiVersion must be client.authentication.k8s.io/v1 or "
                   "v1beta1, not '%s'", what, s ? s : "");
        goto out;
    }
    e->api_version = rl_xstrdup(s);
    if ((err = get_str(L, f, ex, what, "installHint", &s)) != 0)
        goto out;
    if (s && *s)
        e->install_hint = rl_xstrdup(s);
    if ((err = get_bool(L, f, ex, what, "provideClusterInfo", &e->provide_cluster_info)) != 0)
        goto out;
    if ((err = get_str(L, f, ex, what, "interactiveMode", &s)) != 0)
        goto out;
    if (s && strcmp(s, "Always") == 0) {
        err = fail(L, f, "%s: exec.interactiveMode is Always, but reloadd never runs "
                   "interactively", what);
        goto out;
    }

    args = map_get(f, ex, "args");
    if (args && args->type != YAML_SEQUENCE_NODE) {
        err = fail(L, f, "%s: exec.args is not a list", what);
        goto out;
    }
    n = args ? (size_t)(args->data.sequence.items.top - args->data.sequence.items.start) : 0;
    e->argv = rl_xcalloc(n + 2, sizeof(char *));
    e->argv[0] = rl_xstrdup(e->command);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *a = yaml_document_get_node(&f->doc, args->data.sequence.items.start[i]);

        if (!a || a->type != YAML_SCALAR_NODE) {
            err = fail(L, f, "%s: exec.args[%zu] is not a string", what, i);
            goto out;
        }
        e->argv[i + 1] = rl_xstrdup((char *)a->data.scalar.value);
    }

    env = map_get(f, ex, "env");
    if (env && env->type != YAML_SEQUENCE_NODE) {
        err = fail(L, f, "%s: exec.env is not a list", what);
        goto out;
    }
    n = env ? (size_t)(env->data.sequence.items.top - env->data.sequence.items.start) : 0;
    e->env = rl_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *kv = yaml_document_get_node(&f->doc, env->data.sequence.items.start[i]);
        const char *name, *value;
        char field[48];

        snprintf(field, sizeof(field), "exec.env[%zu]", i);
        if (!kv || kv->type != YAML_MAPPING_NODE) {
            err = fail(L, f, "%s: %s is not a map", what, field);
            goto out;
        }
        if ((err = get_str(L, f, kv, what, "name", &name)) != 0 ||
            (err = get_str(L, f, kv, what, "value", &value)) != 0)
            goto out;
        if (!name || !*name || strchr(name, '=')) {
            err = fail(L, f, "%s: %s.name is missing or invalid", what, field);
            goto out;
        }
        e->env[i] = rl_xasprintf("%s=%s", name, value ? value : "");
    }
    *out = e;
    e = NULL;
out:
    exec_plugin_free(e);
    return err;
}

static int read_token_file(const char *path, char **token, char *errbuf, size_t errlen,
                           const char *who);

static int load_user(struct loader *L, struct rl_kubeconfig *cfg, const char *name)
{
    struct rl_kubeconfig_priv *p = cfg->_priv;
    struct kc_file *f;
    yaml_node_t *u, *ex;
    const char *token;
    char what[320];
    int err = find_named(L, "users", "user", name, &f, &u);

    if (err)
        return err;
    if (!f)
        return set_err(L->errbuf, L->errlen, "kubeconfig '%s': context '%s': user '%s' not found",
                       cfg->source, cfg->context, name),
               RL_ECONFIG;
    snprintf(what, sizeof(what), "user '%s'", name);
    p->user = rl_xstrdup(name);
    p->user_file = rl_xstrdup(f->path);

    if ((err = get_data(L, f, u, what, "client-certificate-data", &cfg->cert_data)) != 0)
        return err;
    if (!cfg->cert_data &&
        (err = get_path(L, f, u, what, "client-certificate", &cfg->cert_file)) != 0)
        return err;
    if ((err = get_data(L, f, u, what, "client-key-data", &cfg->key_data)) != 0)
        return err;
    if (!cfg->key_data && (err = get_path(L, f, u, what, "client-key", &cfg->key_file)) != 0)
        return err;
    if ((cfg->cert_data || cfg->cert_file) && !(cfg->key_data || cfg->key_file))
        return fail(L, f, "%s: client-certificate is set but client-key is not", what);
    if ((cfg->key_data || cfg->key_file) && !(cfg->cert_data || cfg->cert_file))
        return fail(L, f, "%s: client-key is set but client-certificate is not", what);

    if ((err = get_str(L, f, u, what, "token", &token)) != 0)
        return err;
    if (token && *token)
        p->static_token = rl_xstrdup(token);
    if ((err = get_path(L, f, u, what, "tokenFile", &p->token_file)) != 0)
        return err;
    if (p->token_file) {
        char who[400];

        /* Read once now so that a bad file fails at start-up, not later. */
        snprintf(who, sizeof(who), "kubeconfig '%s': %s: tokenFile", f->path, what);
        if ((err = read_token_file(p->token_file, &p->file_token, L->errbuf, L->errlen, who)) != 0)
            return err;
    }
    if (map_get(f, u, "auth-provider"))
        return fail(L, f, "%s: auth-provider plugins are not supported; use an exec plugin",
                    what);
    if (map_get(f, u, "username") || map_get(f, u, "password"))
        return fail(L, f, "%s: basic authentication (username/password) is not supported", what);
    ex = map_get(f, u, "exec");
    if (ex && (err = load_exec(L, f, ex, what, &p->exec)) != 0)
        return err;
    return 0;
}

/* Resolves the merged view of L's files into cfg. */
static int resolve(struct loader *L, struct rl_kubeconfig *cfg, const char *context)
{
    struct kc_file *f;
    yaml_node_t *ctx;
    const char *cluster, *user, *ns;
    char what[320];
    int err;

    if (!context || !*context) {
        for (size_t i = 0; i < L->nfiles && !context; i++) {
            const char *cur;

            if ((err = get_str(L, &L->files[i], L->files[i].root, NULL, "current-context",
                               &cur)) != 0)
                return err;
            if (cur && *cur)
                context = cur;
        }
        if (!context) {
            set_err(L->errbuf, L->errlen,
                    "kubeconfig '%s': current-context is not set and no context was given",
                    cfg->source);
            return RL_ECONFIG;
        }
    }
    cfg->context = rl_xstrdup(context);
    if ((err = find_named(L, "contexts", "context", context, &f, &ctx)) != 0)
        return err;
    if (!f) {
        set_err(L->errbuf, L->errlen, "kubeconfig '%s': context '%s' not found", cfg->source,
                context);
        return RL_ECONFIG;
    }
    snprintf(what, sizeof(what), "context '%s'", context);
    if ((err = get_str(L, f, ctx, what, "cluster", &cluster)) != 0 ||
        (err = get_str(L, f, ctx, what, "user", &user)) != 0 ||
        (err = get_str(L, f, ctx, what, "namespace", &ns)) != 0)
        return err;
    if (!cluster || !*cluster)
        return fail(L, f, "%s: cluster is not set", what);
    if (ns && *ns)
        cfg->namespace_ = rl_xstrdup(ns);
    if ((err = load_cluster(L, cfg, cluster)) != 0)
        return err;
    if (user && *user && (err = load_user(L, cfg, user)) != 0)
        return err;
    return 0;
}

int rl_kubeconfig_parse(struct rl_kubeconfig **out, const char *name, const char *yaml,
                        size_t len, const char *context, char *errbuf, size_t errlen)
{
    struct loader L = { .errbuf = errbuf, .errlen = errlen };
    struct rl_kubeconfig *cfg = config_new();
    int err;

    *out = NULL;
    cfg->source = rl_xstrdup(name);
    err = add_document(&L, name, yaml, len);
    if (!err)
        err = resolve(&L, cfg, context);
    loader_release(&L);
    if (err) {
        rl_kubeconfig_free(cfg);
        return err;
    }
    *out = cfg;
    return 0;
}

/* Loads each ':'-separated file that exists, in order, then merges. */
static int load_paths(struct rl_kubeconfig **out, const char *paths, const char *context,
                      char *errbuf, size_t errlen)
{
    struct loader L = { .errbuf = errbuf, .errlen = errlen };
    struct rl_kubeconfig *cfg = config_new();
    struct rl_buf text, source;
    char *list = rl_xstrdup(paths), *save = NULL;
    size_t tried = 0;
    int err = 0;

    *out = NULL;
    rl_buf_init(&text, MAX_FILE_BYTES);
    rl_buf_init(&source, 0);
    for (char *p = list, *next; p; p = next) {
        next = strchr(p, ':');
        if (next)
            *next++ = '\0';
        if (!*p)
            continue;
        tried++;
        save = p;
        rl_buf_wipe(&text);
        /* A FIFO or a device could block start-up for ever (and SIGTERM with it). */
        err = read_file(p, MAX_FILE_BYTES, &text, true);
        if (err == RL_ENOENT) {
            err = 0;                    /* kubectl skips listed files that do not exist */
            continue;
        }
        if (err) {
            set_err(errbuf, errlen, "kubeconfig '%s': cannot read: %s", p, read_errstr(err));
            err = err == RL_ETOOBIG ? RL_ECONFIG : err;
            goto out;
        }
        if (source.len)
            rl_buf_addc(&source, ':');
        rl_buf_adds(&source, p);
        if ((err = add_document(&L, p, text.buf, text.len)) != 0)
            goto out;
    }
    if (L.nfiles == 0) {
        if (tried == 1)
            set_err(errbuf, errlen, "kubeconfig '%s': %s", save, rl_errno_str(ENOENT));
        else
            set_err(errbuf, errlen, "kubeconfig: none of '%s' exists", paths);
        err = RL_ENOENT;
        goto out;
    }
    cfg->source = rl_buf_detach(&source);
    err = resolve(&L, cfg, context);
out:
    rl_buf_wipe(&text);
    rl_buf_release(&text);
    rl_buf_release(&source);
    loader_release(&L);
    free(list);
    if (err) {
        rl_kubeconfig_free(cfg);
        return err;
    }
    *out = cfg;
    return 0;
}

int rl_kubeconfig_load(struct rl_kubeconfig **out, const char *path, const char *context,
                       char *errbuf, size_t errlen)
{
    const char *env = getenv("KUBECONFIG");
    const char *home = getenv("HOME");
    char *def;
    int err;

    *out = NULL;
    if (path && *path)
        return load_paths(out, path, context, errbuf, errlen);
    if (env && *env)
        return load_paths(out, env, context, errbuf, errlen);
    if (getenv("KUBERNETES_SERVICE_HOST"))
        return rl_kubeconfig_in_cluster(out, "/", errbuf, errlen);
    if (!home || !*home) {
        set_err(errbuf, errlen, "no configuration: give --kubeconfig, set KUBECONFIG, or run "
                "in a cluster");
        return RL_ENOENT;
    }
    def = rl_xasprintf("%s/.kube/config", home);
    err = load_paths(out, def, context, errbuf, errlen);
    if (err == RL_ENOENT)
        set_err(errbuf, errlen, "no configuration: '%s' does not exist; give --kubeconfig, set "
                "KUBECONFIG, or run in a cluster", def);
    free(def);
    return err;
}

/* ---------------------------------------------------------------------- */
/* In-cluster */

int rl_kubeconfig_in_cluster(struct rl_kubeconfig **out, const char *root, char *errbuf,
                             size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct rl_kubeconfig *cfg = NULL;
    struct rl_buf ns;
    char *dir = NULL, *ca = NULL;
    int err = 0;

    *out = NULL;
    rl_buf_init(&ns, 4096);
    if (!host || !*host || !port || !*port) {
        set_err(errbuf, errlen, "in-cluster: KUBERNETES_SERVICE_HOST and "
                "KUBERNETES_SERVICE_PORT must be set");
        return RL_ECONFIG;
    }
    if (strpbrk(host, "/?#@ ") || strspn(port, "0123456789") != strlen(port)) {
        set_err(errbuf, errlen, "in-cluster: KUBERNETES_SERVICE_HOST/PORT '%s:%s' is not a "
                "host and port", host, port);
        return RL_ECONFIG;
    }
    if (!root || !*root)
        root = "/";
    dir = rl_xasprintf("%s%s", strcmp(root, "/") == 0 ? "" : root, SA_DIR);
    cfg = config_new();
    cfg->source = rl_xstrdup("in-cluster");
    cfg->context = rl_xstrdup("in-cluster");
    cfg->server = strchr(host, ':') ? rl_xasprintf("https://[%s]:%s", host, port)
                                    : rl_xasprintf("https://%s:%s", host, port);
    cfg->_priv->user = rl_xstrdup("service account");
    cfg->_priv->user_file = rl_xstrdup("in-cluster");
    cfg->_priv->token_file = rl_xasprintf("%s/token", dir);
    err = read_token_file(cfg->_priv->token_file, &cfg->_priv->file_token, errbuf, errlen,
                          "in-cluster: service-account token");
    if (err)
        goto out;
    ca = rl_xasprintf("%s/ca.crt", dir);
    if (access(ca, R_OK) != 0) {
        set_err(errbuf, errlen, "in-cluster: cannot read CA '%s': %s", ca, rl_errno_str(errno));
        err = RL_ECONFIG;
        goto out;
    }
    cfg->ca_file = ca;
    ca = NULL;
    /* The namespace file is optional: a pod may have none mounted. */
    {
        char *nspath = rl_xasprintf("%s/namespace", dir);

        if (read_file(nspath, 4096, &ns, true) == 0 && ns.len) {
            cfg->namespace_ = trim_dup(ns.buf, ns.len);
            if (!*cfg->namespace_) {
                free(cfg->namespace_);
                cfg->namespace_ = NULL;
            }
        }
        free(nspath);
    }
out:
    rl_buf_release(&ns);
    free(dir);
    free(ca);
    if (err) {
        rl_kubeconfig_free(cfg);
        return err;
    }
    *out = cfg;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Authentication */

static int read_token_file(const char *path, char **token, char *errbuf, size_t errlen,
                           const char *who)
{
    struct rl_buf b;
    char *t;
    int err;

    rl_buf_init(&b, MAX_TOKEN_BYTES);
    err = read_file(path, MAX_TOKEN_BYTES, &b, true);
    if (err) {
        set_err(errbuf, errlen, "%s: cannot read '%s': %s", who, path, read_errstr(err));
        rl_buf_wipe(&b);
        rl_buf_release(&b);
        return err == RL_ENOENT ? RL_ENOENT : RL_ECONFIG;
    }
    t = trim_dup(b.buf, b.len);
    rl_buf_wipe(&b);
    rl_buf_release(&b);
    if (!*t || strpbrk(t, "\r\n")) {
        set_err(errbuf, errlen, "%s: '%s' %s", who, path,
                *t ? "holds more than one line" : "is empty");
        rl_free_secret(t);
        return RL_ECONFIG;
    }
    rl_free_secret(*token);
    *token = t;
    return 0;
}

/* Re-reads the token file if it changed; called with p->mu held. */
static int refresh_file_token(struct rl_kubeconfig_priv *p, char *errbuf, size_t errlen)
{
    uint64_t now = rl_mono_ms();
    struct stat st;
    char who[256];

    if (p->file_token && p->file_checked_ms && now - p->file_checked_ms < TOKEN_RECHECK_MS)
        return 0;
    p->file_checked_ms = now ? now : 1;
    if (stat(p->token_file, &st) != 0) {
        if (p->file_token)
            return 0;                   /* keep the last token across a rotation's gap */
        set_err(errbuf, errlen, "user '%s': cannot read token file '%s': %s", p->user,
                p->token_file, rl_errno_str(errno));
        return RL_ECONFIG;
    }
    if (p->file_token && st.st_mtim.tv_sec == p->file_mtime.tv_sec &&
        st.st_mtim.tv_nsec == p->file_mtime.tv_nsec && st.st_size == p->file_size &&
        st.st_ino == p->file_ino)
        return 0;
    snprintf(who, sizeof(who), "user '%s': tokenFile", p->user);
    if (read_token_file(p->token_file, &p->file_token, errbuf, errlen, who) != 0)
        return p->file_token ? 0 : RL_ECONFIG;
    p->file_mtime = st.st_mtim;
    p->file_size = st.st_size;
    p->file_ino = st.st_ino;
    return 0;
}

/* The KUBERNETES_EXEC_INFO value handed to the plugin. */
static char *exec_info(const struct rl_kubeconfig *cfg, const struct exec_plugin *e)
{
    cJSON *root = cJSON_CreateObject(), *spec, *cluster;
    char *s;

    cJSON_AddStringToObject(root, "apiVersion", e->api_version);
    cJSON_AddStringToObject(root, "kind", "ExecCredential");
    spec = cJSON_AddObjectToObject(root, "spec");
    cJSON_AddBoolToObject(spec, "interactive", false);
    if (e->provide_cluster_info) {
        cluster = cJSON_AddObjectToObject(spec, "cluster");
        cJSON_AddStringToObject(cluster, "server", cfg->server);
        if (cfg->tls_server_name)
            cJSON_AddStringToObject(cluster, "tls-server-name", cfg->tls_server_name);
        if (cfg->insecure_skip_tls_verify)
            cJSON_AddBoolToObject(cluster, "insecure-skip-tls-verify", true);
        if (cfg->ca_data) {
            char *b64 = b64_encode(cfg->ca_data, strlen(cfg->ca_data));

            cJSON_AddStringToObject(cluster, "certificate-authority-data", b64);
            free(b64);
        }
    }
    s = rl_json_print(root);
    cJSON_Delete(root);
    return s;
}

static char **exec_environ(const struct exec_plugin *e, const char *info)
{
    size_t n = 0, extra = 0, k = 0;
    char **envp;

    for (char **p = environ; p && *p; p++)
        n++;
    for (char **p = e->env; *p; p++)
        extra++;
    envp = rl_xcalloc(n + extra + 2, sizeof(char *));
    for (char **p = environ; p && *p; p++) {
        bool overridden = strncmp(*p, "KUBERNETES_EXEC_INFO=", 21) == 0;
        const char *eq = strchr(*p, '=');
        size_t nlen = eq ? (size_t)(eq - *p) : strlen(*p);

        for (char **q = e->env; *q && !overridden; q++)
            overridden = strncmp(*q, *p, nlen) == 0 && (*q)[nlen] == '=';
        if (!overridden)
            envp[k++] = *p;
    }
    for (char **q = e->env; *q; q++)
        envp[k++] = *q;
    envp[k++] = (char *)info;
    envp[k] = NULL;
    return envp;
}

/*
 * Waits for pid to exit until deadline (rl_mono_ms(); 0: kill it now),
 * then kills it. RL_ETIMEOUT if it had to be killed.
 */
static int reap(pid_t pid, int *status, uint64_t deadline)
{
    for (;;) {
        pid_t r = waitpid(pid, status, deadline ? WNOHANG : 0);

        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return RL_EIO;
        if (r == 0 && rl_mono_ms() >= deadline)
            break;
        if (r == 0) {
            struct timespec ts = { 0, 10 * 1000000L };

            nanosleep(&ts, NULL);
        }
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return RL_ETIMEOUT;
}

/*
 * Runs the plugin with stdout and stderr captured (bounded) and a time
 * limit. posix_spawn keeps this safe in a threaded process.
 */
static int run_plugin(const struct rl_kubeconfig *cfg, const struct exec_plugin *e,
                      struct rl_buf *out, struct rl_buf *errout, int *status, char *errbuf,
                      size_t errlen)
{
    posix_spawn_file_actions_t fa;
    char *info = NULL, *infovar = NULL;
    char **envp = NULL;
    int opipe[2] = { -1, -1 }, epipe[2] = { -1, -1 };
    pid_t pid = -1;
    uint64_t deadline = rl_mono_ms() + EXEC_TIMEOUT_MS;
    int err = 0, rc;

    posix_spawn_file_actions_init(&fa);
    if (pipe2(opipe, O_CLOEXEC) != 0 || pipe2(epipe, O_CLOEXEC) != 0) {
        set_err(errbuf, errlen, "exec plugin '%s': pipe: %s", e->command, rl_errno_str(errno));
        err = RL_EIO;
        goto out;
    }
    info = exec_info(cfg, e);
    infovar = rl_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
    envp = exec_environ(e, infovar);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, opipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, epipe[1], 2);
    rc = posix_spawnp(&pid, e->command, &fa, NULL, e->argv, envp);
    if (rc != 0) {
        pid = -1;
        set_err(errbuf, errlen, "exec plugin '%s': cannot run: %s%s%s", e->command,
                rl_errno_str(rc), e->install_hint ? "; " : "",
                e->install_hint ? e->install_hint : "");
        err = RL_ECONFIG;
        goto out;
    }
    close(opipe[1]);
    close(epipe[1]);
    opipe[1] = epipe[1] = -1;

    while (opipe[0] >= 0 || epipe[0] >= 0) {
        struct pollfd pfd[2] = { { .fd = opipe[0], .events = POLLIN },
                                 { .fd = epipe[0], .events = POLLIN } };
        uint64_t now = rl_mono_ms();
        char chunk[4096];

        if (now >= deadline) {
            set_err(errbuf, errlen, "exec plugin '%s': no answer within %d s", e->command,
                    EXEC_TIMEOUT_MS / 1000);
            err = RL_ETIMEOUT;
            kill(pid, SIGKILL);
            break;
        }
        rc = poll(pfd, 2, (int)(deadline - now));
        if (rc < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &opipe[0] : &epipe[0];
            struct rl_buf *b = i == 0 ? out : errout;
            ssize_t n;

            if (*fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(*fd);
                *fd = -1;
                continue;
            }
            if (i == 1) {
                /* Only the head of stderr is shown: keep what fits, drain the rest. */
                size_t room = MAX_EXEC_ERR_BYTES - b->len;

                rl_buf_add(b, chunk, (size_t)n < room ? (size_t)n : room);
                continue;
            }
            rc = rl_buf_add(b, chunk, (size_t)n);
            rl_wipe(chunk, (size_t)n);          /* the token */
            if (rc != 0) {
                set_err(errbuf, errlen, "exec plugin '%s': output larger than %zu bytes",
                        e->command, MAX_EXEC_OUT_BYTES);
                err = RL_ECONFIG;
                kill(pid, SIGKILL);
                close(opipe[0]);
                close(epipe[0]);
                opipe[0] = epipe[0] = -1;
            }
        }
    }
    /* A plugin that closed its output may still hang: the time limit holds. */
    if (reap(pid, status, err ? 0 : deadline) == RL_ETIMEOUT && !err) {
        set_err(errbuf, errlen, "exec plugin '%s': no answer within %d s", e->command,
                EXEC_TIMEOUT_MS / 1000);
        err = RL_ETIMEOUT;
    }
    pid = -1;
out:
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (opipe[i] >= 0)
            close(opipe[i]);
        if (epipe[i] >= 0)
            close(epipe[i]);
    }
    free(envp);
    free(infovar);
    free(info);
    return err;
}

/*
 * The plugin's stderr as one line for a message: each run of whitespace or
 * control characters becomes one space, cut at MAX_EXEC_ERR_SHOWN bytes.
 */
static char *stderr_line(const struct rl_buf *errout)
{
    char *line = rl_xmalloc(MAX_EXEC_ERR_SHOWN + 4);
    size_t n = 0;
    bool space = false;

    for (size_t i = 0; i < errout->len && n < MAX_EXEC_ERR_SHOWN; i++) {
        unsigned char c = (unsigned char)errout->buf[i];

        if (c <= ' ' || c == 0x7f) {
            space = n > 0;
            continue;
        }
        if (space) {
            line[n++] = ' ';
            space = false;
            if (n == MAX_EXEC_ERR_SHOWN)
                break;
        }
        line[n++] = (char)c;
    }
    if (n == MAX_EXEC_ERR_SHOWN)
        memcpy(line + n, "...", 3), n += 3;
    line[n] = '\0';
    return line;
}

/*
 * Runs the exec plugin and parses its ExecCredential. Called without the
 * lock: it reads only what loading set and never changes.
 */
static int exec_credential(struct rl_kubeconfig *cfg, char **token_out, int64_t *expiry_out,
                           char *errbuf, size_t errlen)
{
    struct rl_kubeconfig_priv *p = cfg->_priv;
    const struct exec_plugin *e = p->exec;
    struct rl_buf out, errout;
    cJSON *root = NULL;
    const cJSON *st;
    const char *token, *exp, *kind, *api;
    char *msg;
    int64_t expiry = INT64_MAX;
    int status = 0, err;

    rl_buf_init(&out, MAX_EXEC_OUT_BYTES);
    rl_buf_sensitive(&out);
    rl_buf_init(&errout, MAX_EXEC_ERR_BYTES);
    err = run_plugin(cfg, e, &out, &errout, &status, errbuf, errlen);
    msg = stderr_line(&errout);
    if (err == RL_ETIMEOUT) {
        set_err(errbuf, errlen, "user '%s': exec plugin '%s' gave no answer within %d s%s%s",
                p->user, e->command, EXEC_TIMEOUT_MS / 1000, *msg ? ": " : "", msg);
        goto out;
    }
    if (err)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            set_err(errbuf, errlen, "user '%s': exec plugin '%s' failed (exit %d)%s%s%s%s",
                    p->user, e->command, WEXITSTATUS(status), *msg ? ": " : "", msg,
                    WEXITSTATUS(status) == 127 && e->install_hint ? "; " : "",
                    WEXITSTATUS(status) == 127 && e->install_hint ? e->install_hint : "");
        else
            set_err(errbuf, errlen, "user '%s': exec plugin '%s' was killed by signal %d%s%s",
                    p->user, e->command, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                    *msg ? ": " : "", msg);
        err = RL_ECONFIG;
        goto out;
    }
    root = cJSON_ParseWithLength(out.buf, out.len);
    kind = rl_json_str(root, "kind");
    api = rl_json_str(root, "apiVersion");
    st = rl_json_obj(root, "status");
    token = rl_json_str(st, "token");
    exp = rl_json_str(st, "expirationTimestamp");
    if (!root || !kind || strcmp(kind, "ExecCredential") != 0) {
        set_err(errbuf, errlen, "user '%s': exec plugin '%s' did not print an ExecCredential%s%s",
                p->user, e->command, *msg ? ": " : "", msg);
        err = RL_ECONFIG;
    } else if (!api || strcmp(api, e->api_version) != 0) {
        set_err(errbuf, errlen, "user '%s': exec plugin '%s' answered apiVersion '%s', "
                "expected '%s'", p->user, e->command, api ? api : "", e->api_version);
        err = RL_ECONFIG;
    } else if (!token || !*token) {
        set_err(errbuf, errlen, "user '%s': exec plugin '%s' gave no status.token%s", p->user,
                e->command, rl_json_str(st, "clientCertificateData")
                                ? " (client certificates from plugins are not supported)" : "");
        err = RL_ECONFIG;
    } else if (exp && rl_parse_rfc3339(exp, &expiry) != 0) {
        set_err(errbuf, errlen, "user '%s': exec plugin '%s': status.expirationTimestamp '%s' "
                "is not RFC 3339", p->user, e->command, exp);
        err = RL_ECONFIG;
    }
    if (!err) {
        *token_out = rl_xstrdup(token);
        *expiry_out = exp ? expiry : INT64_MAX;
    }
out:
    if (root) {
        cJSON *t = (cJSON *)rl_json_obj(root, "status");
        cJSON *tok = t ? cJSON_GetObjectItemCaseSensitive(t, "token") : NULL;

        if (cJSON_IsString(tok))
            rl_wipe(tok->valuestring, strlen(tok->valuestring));
        cJSON_Delete(root);
    }
    free(msg);
    rl_buf_release(&out);
    rl_buf_release(&errout);
    return err;
}

/* Called with p->mu held: the cached credential, unless it is due for a refresh. */
static bool exec_token_fresh(const struct rl_kubeconfig_priv *p, int64_t now_us)
{
    return p->exec_token && (p->exec_expiry_us == INT64_MAX ||
                             now_us + EXEC_EXPIRY_MARGIN_US < p->exec_expiry_us);
}

/* Called with p->mu held: the cached credential may still be sent. */
static bool exec_token_valid(const struct rl_kubeconfig_priv *p, int64_t now_us)
{
    return p->exec_token && (p->exec_expiry_us == INT64_MAX || now_us < p->exec_expiry_us);
}

/*
 * The exec plugin's token, run outside the lock. One thread at a time runs
 * the plugin; while it runs, the others send the cached credential if it
 * has not expired yet (it is only within the refresh margin), or wait for
 * the run and share its outcome, failure included. So a hung plugin
 * stalls only the requests that have no valid credential, and concurrent
 * refreshes run it once. Called with p->mu held; returns with it held.
 */
static int exec_token(struct rl_kubeconfig *cfg, char **token, char *errbuf, size_t errlen)
{
    struct rl_kubeconfig_priv *p = cfg->_priv;
    char *fresh = NULL;
    int64_t expiry = INT64_MAX, now_us;
    int err;

    for (;;) {
        uint64_t run;

        now_us = rl_clock_wall_us(rl_clock_system());
        if (exec_token_fresh(p, now_us) || (p->exec_running && exec_token_valid(p, now_us))) {
            *token = rl_xstrdup(p->exec_token);
            return 0;
        }
        if (!p->exec_running)
            break;
        run = p->exec_runs;
        while (p->exec_running)
            rl_cond_wait(&p->exec_done, &p->mu);
        if (p->exec_runs != run && p->exec_err) {
            set_err(errbuf, errlen, "%s", p->exec_errmsg);
            return p->exec_err;
        }
    }
    p->exec_running = true;
    rl_mutex_unlock(&p->mu);
    err = exec_credential(cfg, &fresh, &expiry, errbuf, errlen);
    rl_mutex_lock(&p->mu);
    p->exec_running = false;
    p->exec_runs++;
    p->exec_err = err;
    if (err) {
        strlcpy(p->exec_errmsg, errbuf && errlen ? errbuf : rl_strerror(err),
                sizeof(p->exec_errmsg));
    } else {
        rl_free_secret(p->exec_token);
        p->exec_token = fresh;
        p->exec_expiry_us = expiry;
        *token = rl_xstrdup(fresh);
    }
    rl_cond_broadcast(&p->exec_done);
    return err;
}

int rl_kubeconfig_auth(struct rl_kubeconfig *cfg, char **header, char *errbuf, size_t errlen)
{
    struct rl_kubeconfig_priv *p = cfg->_priv;
    const char *token = NULL;
    char *copy = NULL;
    int err = 0;

    *header = NULL;
    rl_mutex_lock(&p->mu);
    if (p->token_file) {
        err = refresh_file_token(p, errbuf, errlen);
        token = p->file_token;
    } else if (p->static_token) {
        token = p->static_token;
    } else if (p->exec) {
        err = exec_token(cfg, &copy, errbuf, errlen);
        token = copy;
    }
    if (!err && token)
        *header = rl_xasprintf("Bearer %s", token);
    rl_mutex_unlock(&p->mu);
    rl_free_secret(copy);
    return err;
}

void rl_kubeconfig_auth_failed(struct rl_kubeconfig *cfg)
{
    struct rl_kubeconfig_priv *p = cfg->_priv;

    rl_mutex_lock(&p->mu);
    p->file_checked_ms = 0;
    memset(&p->file_mtime, 0, sizeof(p->file_mtime));
    if (p->exec_token) {
        rl_free_secret(p->exec_token);
        p->exec_token = NULL;
        p->exec_expiry_us = INT64_MAX;
    }
    rl_mutex_unlock(&p->mu);
}

bool rl_kubeconfig_auth_refreshable(const struct rl_kubeconfig *cfg)
{
    return cfg->_priv->token_file || cfg->_priv->exec;
}
