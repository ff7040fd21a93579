/* test_progress.c - the rollout judge: kubectl rollout status's rules, per kind, on JSON fixtures */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <cjson/cJSON.h>
#include <string.h>

#include "reloadd/reload/progress.h"

static char reason[RL_PROGRESS_REASON_MAX];

/* Judges the JSON text (must parse); the reason lands in `reason`. */
static enum rl_progress judge(enum rl_kind k, int64_t rolled, const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    enum rl_progress p;

    cr_assert(obj != NULL, "fixture does not parse: %s", json);
    reason[0] = '\0';
    p = rl_progress_judge(obj, k, rolled, reason, sizeof(reason));
    cJSON_Delete(obj);
    cr_assert(reason[0] != '\0', "no reason given");
    return p;
}

#define RUNNING RL_PROGRESS_RUNNING
#define DONE RL_PROGRESS_DONE
#define FAILED RL_PROGRESS_FAILED
#define DEPLOY RL_KIND_DEPLOYMENT
#define DS RL_KIND_DAEMONSET
#define STS RL_KIND_STATEFULSET
#define ARGO RL_KIND_ROLLOUT

#define expect(k, rolled, json, want, why)                                                      \
    do {                                                                                      \
        enum rl_progress got_ = judge(k, rolled, json);                                       \
        cr_assert(eq(int, got_, want), "%s: got %s (%s)", why, rl_progress_name(got_), reason); \
    } while (0)

/*
 * Captured from a real cluster (tools/cluster, kwok): a Deployment whose
 * pods are labelled reloadd.test/never-ready, past its progress deadline.
 * availableReplicas is absent: the API server omits zero counters.
 */
static const char *const real_deadline_exceeded =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"never-ready\","
    "\"namespace\":\"default\",\"generation\":1},\"spec\":{\"replicas\":2,\"strategy\":{"
    "\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"},\"type\":"
    "\"RollingUpdate\"}},\"status\":{\"conditions\":[{\"lastTransitionTime\":"
    "\"2026-12-05T18:08:46Z\",\"message\":\"Deployment does not have minimum availability.\","
    "\"reason\":\"MinimumReplicasUnavailable\",\"status\":\"False\",\"type\":\"Available\"},"
    "{\"lastTransitionTime\":\"2026-12-05T18:09:02Z\",\"message\":\"ReplicaSet \\\"never-ready-"
    "96dcb6567\\\" has timed out progressing.\",\"reason\":\"ProgressDeadlineExceeded\","
    "\"status\":\"False\",\"type\":\"Progressing\"}],\"observedGeneration\":1,\"replicas\":2,"
    "\"terminatingReplicas\":0,\"unavailableReplicas\":2,\"updatedReplicas\":2}}";

/* The same cluster: a Deployment rolled out. */
static const char *const real_rolled_out =
    "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"ready\",\"namespace\":\"default\","
    "\"generation\":1},\"spec\":{\"replicas\":1},\"status\":{\"availableReplicas\":1,"
    "\"conditions\":[{\"reason\":\"MinimumReplicasAvailable\",\"status\":\"True\",\"type\":"
    "\"Available\"},{\"reason\":\"NewReplicaSetAvailable\",\"status\":\"True\",\"type\":"
    "\"Progressing\"}],\"observedGeneration\":1,\"readyReplicas\":1,\"replicas\":1,"
    "\"terminatingReplicas\":0,\"updatedReplicas\":1}}";

Test(progress, deployment_from_a_real_cluster)
{
    expect(DEPLOY, 0, real_deadline_exceeded, FAILED, "deadline exceeded");
    cr_assert(strstr(reason, "deadline") != NULL, "%s", reason);
    expect(DEPLOY, 0, real_rolled_out, DONE, "rolled out");
    expect(DEPLOY, 1, real_rolled_out, DONE, "our write made generation 1");
    expect(DEPLOY, 2, real_rolled_out, RUNNING, "our write made generation 2, not observed");
    cr_assert(strstr(reason, "generation 2") != NULL, "%s", reason);
}

