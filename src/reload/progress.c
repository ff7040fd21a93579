/* progress.c - has a workload's rollout finished, failed, or is it still running? */
#include "reloadd/reload/progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/json.h"
#include "reloadd/base/banned.h"

const char *rl_progress_name(enum rl_progress p)
{
    switch (p) {
    case RL_PROGRESS_RUNNING: return "running";
    case RL_PROGRESS_DONE: return "done";
    case RL_PROGRESS_FAILED: return "failed";
    }
    return "unknown";
}

/* Writes the reason and returns p, so each rule is one line. */
static enum rl_progress say(enum rl_progress p, char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum rl_progress say(enum rl_progress p, char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (reason && len) {
        va_start(ap, fmt);
        vsnprintf(reason, len, fmt, ap);
        va_end(ap);
    }
    return p;
}

/* A status counter: omitted by the API server when zero (omitempty). */
static long long count(const cJSON *status, const char *key)
{
    return (long long)rl_json_int(status, key, 0);
}

/* spec.replicas, 1 when absent (the API server's default). */
static long long desired(const cJSON *spec)
{
    return (long long)rl_json_int(spec, "replicas", 1);
}

/*
 * Whether the controller observed generation `want`: *observed is what it
 * says it observed (-1: absent). A string is read as a decimal number (Argo
 * Rollouts); a string that is not one is observed (hash_is_observed: an
 * old Argo's spec hash) or not.
 */
static bool observed(const cJSON *status, int64_t want, bool hash_is_observed, long long *seen)
{
    const cJSON *it = rl_json_get(status, "observedGeneration");

    *seen = -1;
    if (cJSON_IsNumber(it)) {
        *seen = rl_json_int(status, "observedGeneration", -1);
    } else if (cJSON_IsString(it) && it->valuestring[0]) {
        const char *s = it->valuestring;
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (*s < '0' || *s > '9' || errno || *end)
            return hash_is_observed;
        *seen = v;
    }
    return *seen >= 0 && *seen >= want;
}

static enum rl_progress not_observed(int64_t want, long long seen, char *reason, size_t len)
{
    if (seen < 0)
        return say(RL_PROGRESS_RUNNING, reason, len, "no observed generation yet");
    return say(RL_PROGRESS_RUNNING, reason, len,
               "generation %lld not observed yet (observed %lld)", (long long)want, seen);
}

/* The condition of type `type` in status.conditions, or NULL. */
static const cJSON *condition(const cJSON *status, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, rl_json_arr(status, "conditions")) {
        const char *t = rl_json_str(c, "type");

        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* spec.updateStrategy.type is set and is not RollingUpdate (OnDelete). */
static bool on_delete(const cJSON *spec)
{
    const char *t = rl_json_str(rl_json_obj(spec, "updateStrategy"), "type");

    return t && strcmp(t, "RollingUpdate") != 0;
}

static enum rl_progress deployment(const cJSON *spec, const cJSON *status, int64_t want,
                                   char *reason, size_t len)
{
    const cJSON *cond;
    long long seen, want_n, updated, total, available;
    const char *why;

    if (!observed(status, want, false, &seen))
        return not_observed(want, seen, reason, len);
    cond = condition(status, "Progressing");
    why = rl_json_str(cond, "reason");
    if (why && strcmp(why, "ProgressDeadlineExceeded") == 0)
        return say(RL_PROGRESS_FAILED, reason, len, "progress deadline exceeded");
    want_n = desired(spec);
    updated = count(status, "updatedReplicas");
    total = count(status, "replicas");
    available = count(status, "availableReplicas");
    why = rl_json_bool(spec, "paused", false) ? " (paused)" : "";
    if (updated < want_n)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld new replicas updated%s",
                   updated, want_n, why);
    if (total > updated)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld old replicas pending termination%s",
                   total - updated, why);
    if (available < updated)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld updated replicas available%s",
                   available, updated, why);
    return say(RL_PROGRESS_DONE, reason, len, "%lld replicas updated and available", updated);
}

static enum rl_progress daemonset(const cJSON *spec, const cJSON *status, int64_t want,
                                  char *reason, size_t len)
{
    long long seen, want_n, updated, available;

    if (on_delete(spec))
        return say(RL_PROGRESS_DONE, reason, len, "OnDelete: pods change when deleted");
    if (!observed(status, want, false, &seen))
        return not_observed(want, seen, reason, len);
    want_n = count(status, "desiredNumberScheduled");
    updated = count(status, "updatedNumberScheduled");
    available = count(status, "numberAvailable");
    if (updated < want_n)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld new pods updated", updated,
                   want_n);
    if (available < want_n)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld updated pods available",
                   available, want_n);
    return say(RL_PROGRESS_DONE, reason, len, "%lld pods updated and available", want_n);
}

