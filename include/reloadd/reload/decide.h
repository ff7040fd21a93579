/*
 * decide.h - Reloader's ShouldReload(), exactly (docs/reloader.md §2.4)
 *
 * rl_decide() answers "does a change of this ConfigMap/Secret/SPC concern
 * this workload?" from the compact workload, a description of the source
 * and the options, in Reloader's order:
 *
 *   0. --ignored-workload-types (jobs/cronjobs; a bad entry disables it)
 *   1. the source's ignore annotation is exactly "true"        -> no
 *   2. annotations source: metadata if it has ANY of the typed reload key,
 *      the generic auto key, the typed auto key or the search key
 *      (presence, not value), else the pod-template annotations
 *   3. metadata exclude list (<type>s.exclude...; trimmed exact names)
 *   4. typed reload list: split on ',', each item trimmed, compiled as
 *      "^" + item + "$" literally (so "a|b" is "^a|b$", as Go), searched
 *      in the name; a match                        -> yes, auto_reload=false
 *   5. search == "true" and the source's match == "true" -> yes, auto
 *   6. ParseBool(auto) || ParseBool(typed auto) || (both empty or absent
 *      && --auto-reload-all)                        -> yes, auto_reload=true
 *   7. no
 *
 * auto_reload=true means the workload must reference the source to be
 * rolled (rl_workload_pick_container() with auto_reload); false (explicit
 * name) rolls container 0 even without a reference. Kind is not checked
 * here beyond step 0 (--is-Argo-Rollouts filters kinds before decide).
 *
 * Regex: PCRE2 with RE2's grammar enforced (no backreferences, lookaround,
 * atomic groups, possessive quantifiers, recursion, callouts or verbs: those
 * are compile errors, as in Go), UTF-8, '$' only at the very end, a match
 * limit and a depth limit; the items of a list of more than ten patterns
 * share ten items' match limit, so matching one list costs a bounded time
 * whatever it holds. An item that does not compile is skipped, the
 * decision carries regex_error and a reason naming the item; the caller
 * logs it once per change of the annotation. Known differences from Go:
 * escapes \1-\9 are rejected (Go reads "\12" as octal), and a subject
 * that exhausts the match limit counts as no match with regex_error set
 * (RE2 runs in linear time and would answer).
 *
 * Cache: struct rl_regex_cache compiles each distinct annotation value once.
 * It is THREAD-SAFE and meant to be shared by all workers: entries are
 * immutable and live until rl_regex_cache_free(); past max_entries new
 * values are compiled per call and not kept (bounded memory, hostile
 * annotations cannot grow it).
 *
 * Threads: rl_decide() is pure apart from the cache; any thread.
 */
#ifndef RL_DECIDE_H
#define RL_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "reloadd/reload/workload.h"

struct rl_policy;
struct rl_regex_cache;

/* The changed source, as the decision sees it. */
struct rl_source_desc {
    enum rl_source_type type;
    const char *name;
    bool ignore;                    /* its ignore annotation == "true" */
    bool match;                     /* its match annotation == "true" */
};

/* Fills d from a source's metadata.annotations (cJSON object or NULL). */
void rl_source_desc_init(struct rl_source_desc *d, enum rl_source_type t,
                         const char *name, const cJSON *annotations,
                         const struct rl_policy *pol);

enum rl_decide_rule {
    RL_RULE_WORKLOAD_TYPE_IGNORED,  /* step 0 */
    RL_RULE_SOURCE_IGNORED,         /* step 1 */
    RL_RULE_EXCLUDED,               /* step 3 */
    RL_RULE_NAMED,                  /* step 4: yes */
    RL_RULE_SEARCH_MATCH,           /* step 5: yes */
    RL_RULE_AUTO,                   /* step 6: yes (auto or typed auto) */
    RL_RULE_AUTO_RELOAD_ALL,        /* step 6: yes (--auto-reload-all) */
    RL_RULE_NOT_ANNOTATED,          /* step 7 */
};

struct rl_decision {
    bool reload;
    bool auto_reload;               /* a reference is required */
    bool regex_error;               /* an item of the list did not compile */
    bool from_pod_template;         /* step 2 fell back to the template */
    enum rl_decide_rule rule;
    char reason[256];               /* one line, for logs and /explain */
};

/*
 * Compiled named-reload lists, keyed by the whole annotation value. A list
 * longer than RL_DECIDE_LIST_MAX_BYTES or with more than
 * RL_DECIDE_LIST_MAX_ITEMS patterns is not compiled: it matches nothing
 * and reports a regex error (a warning on the workload). The cache keeps
 * at most max_entries lists and RL_REGEX_CACHE_MAX_BYTES of compiled code;
 * beyond, a list is compiled for its call only.
 */
#define RL_DECIDE_LIST_MAX_BYTES 16384
#define RL_DECIDE_LIST_MAX_ITEMS 256
#define RL_REGEX_CACHE_MAX_BYTES ((size_t)16 << 20)
struct rl_regex_cache *rl_regex_cache_new(size_t max_entries);
void rl_regex_cache_free(struct rl_regex_cache *c);
size_t rl_regex_cache_size(struct rl_regex_cache *c);
size_t rl_regex_cache_bytes(struct rl_regex_cache *c);

void rl_decide(const struct rl_workload *w, const struct rl_source_desc *src,
               const struct rl_policy *pol, struct rl_regex_cache *cache,
               struct rl_decision *out);

/*
 * The typed reload list step 4 would read for a source type (from
 * metadata or pod template, per step 2), or NULL if absent. For a reverse
 * index: when a source of that type appears, test its name with
 * rl_decide_list_matches().
 */
const char *rl_decide_reload_list(const struct rl_workload *w, enum rl_source_type t,
                                  const struct rl_policy *pol);

/*
 * Step 4 alone: 1 if an item of list matches name, 0 if none does.
 * Compile errors of skipped items are described in err (may be NULL).
 */
int rl_decide_list_matches(struct rl_regex_cache *c, const char *list,
                           const char *name, char *err, size_t errlen);
/*
 * Whether list can be honoured whole: false if it is over the caps (then it
 * is ignored whole) or an item does not compile (then that item is skipped),
 * with the first such problem in err. Compiles (and caches) the list.
 */
bool rl_decide_list_ok(struct rl_regex_cache *c, const char *list, char *err, size_t errlen);

/*
 * The same, but never compiles: -1 while list is not in the cache (not
 * compiled yet, or past the cache's budget). For the informer thread, which
 * holds the store's write lock and must not spend a user's patterns' CPU
 * and memory there: on -1 it hands the workload to a worker, whose
 * rl_decide() compiles the list (and caches it).
 */
int rl_decide_list_matches_cached(struct rl_regex_cache *c, const char *list,
                                  const char *name);

/* Reloader's annotation keys for a source type (typed reload/auto/exclude). */
const char *rl_decide_reload_key(enum rl_source_type t, const struct rl_policy *pol);
const char *rl_decide_auto_key(enum rl_source_type t, const struct rl_policy *pol);
const char *rl_decide_exclude_key(enum rl_source_type t);

#endif /* RL_DECIDE_H */