Test(progress, deployment_rules_in_order)
{
    /* Generation not observed: running, whatever the counters say. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
           "\"observedGeneration\":2,\"replicas\":2,\"updatedReplicas\":2,\"availableReplicas\":2}}",
           RUNNING, "observedGeneration behind metadata.generation");
    /* A stale deadline from an older generation is not looked at before observation. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
           "\"observedGeneration\":2,\"conditions\":[{\"type\":\"Progressing\",\"status\":"
           "\"False\",\"reason\":\"ProgressDeadlineExceeded\"}]}}",
           RUNNING, "deadline of an older generation");
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":4,\"updatedReplicas\":2,\"availableReplicas\":2}}",
           RUNNING, "2 of 3 updated");
    cr_assert(strstr(reason, "2 of 3") != NULL, "%s", reason);
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":4,\"updatedReplicas\":3,\"availableReplicas\":3}}",
           RUNNING, "one old replica left");
    cr_assert(strstr(reason, "old") != NULL, "%s", reason);
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":3,\"updatedReplicas\":3,\"availableReplicas\":2}}",
           RUNNING, "not all available");
    cr_assert(strstr(reason, "available") != NULL, "%s", reason);
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":4,\"replicas\":3,\"updatedReplicas\":3,\"availableReplicas\":3}}",
           DONE, "observed past it, all there");
    /* The deadline fails even when the counters look fine (kubectl checks it first). */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":1},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1,"
           "\"conditions\":[{\"type\":\"Available\",\"reason\":\"ProgressDeadlineExceeded\"},"
           "{\"type\":\"Progressing\",\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\"}"
           "]}}",
           FAILED, "deadline with full counters");
    /* Only the Progressing condition's reason counts. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":1},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1,"
           "\"conditions\":[{\"type\":\"Available\",\"reason\":\"ProgressDeadlineExceeded\"}]}}",
           DONE, "the reason on another condition");
    /* A paused Deployment just never gets there; the reason says why. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2,\"paused\":true},\"status\":{"
           "\"observedGeneration\":3,\"replicas\":2,\"updatedReplicas\":0}}",
           RUNNING, "paused");
    cr_assert(strstr(reason, "paused") != NULL, "%s", reason);
}

Test(progress, deployment_missing_fields)
{
    expect(DEPLOY, 0, "{}", RUNNING, "empty object");
    expect(DEPLOY, 0, "{\"metadata\":{\"generation\":1},\"spec\":{}}", RUNNING, "no status");
    expect(DEPLOY, 0, "{\"metadata\":{\"generation\":1},\"status\":{}}", RUNNING,
           "no observedGeneration");
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":1},\"status\":{\"observedGeneration\":\"1\"}}", RUNNING,
           "a Deployment's observedGeneration of the wrong type");
    /* replicas absent means 1: one updated and available pod is the whole of it. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":1},\"spec\":{},\"status\":{\"observedGeneration\":1}}",
           RUNNING, "replicas absent (1), no pod counted");
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":1},\"spec\":{},\"status\":{\"observedGeneration\":1,"
           "\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1}}",
           DONE, "replicas absent (1), one pod there");
    /* Scaled to 0: the API server omits every zero counter. */
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":5},\"spec\":{\"replicas\":0},\"status\":{"
           "\"observedGeneration\":5}}",
           DONE, "scaled to zero");
    expect(DEPLOY, 0,
           "{\"metadata\":{\"generation\":1},\"spec\":{\"replicas\":2},\"status\":{"
           "\"observedGeneration\":1,\"conditions\":[{\"type\":\"Progressing\"},{\"reason\":1},"
           "17,null]}}",
           RUNNING, "odd conditions");
    expect(DEPLOY, 0, "[]", RUNNING, "not an object");
    expect(DEPLOY, 0, "{\"status\":[],\"spec\":7,\"metadata\":\"x\"}", RUNNING,
           "members of the wrong types");
    /* No generation anywhere: 0 is waited for, so observing 0 is enough. */
    expect(DEPLOY, 0, "{\"spec\":{\"replicas\":0},\"status\":{\"observedGeneration\":0}}", DONE,
           "no generation at all");

    /* NULL and no reason buffer: no crash. */
    cr_assert(eq(int, rl_progress_judge(NULL, DEPLOY, 0, NULL, 0), RUNNING));
    cr_assert(eq(int, rl_progress_judge(NULL, RL_KIND_JOB, 0, NULL, 0), DONE));
}

