/* kindfile.c - workload kinds declared in a file (--workload-kinds-file) */
#include "reloadd/reload/kindfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/syntax.h"
#include "reloadd/reload/kind.h"
#include "reloadd/base/banned.h"

#define MAX_NAME 63                     /* a DNS label; a Kind */
#define MAX_PATH_LEN 253

enum key { K_GROUP, K_VERSION, K_KIND, K_PLURAL, K_TEMPLATE, K_ROLLOUT, K_FIELD, NKEYS };

static const char *const key_names[NKEYS] = {
    "group", "version", "kind", "plural", "template", "rollout", "field",
};

/* One entry of the list as written: each key's value and line (0: absent). */
struct decl {
    char *v[NKEYS];
    size_t line[NKEYS];
    size_t at;                          /* the entry's first line */
};

struct parse {
    const char *path;
    char *err;
    size_t errlen;
    yaml_parser_t yp;
    yaml_event_t ev;
    bool have_ev;
    struct decl d[RL_KIND_DECLARED_MAX];
    size_t n;
};

static int fail(struct parse *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, size_t line, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (!p->err || !p->errlen)
        return RL_ECONFIG;
    if (line)
        n = snprintf(p->err, p->errlen, "--workload-kinds-file '%s', line %zu: ", p->path, line);
    else
        n = snprintf(p->err, p->errlen, "--workload-kinds-file '%s': ", p->path);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return RL_ECONFIG;
}

static size_t line_of(const struct parse *p)
{
    return p->ev.start_mark.line + 1;
}

/* The next event in p->ev (the previous one deleted); an alias is an error. */
static int next(struct parse *p)
{
    if (p->have_ev)
        yaml_event_delete(&p->ev);
    p->have_ev = false;
    if (!yaml_parser_parse(&p->yp, &p->ev))
        return fail(p, p->yp.problem_mark.line + 1, "invalid YAML: %s%s%s",
                    p->yp.problem ? p->yp.problem : "cannot parse",
                    p->yp.context ? " " : "", p->yp.context ? p->yp.context : "");
    p->have_ev = true;
    if (p->ev.type == YAML_ALIAS_EVENT)
        return fail(p, line_of(p), "aliases (*%s) are not supported",
                    (const char *)p->ev.data.alias.anchor);
    return 0;
}

static const char *scalar(const struct parse *p)
{
    return (const char *)p->ev.data.scalar.value;
}

static bool is_null(const struct parse *p)
{
    const char *v = scalar(p);

    return p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
            !strcmp(v, "NULL"));
}

/* What the current event is, for "... is not a string (a map)". */
static const char *what_is(const struct parse *p)
{
    switch (p->ev.type) {
    case YAML_MAPPING_START_EVENT: return "a map";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    default: return "not a value";
    }
}

/* One entry: a map of the keys of key_names to strings. */
static int parse_entry(struct parse *p, struct decl *d)
{
    int err;

    d->at = line_of(p);
    while (!(err = next(p)) && p->ev.type != YAML_MAPPING_END_EVENT) {
        size_t line = line_of(p);
        int k;

        if (p->ev.type != YAML_SCALAR_EVENT)
            return fail(p, line, "a key is %s, want a name", what_is(p));
        for (k = 0; k < NKEYS && strcmp(scalar(p), key_names[k]) != 0; k++)
            ;
        if (k == NKEYS)
            return fail(p, line, "unknown key '%s' (want group, version, kind, plural, "
                        "template, rollout, field)", scalar(p));
        if (d->line[k])
            return fail(p, line, "%s given twice (first at line %zu)", key_names[k],
                        d->line[k]);
        err = next(p);
        if (err)
            return err;
        if (p->ev.type != YAML_SCALAR_EVENT)
            return fail(p, line, "%s is %s, want a string", key_names[k], what_is(p));
        if (strlen(scalar(p)) != p->ev.data.scalar.length)
            return fail(p, line, "%s contains a NUL byte", key_names[k]);
        if (is_null(p))
            continue;                   /* "key:" alone: as if absent */
        d->line[k] = line;
        d->v[k] = rl_xstrdup(scalar(p));
    }
    return err;
}

