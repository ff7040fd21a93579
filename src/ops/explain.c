/* explain.c - `reloadd explain KIND/NAME -n NS`: /explain without a controller */
#include "reloadd/ops/explain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/kube/discovery.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/reload/csi.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/kindfile.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"
#include "reloadd/base/banned.h"

#define EPOCH 1
#define FP_KEY_LEN 32

static const char fp_note[] =
    "Secret hashes are keyed fingerprints: HMAC-SHA256 under a random key of this process, "
    "first 12 hex digits; they compare within this process only, never with a Secret's data";

static void no_enqueue(void *ctx, const char *wkey)
{
    (void)ctx;
    (void)wkey;
}

struct lister {
    const struct rl_policy *pol;
    struct rl_store *store;
    enum rl_source_type type;
    int err;
};

static bool annotation_true(const cJSON *ann, const char *key)
{
    const char *v = rl_json_str(ann, key);

    return v && strcmp(v, "true") == 0;
}

static int put_source(void *ctx, const cJSON *item)
{
    struct lister *l = ctx;
    const cJSON *meta = rl_json_obj(item, "metadata");
    const cJSON *ann = rl_json_obj(meta, "annotations");
    const char *ns = rl_json_str_or(meta, "namespace", "");
    const char *name = rl_json_str(meta, "name");
    struct rl_sha1 hash;
    int err;

    if (!name)
        return 0;
    err = l->type == RL_SOURCE_SECRET ? rl_hash_secret(item, &hash)
                                      : rl_hash_configmap(item, &hash);
    if (err)
        return 0;       /* as the informer: an unhashable version is ignored */
    rl_store_put_source(l->store, l->type, ns, name, &hash,
                        annotation_true(ann, l->pol->key.ignore),
                        annotation_true(ann, l->pol->key.match), 0, EPOCH,
                        no_enqueue, NULL);
    return 0;
}

static int list_sources(struct rl_kube *kube, const struct rl_policy *pol, struct rl_store *store,
                        enum rl_source_type t, const char *ns)
{
    struct lister l = { pol, store, t, 0 };
    struct rl_kube_list_opts lo = {
        .label_selector = pol->resource_selector,
        .field_selector = t == RL_SOURCE_SECRET ? pol->secret_field_selector : NULL,
    };
    char *coll = rl_xasprintf("/api/v1/namespaces/%s/%s", ns,
                              t == RL_SOURCE_SECRET ? "secrets" : "configmaps");
    char *rv = NULL;
    int err = rl_kube_list(kube, coll, &lo, put_source, &l, &rv);

    free(rv);
    free(coll);
    return err;
}

struct csi_lister {
    const struct rl_policy *pol;
    struct rl_csi *csi;
};

static int put_status(void *ctx, const cJSON *item)
{
    struct csi_lister *l = ctx;
    struct rl_csi_status st;

    if (rl_csi_status_decode(item, &st) == 0)
        rl_csi_put_status(l->csi, &st, false, EPOCH, no_enqueue, NULL);
    return 0;
}

static int put_class(void *ctx, const cJSON *item)
{
    struct csi_lister *l = ctx;
    const cJSON *meta = rl_json_obj(item, "metadata");
    const cJSON *ann = rl_json_obj(meta, "annotations");
    const char *name = rl_json_str(meta, "name");

    if (name)
        rl_csi_put_class(l->csi, rl_json_str_or(meta, "namespace", ""), name,
                         annotation_true(ann, l->pol->key.ignore),
                         annotation_true(ann, l->pol->key.match), EPOCH, no_enqueue, NULL);
    return 0;
}

/*
 * --enable-csi-integration: the SecretProviderClasses of ns as the
 * controller knows them (csi.h), from their pod status objects and the
 * classes; nothing if the CSI driver's API is not served.
 */
static int list_csi(struct rl_kube *kube, const struct rl_policy *pol, struct rl_csi *csi,
                    const char *ns)
{
    struct csi_lister l = { pol, csi };
    struct rl_kube_list_opts st_opts = { .label_selector = pol->resource_selector };
    struct rl_kube_list_opts cls_opts = { 0 };
    char *coll, *rv = NULL;
    int err;

    if (!rl_kube_serves(kube, RL_CSI_API_PREFIX, RL_CSI_STATUSES, &err))
        return 0;
    coll = rl_xasprintf("%s/namespaces/%s/%s", RL_CSI_API_PREFIX, ns, RL_CSI_CLASSES);
    err = rl_kube_list(kube, coll, &cls_opts, put_class, &l, &rv);
    free(coll);
    free(rv);
    rv = NULL;
    if (err)
        return err;
    coll = rl_xasprintf("%s/namespaces/%s/%s", RL_CSI_API_PREFIX, ns, RL_CSI_STATUSES);
    err = rl_kube_list(kube, coll, &st_opts, put_status, &l, &rv);
    free(coll);
    free(rv);
    return err;
}

