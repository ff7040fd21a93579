/*
 * promcheck.c - checks a Prometheus text exposition strictly, and reads samples
 *
 *   promcheck FILE [SAMPLE...]
 *
 * Parses FILE ("-": stdin) with tests/support/promparse.c (strict: see
 * promparse.h) and exits 1 with "line N: why" if it does not parse. Then
 * prints the value of each SAMPLE, one per line: `name` or
 * `name{label=value,label=value}` (no quotes; the labels must be exactly
 * the sample's, in any order), or "NA" if there is no such sample.
 *
 * Built by CMake (tools/CMakeLists.txt) next to reloadd: build/tools/promcheck.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promparse.h"

#define MAX_TEXT (64u << 20)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf;
    size_t n = 0, cap = 1 << 16;

    if (!f)
        return NULL;
    buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);

        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *nb = cap < MAX_TEXT ? realloc(buf, cap * 2 + 1) : NULL;

            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

/* Does sample s have exactly the labels of spec "k=v,k=v" (len bytes)? */
static int labels_match(const struct prom_sample *s, const char *spec, size_t len)
{
    size_t want = 0;
    const char *p = spec, *end = spec + len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        int found = 0;

        if (!eq)
            return 0;
        for (size_t i = 0; i < s->nlabels; i++) {
            if (strlen(s->labels[i].name) == (size_t)(eq - p) &&
                strncmp(s->labels[i].name, p, (size_t)(eq - p)) == 0 &&
                strlen(s->labels[i].value) == (size_t)(item_end - eq - 1) &&
                strncmp(s->labels[i].value, eq + 1, (size_t)(item_end - eq - 1)) == 0)
                found = 1;
        }
        if (!found)
            return 0;
        want++;
        p = item_end + 1;
    }
    return want == s->nlabels;
}

static const struct prom_sample *lookup(const struct prom_doc *doc, const char *q)
{
    const char *brace = strchr(q, '{');
    size_t nlen = brace ? (size_t)(brace - q) : strlen(q);
    const char *spec = brace ? brace + 1 : "";
    size_t slen = brace ? strlen(spec) : 0;

    if (brace) {
        if (slen == 0 || spec[slen - 1] != '}')
            return NULL;
        slen--;
    }
    for (size_t f = 0; f < doc->nfamilies; f++) {
        const struct prom_family *fam = &doc->families[f];

        for (size_t i = 0; i < fam->nsamples; i++) {
            const struct prom_sample *s = &fam->samples[i];

            if (strlen(s->name) == nlen && strncmp(s->name, q, nlen) == 0 &&
                labels_match(s, spec, slen))
                return s;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct prom_doc doc = { 0 };
    char err[512];
    size_t len = 0;
    char *text;

    if (argc < 2) {
        fprintf(stderr, "usage: promcheck FILE [SAMPLE...]\n");
        return 2;
    }
    text = slurp(argv[1], &len);
    if (!text) {
        fprintf(stderr, "promcheck: cannot read '%s'\n", argv[1]);
        return 2;
    }
    if (prom_parse(text, len, &doc, err, sizeof(err)) != 0) {
        fprintf(stderr, "promcheck: %s\n", err);
        free(text);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        const struct prom_sample *s = lookup(&doc, argv[i]);

        if (s)
            printf("%.17g\n", s->value);
        else
            printf("NA\n");
    }
    prom_doc_release(&doc);
    free(text);
    return 0;
}