/* The value of `kinds`: a list of entries (null: none). */
static int parse_list(struct parse *p)
{
    int err;

    if (p->ev.type == YAML_SCALAR_EVENT && is_null(p))
        return 0;
    if (p->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(p, line_of(p), "kinds is %s, want a list", p->ev.type == YAML_SCALAR_EVENT
                    ? "a string" : what_is(p));
    while (!(err = next(p)) && p->ev.type != YAML_SEQUENCE_END_EVENT) {
        if (p->ev.type != YAML_MAPPING_START_EVENT)
            return fail(p, line_of(p), "an entry of kinds is %s, want a map",
                        p->ev.type == YAML_SCALAR_EVENT ? "a string" : what_is(p));
        if (p->n == RL_KIND_DECLARED_MAX)
            return fail(p, line_of(p), "more than %d kinds", RL_KIND_DECLARED_MAX);
        err = parse_entry(p, &p->d[p->n++]);
        if (err)
            return err;
    }
    return err;
}

/* The document: a map whose one key is `kinds`; an empty file declares none. */
static int parse_doc(struct parse *p)
{
    bool seen = false;
    int err = next(p);

    if (!err && p->ev.type == YAML_STREAM_START_EVENT)
        err = next(p);
    if (err || p->ev.type == YAML_STREAM_END_EVENT)
        return err;
    err = next(p);                      /* past DOCUMENT_START */
    if (err)
        return err;
    if (p->ev.type == YAML_SCALAR_EVENT && is_null(p)) {
        err = next(p);
    } else if (p->ev.type != YAML_MAPPING_START_EVENT) {
        return fail(p, line_of(p), "the top level is %s, want a map with a key kinds",
                    p->ev.type == YAML_SCALAR_EVENT ? "a string" : what_is(p));
    } else {
        while (!(err = next(p)) && p->ev.type != YAML_MAPPING_END_EVENT) {
            if (p->ev.type != YAML_SCALAR_EVENT || strcmp(scalar(p), "kinds") != 0)
                return fail(p, line_of(p), "unknown key '%s' at the top level (want kinds)",
                            p->ev.type == YAML_SCALAR_EVENT ? scalar(p) : what_is(p));
            if (seen)
                return fail(p, line_of(p), "kinds given twice");
            seen = true;
            err = next(p);
            if (!err)
                err = parse_list(p);
            if (err)
                return err;
        }
        if (!err)
            err = next(p);
    }
    if (err)
        return err;
    err = next(p);                      /* past DOCUMENT_END */
    if (!err && p->ev.type != YAML_STREAM_END_EVENT)
        return fail(p, line_of(p), "more than one YAML document");
    return err;
}

/* ---- validation ---------------------------------------------------------- */

/* A DNS label (RFC 1035): lower-case alphanumerics and '-', starting with a letter. */
static bool dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > MAX_NAME || !islower((unsigned char)s[0]) || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool kind_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > MAX_NAME || !isupper((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return false;
    return true;
}

/* A path of object members under spec: "spec.template", each member [A-Za-z0-9_-]+. */
static bool member_path(const char *s)
{
    size_t n = strlen(s), seg = 0;

    if (n > MAX_PATH_LEN || strncmp(s, "spec.", 5) != 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (seg == 0)
                return false;
            seg = 0;
        } else if (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-') {
            seg++;
        } else {
            return false;
        }
    }
    return true;
}

/* The group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""), in out. */
static void group_of(const char *api_version, char *out, size_t len)
{
    const char *slash = strchr(api_version, '/');
    size_t n = slash ? (size_t)(slash - api_version) : 0;

    snprintf(out, len, "%.*s", (int)n, api_version);
}

/*
 * Whether two kinds of one group share a name: a kind is named by its Kind
 * and its plural, in any case (rl_kind_parse(): "service.serving.knative.dev"
 * names Service as well as a kind whose plural is "service"), as the API
 * server refuses a CRD whose names another of its group has.
 */
static bool names_clash(const char *kind_a, const char *plural_a, const char *kind_b,
                        const char *plural_b)
{
    return strcasecmp(kind_a, kind_b) == 0 || strcasecmp(kind_a, plural_b) == 0 ||
           strcasecmp(plural_a, kind_b) == 0 || strcasecmp(plural_a, plural_b) == 0;
}

/* Whether another kind, built-in or declared before row n, has a name of this one. */
static int collision(struct parse *p, const struct decl *d, const struct rl_kind_info *rows,
                     size_t n)
{
    const char *group = d->v[K_GROUP], *kind = d->v[K_KIND], *plural = d->v[K_PLURAL];

    for (int k = 0; k < RL_KIND_COUNT; k++) {
        const struct rl_kind_info *b = rl_kind_info((enum rl_kind)k);
        char g[256];

        group_of(b->api_version, g, sizeof(g));
        if (strcmp(g, group) == 0 && names_clash(kind, plural, b->name, b->plural))
            return fail(p, d->at, "%s %s.%s is the built-in kind %s (%s %s): declare only "
                        "kinds reloadd does not know", kind, plural, group, b->name,
                        b->api_version, b->plural);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].group, group) == 0 &&
            names_clash(kind, plural, rows[i].name, rows[i].plural))
            return fail(p, d->at, "%s %s.%s shares a name with %s %s.%s declared at line %u",
                        kind, plural, group, rows[i].name, rows[i].plural, group, rows[i].line);
    return 0;
}

