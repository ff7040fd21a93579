/*
 * kindfile.h - workload kinds declared in a file (--workload-kinds-file)
 *
 * The file is YAML, one list of kinds:
 *
 *   kinds:
 *     - group: serving.knative.dev       # API group (a DNS subdomain)
 *       version: v1                      # API version (a DNS label)
 *       kind: Service                    # Kind (CamelCase)
 *       plural: services                 # resource name in API paths (a DNS label)
 *       template: spec.template          # the pod template (default spec.template)
 *       rollout: patch-template          # or set-field (default patch-template)
 *       field: spec.restartAt            # set-field only: where the time is written
 *
 * Every key is checked: an unknown key, a missing group, version, kind or
 * plural, a bad syntax, a kind whose group and plural or group and Kind a
 * built-in or an earlier entry has, an unknown rollout, a field without
 * set-field or set-field without a field is an error naming the file and
 * the line. At most RL_KIND_DECLARED_MAX kinds and RL_KINDFILE_MAX_BYTES
 * bytes; anchors and aliases are refused. A declared kind's store key is
 * "<plural>.<group>", which no built-in key can be.
 *
 * On success the kinds are installed in kind.h's table (rl_kind_declare());
 * on error nothing changes. Threads: at start, before any thread.
 */
#ifndef RL_KINDFILE_H
#define RL_KINDFILE_H

#include <stddef.h>

#define RL_KINDFILE_MAX_BYTES ((size_t)64 << 10)

/*
 * Reads, validates and installs the kinds of the file at path: 0, or
 * RL_ECONFIG (RL_ENOENT, RL_ETOOBIG...) with a message in err such as
 * "--workload-kinds-file 'k.yaml', line 7: unknown key 'templat' (...)".
 */
int rl_kindfile_load(const char *path, char *err, size_t errlen);

/* The same from len bytes of text; path names the file in messages. */
int rl_kindfile_parse(const char *path, const char *text, size_t len, char *err,
                      size_t errlen);

#endif /* RL_KINDFILE_H */