int rl_explain_build(struct rl_kube *kube, const struct rl_policy *pol, const char *kind,
                     const char *ns, const char *name, cJSON **out, char *errbuf,
                     size_t errlen)
{
    struct rl_workload_keys keys;
    struct rl_regex_cache *rc = NULL;
    struct rl_store *store = NULL;
    struct rl_csi *csi = NULL;
    struct rl_reconciler *rec = NULL;
    struct rl_workload *w = NULL;
    struct rl_kube_response resp;
    cJSON *obj = NULL;
    char *path = NULL, key[600];
    enum rl_kind k;
    int err;

    *out = NULL;
    rl_kube_response_init(&resp);
    if (!rl_kind_parse(kind, &k)) {
        snprintf(errbuf, errlen, "unknown kind '%s'", kind);
        err = RL_EINVAL;
        goto out;
    }
    if (!rl_policy_namespace_watched(pol, ns) || !rl_kind_enabled(pol, k) || !rl_kind_served(kube, k)) {
        snprintf(errbuf, errlen, "%s '%s/%s' is outside what reloadd watches with these flags",
                 rl_kind_name(k), ns, name);
        err = RL_ENOTFOUND;
        goto out;
    }
    path = rl_kind_object_path(k, ns, name);
    err = rl_kube_get(kube, path, &resp);
    if (!err) {
        obj = rl_kube_response_json(&resp);
        if (!obj)
            err = RL_EPARSE;
    }
    if (err) {
        snprintf(errbuf, errlen, "cannot get %s '%s/%s': %s", rl_kind_name(k), ns, name,
                 resp.message[0] ? resp.message : rl_strerror(err));
        goto out;
    }
    rl_workload_keys_init(&keys, pol);
    err = rl_workload_decode(obj, k, &keys, &w);
    if (err) {
        snprintf(errbuf, errlen, "cannot decode %s '%s/%s': %s", rl_kind_name(k), ns, name,
                 rl_strerror(err));
        goto out;
    }
    rc = rl_regex_cache_new(4096);
    store = rl_store_new(pol, rc);
    for (int t = 0; t < RL_SOURCE_SPC; t++) {
        if ((t == RL_SOURCE_CONFIGMAP && pol->ignore_configmaps) ||
            (t == RL_SOURCE_SECRET && pol->ignore_secrets))
            continue;
        err = list_sources(kube, pol, store, (enum rl_source_type)t, ns);
        if (err) {
            snprintf(errbuf, errlen, "cannot list %s in '%s': %s",
                     t == RL_SOURCE_SECRET ? "secrets" : "configmaps", ns, rl_kube_last_error());
            goto out;
        }
    }
    if (pol->csi) {
        csi = rl_csi_new(store);
        err = list_csi(kube, pol, csi, ns);
        if (err) {
            snprintf(errbuf, errlen, "cannot list the CSI driver's objects in '%s': %s", ns,
                     rl_kube_last_error());
            goto out;
        }
    }
    rl_store_put_workload(store, w, 0, EPOCH, no_enqueue, NULL);
    w = NULL;
    rec = rl_reconciler_new(store, kube, pol, rc, rl_clock_system(), NULL);
    rl_store_workload_key(key, sizeof(key), k, ns, name);
    *out = rl_reconcile_explain(rec, key);
    if (!*out) {
        snprintf(errbuf, errlen, "workload not found");
        err = RL_ENOTFOUND;
    }
out:
    rl_reconciler_free(rec);
    rl_csi_free(csi);
    rl_store_free(store);
    rl_regex_cache_free(rc);
    rl_workload_free(w);
    cJSON_Delete(obj);
    rl_kube_response_release(&resp);
    free(path);
    return err;
}

/* ---- Secret fingerprints ---- */

static unsigned char fp_key[FP_KEY_LEN];
static bool fp_key_ok;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
    fp_key_ok = RAND_bytes(fp_key, (int)sizeof(fp_key)) == 1;
    if (!fp_key_ok)
        rl_error("explain: no random key for Secret fingerprints; they are hidden");
}

bool rl_explain_secret_fingerprint(const char *hash, char out[RL_EXPLAIN_FP_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned int mdlen = 0;
    size_t n = sizeof(RL_EXPLAIN_FP_PREFIX) - 1;

    out[0] = '\0';
    pthread_once(&fp_once, fp_key_init);
    if (!fp_key_ok || !hash ||
        !HMAC(EVP_sha256(), fp_key, (int)sizeof(fp_key), (const unsigned char *)hash,
              strlen(hash), md, &mdlen) || mdlen * 2 < RL_EXPLAIN_FP_HEX)
        return false;
    memcpy(out, RL_EXPLAIN_FP_PREFIX, n);
    rl_hex_lower(md, mdlen, hex);
    memcpy(out + n, hex, RL_EXPLAIN_FP_HEX);
    out[n + RL_EXPLAIN_FP_HEX] = '\0';
    return true;
}

/*
 * Replaces the member key of obj by its fingerprint; null stays null, and
 * so does a fingerprint (redacting twice is redacting once).
 */
static void redact_member(cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char fp[RL_EXPLAIN_FP_SIZE];

    if (!v || cJSON_IsNull(v))
        return;
    if (cJSON_IsString(v) && (strcmp(v->valuestring, "hidden") == 0 ||
                              strncmp(v->valuestring, RL_EXPLAIN_FP_PREFIX,
                                      sizeof(RL_EXPLAIN_FP_PREFIX) - 1) == 0))
        return;
    if (!cJSON_IsString(v) || !rl_explain_secret_fingerprint(v->valuestring, fp))
        snprintf(fp, sizeof(fp), "hidden");
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(fp));
}