static enum rl_progress statefulset(const cJSON *spec, const cJSON *status, int64_t want,
                                    char *reason, size_t len)
{
    const cJSON *ru = rl_json_obj(rl_json_obj(spec, "updateStrategy"), "rollingUpdate");
    long long seen, want_n, ready, updated, partition;
    const char *current, *update;

    if (on_delete(spec))
        return say(RL_PROGRESS_DONE, reason, len, "OnDelete: pods change when deleted");
    if (!observed(status, want, false, &seen) || seen == 0)
        return not_observed(want, seen, reason, len);
    want_n = desired(spec);
    ready = count(status, "readyReplicas");
    updated = count(status, "updatedReplicas");
    partition = rl_json_int(ru, "partition", 0);
    if (ready < want_n)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld pods ready", ready, want_n);
    if (partition > 0) {
        if (updated < want_n - partition)
            return say(RL_PROGRESS_RUNNING, reason, len,
                       "partitioned: %lld of %lld new pods updated", updated, want_n - partition);
        return say(RL_PROGRESS_DONE, reason, len, "partitioned: %lld new pods updated", updated);
    }
    if (updated < want_n)
        return say(RL_PROGRESS_RUNNING, reason, len, "%lld of %lld new pods updated", updated,
                   want_n);
    current = rl_json_str(status, "currentRevision");
    update = rl_json_str(status, "updateRevision");
    if (!str_eq(current, update))
        return say(RL_PROGRESS_RUNNING, reason, len, "rolling update to revision %.40s "
                   "not complete", update ? update : "?");
    return say(RL_PROGRESS_DONE, reason, len, "%lld pods at revision %.40s", want_n,
               current ? current : "?");
}

static enum rl_progress argo_rollout(const cJSON *status, int64_t want, char *reason, size_t len)
{
    const cJSON *pauses = rl_json_arr(status, "pauseConditions");
    const char *phase = rl_json_str(status, "phase");
    const char *msg = rl_json_str_or(status, "message", "");
    long long seen;

    if (!observed(status, want, true, &seen))
        return not_observed(want, seen, reason, len);
    if (rl_json_bool(status, "controllerPause", false) && cJSON_GetArraySize(pauses) == 0)
        return say(RL_PROGRESS_RUNNING, reason, len, "unpausing");
    if (!phase)
        return say(RL_PROGRESS_RUNNING, reason, len, "no phase yet");
    if (strcmp(phase, "Healthy") == 0)
        return say(RL_PROGRESS_DONE, reason, len, "Healthy");
    if (strcmp(phase, "Degraded") == 0)
        return say(RL_PROGRESS_FAILED, reason, len, "Degraded%s%.80s", *msg ? ": " : "", msg);
    return say(RL_PROGRESS_RUNNING, reason, len, "%.20s%s%.80s", phase, *msg ? ": " : "", msg);
}

enum rl_progress rl_progress_judge(const cJSON *obj, enum rl_kind kind, int64_t rolled_generation,
                                   char *reason, size_t len)
{
    const cJSON *spec = rl_json_obj(obj, "spec");
    const cJSON *status = rl_json_obj(obj, "status");
    int64_t want = rl_json_int(rl_json_obj(obj, "metadata"), "generation", 0);

    if (rolled_generation > want)
        want = rolled_generation;
    switch (kind) {
    case RL_KIND_CRONJOB:
    case RL_KIND_JOB:
        return say(RL_PROGRESS_DONE, reason, len, "a run is its own rollout");
    case RL_KIND_DEPLOYMENT:
    case RL_KIND_DAEMONSET:
    case RL_KIND_STATEFULSET:
    case RL_KIND_ROLLOUT:
        break;
    case RL_KIND_COUNT:
    default:
        return say(RL_PROGRESS_DONE, reason, len, "no rollout to wait for");
    }
    if (!cJSON_IsObject(obj))
        return say(RL_PROGRESS_RUNNING, reason, len, "no object");
    /* An OnDelete DaemonSet or StatefulSet never rolls, status or none. */
    if (!status && !on_delete(spec))
        return say(RL_PROGRESS_RUNNING, reason, len, "no status yet");
    switch (kind) {
    case RL_KIND_DEPLOYMENT: return deployment(spec, status, want, reason, len);
    case RL_KIND_DAEMONSET: return daemonset(spec, status, want, reason, len);
    case RL_KIND_STATEFULSET: return statefulset(spec, status, want, reason, len);
    default: return argo_rollout(status, want, reason, len);
    }
}
