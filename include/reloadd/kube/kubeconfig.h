/*
 * kubeconfig.h - where the cluster is and who we are
 *
 * Loads a kubeconfig as kubectl does (KUBECONFIG with several ':'-separated
 * paths merged, first file wins per entry and for current-context; a
 * --context override; server, CA data/file, client cert/key data/file,
 * bearer token/token file, exec credential plugins of
 * client.authentication.k8s.io/v1 with the credential cached until its
 * expirationTimestamp; insecure-skip-tls-verify only when the file says
 * so), or the in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, the
 * service-account CA, and a token file re-read when it changes).
 *
 * A broken or partial configuration gives one clear message naming the
 * file and the field, in `errbuf`, e.g. "kubeconfig '/x/config': user
 * 'bob': client-key-data is not valid base64". Relative paths are resolved
 * against the directory of the file that names them; files named by the
 * chosen entries are checked to be readable at load time. Hostile input
 * fails fast: a kubeconfig must be a regular file (a FIFO would block
 * start-up) of at most 16 MiB, nesting at most 64 levels deep (checked in
 * one pass before libyaml, whose time is quadratic in the depth: 400 KB
 * of '[' took 124 s), else "kubeconfig '/x': nesting deeper than 64 at
 * line 4".
 *
 * Secrets: key data and tokens are wiped when freed. A token file is
 * re-read when its mtime, size or inode changes (checked at most every
 * few seconds); an exec plugin runs (via posix_spawn, stdin from
 * /dev/null, KUBERNETES_EXEC_INFO set, output bounded, 60 s limit) on first
 * use and again when its credential is within 5 s of expirationTimestamp.
 * A plugin that fails is reported with its exit status (or signal) and the
 * head of its stderr as one line ("user 'u': exec plugin 'x' failed (exit
 * 1): token expired, run login").
 *
 * Threads: loading is single-threaded; rl_kubeconfig_auth() is thread-safe.
 * The plugin runs outside the lock, one run at a time: while it runs, other
 * callers get the cached credential if it has not expired yet, or wait for
 * the run and share its token or its error. A hung plugin so delays only
 * requests that have no valid credential, for at most its time limit.
 */
#ifndef RL_KUBECONFIG_H
#define RL_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct rl_kubeconfig {
    char *source;               /* file path(s), or "in-cluster" */
    char *context;
    char *server;               /* "https://host:port", no trailing slash */
    char *tls_server_name;      /* may be NULL */
    char *ca_file;              /* PEM file path, or NULL */
    char *ca_data;              /* PEM bytes (decoded), or NULL */
    char *cert_file, *key_file; /* client certificate files, or NULL */
    char *cert_data, *key_data; /* PEM bytes (decoded), or NULL; key wiped on free */
    bool insecure_skip_tls_verify;
    char *namespace_;           /* context namespace, or NULL */
    struct rl_kubeconfig_priv *_priv;  /* tokens, token file, exec plugin, lock */
};

/*
 * Loads from, in order: explicit path (may hold ':'-separated paths),
 * $KUBECONFIG, in-cluster if KUBERNETES_SERVICE_HOST is set, ~/.kube/config.
 * context may be NULL (current-context). Returns 0 or RL_ECONFIG/RL_ENOENT
 * with a message in errbuf.
 */
int rl_kubeconfig_load(struct rl_kubeconfig **out, const char *path, const char *context,
                       char *errbuf, size_t errlen);
/* Loads only the in-cluster configuration (rooted at `root`, normally "/"). */
int rl_kubeconfig_in_cluster(struct rl_kubeconfig **out, const char *root,
                             char *errbuf, size_t errlen);
/*
 * Parses one kubeconfig held in memory; name stands for its file in
 * messages and relative paths are resolved against name's directory.
 * Returns 0 or RL_ECONFIG with a message in errbuf (tests, fuzzing).
 */
int rl_kubeconfig_parse(struct rl_kubeconfig **out, const char *name, const char *yaml,
                        size_t len, const char *context, char *errbuf, size_t errlen);
void rl_kubeconfig_free(struct rl_kubeconfig *cfg);

/*
 * The Authorization header value for the next request ("Bearer …"), or
 * NULL when authentication is by client certificate only. Re-reads a token
 * file when it changed and re-runs an exec plugin when its credential
 * expired. Caller frees with rl_free_secret().
 */
int rl_kubeconfig_auth(struct rl_kubeconfig *cfg, char **header, char *errbuf, size_t errlen);

/*
 * The server refused our credentials (401): forget the exec plugin's
 * cached credential and re-check the token file on the next
 * rl_kubeconfig_auth(). Thread-safe.
 */
void rl_kubeconfig_auth_failed(struct rl_kubeconfig *cfg);

/* True when a retry after rl_kubeconfig_auth_failed() may send other credentials. */
bool rl_kubeconfig_auth_refreshable(const struct rl_kubeconfig *cfg);

#endif /* RL_KUBECONFIG_H */
