/* promparse.c - a strict parser for the Prometheus text format 0.0.4 */
#include "promparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"

struct parser {
    const char *p;              /* current position in the current line */
    const char *eol;            /* end of the current line (its '\n') */
    int line;
    struct prom_doc *doc;
    struct rl_map series;       /* "family|sample key" -> (void *)1 */
    long current;               /* index of the family last written to */
    char *err;
    size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *ps, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->errlen)
        snprintf(ps->err, ps->errlen, "line %d: %s", ps->line, msg);
    return -1;
}

/* ---- lexical pieces ---- */

static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if (avail < 3 || (p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
            return 0;
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if (avail < 4 || (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return 0;
        return (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
               (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static bool is_name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

static void skip_blanks(struct parser *ps)
{
    while (ps->p < ps->eol && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

/* Reads a metric name (colon true) or label name; NULL if none there. */
static char *read_name(struct parser *ps, bool colon)
{
    const char *start = ps->p;

    if (ps->p >= ps->eol || !is_name_start(*ps->p, colon))
        return NULL;
    while (ps->p < ps->eol && is_name_char(*ps->p, colon))
        ps->p++;
    return rl_xstrndup(start, (size_t)(ps->p - start));
}

/* The next blank-delimited token [*tok, *tok + *n). */
static bool read_token(struct parser *ps, const char **tok, size_t *n)
{
    *tok = ps->p;
    while (ps->p < ps->eol && *ps->p != ' ' && *ps->p != '\t')
        ps->p++;
    *n = (size_t)(ps->p - *tok);
    return *n > 0;
}

/* A float as the format writes them: decimal, +Inf, -Inf or NaN. */
static bool parse_float(const char *s, size_t n, double *out)
{
    char buf[64];
    size_t i = 0;
    bool digits = false;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (buf[i] == '+' || buf[i] == '-')
        i++;
    while (isdigit((unsigned char)buf[i])) {
        i++;
        digits = true;
    }
    if (buf[i] == '.') {
        i++;
        while (isdigit((unsigned char)buf[i])) {
            i++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (buf[i] == 'e' || buf[i] == 'E') {
        bool exp_digits = false;

        i++;
        if (buf[i] == '+' || buf[i] == '-')
            i++;
        while (isdigit((unsigned char)buf[i])) {
            i++;
            exp_digits = true;
        }
        if (!exp_digits)
            return false;
    }
    if (buf[i] != '\0')
        return false;
    *out = strtod(buf, NULL);
    return true;
}

static bool parse_int64(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    char *end;
    long long v;
    size_t i = 0;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] == '-')
        i++;
    if (!buf[i])
        return false;
    for (; buf[i]; i++) {
        if (!isdigit((unsigned char)buf[i]))
            return false;
    }
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* ---- families ---- */

static const char *type_name(enum prom_type t)
{
    static const char *const names[] = { "untyped", "counter", "gauge", "histogram", "summary" };

    return names[t];
}

static bool has_suffix(const char *s, const char *base, const char *suffix)
{
    size_t n = strlen(base);

    return strncmp(s, base, n) == 0 && strcmp(s + n, suffix) == 0;
}

/* Whether a sample called name belongs to family f, given f's type. */
static bool family_owns(const struct prom_family *f, const char *name)
{
    switch (f->type) {
    case PROM_HISTOGRAM:
        return has_suffix(name, f->name, "_bucket") || has_suffix(name, f->name, "_sum") ||
               has_suffix(name, f->name, "_count");
    case PROM_SUMMARY:
        return strcmp(name, f->name) == 0 || has_suffix(name, f->name, "_sum") ||
               has_suffix(name, f->name, "_count");
    default:
        return strcmp(name, f->name) == 0;
    }
}

static long find_family(const struct prom_doc *doc, const char *name)
{
    for (size_t i = 0; i < doc->nfamilies; i++) {
        if (strcmp(doc->families[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

static long new_family(struct prom_doc *doc, const char *name)
{
    struct prom_family *f;

    if (doc->nfamilies == doc->_cap) {
        doc->_cap = doc->_cap ? doc->_cap * 2 : 16;
        doc->families = rl_xreallocarray(doc->families, doc->_cap, sizeof(*doc->families));
    }
    f = &doc->families[doc->nfamilies];
    memset(f, 0, sizeof(*f));
    f->name = rl_xstrdup(name);
    return (long)doc->nfamilies++;
}

/*
 * Makes family idx the current one. Lines of one family must be
 * contiguous: returning to a family after another one is an error.
 */
static int touch_family(struct parser *ps, long idx, bool fresh)
{
    if (idx != ps->current && !fresh)
        return fail(ps, "lines of family '%s' are not contiguous",
                    ps->doc->families[idx].name);
    ps->current = idx;
    return 0;
}

/* The family a HELP or TYPE line names: found, or made if unclaimed. */
static int family_for_meta(struct parser *ps, const char *name, long *idx)
{
    long i = find_family(ps->doc, name);

    if (i >= 0)
        return touch_family(ps, i, false);
    for (size_t j = 0; j < ps->doc->nfamilies; j++) {
        if (family_owns(&ps->doc->families[j], name))
            return fail(ps, "'%s' names samples of family '%s'", name,
                        ps->doc->families[j].name);
    }
    *idx = new_family(ps->doc, name);
    return touch_family(ps, *idx, true);
}

/* ---- lines ---- */

static int parse_help(struct parser *ps)
{
    struct prom_family *f;
    struct rl_buf help;
    char *name;
    long idx = -1;
    int err;

    skip_blanks(ps);
    name = read_name(ps, true);
    if (!name)
        return fail(ps, "HELP without a valid metric name");
    if (ps->p < ps->eol && *ps->p != ' ' && *ps->p != '\t') {
        free(name);
        return fail(ps, "invalid character in metric name of HELP");
    }
    err = family_for_meta(ps, name, &idx);
    free(name);
    if (err)
        return err;
    if (idx < 0)
        idx = ps->current;
    f = &ps->doc->families[idx];
    if (f->help)
        return fail(ps, "second HELP line for '%s'", f->name);

    /* Blanks separate the name from the text; the rest is the text. */
    skip_blanks(ps);
    rl_buf_init(&help, 0);
    for (; ps->p < ps->eol; ps->p++) {
        char c = *ps->p;

        if (c == '\\') {
            if (ps->p + 1 >= ps->eol || (ps->p[1] != '\\' && ps->p[1] != 'n')) {
                rl_buf_release(&help);
                return fail(ps, "invalid escape sequence in HELP of '%s'", f->name);
            }
            ps->p++;
            c = *ps->p == 'n' ? '\n' : '\\';
        }
        rl_buf_addc(&help, c);
    }
    f->help = rl_buf_detach(&help);
    return 0;
}

static int parse_type(struct parser *ps)
{
    static const char *const names[] = { "untyped", "counter", "gauge", "histogram", "summary" };
    struct prom_family *f;
    const char *tok;
    char *name;
    size_t n;
    long idx = -1;
    int err;

    skip_blanks(ps);
    name = read_name(ps, true);
    if (!name)
        return fail(ps, "TYPE without a valid metric name");
    if (ps->p >= ps->eol || (*ps->p != ' ' && *ps->p != '\t')) {
        free(name);
        return fail(ps, "TYPE without a type");
    }
    err = family_for_meta(ps, name, &idx);
    free(name);
    if (err)
        return err;
    if (idx < 0)
        idx = ps->current;
    f = &ps->doc->families[idx];
    if (f->has_type)
        return fail(ps, "second TYPE line for '%s'", f->name);
    if (f->nsamples)
        return fail(ps, "TYPE line for '%s' after its samples", f->name);

    skip_blanks(ps);
    if (!read_token(ps, &tok, &n))
        return fail(ps, "TYPE without a type");
    skip_blanks(ps);
    if (ps->p != ps->eol)
        return fail(ps, "text after the type of '%s'", f->name);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && memcmp(names[i], tok, n) == 0) {
            f->type = (enum prom_type)i;
            f->has_type = true;
            break;
        }
    }
    if (!f->has_type)
        return fail(ps, "unknown type '%.*s' for '%s'", (int)n, tok, f->name);
    /* Its samples' names must not be taken by a family already seen. */
    for (size_t j = 0; j < ps->doc->nfamilies; j++) {
        if ((long)j != idx && family_owns(f, ps->doc->families[j].name))
            return fail(ps, "%s '%s' would own the samples of family '%s'",
                        type_name(f->type), f->name, ps->doc->families[j].name);
    }
    return 0;
}

static void sample_release(struct prom_sample *s)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->name);
}

static int read_label_value(struct parser *ps, char **out)
{
    struct rl_buf v;

    if (ps->p >= ps->eol || *ps->p != '"')
        return fail(ps, "label value must be quoted");
    ps->p++;
    rl_buf_init(&v, 0);
    for (;;) {
        char c;

        if (ps->p >= ps->eol) {
            rl_buf_release(&v);
            return fail(ps, "unterminated label value");
        }
        c = *ps->p++;
        if (c == '"')
            break;
        if (c == '\\') {
            if (ps->p >= ps->eol) {
                rl_buf_release(&v);
                return fail(ps, "unterminated escape in label value");
            }
            c = *ps->p++;
            if (c == 'n') {
                c = '\n';
            } else if (c != '\\' && c != '"') {
                rl_buf_release(&v);
                return fail(ps, "invalid escape sequence '\\%c' in label value", c);
            }
        }
        rl_buf_addc(&v, c);
    }
    *out = rl_buf_detach(&v);
    return 0;
}

static int read_labels(struct parser *ps, struct prom_sample *s)
{
    size_t cap = 0;

    ps->p++;                    /* '{' */
    for (;;) {
        struct prom_label l = { NULL, NULL };

        skip_blanks(ps);
        if (ps->p < ps->eol && *ps->p == '}') {
            ps->p++;
            return 0;
        }
        l.name = read_name(ps, false);
        if (!l.name)
            return fail(ps, "invalid label name in '%s'", s->name);
        if (strncmp(l.name, "__", 2) == 0) {
            int err = fail(ps, "reserved label name '%s'", l.name);

            free(l.name);
            return err;
        }
        for (size_t i = 0; i < s->nlabels; i++) {
            if (strcmp(s->labels[i].name, l.name) == 0) {
                int err = fail(ps, "duplicate label '%s' in '%s'", l.name, s->name);

                free(l.name);
                return err;
            }
        }
        skip_blanks(ps);
        if (ps->p >= ps->eol || *ps->p != '=') {
            int err = fail(ps, "expected '=' after label '%s'", l.name);

            free(l.name);
            return err;
        }
        ps->p++;
        skip_blanks(ps);
        if (read_label_value(ps, &l.value)) {
            free(l.name);
            return -1;
        }
        if (s->nlabels == cap) {
            cap = cap ? cap * 2 : 4;
            s->labels = rl_xreallocarray(s->labels, cap, sizeof(*s->labels));
        }
        s->labels[s->nlabels++] = l;
        skip_blanks(ps);
        if (ps->p < ps->eol && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->eol && *ps->p == '}') {
            ps->p++;
            return 0;
        }
        return fail(ps, "expected ',' or '}' after label '%s'", l.name);
    }
}

static int cmp_labels(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

/* A canonical key of name and labels (sorted), skipping label `skip`. */
static char *series_key(const char *name, const struct prom_sample *s, const char *skip)
{
    struct prom_label *sorted = rl_xcalloc(s->nlabels ? s->nlabels : 1, sizeof(*sorted));
    struct rl_buf key;

    if (s->nlabels)
        memcpy(sorted, s->labels, s->nlabels * sizeof(*sorted));
    qsort(sorted, s->nlabels, sizeof(*sorted), cmp_labels);
    rl_buf_init(&key, 0);
    rl_buf_addf(&key, "%zu:%s", strlen(name), name);
    for (size_t i = 0; i < s->nlabels; i++) {
        if (skip && strcmp(sorted[i].name, skip) == 0)
            continue;
        rl_buf_addf(&key, "|%zu:%s=%zu:%s", strlen(sorted[i].name), sorted[i].name,
                    strlen(sorted[i].value), sorted[i].value);
    }
    free(sorted);
    return rl_buf_detach(&key);
}

static const char *label_value(const struct prom_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    }
    return NULL;
}

/* Type rules that one sample can be judged by alone. */
static int check_sample(struct parser *ps, const struct prom_family *f,
                        const struct prom_sample *s)
{
    const char *le = label_value(s, "le");
    double v;

    switch (f->type) {
    case PROM_COUNTER:
        if (isnan(s->value) || s->value < 0)
            return fail(ps, "counter '%s' has a negative or NaN value", s->name);
        break;
    case PROM_HISTOGRAM:
        if (has_suffix(s->name, f->name, "_bucket")) {
            if (!le)
                return fail(ps, "histogram bucket '%s' without 'le'", s->name);
            if (!parse_float(le, strlen(le), &v) || isnan(v))
                return fail(ps, "invalid 'le' value \"%s\" in '%s'", le, s->name);
        } else if (le) {
            return fail(ps, "'le' label on '%s'", s->name);
        }
        if (!has_suffix(s->name, f->name, "_sum") &&
            (isnan(s->value) || s->value < 0 || s->value != floor(s->value)))
            return fail(ps, "'%s' is not a count", s->name);
        break;
    case PROM_SUMMARY:
        if (strcmp(s->name, f->name) == 0) {
            const char *q = label_value(s, "quantile");

            if (!q || !parse_float(q, strlen(q), &v) || !(v >= 0 && v <= 1))
                return fail(ps, "summary sample '%s' needs a quantile in [0, 1]", s->name);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int parse_sample(struct parser *ps)
{
    struct prom_sample s = { 0 };
    struct prom_family *f;
    const char *tok;
    size_t n;
    long idx = -1;
    char *key = NULL;
    int err = -1;

    s.name = read_name(ps, true);
    if (!s.name) {
        fail(ps, "invalid metric name");
        goto out;
    }
    tok = ps->p;
    skip_blanks(ps);                    /* "name {" is allowed, as in expfmt */
    if (ps->p < ps->eol && *ps->p == '{') {
        if (read_labels(ps, &s))
            goto out;
        tok = ps->p;
        skip_blanks(ps);
    }
    if (ps->p == tok || ps->p >= ps->eol) {
        fail(ps, "expected a blank and a value after '%s'", s.name);
        goto out;
    }
    skip_blanks(ps);
    if (!read_token(ps, &tok, &n) || !parse_float(tok, n, &s.value)) {
        fail(ps, "invalid value '%.*s' for '%s'", (int)n, tok, s.name);
        goto out;
    }
    skip_blanks(ps);
    if (ps->p < ps->eol) {
        read_token(ps, &tok, &n);
        if (!parse_int64(tok, n, &s.timestamp_ms)) {
            fail(ps, "invalid timestamp '%.*s' for '%s'", (int)n, tok, s.name);
            goto out;
        }
        s.has_timestamp = true;
        skip_blanks(ps);
        if (ps->p < ps->eol) {
            fail(ps, "text after the timestamp of '%s'", s.name);
            goto out;
        }
    }

    /* Which family? The current one if it owns the name, else the owner. */
    if (ps->current >= 0 && family_owns(&ps->doc->families[ps->current], s.name)) {
        idx = ps->current;
    } else {
        for (size_t j = 0; j < ps->doc->nfamilies; j++) {
            if (family_owns(&ps->doc->families[j], s.name)) {
                idx = (long)j;
                break;
            }
        }
        if (idx >= 0) {
            if (touch_family(ps, idx, false))
                goto out;
        } else if (find_family(ps->doc, s.name) >= 0) {
            fail(ps, "'%s' is not a valid sample name for its %s family", s.name,
                 type_name(ps->doc->families[find_family(ps->doc, s.name)].type));
            goto out;
        } else {
            idx = new_family(ps->doc, s.name);   /* untyped, no HELP */
            touch_family(ps, idx, true);
        }
    }
    f = &ps->doc->families[idx];
    if (check_sample(ps, f, &s))
        goto out;

    key = series_key(s.name, &s, NULL);
    if (rl_map_has(&ps->series, key)) {
        fail(ps, "duplicate series '%s'", s.name);
        goto out;
    }
    rl_map_put(&ps->series, key, (void *)1);

    if (f->nsamples == f->_cap) {
        f->_cap = f->_cap ? f->_cap * 2 : 8;
        f->samples = rl_xreallocarray(f->samples, f->_cap, sizeof(*f->samples));
    }
    f->samples[f->nsamples++] = s;
    memset(&s, 0, sizeof(s));
    err = 0;
out:
    free(key);
    sample_release(&s);
    return err;
}

static int parse_line(struct parser *ps)
{
    skip_blanks(ps);
    if (ps->p == ps->eol)
        return 0;                       /* empty lines are ignored */
    if (*ps->p != '#')
        return parse_sample(ps);

    ps->p++;
    if (ps->p < ps->eol && (*ps->p == ' ' || *ps->p == '\t')) {
        const char *tok;
        size_t n;

        skip_blanks(ps);
        if (!read_token(ps, &tok, &n))
            return 0;
        if (n == 4 && memcmp(tok, "HELP", 4) == 0 && ps->p < ps->eol)
            return parse_help(ps);
        if (n == 4 && memcmp(tok, "TYPE", 4) == 0 && ps->p < ps->eol)
            return parse_type(ps);
        if (n == 4 && (memcmp(tok, "HELP", 4) == 0 || memcmp(tok, "TYPE", 4) == 0))
            return fail(ps, "%.4s without a metric name", tok);
    }
    return 0;                           /* a comment */
}

/* ---- whole-document checks ---- */

struct hist_state {
    double last_le;
    double last_count;
    bool has_inf;
    double inf_count;
    bool has_sum;
    bool has_count;
    double count;
};

static int check_histogram(struct parser *ps, const struct prom_family *f)
{
    struct rl_map groups = RL_MAP_INIT;
    int err = 0;

    for (size_t i = 0; i < f->nsamples && !err; i++) {
        const struct prom_sample *s = &f->samples[i];
        char *key = series_key(f->name, s, "le");
        struct hist_state *st = rl_map_get(&groups, key);

        if (!st) {
            st = RL_NEW(struct hist_state);
            st->last_le = -INFINITY;
            st->last_count = 0;
            rl_map_put(&groups, key, st);
        }
        free(key);
        if (has_suffix(s->name, f->name, "_bucket")) {
            const char *les = label_value(s, "le");
            double le = 0;

            parse_float(les, strlen(les), &le);
            if (!(le > st->last_le))
                err = fail(ps, "histogram '%s': bucket le=\"%s\" does not follow a smaller one",
                           f->name, les);
            else if (s->value < st->last_count)
                err = fail(ps, "histogram '%s': bucket le=\"%s\" count decreases", f->name, les);
            st->last_le = le;
            st->last_count = s->value;
            if (isinf(le)) {
                st->has_inf = true;
                st->inf_count = s->value;
            }
        } else if (has_suffix(s->name, f->name, "_sum")) {
            st->has_sum = true;
        } else {
            st->has_count = true;
            st->count = s->value;
        }
    }
    for (size_t it = 0; !err;) {
        const char *key;
        void *v;
        struct hist_state *st;

        if (!rl_map_next(&groups, &it, &key, &v))
            break;
        st = v;
        if (!st->has_inf)
            err = fail(ps, "histogram '%s': a series has no +Inf bucket", f->name);
        else if (!st->has_sum || !st->has_count)
            err = fail(ps, "histogram '%s': a series lacks _sum or _count", f->name);
        else if (st->inf_count != st->count)
            err = fail(ps, "histogram '%s': +Inf bucket %g differs from _count %g", f->name,
                       st->inf_count, st->count);
    }
    rl_map_release(&groups, free);
    return err;
}

/* ---- entry points ---- */

int prom_parse(const char *text, size_t len, struct prom_doc *doc, char *err, size_t errlen)
{
    struct parser ps = { 0 };
    const char *end = text + len;
    const unsigned char *u;
    int rc = -1;

    memset(doc, 0, sizeof(*doc));
    ps.doc = doc;
    ps.current = -1;
    ps.err = err;
    ps.errlen = errlen;
    ps.line = 1;
    rl_map_init(&ps.series);
    if (errlen)
        err[0] = '\0';

    for (u = (const unsigned char *)text; u < (const unsigned char *)end;) {
        size_t n;

        if (*u == '\0') {
            fail(&ps, "NUL byte");
            goto out;
        }
        if (*u == '\n')
            ps.line++;
        n = utf8_len(u, (const unsigned char *)end);
        if (!n) {
            fail(&ps, "invalid UTF-8");
            goto out;
        }
        u += n;
    }
    ps.line = 0;
    if (len && text[len - 1] != '\n') {
        for (const char *q = text; q < end; q++)
            ps.line += *q == '\n';
        ps.line++;
        fail(&ps, "last line does not end with a newline");
        goto out;
    }

    for (const char *line = text; line < end;) {
        ps.line++;
        ps.p = line;
        ps.eol = memchr(line, '\n', (size_t)(end - line));
        if (parse_line(&ps))
            goto out;
        line = ps.eol + 1;
    }
    for (size_t i = 0; i < doc->nfamilies; i++) {
        if (doc->families[i].type == PROM_HISTOGRAM && check_histogram(&ps, &doc->families[i]))
            goto out;
    }
    rc = 0;
out:
    rl_map_release(&ps.series, NULL);
    if (rc)
        prom_doc_release(doc);
    return rc;
}

void prom_doc_release(struct prom_doc *doc)
{
    for (size_t i = 0; i < doc->nfamilies; i++) {
        struct prom_family *f = &doc->families[i];

        for (size_t j = 0; j < f->nsamples; j++)
            sample_release(&f->samples[j]);
        free(f->samples);
        free(f->help);
        free(f->name);
    }
    free(doc->families);
    memset(doc, 0, sizeof(*doc));
}

const struct prom_family *prom_family(const struct prom_doc *doc, const char *name)
{
    long i = find_family(doc, name);

    return i >= 0 ? &doc->families[i] : NULL;
}

const struct prom_sample *prom_sample(const struct prom_doc *doc, const char *name, ...)
{
    const char *names[16], *values[16];
    size_t n = 0;
    va_list ap;

    va_start(ap, name);
    for (;;) {
        const char *k = va_arg(ap, const char *);

        if (!k || n == 16)
            break;
        names[n] = k;
        values[n] = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);

    for (size_t i = 0; i < doc->nfamilies; i++) {
        const struct prom_family *f = &doc->families[i];

        for (size_t j = 0; j < f->nsamples; j++) {
            const struct prom_sample *s = &f->samples[j];
            bool match = strcmp(s->name, name) == 0 && s->nlabels == n;

            for (size_t k = 0; match && k < n; k++) {
                const char *v = label_value(s, names[k]);

                match = v && values[k] && strcmp(v, values[k]) == 0;
            }
            if (match)
                return s;
        }
    }
    return NULL;
}