Test(progress, reason_is_cut_to_the_buffer)
{
    cJSON *obj = cJSON_Parse("{\"metadata\":{\"generation\":12345678},\"status\":{"
                             "\"observedGeneration\":1}}");
    char small[8];

    memset(small, 'x', sizeof(small));
    cr_assert(eq(int, rl_progress_judge(obj, DEPLOY, 0, small, sizeof(small)), RUNNING));
    cr_assert(eq(sz, strlen(small), sizeof(small) - 1));
    cJSON_Delete(obj);
}

Test(progress, daemonset)
{
    expect(DS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}",
           DONE, "OnDelete, no status at all");
    expect(DS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"updateStrategy\":{\"type\":"
           "\"RollingUpdate\"}},\"status\":{\"observedGeneration\":1,\"desiredNumberScheduled\":3,"
           "\"updatedNumberScheduled\":3,\"numberAvailable\":3}}",
           RUNNING, "not observed");
    expect(DS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{},\"status\":{\"observedGeneration\":2,"
           "\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":2,\"numberAvailable\":3}}",
           RUNNING, "2 of 3 updated (no strategy: RollingUpdate)");
    expect(DS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{},\"status\":{\"observedGeneration\":2,"
           "\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberAvailable\":2}}",
           RUNNING, "2 of 3 available");
    /* Captured from the real cluster: one node, one pod, rolled out. */
    expect(DS, 0,
           "{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"ds\",\"generation\":1},\"spec\":{"
           "\"updateStrategy\":{\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":1},\"type\":"
           "\"RollingUpdate\"}},\"status\":{\"currentNumberScheduled\":1,"
           "\"desiredNumberScheduled\":1,\"numberAvailable\":1,\"numberMisscheduled\":0,"
           "\"numberReady\":1,\"observedGeneration\":1,\"updatedNumberScheduled\":1}}",
           DONE, "real cluster");
    expect(DS, 0, "{\"metadata\":{\"generation\":1},\"status\":{\"observedGeneration\":1}}",
           DONE, "no node to run on: nothing desired");
    expect(DS, 0, "{\"metadata\":{\"generation\":1},\"spec\":{}}", RUNNING, "no status");
}

Test(progress, statefulset)
{
    const char *real =
        "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"sts\",\"generation\":1},\"spec\":{"
        "\"replicas\":2,\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0},\"type\":"
        "\"RollingUpdate\"}},\"status\":{\"availableReplicas\":2,\"collisionCount\":0,"
        "\"currentReplicas\":2,\"currentRevision\":\"sts-568474c9d4\",\"observedGeneration\":1,"
        "\"readyReplicas\":2,\"replicas\":2,\"updateRevision\":\"sts-568474c9d4\","
        "\"updatedReplicas\":2}}";

    expect(STS, 0, real, DONE, "real cluster");
    expect(STS, 2, real, RUNNING, "our generation 2 not observed");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}",
           DONE, "OnDelete");
    expect(STS, 0,
           "{\"metadata\":{},\"spec\":{\"replicas\":0},\"status\":{\"observedGeneration\":0}}",
           RUNNING, "observedGeneration 0 is never observed (kubectl)");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":2,\"updatedReplicas\":3,"
           "\"currentRevision\":\"a\",\"updateRevision\":\"a\"}}",
           RUNNING, "2 of 3 ready");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":3,\"updatedReplicas\":2,"
           "\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}",
           RUNNING, "2 of 3 updated");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":3,\"updatedReplicas\":3,"
           "\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}",
           RUNNING, "all updated, revision not switched yet");
    cr_assert(strstr(reason, "b") != NULL, "%s", reason);
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":3},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":3,\"updatedReplicas\":3,"
           "\"updateRevision\":\"b\"}}",
           RUNNING, "currentRevision missing");
    /* Partition 2 of 5: only ordinals 2..4 change. */
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":5,\"updateStrategy\":{"
           "\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":2}}},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":5,\"updatedReplicas\":2,"
           "\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}",
           RUNNING, "partitioned, 2 of 3");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":5,\"updateStrategy\":{"
           "\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":2}}},\"status\":{"
           "\"observedGeneration\":2,\"readyReplicas\":5,\"updatedReplicas\":3,"
           "\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}",
           DONE, "partitioned, 3 of 3 (revisions differ by design)");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":2,\"updateStrategy\":{"
           "\"rollingUpdate\":{\"partition\":9}}},\"status\":{\"observedGeneration\":2,"
           "\"readyReplicas\":2}}",
           DONE, "partition above replicas: nothing to update");
    /* replicas absent: 1. */
    expect(STS, 0,
           "{\"metadata\":{\"generation\":1},\"spec\":{},\"status\":{\"observedGeneration\":1,"
           "\"updatedReplicas\":1}}",
           RUNNING, "replicas absent (1), not ready");
    expect(STS, 0,
           "{\"metadata\":{\"generation\":1},\"spec\":{},\"status\":{\"observedGeneration\":1,"
           "\"readyReplicas\":1,\"updatedReplicas\":1,\"currentRevision\":\"r\","
           "\"updateRevision\":\"r\"}}",
           DONE, "replicas absent (1), ready");
}

