/*
 * explain.h - `reloadd explain KIND/NAME -n NS`: /explain without a controller
 *
 * Prints the JSON that a running reloadd serves on /explain for one
 * workload, from a one-off view of the cluster: GET the workload, LIST
 * the ConfigMaps and Secrets of its namespace (with the controller's
 * selectors and filters), put them in a private store, and run
 * rl_reconcile_explain() on it. It writes nothing. The verdicts are those
 * of a reloadd starting now: a source that changed since its last rollout
 * shows "roll" with --sync-after-restart, else "adopt". The "lastWrite"
 * of a running controller is not known here.
 *
 * Secrets: neither /explain nor this command shows the SHA-1 of a
 * Secret's data (unsalted, so a weak Secret would fall to a dictionary
 * attack on it); rl_explain_redact() puts a keyed fingerprint in its
 * place. ConfigMap hashes are shown as they are.
 *
 * Usage: reloadd explain KIND/NAME [-n NS] [any reloadd flag]. The flags
 * and their environment variables are read as the controller reads them,
 * so annotation names, strategy and --auto-reload-all match it. Exit 0
 * with the JSON on stdout, 1 on an error (message on stderr), 2 on bad
 * usage.
 *
 * Threads: rl_explain_secret_fingerprint() and rl_explain_redact(), any
 * thread; the rest, main thread; curl_global_init() must have run.
 */
#ifndef RL_EXPLAIN_H
#define RL_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "reloadd/reload/workload.h"

struct rl_kube;
struct rl_policy;

/*
 * The explanation of kind ("deployment", "Deployment", "deployments", ...)
 * ns/name under o. Returns 0 and *out (caller deletes), RL_EINVAL for an
 * unknown kind, RL_ENOTFOUND if the workload does not exist or is outside
 * what o watches, or an API error; err holds a message on failure.
 */
int rl_explain_build(struct rl_kube *kube, const struct rl_policy *pol, const char *kind,
                     const char *ns, const char *name, cJSON **out, char *err, size_t errlen);

/*
 * A Secret's hash as explanations show it: RL_EXPLAIN_FP_PREFIX and the
 * first 12 hex digits of HMAC-SHA256(key, hash), the key drawn once per
 * process with RAND_bytes(). Equal hashes give equal fingerprints within
 * one process, so "hash" and "applied" still compare, and two explains of
 * one process too; nothing outside the process can compute one. False,
 * and out empty, if no key could be drawn.
 */
#define RL_EXPLAIN_FP_PREFIX "hmac-sha256:"
#define RL_EXPLAIN_FP_HEX 12
#define RL_EXPLAIN_FP_SIZE (sizeof(RL_EXPLAIN_FP_PREFIX) - 1 + RL_EXPLAIN_FP_HEX + 1)
bool rl_explain_secret_fingerprint(const char *hash, char out[RL_EXPLAIN_FP_SIZE]);

/*
 * Replaces the "hash" and "applied" of every Secret in an explanation
 * (rl_reconcile_explain()'s JSON) by its fingerprint ("hidden" if there
 * is none), and adds a top-level "secretHashes" saying so. Anything else
 * is left alone, and so is JSON of any other shape. NULL: no-op.
 */
void rl_explain_redact(cJSON *explanation);

/* `reloadd explain ...`: argv[0] is the program, argv[1] "explain". Exit status. */
int rl_explain_main(int argc, char **argv);

#endif /* RL_EXPLAIN_H */
