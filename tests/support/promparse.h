/*
 * promparse.h - a strict parser for the Prometheus text format 0.0.4
 *
 * For tests: what rl_metrics_expose() and /metrics emit must parse here.
 * Rejected, with "line N: why": text that is not UTF-8 or holds a NUL, a
 * last line without '\n'; bad metric or label names (and reserved "__"
 * label names); bad escapes in HELP text or label values; bad values or
 * timestamps; a second HELP or TYPE for a family, a TYPE after the
 * family's samples, an unknown type; a family whose lines are not
 * contiguous; a duplicate label in a sample, a duplicate series; a sample
 * name that does not fit its family's type; a negative or NaN counter; for
 * histograms, a bucket without "le", buckets whose "le" does not strictly
 * increase or whose counts decrease, a series without a +Inf bucket, _sum
 * or _count, and a +Inf bucket that differs from _count. Empty lines and
 * plain comments are ignored, as the format says.
 *
 * Ownership: the doc owns every string; prom_doc_release() frees them.
 * Threads: none.
 */
#ifndef PROMPARSE_H
#define PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum prom_type {
    PROM_UNTYPED,
    PROM_COUNTER,
    PROM_GAUGE,
    PROM_HISTOGRAM,
    PROM_SUMMARY,
};

struct prom_label {
    char *name;
    char *value;                /* unescaped */
};

struct prom_sample {
    char *name;                 /* as written: x, x_bucket, x_sum, ... */
    struct prom_label *labels;  /* as written, in order */
    size_t nlabels;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms;
};

struct prom_family {
    char *name;
    char *help;                 /* unescaped; NULL without a HELP line */
    enum prom_type type;
    bool has_type;              /* a TYPE line was seen */
    struct prom_sample *samples;
    size_t nsamples;
    size_t _cap;
};

struct prom_doc {
    struct prom_family *families;   /* in order of first appearance */
    size_t nfamilies;
    size_t _cap;
};

/*
 * Parses len bytes of text into doc. Returns 0, or -1 with a message in
 * err (errlen bytes) and doc empty.
 */
int prom_parse(const char *text, size_t len, struct prom_doc *doc, char *err, size_t errlen);
void prom_doc_release(struct prom_doc *doc);

const struct prom_family *prom_family(const struct prom_doc *doc, const char *name);

/*
 * The sample called name whose labels are exactly the given pairs (in any
 * order): prom_sample(doc, "x_bucket", "le", "+Inf", NULL). NULL if none.
 */
const struct prom_sample *prom_sample(const struct prom_doc *doc, const char *name, ...)
    __attribute__((sentinel));

#endif /* PROMPARSE_H */
