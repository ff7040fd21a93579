/*
 * test_leader.c - leader election against the real local control plane
 *
 * Needs a cluster from tools/cluster (run through `make test-integration`).
 * Three electors with distinct identities compete for one Lease in the
 * namespace `reloadd`, each with its own API client authenticated as the
 * controller (RELOADD_CONTROLLER_KUBECONFIG, whose Role allows get, list,
 * watch, create and update on leases there). Every test uses a Lease of
 * its own and deletes it (as admin) afterwards. Like test_kube.c, tests
 * hold a shared lock in the cluster directory so that no apiserver restart
 * of another test lands in the middle of a timing measurement.
 *
 * A partition is made with a TCP relay between one elector and the API
 * server that, when cut, stops moving bytes and accepting connections: the
 * elector's requests hang until their timeout, as behind a dead network.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "testutil.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/kube/leader.h"

#define NS "reloadd"
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/" NS "/leases"

static const char *admin_path, *ctl_path;
static struct rl_kube *admin;
static char lease_name[64];
static int lock_fd = -1;

/* ---------------------------------------------------------------------- */
/* Helpers */

static uint64_t now_ms(void)
{
    return rl_mono_ms();
}

/* A client of its own for each elector, as leader.h recommends. */
static struct rl_kube *client(const char *path, int relay_port)
{
    struct rl_kube_opts opts = {
        .qps = 0,
        .max_retries = -1,
        .connect_timeout_ms = 1000,
        .request_timeout_ms = 1000,     /* below every renew deadline used here */
    };
    struct rl_kubeconfig *cfg = NULL;
    struct rl_kube *k;
    char err[512] = "";

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, err, sizeof(err)), 0), "%s", err);
    if (relay_port) {
        free(cfg->server);
        cfg->server = rl_xasprintf("https://127.0.0.1:%d", relay_port);
    }
    k = rl_kube_new(cfg, &opts, rl_clock_system());
    cr_assert(k != NULL);
    return k;
}

/* The port of the API server of a kubeconfig ("https://127.0.0.1:PORT"). */
static int server_port(const char *path)
{
    struct rl_kubeconfig *cfg = NULL;
    char err[512] = "";
    const char *colon;
    long port;

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, err, sizeof(err)), 0), "%s", err);
    cr_assert(strncmp(cfg->server, "https://127.0.0.1:", 18) == 0, "server %s", cfg->server);
    colon = strrchr(cfg->server, ':');
    port = strtol(colon + 1, NULL, 10);
    cr_assert(port > 0 && port < 65536);
    rl_kubeconfig_free(cfg);
    return (int)port;
}

static void need_cluster(void)
{
    const char *dir;

    admin_path = test_env("KUBECONFIG");
    ctl_path = test_env("RELOADD_CONTROLLER_KUBECONFIG");
    dir = test_env("RELOADD_CLUSTER_DIR");
    if (!admin_path || !ctl_path || !dir)
        cr_fatal("KUBECONFIG, RELOADD_CONTROLLER_KUBECONFIG and RELOADD_CLUSTER_DIR are not "
                 "set: run the integration tests through `make test-integration`, which "
                 "brings a local cluster up");
    lock_fd = test_lock_cluster(dir, false);
    cr_assert(ge(int, lock_fd, 0));
    admin = client(admin_path, 0);
    snprintf(lease_name, sizeof(lease_name), "leader-it-%08x", arc4random());
}

static void fini(void)
{
    if (admin && lease_name[0]) {
        struct rl_kube_response r;
        char *path = rl_xasprintf(LEASES "/%s", lease_name);

        rl_kube_response_init(&r);
        rl_kube_delete(admin, path, NULL, &r);
        rl_kube_response_release(&r);
        free(path);
    }
    rl_kube_free(admin);
    admin = NULL;
    if (lock_fd >= 0)
        close(lock_fd);
    lock_fd = -1;
}

TestSuite(leader, .init = need_cluster, .fini = fini, .timeout = 180);

