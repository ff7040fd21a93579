/*
 * discovery.h - what the API server serves, and what it lets us do
 *
 * Two questions asked of the API server before a watch is started on a
 * resource that may be absent (a CRD: Argo's Rollouts, declared workload
 * kinds, the CSI driver's SecretProviderClassPodStatuses):
 *
 *  - rl_kube_serves(): one discovery GET of the group/version
 *    ("/apis/<group>/<version>"): whether it lists the plural;
 *  - rl_kube_may(): one SelfSubjectAccessReview: whether this identity may
 *    use a verb on the resource, in a namespace or cluster-wide.
 *
 * Threads: any (each call is one blocking request on the rl_kube).
 */
#ifndef RL_DISCOVERY_H
#define RL_DISCOVERY_H

#include <stdbool.h>

struct rl_kube;

/*
 * Whether the API server serves `plural` under api_prefix (e.g.
 * "/apis/argoproj.io/v1alpha1"). *err: the GET's error (0 when the
 * group/version answered, whether or not it lists the plural).
 */
bool rl_kube_serves(struct rl_kube *kube, const char *api_prefix, const char *plural, int *err);

/*
 * SelfSubjectAccessReview for verb on group ("" or NULL: the core group)
 * and plural, in ns (NULL or "": cluster-wide): 1 allowed, 0 denied,
 * a negative error when it could not be asked.
 */
int rl_kube_may(struct rl_kube *kube, const char *group, const char *plural, const char *verb,
                const char *ns);
/* The same for one object (name): what RBAC's resourceNames can allow. */
int rl_kube_may_named(struct rl_kube *kube, const char *group, const char *plural,
                      const char *verb, const char *ns, const char *name);

#endif /* RL_DISCOVERY_H */
