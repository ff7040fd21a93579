/* pause.c - the pause period of Deployments, kept in the Deployment itself */
#include "reloadd/reload/pause.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/syntax.h"
#include "reloadd/base/json.h"
#include "reloadd/base/banned.h"

const char *rl_pause_state_name(enum rl_pause_state s)
{
    static const char *const names[] = { "none", "invalid", "ready", "paused", "due" };

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

void rl_pause_eval(struct rl_pause *p, const char *period, const char *paused_at, int64_t now_us)
{
    int64_t ns = 0, at_us = 0, end_us;
    bool valid = false;

    memset(p, 0, sizeof(*p));
    if (period) {
        valid = rl_duration_parse(period, &ns) == 0 && ns >= 1000000;
        if (valid)
            p->period_ms = ns / 1000000;
    }
    if (paused_at && *paused_at) {
        if (rl_parse_rfc3339(paused_at, &at_us) != 0) {
            p->state = RL_PAUSE_DUE;
            snprintf(p->why, sizeof(p->why), "paused-at '%.60s' does not parse: resume now",
                     paused_at);
            return;
        }
        p->paused_at_us = at_us;
        if (!valid) {
            p->state = RL_PAUSE_DUE;
            snprintf(p->why, sizeof(p->why), "paused by reloadd, but the pause period is %s: "
                     "resume now", period ? "invalid" : "gone");
            return;
        }
        if (at_us > now_us)
            at_us = now_us;
        end_us = at_us + p->period_ms * 1000;
        if (end_us <= now_us) {
            p->state = RL_PAUSE_DUE;
            snprintf(p->why, sizeof(p->why), "pause window over: resume");
            return;
        }
        p->state = RL_PAUSE_OPEN;
        p->remaining_ms = (end_us - now_us + 999) / 1000;
        snprintf(p->why, sizeof(p->why), "paused by reloadd; resumes in %lld ms",
                 (long long)p->remaining_ms);
        return;
    }
    if (!period) {
        p->state = RL_PAUSE_NONE;
        return;
    }
    if (!valid) {
        p->state = RL_PAUSE_INVALID;
        snprintf(p->why, sizeof(p->why),
                 "pause period '%.60s' is not a positive duration: rollouts do not pause", period);
        return;
    }
    p->state = RL_PAUSE_READY;
    snprintf(p->why, sizeof(p->why), "a rollout pauses the Deployment for %lld ms",
             (long long)p->period_ms);
}

int rl_pause_add_to_patch(struct rl_buf *body, const char *paused_at_key, int64_t now_us)
{
    cJSON *root = cJSON_ParseWithLength(body->buf, body->len), *meta, *ann, *spec;
    char ts[32], *json;
    int err;

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return RL_EINVAL;
    }
    meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (!meta)
        meta = cJSON_AddObjectToObject(root, "metadata");
    ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
    if (!ann)
        ann = cJSON_AddObjectToObject(meta, "annotations");
    spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
    if (!spec)
        spec = cJSON_AddObjectToObject(root, "spec");
    if (!cJSON_IsObject(meta) || !cJSON_IsObject(ann) || !cJSON_IsObject(spec)) {
        cJSON_Delete(root);
        return RL_EINVAL;
    }
    rl_format_rfc3339(now_us, ts);
    cJSON_DeleteItemFromObjectCaseSensitive(ann, paused_at_key);
    cJSON_AddStringToObject(ann, paused_at_key, ts);
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "paused");
    cJSON_AddBoolToObject(spec, "paused", 1);
    json = rl_json_print(root);
    rl_buf_reset(body);
    err = rl_buf_adds(body, json);
    free(json);
    cJSON_Delete(root);
    return err;
}

int rl_pause_resume_patch(struct rl_buf *out, const char *paused_at_key)
{
    int err = rl_buf_adds(out, "{\"metadata\":{\"annotations\":{");

    if (!err)
        err = rl_buf_add_json_str(out, paused_at_key);
    if (!err)
        err = rl_buf_adds(out, ":null}},\"spec\":{\"paused\":false}}");
    return err;
}