/* The Lease as the admin reads it now. */
static void read_lease(struct rl_lease *l)
{
    struct rl_kube_response r;
    char *path = rl_xasprintf(LEASES "/%s", lease_name);
    cJSON *obj;

    rl_kube_response_init(&r);
    cr_assert(eq(int, rl_kube_get(admin, path, &r), 0), "get lease: %s", r.message);
    obj = rl_kube_response_json(&r);
    cr_assert(obj != NULL);
    cr_assert(eq(int, rl_lease_from_json(l, obj), 0));
    cJSON_Delete(obj);
    rl_kube_response_release(&r);
    free(path);
}

/* ---------------------------------------------------------------------- */
/* A TCP relay that can be cut */

#define RELAY_MAX 32

struct relay {
    int lfd, port, upstream_port;
    atomic_bool cut, stop;
    pthread_t thread;
    int pairs[RELAY_MAX][2];    /* client, upstream; -1 when free */
};

static void relay_drop(struct relay *r, int i)
{
    close(r->pairs[i][0]);
    close(r->pairs[i][1]);
    r->pairs[i][0] = r->pairs[i][1] = -1;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void relay_accept(struct relay *r)
{
    struct sockaddr_in up = { .sin_family = AF_INET };
    int c = accept(r->lfd, NULL, NULL), u;

    if (c < 0)
        return;
    up.sin_port = htons((uint16_t)r->upstream_port);
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u < 0 || connect(u, (struct sockaddr *)&up, sizeof(up)) != 0) {
        if (u >= 0)
            close(u);
        close(c);
        return;
    }
    for (int i = 0; i < RELAY_MAX; i++) {
        if (r->pairs[i][0] < 0) {
            r->pairs[i][0] = c;
            r->pairs[i][1] = u;
            return;
        }
    }
    close(u);
    close(c);
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    bool was_cut = false;

    while (!atomic_load(&r->stop)) {
        struct pollfd fds[1 + 2 * RELAY_MAX];
        int idx[1 + 2 * RELAY_MAX];
        nfds_t n = 0;

        if (atomic_load(&r->cut)) {
            /* A dead network: nothing is accepted, nothing moves. */
            was_cut = true;
            test_sleep_ms(5);
            continue;
        }
        if (was_cut) {
            /* Connections that lived through the cut are reset. */
            for (int i = 0; i < RELAY_MAX; i++)
                if (r->pairs[i][0] >= 0)
                    relay_drop(r, i);
            was_cut = false;
        }
        fds[n].fd = r->lfd;
        fds[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < RELAY_MAX; i++) {
            for (int side = 0; side < 2 && r->pairs[i][0] >= 0; side++) {
                fds[n].fd = r->pairs[i][side];
                fds[n].events = POLLIN;
                idx[n++] = i * 2 + side;
            }
        }
        if (poll(fds, n, 20) <= 0)
            continue;
        if (atomic_load(&r->cut))
            continue;
        for (nfds_t k = 1; k < n; k++) {
            int i = idx[k] / 2, side = idx[k] % 2;
            char buf[16384];
            ssize_t got;

            if (!fds[k].revents || r->pairs[i][0] < 0)
                continue;
            got = read(r->pairs[i][side], buf, sizeof(buf));
            if (got <= 0 || !write_all(r->pairs[i][!side], buf, (size_t)got))
                relay_drop(r, i);
        }
        if (fds[0].revents & POLLIN)
            relay_accept(r);
    }
    for (int i = 0; i < RELAY_MAX; i++)
        if (r->pairs[i][0] >= 0)
            relay_drop(r, i);
    return NULL;
}

static void relay_start(struct relay *r, int upstream_port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);

    memset(r->pairs, -1, sizeof(r->pairs));
    r->upstream_port = upstream_port;
    atomic_init(&r->cut, false);
    atomic_init(&r->stop, false);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(r->lfd >= 0);
    cr_assert(eq(int, bind(r->lfd, (struct sockaddr *)&a, sizeof(a)), 0));
    cr_assert(eq(int, listen(r->lfd, 64), 0));
    cr_assert(eq(int, getsockname(r->lfd, (struct sockaddr *)&a, &len), 0));
    r->port = ntohs(a.sin_port);
    rl_thread_start(&r->thread, "relay", relay_main, r);
}