/* Whether a kind other than rows[n] has this Kind (what = 0) or plural (what = 1). */
static bool ambiguous(const struct rl_kind_info *rows, size_t n, size_t nrows, int what)
{
    const char *mine = what ? rows[n].plural : rows[n].name;

    for (int k = 0; k < RL_KIND_COUNT; k++)
        if (strcasecmp(what ? rl_kind_info((enum rl_kind)k)->plural
                            : rl_kind_info((enum rl_kind)k)->name, mine) == 0)
            return true;
    for (size_t i = 0; i < nrows; i++)
        if (i != n && strcasecmp(what ? rows[i].plural : rows[i].name, mine) == 0)
            return true;
    return false;
}

/* Entry d, checked, as row r (strings allocated, freed by the caller). */
static int to_row(struct parse *p, const struct decl *d, struct rl_kind_info *r)
{
    static const enum key required[] = { K_GROUP, K_VERSION, K_KIND, K_PLURAL };
    const char *tmpl = d->v[K_TEMPLATE] ? d->v[K_TEMPLATE] : "spec.template";
    const char *rollout = d->v[K_ROLLOUT] ? d->v[K_ROLLOUT] : "patch-template";

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!d->v[required[i]])
            return fail(p, d->at, "missing %s", key_names[required[i]]);
    if (!rl_dns_subdomain_ok(d->v[K_GROUP], strlen(d->v[K_GROUP])))
        return fail(p, d->line[K_GROUP], "group '%s' is not an API group (a DNS subdomain: "
                    "lower-case alphanumerics, '-' and '.', e.g. serving.knative.dev)",
                    d->v[K_GROUP]);
    if (!dns_label(d->v[K_VERSION]))
        return fail(p, d->line[K_VERSION], "version '%s' is not an API version (a DNS label, "
                    "e.g. v1 or v1alpha1)", d->v[K_VERSION]);
    if (!kind_name(d->v[K_KIND]))
        return fail(p, d->line[K_KIND], "kind '%s' is not a Kind (CamelCase alphanumerics, "
                    "e.g. CloneSet)", d->v[K_KIND]);
    if (!dns_label(d->v[K_PLURAL]))
        return fail(p, d->line[K_PLURAL], "plural '%s' is not a resource name (a lower-case "
                    "DNS label, e.g. clonesets)", d->v[K_PLURAL]);
    if (!member_path(tmpl))
        return fail(p, d->line[K_TEMPLATE], "template '%s' is not a path of fields under spec "
                    "(e.g. spec.template)", tmpl);
    if (strcmp(rollout, "patch-template") == 0) {
        r->writer = RL_WRITER_UPDATE_TEMPLATE;
        if (d->v[K_FIELD])
            return fail(p, d->line[K_FIELD], "field is for rollout: set-field only");
    } else if (strcmp(rollout, "set-field") == 0) {
        r->writer = RL_WRITER_SET_FIELD;
        if (!d->v[K_FIELD])
            return fail(p, d->line[K_ROLLOUT], "rollout: set-field needs a field (e.g. "
                        "field: spec.restartAt)");
        if (!member_path(d->v[K_FIELD]))
            return fail(p, d->line[K_FIELD], "field '%s' is not a path of fields under spec "
                        "(e.g. spec.restartAt)", d->v[K_FIELD]);
    } else {
        return fail(p, d->line[K_ROLLOUT], "unknown rollout '%s' (want patch-template or "
                    "set-field)", rollout);
    }
    r->name = rl_xstrdup(d->v[K_KIND]);
    r->group = rl_xstrdup(d->v[K_GROUP]);
    r->plural = rl_xstrdup(d->v[K_PLURAL]);
    r->key = rl_xasprintf("%s.%s", d->v[K_PLURAL], d->v[K_GROUP]);
    r->api_version = rl_xasprintf("%s/%s", d->v[K_GROUP], d->v[K_VERSION]);
    r->api_prefix = rl_xasprintf("/apis/%s/%s", d->v[K_GROUP], d->v[K_VERSION]);
    r->template_path = rl_xstrdup(tmpl);
    r->field_path = d->v[K_FIELD] ? rl_xstrdup(d->v[K_FIELD]) : NULL;
    r->gate = RL_GATE_DECLARED;
    r->line = (unsigned)d->at;
    return 0;
}