Test(progress, argo_rollout)
{
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Healthy\"}}",
           DONE, "Healthy, string generation");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":4,"
           "\"phase\":\"Healthy\"}}",
           DONE, "Healthy, number generation");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"3\","
           "\"phase\":\"Healthy\"}}",
           RUNNING, "string generation behind");
    expect(ARGO, 5,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":4,"
           "\"phase\":\"Healthy\"}}",
           RUNNING, "our write's generation not observed");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"5c9f7d8b\","
           "\"phase\":\"Healthy\"}}",
           DONE, "a pre-0.10 hash counts as observed");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4x\","
           "\"phase\":\"Healthy\"}}",
           DONE, "not a number: a hash");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Degraded\",\"message\":\"ProgressDeadlineExceeded: timed out\"}}",
           FAILED, "Degraded");
    cr_assert(strstr(reason, "timed out") != NULL, "%s", reason);
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Progressing\",\"message\":\"more replicas need to be updated\"}}",
           RUNNING, "Progressing");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Paused\",\"message\":\"CanaryPauseStep\"}}",
           RUNNING, "Paused");
    cr_assert(strstr(reason, "Paused") != NULL, "%s", reason);
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Healthy\",\"controllerPause\":true}}",
           RUNNING, "unpausing (controllerPause, no pauseConditions)");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\","
           "\"phase\":\"Healthy\",\"controllerPause\":true,\"pauseConditions\":[{\"reason\":"
           "\"CanaryPauseStep\"}]}}",
           DONE, "controllerPause with its conditions is not unpausing");
    expect(ARGO, 0, "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"4\"}}",
           RUNNING, "no phase");
    expect(ARGO, 0, "{\"metadata\":{\"generation\":4},\"status\":{\"phase\":\"Healthy\"}}",
           RUNNING, "no observedGeneration");
    expect(ARGO, 0,
           "{\"metadata\":{\"generation\":4},\"status\":{\"observedGeneration\":\"\","
           "\"phase\":\"Healthy\"}}",
           RUNNING, "empty observedGeneration");
    expect(ARGO, 0, "{\"metadata\":{\"generation\":4}}", RUNNING, "no status");
}

Test(progress, jobs_and_cronjobs_are_done_at_once)
{
    expect(RL_KIND_JOB, 0, "{}", DONE, "Job");
    expect(RL_KIND_CRONJOB, 0, "{\"status\":{\"active\":[{}]}}", DONE, "CronJob");
    expect(RL_KIND_COUNT, 0, "{}", DONE, "no such kind");
    cr_assert(eq(str, (char *)rl_progress_name(RL_PROGRESS_FAILED), "failed"));
    cr_assert(eq(str, (char *)rl_progress_name(RL_PROGRESS_DONE), "done"));
    cr_assert(eq(str, (char *)rl_progress_name(RL_PROGRESS_RUNNING), "running"));
}
