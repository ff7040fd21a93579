/*
 * metainfo.h - the reloader-meta-info ConfigMap (docs/reloader.md §11.2)
 *
 * Reloader publishes, in $RELOADER_NAMESPACE, a ConfigMap named
 * "reloader-meta-info" labelled reloader.stakater.com/meta-info=reloader
 * whose data keys hold JSON: buildInfo {goVersion, releaseVersion,
 * commitHash, commitTime, edition}, reloaderOptions (its ReloaderOptions
 * with their json tags) and deploymentInfo {name, namespace}. reloadd
 * writes the same three keys with its own build (goVersion names the C
 * compiler instead) and values, plus reloaddOptions with the flags
 * Reloader does not have.
 *
 * rl_metainfo_publish() creates it, or, if it exists (409), replaces it
 * with an update that carries no resourceVersion (unconditional, as
 * Reloader does; RBAC: create and update, no get). Failures are the
 * caller's to log as warnings: the ConfigMap is informational.
 *
 * Threads: any; it makes blocking API calls.
 */
#ifndef RL_METAINFO_H
#define RL_METAINFO_H

#include <cjson/cJSON.h>

struct rl_kube;
struct rl_options;

#define RL_METAINFO_NAME "reloader-meta-info"
#define RL_METAINFO_LABEL_KEY "reloader.stakater.com/meta-info"
#define RL_METAINFO_LABEL_VALUE "reloader"

/* The ConfigMap object for namespace ns (caller deletes). */
cJSON *rl_metainfo_configmap(const struct rl_options *o, const char *ns);

/* Creates or replaces it in o->reloader_namespace. RL_EINVAL if that is unset. */
int rl_metainfo_publish(struct rl_kube *kube, const struct rl_options *o);

#endif /* RL_METAINFO_H */