static void relay_stop(struct relay *r)
{
    atomic_store(&r->stop, true);
    rl_thread_join(r->thread);
    close(r->lfd);
}

/* ---------------------------------------------------------------------- */
/* Replicas */

struct member {
    char id[96];
    struct rl_kube *kube;
    struct rl_elector *el;
    atomic_int started, stopped, misordered;
    atomic_bool leading;
    pthread_mutex_t mu;
    char leader_seen[64];       /* last on_new_leader; protected by mu */
};

static void on_started(void *ctx)
{
    struct member *m = ctx;

    /* Called in order, and only once writing is allowed. */
    if (atomic_load(&m->leading) || !rl_elector_may_write(m->el))
        atomic_fetch_add(&m->misordered, 1);
    atomic_store(&m->leading, true);
    atomic_fetch_add(&m->started, 1);
}

static void on_stopped(void *ctx)
{
    struct member *m = ctx;

    /* Writing has stopped before we are told. */
    if (!atomic_load(&m->leading) || rl_elector_may_write(m->el))
        atomic_fetch_add(&m->misordered, 1);
    atomic_store(&m->leading, false);
    atomic_fetch_add(&m->stopped, 1);
}

static void on_new_leader(void *ctx, const char *identity)
{
    struct member *m = ctx;

    rl_mutex_lock(&m->mu);
    strlcpy(m->leader_seen, identity, sizeof(m->leader_seen));
    rl_mutex_unlock(&m->mu);
}

static void member_init(struct member *m, const char *id, uint64_t lease_ms, uint64_t renew_ms,
                        uint64_t retry_ms, int relay_port)
{
    struct rl_elector_opts o = {
        .namespace_ = NS,
        .name = lease_name,
        .lease_duration_ms = lease_ms,
        .renew_deadline_ms = renew_ms,
        .retry_period_ms = retry_ms,
        .on_started_leading = on_started,
        .on_stopped_leading = on_stopped,
        .on_new_leader = on_new_leader,
        .ctx = m,
    };
    char err[256] = "";

    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s-%s", lease_name, id);
    o.identity = m->id;
    rl_mutex_init(&m->mu);
    m->kube = client(ctl_path, relay_port);
    cr_assert(eq(int, rl_elector_new(&m->el, m->kube, rl_clock_system(), &o, err, sizeof(err)),
                 0), "%s", err);
}

static void member_release(struct member *m)
{
    rl_elector_free(m->el);
    rl_kube_free(m->kube);
    rl_mutex_destroy(&m->mu);
}

static void leader_seen_by(struct member *m, char *out, size_t len)
{
    rl_mutex_lock(&m->mu);
    strlcpy(out, m->leader_seen, len);
    rl_mutex_unlock(&m->mu);
}

/* The one member that may write, or NULL; fails if there are several. */
static struct member *writer(struct member *ms, int n)
{
    struct member *w = NULL;

    for (int i = 0; i < n; i++) {
        if (rl_elector_may_write(ms[i].el)) {
            cr_assert(w == NULL, "both %s and %s may write", w ? w->id : "", ms[i].id);
            w = &ms[i];
        }
    }
    return w;
}

static struct member *wait_writer(struct member *ms, int n, struct member *not, uint64_t ms_max)
{
    uint64_t end = now_ms() + ms_max;

    for (;;) {
        struct member *w = writer(ms, n);

        if (w && w != not)
            return w;
        if (now_ms() >= end)
            return NULL;
        test_sleep_ms(2);
    }
}

/* ---------------------------------------------------------------------- */
/* Tests */

