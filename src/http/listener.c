/* SPDX-License-Identifier: MIT */
/* The listening socket and its accepting threads (one per I/O thread: under a flood of
 * refused reconnects the accept queue is what a new client waits in). libmicrohttpd's own
 * listener cannot be stopped safely while its I/O threads run: MHD_quiesce_daemon (0.9.75, and
 * upstream still) takes the socket out of each I/O thread's epoll set while that thread, woken
 * by any connection, may be taking it out too, and whichever loses the race gets ENOENT and
 * aborts the process ("Failed to remove listen FD from epoll set"): a server stopped under
 * traffic died with SIGABRT instead of finishing its requests. So the daemon runs without a
 * listening socket and these threads accept, ask admission, and hand each connection over
 * (MHD_add_connection, which wakes an I/O thread through its ITC). Stopping ends the threads
 * and closes the socket: from then on the kernel refuses new clients, so a balancer tries
 * another instance. */
#include "listener.h"

#include "admission.h"

#include "gh/alloc.h"
#include "gh/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Pause after a failed accept for lack of descriptors or memory: the pending connection stays
 * readable, so retrying at once would spin a core while nothing can be freed. */
#define BACKOFF_MS 20
/* The longest wait for room before the stop flag is looked at again. */
#define ROOM_WAIT_MS 50

struct gh_listener {
    int fd;
    int wake; /* eventfd: stop */
    pthread_t threads[GH_LISTENER_THREADS_MAX];
    int started;
    struct MHD_Daemon *daemon;
    struct gh_admission *adm;
    atomic_int stopping;
    atomic_ullong starved; /* accepts failed for descriptors or memory, for the log */
};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* accept(2) errors that say nothing about the listening socket: a client that went away
 * before it was accepted, or a network error Linux passes on (accept(2), "Error handling"). */
static int transient(int e)
{
    return e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED || e == EPROTO ||
           e == ENETDOWN || e == ENOPROTOOPT || e == EHOSTDOWN || e == ENONET ||
           e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH || e == EPERM;
}

/* Accepts what is pending (the socket is non-blocking), until stopped. */
static void accept_pending(struct gh_listener *l)
{
    while (!atomic_load(&l->stopping)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        struct gh_conn *rec = NULL;
        int fd;

        if (gh_admission_full(l->adm)) { /* as libmicrohttpd's own listener did at its limit */
            gh_admission_wait_room(l->adm, ROOM_WAIT_MS);
            continue;
        }
        fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            unsigned long long n;

            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (transient(e))
                continue;
            n = atomic_fetch_add(&l->starved, 1) + 1;
            if (n == 1 || n % 1000 == 0)
                gh_logf(GH_LOG_WARN,
                        "cannot accept a connection: %s (%llu so far; raise the open-files "
                        "limit, or lower MAX_CONNECTIONS)",
                        strerror(e), n);
            pause_ms(BACKOFF_MS);
            return;
        }
        if (!gh_admission_admit(l->adm, fd, (const struct sockaddr *)&ss, &rec)) {
            close(fd);
            continue;
        }
        /* MHD closes fd itself when it fails. */
        if (MHD_add_connection(l->daemon, fd, (const struct sockaddr *)&ss, len) != MHD_YES)
            gh_admission_unadmit(l->adm, rec);
    }
}

static void *accept_main(void *arg)
{
    struct gh_listener *l = arg;
    struct pollfd pfd[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->wake, .events = POLLIN}};

    pthread_setname_np(pthread_self(), "gh-accept");

    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno != EINTR)
                pause_ms(BACKOFF_MS);
            continue;
        }
        if (pfd[1].revents)
            return NULL;
        if (pfd[0].revents)
            accept_pending(l);
    }
}

int gh_listener_open(const struct sockaddr *addr, socklen_t len, struct gh_listener **out,
                     int *port, struct gh_err *err)
{
    struct gh_listener *l = gh_malloc(sizeof *l);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    int one = 1;

    *out = NULL;
    if (!l)
        return gh_err_set(err, GH_ENOMEM, "out of memory starting the server");
    memset(l, 0, sizeof *l);
    l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->wake < 0 || l->fd < 0) {
        gh_listener_free(l);
        return gh_err_set(err, GH_EBACKEND, "cannot open the listening socket: %s",
                          strerror(errno));
    }
    /* SO_REUSEADDR: a restart binds at once while the last run's connections sit in
     * TIME_WAIT. Not SO_REUSEPORT: a second server on the same port must fail, not share it. */
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6) /* "::" means IPv6 only, as a HOST of "::1" would */
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(l->fd, addr, len) != 0 || listen(l->fd, SOMAXCONN) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;

        gh_listener_free(l);
        return gh_err_set(err, GH_EBACKEND, "%s", strerror(e));
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    *out = l;
    return GH_OK;
}

int gh_listener_start(struct gh_listener *l, struct MHD_Daemon *daemon, struct gh_admission *adm,
                      int n_threads, struct gh_err *err)
{
    l->daemon = daemon;
    l->adm = adm;
    if (n_threads > GH_LISTENER_THREADS_MAX)
        n_threads = GH_LISTENER_THREADS_MAX;
    for (int i = 0; i < (n_threads > 0 ? n_threads : 1); i++) {
        if (pthread_create(&l->threads[i], NULL, accept_main, l) != 0)
            return gh_err_set(err, GH_EBACKEND, "cannot start the accepting threads");
        l->started++;
    }
    return GH_OK;
}

void gh_listener_stop(struct gh_listener *l)
{
    uint64_t one = 1;

    if (!l)
        return;
    if (l->started) {
        atomic_store(&l->stopping, 1);
        while (write(l->wake, &one, sizeof one) < 0 && errno == EINTR)
            ;
        for (int i = 0; i < l->started; i++)
            pthread_join(l->threads[i], NULL);
        l->started = 0;
    }
    if (l->fd >= 0) {
        close(l->fd); /* what waited in the backlog is reset */
        l->fd = -1;
    }
}

void gh_listener_free(struct gh_listener *l)
{
    if (!l)
        return;
    gh_listener_stop(l);
    if (l->wake >= 0)
        close(l->wake);
    gh_free(l);
}
