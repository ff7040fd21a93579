/* discovery.c - discovery and SelfSubjectAccessReview (discovery.h) */
#include "reloadd/kube/discovery.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/kube/kube.h"
#include "reloadd/base/banned.h"

bool rl_kube_serves(struct rl_kube *kube, const char *api_prefix, const char *plural, int *err)
{
    struct rl_kube_response resp;
    const cJSON *res;
    cJSON *doc = NULL;
    bool found = false;

    rl_kube_response_init(&resp);
    *err = rl_kube_get(kube, api_prefix, &resp);
    if (!*err)
        doc = rl_kube_response_json(&resp);
    res = rl_json_arr(doc, "resources");
    for (const cJSON *r = res ? res->child : NULL; r && !found; r = r->next)
        found = strcmp(rl_json_str_or(r, "name", ""), plural) == 0;
    cJSON_Delete(doc);
    rl_kube_response_release(&resp);
    return found;
}

int rl_kube_may(struct rl_kube *kube, const char *group, const char *plural, const char *verb,
                const char *ns)
{
    return rl_kube_may_named(kube, group, plural, verb, ns, NULL);
}

int rl_kube_may_named(struct rl_kube *kube, const char *group, const char *plural,
                      const char *verb, const char *ns, const char *name)
{
    struct rl_kube_response resp;
    cJSON *body = cJSON_CreateObject(), *attrs, *doc = NULL;
    char *json;
    int err;

    cJSON_AddStringToObject(body, "apiVersion", "authorization.k8s.io/v1");
    cJSON_AddStringToObject(body, "kind", "SelfSubjectAccessReview");
    attrs = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "spec"), "resourceAttributes");
    cJSON_AddStringToObject(attrs, "group", group ? group : "");
    cJSON_AddStringToObject(attrs, "resource", plural);
    cJSON_AddStringToObject(attrs, "verb", verb);
    if (ns && *ns)
        cJSON_AddStringToObject(attrs, "namespace", ns);
    if (name && *name)
        cJSON_AddStringToObject(attrs, "name", name);
    json = rl_json_print(body);
    rl_kube_response_init(&resp);
    err = rl_kube_create(kube, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json,
                         &resp);
    if (!err)
        doc = rl_kube_response_json(&resp);
    if (!err && !doc)
        err = RL_EPARSE;
    if (!err)
        err = rl_json_bool(rl_json_obj(doc, "status"), "allowed", false) ? 1 : 0;
    cJSON_Delete(doc);
    rl_kube_response_release(&resp);
    free(json);
    cJSON_Delete(body);
    return err;
}