Test(leader, exactly_one_of_three_leads_and_renews)
{
    struct member ms[3];
    struct member *w;
    struct rl_lease l1 = RL_LEASE_INIT, l2 = RL_LEASE_INIT;
    uint64_t end;

    member_init(&ms[0], "a", 3000, 2000, 500, 0);
    member_init(&ms[1], "b", 3000, 2000, 500, 0);
    member_init(&ms[2], "c", 3000, 2000, 500, 0);
    for (int i = 0; i < 3; i++)
        rl_elector_start(ms[i].el);

    w = wait_writer(ms, 3, NULL, 5000);
    cr_assert(w != NULL, "nobody became leader within 5 s");

    /* For 3 s (several lease durations), the same single leader. */
    end = now_ms() + 3000;
    while (now_ms() < end) {
        int leaders = 0;

        cr_assert(eq(ptr, writer(ms, 3), w), "the leader changed or lost its fence");
        for (int i = 0; i < 3; i++)
            leaders += rl_elector_is_leader(ms[i].el);
        cr_assert(eq(int, leaders, 1));
        test_sleep_ms(10);
    }

    /* The Lease as another client sees it. */
    read_lease(&l1);
    cr_assert(eq(str, l1.holder, w->id));
    cr_assert(eq(i64, l1.duration_s, 3));
    cr_assert(eq(i64, l1.transitions, 0), "created, never taken over");
    cr_assert(test_is_micro_time(l1.acquire_time), "acquireTime '%s'", l1.acquire_time);
    cr_assert(test_is_micro_time(l1.renew_time), "renewTime '%s'", l1.renew_time);
    test_sleep_ms(1100);
    read_lease(&l2);
    cr_assert(eq(str, l2.holder, w->id));
    cr_assert(eq(str, l2.acquire_time, l1.acquire_time), "a renewal keeps acquireTime");
    cr_assert(strcmp(l2.renew_time, l1.renew_time) > 0, "renewTime moves on");
    cr_assert(eq(i64, l2.transitions, 0));

    for (int i = 0; i < 3; i++) {
        char seen[64];

        leader_seen_by(&ms[i], seen, sizeof(seen));
        cr_assert(eq(str, seen, w->id), "%s sees leader '%s'", ms[i].id, seen);
        cr_assert(eq(int, atomic_load(&ms[i].started), &ms[i] == w));
        cr_assert(eq(int, atomic_load(&ms[i].stopped), 0));
    }
    cr_assert(eq(u64, rl_elector_transitions(w->el), 1));
    cr_assert(rl_elector_acquired_at_ms(w->el) > 0);

    /* Stopping without a release: writing stops, the leader is told. */
    for (int i = 0; i < 3; i++)
        rl_elector_stop(ms[i].el);
    cr_assert(not(rl_elector_may_write(w->el)));
    cr_assert(eq(int, atomic_load(&w->stopped), 1));
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, atomic_load(&ms[i].misordered), 0));
        member_release(&ms[i]);
    }
    rl_lease_release(&l1);
    rl_lease_release(&l2);
}

Test(leader, release_hands_over_within_a_retry_period)
{
    struct member ms[3];
    struct member *old, *neu;
    struct rl_lease l = RL_LEASE_INIT;
    uint64_t t0, dt;
    int err;

    for (int i = 0; i < 3; i++)
        member_init(&ms[i], (const char *[]){ "a", "b", "c" }[i], 3000, 2000, 500, 0);
    for (int i = 0; i < 3; i++)
        rl_elector_start(ms[i].el);
    old = wait_writer(ms, 3, NULL, 5000);
    cr_assert(old != NULL);
    test_sleep_ms(700);                      /* followers have seen the Lease */

    t0 = now_ms();
    err = rl_elector_resign(old->el);
    cr_assert(eq(int, err, 0), "release: %s", rl_strerror(err));
    cr_assert(not(rl_elector_may_write(old->el)), "writing stops with the release");
    cr_assert(eq(int, atomic_load(&old->stopped), 1));
    neu = wait_writer(ms, 3, old, 3000);
    dt = now_ms() - t0;
    cr_assert(neu != NULL, "nobody took the released Lease");
    cr_log_info("release to new leader: %llu ms", (unsigned long long)dt);
    cr_assert(dt < 1500, "took %llu ms, retry period is 500 ms", (unsigned long long)dt);

    read_lease(&l);
    cr_assert(eq(str, l.holder, neu->id));
    cr_assert(eq(i64, l.transitions, 1), "a takeover counts one transition");
    cr_assert(eq(i64, l.duration_s, 3));

    /* The released elector competes no more. */
    test_sleep_ms(1000);
    cr_assert(eq(ptr, writer(ms, 3), neu));
    cr_assert(not(rl_elector_is_leader(old->el)));
    cr_assert(eq(int, atomic_load(&old->started), 1));
    for (int i = 0; i < 3; i++)
        rl_elector_stop(ms[i].el);
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, atomic_load(&ms[i].misordered), 0));
        member_release(&ms[i]);
    }
    rl_lease_release(&l);
}