static void free_row(struct rl_kind_info *r)
{
    free((char *)r->name);
    free((char *)r->group);
    free((char *)r->plural);
    free((char *)r->key);
    free((char *)r->api_version);
    free((char *)r->api_prefix);
    free((char *)r->template_path);
    free((char *)r->field_path);
    free((char *)r->metric_name);
    free((char *)r->metric_plural);
}

int rl_kindfile_parse(const char *path, const char *text, size_t len, char *err,
                      size_t errlen)
{
    struct parse *p = rl_xcalloc(1, sizeof(*p));
    struct rl_kind_info rows[RL_KIND_DECLARED_MAX];
    size_t nrows = 0;
    int rc;

    memset(rows, 0, sizeof(rows));
    p->path = path;
    p->err = err;
    p->errlen = errlen;
    if (len > RL_KINDFILE_MAX_BYTES) {
        rc = fail(p, 0, "larger than %zu bytes", RL_KINDFILE_MAX_BYTES);
        free(p);
        return rc;
    }
    if (!yaml_parser_initialize(&p->yp)) {
        free(p);
        return RL_ENOMEM;
    }
    yaml_parser_set_input_string(&p->yp, (const unsigned char *)text, len);
    rc = parse_doc(p);
    for (size_t i = 0; !rc && i < p->n; i++) {
        rc = to_row(p, &p->d[i], &rows[nrows]);
        if (!rc)
            rc = collision(p, &p->d[i], rows, nrows);
        nrows++;                        /* freed below, complete or not */
    }
    for (size_t i = 0; !rc && i < nrows; i++) {
        if (ambiguous(rows, i, nrows, 0))
            rows[i].metric_name = rl_xasprintf("%s.%s", rows[i].name, rows[i].group);
        if (ambiguous(rows, i, nrows, 1))
            rows[i].metric_plural = rl_xstrdup(rows[i].key);
    }
    if (!rc)
        rc = rl_kind_declare(rows, nrows);
    for (size_t i = 0; i < nrows; i++)
        free_row(&rows[i]);
    for (size_t i = 0; i < p->n; i++)
        for (int k = 0; k < NKEYS; k++)
            free(p->d[i].v[k]);
    if (p->have_ev)
        yaml_event_delete(&p->ev);
    yaml_parser_delete(&p->yp);
    free(p);
    return rc;
}

int rl_kindfile_load(const char *path, char *err, size_t errlen)
{
    struct parse msg = { .path = path, .err = err, .errlen = errlen };
    char *text = rl_xmalloc(RL_KINDFILE_MAX_BYTES + 1);
    size_t len = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0) {
        rc = -errno;
        fail(&msg, 0, "cannot open: %s", rl_errno_str(-rc));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = RL_ECONFIG;
        fail(&msg, 0, "not a regular file");
    }
    while (!rc && len <= RL_KINDFILE_MAX_BYTES) {
        ssize_t n = read(fd, text + len, RL_KINDFILE_MAX_BYTES + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            fail(&msg, 0, "cannot read: %s", rl_errno_str(-rc));
        }
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    if (!rc && len > RL_KINDFILE_MAX_BYTES)
        rc = fail(&msg, 0, "larger than %zu bytes", RL_KINDFILE_MAX_BYTES);
    if (!rc)
        rc = rl_kindfile_parse(path, text, len, err, errlen);
    free(text);
    return rc;
}