void rl_explain_redact(cJSON *explanation)
{
    const char *secret = rl_source_type_lower(RL_SOURCE_SECRET);
    cJSON *srcs, *s;

    if (!cJSON_IsObject(explanation))
        return;
    srcs = cJSON_GetObjectItemCaseSensitive(explanation, "sources");
    if (cJSON_IsArray(srcs)) {
        cJSON_ArrayForEach(s, srcs) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");

            if (!cJSON_IsObject(s) || !cJSON_IsString(type) ||
                strcmp(type->valuestring, secret) != 0)
                continue;
            redact_member(s, "hash");
            redact_member(s, "applied");
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(explanation, "secretHashes");
    cJSON_AddStringToObject(explanation, "secretHashes", fp_note);
}

/* ---- the command ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: reloadd explain KIND/NAME [-n NAMESPACE] [reloadd flags...]\n"
               "  Prints what reloadd would do for one workload and why (the JSON of\n"
               "  /explain), from the cluster as it is now, without a running controller.\n");
}

int rl_explain_main(int argc, char **argv)
{
    struct rl_options o;
    struct rl_policy *policy = NULL;
    struct rl_kubeconfig *cfg = NULL;
    struct rl_kube *kube = NULL;
    const char *target, *ns = "default", *slash;
    char **rest = rl_xcalloc((size_t)argc + 1, sizeof(*rest));
    char err[512] = "", *kind = NULL;
    cJSON *out = NULL;
    int n = 0, rc, status = 1;

    memset(&o, 0, sizeof(o));
    rest[n++] = argv[0];
    if (argc < 3 || argv[2][0] == '-' ) {
        if (argc >= 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
            usage(stdout);
            free(rest);
            return 0;
        }
        usage(stderr);
        free(rest);
        return 2;
    }
    target = argv[2];
    for (int i = 3; i < argc; i++) {
        if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--namespace") == 0) && i + 1 < argc)
            ns = argv[++i];
        else if (strncmp(argv[i], "--namespace=", 12) == 0)
            ns = argv[i] + 12;
        else if (strncmp(argv[i], "-n", 2) == 0 && argv[i][2] && argv[i][1] != '-')
            ns = argv[i] + 2;
        else
            rest[n++] = argv[i];
    }
    slash = strchr(target, '/');
    if (!slash || slash == target || !slash[1] || strchr(slash + 1, '/') || !*ns) {
        fprintf(stderr, "reloadd explain: want KIND/NAME, e.g. deployment/web, not '%s'\n", target);
        usage(stderr);
        status = 2;
        goto out;
    }
    kind = rl_xstrndup(target, (size_t)(slash - target));
    rc = rl_options_parse(&o, n, rest, NULL, err, sizeof(err));
    if (rc == RL_OPTIONS_HELP) {
        usage(stdout);
        status = 0;
        goto out;
    }
    if (rc) {
        fprintf(stderr, "reloadd explain: %s\n", err[0] ? err : "bad flags");
        status = 2;
        goto out;
    }
    rl_log_setup(RL_LOG_ERROR, RL_LOG_TEXT);
    if (o.workload_kinds_file && *o.workload_kinds_file &&
        rl_kindfile_load(o.workload_kinds_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "reloadd explain: %s\n", err);
        status = 2;
        goto out;
    }
    rc = rl_kubeconfig_load(&cfg, o.kubeconfig, o.context, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "reloadd explain: %s\n", err[0] ? err : rl_strerror(rc));
        goto out;
    }
    kube = rl_kube_new(cfg, NULL, rl_clock_system());
    if (!kube) {
        fprintf(stderr, "reloadd explain: cannot initialise the HTTP client\n");
        goto out;
    }
    policy = rl_policy_new(&o);
    rc = rl_explain_build(kube, policy, kind, ns, slash + 1, &out, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "reloadd explain: %s\n", err);
        status = rc == RL_EINVAL ? 2 : 1;
        goto out;
    }
    rl_explain_redact(out);
    {
        char *s = cJSON_Print(out);

        printf("%s\n", s);
        free(s);
    }
    status = 0;
out:
    cJSON_Delete(out);
    rl_kube_free(kube);
    rl_policy_free(policy);
    rl_options_release(&o);
    rl_kind_declare(NULL, 0);
    free(kind);
    free(rest);
    return status;
}