/* A Lease watch feeding every elector, as the integrator's informer would. */
struct feeder {
    struct member *ms;
    int n;
    atomic_bool stop;
    atomic_int events;
    pthread_t thread;
};

static bool feeder_should_stop(void *ctx)
{
    struct feeder *f = ctx;

    return atomic_load(&f->stop);
}

static int feeder_event(void *ctx, const char *type, const cJSON *object)
{
    struct feeder *f = ctx;

    if (strcmp(type, "BOOKMARK") == 0 || strcmp(type, "ERROR") == 0)
        return 0;
    for (int i = 0; i < f->n; i++)
        rl_elector_observe(f->ms[i].el, strcmp(type, "DELETED") == 0 ? NULL : object);
    atomic_fetch_add(&f->events, 1);
    return 0;
}

static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    char *selector = rl_xasprintf("metadata.name=%s", lease_name);
    struct rl_kube *k = client(admin_path, 0);

    while (!atomic_load(&f->stop)) {
        struct rl_kube_watch_opts wo = {
            .field_selector = selector,
            .timeout_s = 60,
            .should_stop = feeder_should_stop,
            .stop_ctx = f,
        };

        if (rl_kube_watch(k, LEASES, &wo, feeder_event, f) != 0 && !atomic_load(&f->stop))
            test_sleep_ms(100);
    }
    rl_kube_free(k);
    free(selector);
    return NULL;
}

Test(leader, observe_hands_a_released_lease_over_in_one_round_trip)
{
    struct member ms[3];
    struct feeder f = { .ms = ms, .n = 3 };
    struct member *old, *neu;
    uint64_t t0, dt;

    /* A long retry period: without observe() a handover would take seconds. */
    for (int i = 0; i < 3; i++)
        member_init(&ms[i], (const char *[]){ "a", "b", "c" }[i], 15000, 10000, 8000, 0);
    atomic_init(&f.stop, false);
    atomic_init(&f.events, 0);
    rl_thread_start(&f.thread, "feeder", feeder_main, &f);
    for (int i = 0; i < 3; i++)
        rl_elector_start(ms[i].el);
    old = wait_writer(ms, 3, NULL, 5000);
    cr_assert(old != NULL);
    for (int i = 0; i < 500 && atomic_load(&f.events) == 0; i++)
        test_sleep_ms(10);
    cr_assert(atomic_load(&f.events) > 0, "the Lease watch delivered nothing");
    test_sleep_ms(200);

    t0 = now_ms();
    cr_assert(eq(int, rl_elector_resign(old->el), 0));
    neu = wait_writer(ms, 3, old, 5000);
    dt = now_ms() - t0;
    cr_assert(neu != NULL, "nobody took the released Lease");
    cr_log_info("release to new leader with observe(): %llu ms", (unsigned long long)dt);
    cr_assert(dt < 500, "took %llu ms (retry period 8 s)", (unsigned long long)dt);

    atomic_store(&f.stop, true);
    rl_thread_join(f.thread);
    for (int i = 0; i < 3; i++)
        rl_elector_stop(ms[i].el);
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, atomic_load(&ms[i].misordered), 0));
        member_release(&ms[i]);
    }
}

Test(leader, partitioned_leader_stops_writing_before_a_follower_takes_over)
{
    struct member ms[3];
    struct relay r;
    struct member *a = &ms[0], *neu = NULL;
    struct rl_lease l = RL_LEASE_INIT;
    uint64_t t_cut, t_fenced = 0, t_new = 0, end;
    char seen[64];

    relay_start(&r, server_port(ctl_path));
    member_init(&ms[0], "a", 3000, 2000, 500, r.port);
    member_init(&ms[1], "b", 3000, 2000, 500, 0);
    member_init(&ms[2], "c", 3000, 2000, 500, 0);

    /* a leads first, through the relay. */
    rl_elector_start(a->el);
    cr_assert(eq(ptr, wait_writer(ms, 3, NULL, 5000), a), "a did not become leader");
    rl_elector_start(ms[1].el);
    rl_elector_start(ms[2].el);
    test_sleep_ms(1500);
    cr_assert(eq(ptr, writer(ms, 3), a), "a kept the lease while connected");

    atomic_store(&r.cut, true);
    t_cut = now_ms();
    end = t_cut + 8000;
    while (now_ms() < end && !t_new) {
        struct member *w = writer(ms, 3);   /* fails on two writers at once */
        uint64_t t = now_ms();

        if (!t_fenced && !rl_elector_may_write(a->el))
            t_fenced = t;
        if (w && w != a) {
            neu = w;
            t_new = t;
        }
        test_sleep_ms(1);
    }
    cr_assert(t_fenced != 0, "a never stopped writing");
    cr_assert(neu != NULL, "no follower took over within 8 s");
    cr_log_info("cut to fenced: %llu ms, cut to new leader: %llu ms",
                (unsigned long long)(t_fenced - t_cut), (unsigned long long)(t_new - t_cut));
    /* a's fence is its last renewal's start (before the cut) + 2 s. */
    cr_assert(t_fenced - t_cut <= 2000 + 20, "fenced after %llu ms",
              (unsigned long long)(t_fenced - t_cut));
    /*
     * Nobody may take over before a's lease could have expired: its last
     * renewal that landed began at most two retry periods before the cut.
     */
    cr_assert(t_new - t_cut >= 3000 - 1000 - 20, "taken over after only %llu ms",
              (unsigned long long)(t_new - t_cut));
    cr_assert(t_new - t_cut <= 3000 + 1000 + 1000, "took %llu ms",
              (unsigned long long)(t_new - t_cut));
    cr_assert(t_new > t_fenced);

    /* a steps down (its thread may first sit out a 1 s request timeout)... */
    for (int i = 0; i < 300 && rl_elector_is_leader(a->el); i++)
        test_sleep_ms(10);
    cr_assert(not(rl_elector_is_leader(a->el)));
    cr_assert(eq(int, atomic_load(&a->stopped), 1));

    /* ...and goes on as a follower: healed, it sees the new leader. */
    atomic_store(&r.cut, false);
    for (int i = 0; i < 300; i++) {
        leader_seen_by(a, seen, sizeof(seen));
        if (strcmp(seen, neu->id) == 0)
            break;
        test_sleep_ms(10);
    }
    cr_assert(eq(str, seen, neu->id), "a sees leader '%s'", seen);
    test_sleep_ms(1000);
    cr_assert(eq(ptr, writer(ms, 3), neu));
    cr_assert(eq(int, atomic_load(&a->started), 1), "a did not take the lease back");

    read_lease(&l);
    cr_assert(eq(str, l.holder, neu->id));
    cr_assert(eq(i64, l.transitions, 1));

    for (int i = 0; i < 3; i++)
        rl_elector_stop(ms[i].el);
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, atomic_load(&ms[i].misordered), 0));
        member_release(&ms[i]);
    }
    relay_stop(&r);
    rl_lease_release(&l);
}
