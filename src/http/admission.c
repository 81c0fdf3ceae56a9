/* SPDX-License-Identifier: MIT */
/* Admission: counts connections (all, and per socket address) from their accept (listener.c)
 * to libmicrohttpd's notification of their close, refuses at accept what is far past the limits,
 * keeps the global budget of upload bytes, and runs one reaper thread that enforces what
 * libmicrohttpd's inactivity timeout cannot: an absolute deadline for the request headers, a
 * minimum upload rate after a grace period, and idle keep-alive connections going first when the
 * limit is near. When the server is full, a client lighter than the busiest address gets in by
 * taking the place of that address's idle or oldest header-stage connection. A dropped connection
 * is shut down (the I/O thread then sees it closed and cleans up) and logged. */
#include "admission.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum phase {
    PHASE_HEADERS,   /* accepted, or a new request on it; headers not complete */
    PHASE_BODY,      /* headers in, body arriving */
    PHASE_ANSWERING, /* routed; a worker or the I/O thread answers */
    PHASE_IDLE,      /* keep-alive between requests */
};

#define N_BUCKETS 4096
#define REAP_MS   200
/* A connection handed to libmicrohttpd and not started after this long never will be. */
#define PENDING_MS 10000

/* Lingering close (RFC 9112 §9.6): a connection refused while its client may still be sending
 * a body keeps being read, and what arrives dropped, after libmicrohttpd closed it (its
 * answer and FIN are out), so that the client finishes sending and reads the answer instead of
 * a reset. Bounded in sockets, bytes and time. */
#define LINGER_MAX     256
#define LINGER_BYTES   ((size_t)16 << 20)
#define LINGER_MS      5000
#define LINGER_TICK_MS 20
/* How a refused connection's end goes: the close (FIN) right after the answer, or held until
 * the drain ends. */
enum { LINGER_FIN = 1, LINGER_HOLD = 2 };

struct held_sock {
    int fd;
    size_t read;
    long long until_ms;
};

/* Connections per socket address. */
struct client {
    struct client *next;
    int n;
    char addr[INET6_ADDRSTRLEN];
};

struct gh_conn {
    struct gh_conn *prev, *next;
    struct client *client;
    MHD_socket fd;
    atomic_int phase;
    atomic_llong phase_ms;    /* monotonic ms when the phase began */
    atomic_size_t body_bytes; /* of the request being read */
    size_t reserved;          /* upload budget held (I/O thread only) */
    atomic_int bad_uri;       /* the unescape callback saw a control byte */
    atomic_int linger;        /* refused with a body pending: a LINGER_ mode, or 0 */
    int dropped;              /* shut down by the reaper (under the lock) */
    /* The reaper's upload-rate window (reaper only): its phase, start and bytes then. */
    long long win_phase_ms, win_ms;
    size_t win_bytes;
};

struct gh_admission {
    int max_conns, max_per_client;
    size_t budget;
    long long header_ms, idle_ms, grace_ms;
    size_t min_rate; /* bytes per second */
    pthread_mutex_t mu;
    struct gh_conn *conns; /* every open connection */
    /* Admitted at accept and handed to libmicrohttpd, which has not started them yet (then
     * they move to conns); counted already, never dropped from here. */
    struct gh_conn *pending;
    int n_conns;
    int n_dropping; /* of those, shut down and not yet closed */
    struct client *buckets[N_BUCKETS];
    atomic_size_t used; /* upload bytes reserved */
    atomic_int crowded;
    pthread_cond_t room;  /* signalled under mu when a connection starts or closes */
    int room_waiters;     /* the listener waits on room (under mu) */
    atomic_int n_open;    /* n_conns, for gh_admission_full without the lock */
    atomic_int n_pending; /* records on pending, likewise */
    int hard;             /* no more connections than this, dropping and pending ones included */
    /* refusals and drops, for rate-limited log lines */
    atomic_ullong refused, dropped_headers, dropped_slow, dropped_idle, dropped_for_room;
    /* Sockets to drain: closing connections add them to the inbox (under mu); the reaper moves
     * them to held, which only it touches, and reads them without mu, so the I/O threads never
     * wait for megabytes of a refused upload to be read. */
    struct held_sock lingering[LINGER_MAX]; /* the inbox, under mu */
    int n_lingering;
    struct held_sock held[LINGER_MAX]; /* the reaper's */
    int n_held;
    atomic_int n_held_seen; /* n_held for the cap in conn_close */
    pthread_t reaper;
    int reaper_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stopping;
};

static size_t hash_addr(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h % N_BUCKETS;
}

/* Under mu. */
static struct client **find_client(struct gh_admission *adm, const char *addr)
{
    struct client **pp = &adm->buckets[hash_addr(addr)];

    while (*pp && strcmp((*pp)->addr, addr) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
    else
        snprintf(out, cap, "unknown");
}

/* One line for the first event of a kind, then one per 1000: an attack must not flood the
 * log, and one line must say it is going on. */
static void log_counted(atomic_ullong *counter, const char *what, const char *addr)
{
    unsigned long long n = atomic_fetch_add(counter, 1) + 1;

    if (n == 1 || n % 1000 == 0)
        gh_logf(GH_LOG_WARN, "%s (client %s; %llu so far)", what, addr, n);
}

/* Under mu: shuts c down (the I/O thread sees it closed and cleans up). */
static void drop(struct gh_admission *adm, struct gh_conn *c, atomic_ullong *counter,
                 const char *why)
{
    c->dropped = 1;
    adm->n_dropping++;
    shutdown(c->fd, SHUT_RDWR);
    log_counted(counter, why, c->client ? c->client->addr : "unknown");
}

/* Under mu: makes room for a client that holds `mine` connections by dropping one connection
 * of the busiest address holding more than mine + 1: an idle keep-alive one if it has any,
 * else its oldest still sending request headers (a request being read or answered is never
 * taken). 1 when one was dropped. */
static int make_room(struct gh_admission *adm, int mine)
{
    struct gh_conn *best = NULL;
    int best_n = mine + 2, best_idle = 0;
    long long best_ms = 0;

    for (struct gh_conn *c = adm->conns; c; c = c->next) {
        int phase = atomic_load(&c->phase), n = c->client ? c->client->n : 0, idle;
        long long ms;

        if (c->dropped || c->fd == MHD_INVALID_SOCKET ||
            (phase != PHASE_HEADERS && phase != PHASE_IDLE) || n < best_n)
            continue;
        idle = phase == PHASE_IDLE;
        ms = atomic_load(&c->phase_ms);
        if (best && n == best_n && (idle < best_idle || (idle == best_idle && ms >= best_ms)))
            continue;
        best = c;
        best_n = n;
        best_idle = idle;
        best_ms = ms;
    }
    if (!best)
        return 0;
    drop(adm, best, &adm->dropped_for_room,
         "dropped a connection of the busiest address to let a lighter client in: "
         "MAX_CONNECTIONS reached");
    return 1;
}

static void set_phase(struct gh_conn *c, enum phase p)
{
    atomic_store(&c->phase_ms, (long long)gh_mono_ms());
    atomic_store(&c->phase, (int)p);
}

/* Under mu, after n_conns changed. */
static void recount(struct gh_admission *adm)
{
    atomic_store(&adm->n_open, adm->n_conns);
    atomic_store(&adm->crowded, adm->n_conns * 10 >= adm->max_conns * 9);
    if (adm->room_waiters)
        pthread_cond_signal(&adm->room);
}

static void list_push(struct gh_conn **head, struct gh_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_unlink(struct gh_conn **head, struct gh_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Under mu: the pending list and its count. */
static void pending_push(struct gh_admission *adm, struct gh_conn *c)
{
    list_push(&adm->pending, c);
    atomic_fetch_add(&adm->n_pending, 1);
}

static void pending_unlink(struct gh_admission *adm, struct gh_conn *c)
{
    list_unlink(&adm->pending, c);
    atomic_fetch_sub(&adm->n_pending, 1);
    if (adm->room_waiters)
        pthread_cond_signal(&adm->room);
}

/* Under mu: a counted record for a new connection from addr (text); NULL when out of memory
 * (then the connection is not counted, and the request path copes with no record). */
static struct gh_conn *conn_new(struct gh_admission *adm, const char *addr, MHD_socket fd)
{
    struct gh_conn *c = gh_malloc(sizeof *c);
    struct client **pp, *cl;

    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->fd = fd;
    set_phase(c, PHASE_HEADERS);
    pp = find_client(adm, addr);
    cl = *pp;
    if (!cl && (cl = gh_malloc(sizeof *cl)) != NULL) {
        memset(cl, 0, sizeof *cl);
        snprintf(cl->addr, sizeof cl->addr, "%s", addr);
        *pp = cl;
    }
    if (cl)
        cl->n++;
    c->client = cl;
    adm->n_conns++;
    recount(adm);
    return c;
}

/* Under mu: uncounts and frees c, taken off its list. */
static void conn_forget(struct gh_admission *adm, struct gh_conn *c)
{
    if (c->client && --c->client->n == 0) {
        struct client **pp = find_client(adm, c->client->addr);

        *pp = c->client->next;
        gh_free(c->client);
    }
    adm->n_conns--;
    recount(adm);
    gh_free(c);
}

/* Under mu: the record admitted for fd and not yet started by libmicrohttpd, or NULL. */
static struct gh_conn *find_pending(struct gh_admission *adm, MHD_socket fd)
{
    struct gh_conn *c = adm->pending;

    while (c && c->fd != fd)
        c = c->next;
    return c;
}

int gh_admission_admit(struct gh_admission *adm, MHD_socket fd, const struct sockaddr *addr,
                       struct gh_conn **rec)
{
    char text[INET6_ADDRSTRLEN];
    struct gh_conn *stale;
    struct client *c;
    int total, mine, room = 1, ok;

    *rec = NULL;
    addr_text(addr, text, sizeof text);
    pthread_mutex_lock(&adm->mu);
    /* fd is new, so a record still waiting under its number belongs to a connection that
     * libmicrohttpd closed without starting (it refuses past its own limit unannounced). */
    if ((stale = find_pending(adm, fd)) != NULL) {
        pending_unlink(adm, stale);
        conn_forget(adm, stale);
    }
    total = adm->n_conns - adm->n_dropping;
    c = *find_client(adm, text);
    mine = c ? c->n : 0;
    if (adm->n_conns >= adm->hard) /* the listener waits for this; a race got past it */
        room = 0;
    else if (total >= adm->max_conns + GH_ADMISSION_RESERVE &&
             mine < adm->max_per_client + GH_ADMISSION_CLIENT_RESERVE)
        room = make_room(adm, mine);
    ok = room && mine < adm->max_per_client + GH_ADMISSION_CLIENT_RESERVE;
    /* Counted now, not when libmicrohttpd starts it on an I/O thread: the next accept, a
     * moment later, must see it. */
    if (ok && (*rec = conn_new(adm, text, fd)) != NULL)
        pending_push(adm, *rec);
    pthread_mutex_unlock(&adm->mu);
    if (!room)
        log_counted(&adm->refused, "connection refused at accept: MAX_CONNECTIONS reached", text);
    else if (!ok)
        log_counted(&adm->refused,
                    "connection refused at accept: MAX_CONNECTIONS_PER_CLIENT reached", text);
    return ok;
}

void gh_admission_unadmit(struct gh_admission *adm, struct gh_conn *rec)
{
    if (!rec)
        return;
    pthread_mutex_lock(&adm->mu);
    for (struct gh_conn *c = adm->pending; c; c = c->next)
        if (c == rec) { /* not yet expired by the reaper */
            pending_unlink(adm, c);
            conn_forget(adm, c);
            break;
        }
    pthread_mutex_unlock(&adm->mu);
}

/* On the I/O thread: the connection starts with the record its accept made, or a new one. */
static void conn_open(struct gh_admission *adm, struct MHD_Connection *conn, void **ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    MHD_socket fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
    char text[INET6_ADDRSTRLEN];
    struct gh_conn *c;

    addr_text(ci ? ci->client_addr : NULL, text, sizeof text);
    pthread_mutex_lock(&adm->mu);
    c = fd == MHD_INVALID_SOCKET ? NULL : find_pending(adm, fd);
    if (c) {
        pending_unlink(adm, c);
        set_phase(c, PHASE_HEADERS); /* the header deadline runs from now */
    } else {
        c = conn_new(adm, text, fd);
    }
    if (c)
        list_push(&adm->conns, c);
    pthread_mutex_unlock(&adm->mu);
    *ctx = c;
}

static void release_budget(struct gh_admission *adm, struct gh_conn *c)
{
    if (c->reserved) {
        atomic_fetch_sub(&adm->used, c->reserved);
        c->reserved = 0;
    }
}

/* libmicrohttpd notifies CLOSED before it closes the socket, so the reaper (which shuts
 * sockets down under mu) can never touch a descriptor that was reused. */
static void conn_close(struct gh_admission *adm, struct gh_conn *c)
{
    int linger, slots_used;

    if (!c)
        return;
    release_budget(adm, c);
    linger = atomic_load(&c->linger);
    pthread_mutex_lock(&adm->mu);
    slots_used = adm->n_lingering + atomic_load(&adm->n_held_seen);
    if (linger && c->fd != MHD_INVALID_SOCKET && slots_used < LINGER_MAX) {
        int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);

        if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) {
            struct held_sock *l = &adm->lingering[adm->n_lingering++];

            /* libmicrohttpd (MHD_USE_TURBO) leaves the end to the socket's last close, which
             * the duplicate delays: send it now unless it is to be held. Held ends take half
             * the slots at most: a flood of refusals must not leave a client that sends its
             * whole upload before reading (its 413) without a slot to be drained in. */
            if (linger == LINGER_FIN || slots_used >= LINGER_MAX / 2)
                shutdown(fd, SHUT_WR);
            l->fd = fd;
            l->read = 0;
            l->until_ms = (long long)gh_mono_ms() + LINGER_MS;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (c->dropped)
        adm->n_dropping--;
    list_unlink(&adm->conns, c);
    conn_forget(adm, c);
    pthread_mutex_unlock(&adm->mu);
}

void gh_admission_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        conn_open(cls, conn, socket_context);
    else
        conn_close(cls, *socket_context);
}

struct gh_conn *gh_admission_conn(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding as libmicrohttpd's own (RFC 3986 §2.1; '+' is left alone), noting a
 * decoded NUL or other control byte: such a path is refused with 400, never routed. */
size_t gh_admission_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *r = s, *w = s;
    int bad = 0;

    (void)cls;
    while (*r) {
        unsigned char ch = (unsigned char)*r;
        int hi, lo;

        if (ch == '%' && (hi = hex(r[1])) >= 0 && (lo = hex(r[2])) >= 0) {
            ch = (unsigned char)(hi * 16 + lo);
            r += 3;
        } else {
            r++;
        }
        if (ch < 0x20 || ch == 0x7f)
            bad = 1;
        *w++ = (char)ch;
    }
    *w = '\0';
    if (bad) {
        struct gh_conn *c = gh_admission_conn(conn);

        if (c)
            atomic_store(&c->bad_uri, 1);
    }
    return (size_t)(w - s);
}

enum gh_admit gh_admission_begin(struct gh_admission *adm, struct gh_conn *c, int has_body,
                                 int *bad_uri)
{
    int total, mine;

    *bad_uri = 0;
    if (!c)
        return GH_ADMIT_OK;
    *bad_uri = atomic_exchange(&c->bad_uri, 0);
    atomic_store(&c->body_bytes, 0);
    set_phase(c, has_body ? PHASE_BODY : PHASE_ANSWERING);
    pthread_mutex_lock(&adm->mu);
    total = adm->n_conns - adm->n_dropping;
    mine = c->client ? c->client->n : 0;
    /* Past the limit a client lighter than the busiest address is served in place of one of
     * that address's connections; the others are told 503. */
    if (total > adm->max_conns && make_room(adm, mine))
        total = adm->max_conns;
    pthread_mutex_unlock(&adm->mu);
    if (total > adm->max_conns)
        return GH_ADMIT_BUSY_TOTAL;
    if (mine > adm->max_per_client)
        return GH_ADMIT_BUSY_CLIENT;
    return GH_ADMIT_OK;
}

int gh_admission_reserve(struct gh_admission *adm, struct gh_conn *c, size_t n)
{
    size_t used = atomic_load(&adm->used);

    do {
        if (used + n > adm->budget || used + n < used)
            return -1;
    } while (!atomic_compare_exchange_weak(&adm->used, &used, used + n));
    if (c)
        c->reserved += n;
    else
        atomic_fetch_sub(&adm->used, n); /* untracked connection: nothing to give back later */
    return 0;
}

void gh_admission_progress(struct gh_conn *c, size_t n)
{
    if (c)
        atomic_fetch_add(&c->body_bytes, n);
}

void gh_admission_answering(struct gh_conn *c)
{
    if (c)
        set_phase(c, PHASE_ANSWERING);
}

void gh_admission_linger(struct gh_conn *c, int status)
{
    if (c)
        atomic_store(&c->linger, status == 429 || status == 503 ? LINGER_HOLD : LINGER_FIN);
}

void gh_admission_end(struct gh_admission *adm, struct gh_conn *c)
{
    if (!c)
        return;
    release_budget(adm, c);
    atomic_store(&c->body_bytes, 0);
    set_phase(c, PHASE_IDLE);
}

void gh_admission_counts(struct gh_admission *adm, int *open, unsigned long long *refused)
{
    pthread_mutex_lock(&adm->mu);
    *open = adm->n_conns;
    pthread_mutex_unlock(&adm->mu);
    *refused = atomic_load(&adm->refused);
}

int gh_admission_full(struct gh_admission *adm)
{
    return atomic_load(&adm->n_open) >= adm->hard ||
           atomic_load(&adm->n_pending) >= GH_ADMISSION_PENDING_MAX;
}

void gh_admission_wait_room(struct gh_admission *adm, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&adm->mu);
    adm->room_waiters++;
    while (gh_admission_full(adm) && pthread_cond_timedwait(&adm->room, &adm->mu, &until) == 0)
        ;
    adm->room_waiters--;
    pthread_mutex_unlock(&adm->mu);
}

int gh_admission_crowded(struct gh_admission *adm)
{
    return atomic_load(&adm->crowded);
}

/* The rate counts over consecutive windows of UPLOAD_GRACE_S each (the first one is the
 * grace period), not averaged over the upload: an upload that sent most of its body fast and
 * then stalls is dropped one or two windows later, not when its average finally sinks. */
static int slow_upload(struct gh_admission *adm, struct gh_conn *c, long long now)
{
    long long phase_ms = atomic_load(&c->phase_ms),
              window = adm->grace_ms > 1000 ? adm->grace_ms : 1000;
    size_t bytes = atomic_load(&c->body_bytes);
    int slow;

    if (c->win_phase_ms != phase_ms) { /* a new request on this connection */
        c->win_phase_ms = c->win_ms = phase_ms;
        c->win_bytes = 0;
    }
    if (now - c->win_ms < window)
        return 0;
    slow =
        (double)(bytes - c->win_bytes) * 1000.0 / (double)(now - c->win_ms) < (double)adm->min_rate;
    c->win_ms = now;
    c->win_bytes = bytes;
    return slow;
}

/* Under mu: the reason to drop c now, or NULL. */
static const char *verdict(struct gh_admission *adm, struct gh_conn *c, long long now,
                           atomic_ullong **counter)
{
    long long age = now - atomic_load(&c->phase_ms);

    switch ((enum phase)atomic_load(&c->phase)) {
    case PHASE_HEADERS:
        *counter = &adm->dropped_headers;
        return age > adm->header_ms ? "dropped a connection: request headers not complete "
                                      "within the header deadline"
                                    : NULL;
    case PHASE_BODY:
        *counter = &adm->dropped_slow;
        return slow_upload(adm, c, now) ? "dropped an upload slower than the minimum upload rate"
                                        : NULL;
    case PHASE_IDLE:
        /* An idle keep-alive connection may also be trickling its next request's headers. */
        *counter = &adm->dropped_idle;
        if (age > adm->idle_ms)
            return "dropped an idle keep-alive connection past its deadline";
        return adm->n_conns * 10 >= adm->max_conns * 9 && age > REAP_MS
                   ? "dropped an idle keep-alive connection: near MAX_CONNECTIONS"
                   : NULL;
    case PHASE_ANSWERING:
        break;
    }
    return NULL;
}

/* Under mu: records of connections libmicrohttpd has not started within PENDING_MS. It starts
 * one within milliseconds, or closes it unannounced (past its own connection limit): such a
 * record is found here, or at the next accept of its descriptor number. */
static void forget_lost(struct gh_admission *adm, long long now)
{
    for (struct gh_conn *c = adm->pending, *next; c; c = next) {
        next = c->next;
        if (now - atomic_load(&c->phase_ms) > PENDING_MS) {
            pending_unlink(adm, c);
            conn_forget(adm, c);
        }
    }
}

static void reap(struct gh_admission *adm)
{
    long long now = (long long)gh_mono_ms();

    pthread_mutex_lock(&adm->mu);
    forget_lost(adm, now);
    for (struct gh_conn *c = adm->conns; c; c = c->next) {
        atomic_ullong *counter = NULL;
        const char *why;

        if (c->dropped || c->fd == MHD_INVALID_SOCKET)
            continue;
        why = verdict(adm, c, now, &counter);
        if (why)
            drop(adm, c, counter, why);
    }
    pthread_mutex_unlock(&adm->mu);
}

/* On the reaper, without mu: drops what the held sockets hold; closes those at EOF, past their
 * bytes or time, or failing. 1 while any remain. MSG_TRUNC on a TCP socket discards the bytes
 * in the kernel instead of copying them out (tcp(7)): under hostile_bench's refused uploads,
 * that copy was a quarter of the reaper's samples. */
static int drain_lingering(struct gh_admission *adm)
{
    static char sink[65536]; /* TCP leaves it unwritten with MSG_TRUNC */
    long long now = (long long)gh_mono_ms();

    for (int i = 0; i < adm->n_held;) {
        struct held_sock *l = &adm->held[i];
        int done = now > l->until_ms;

        while (!done) {
            ssize_t n = recv(l->fd, sink, sizeof sink, MSG_TRUNC | MSG_DONTWAIT);

            if (n > 0) {
                l->read += (size_t)n;
                done = l->read > LINGER_BYTES;
            } else {
                done = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
                break;
            }
        }
        if (done) {
            close(l->fd);
            *l = adm->held[--adm->n_held];
        } else {
            i++;
        }
    }
    atomic_store(&adm->n_held_seen, adm->n_held);
    return adm->n_held > 0;
}

/* Under mu: moves the inbox to held (the cap in conn_close keeps both within LINGER_MAX). */
static void take_lingering(struct gh_admission *adm)
{
    for (int i = 0; i < adm->n_lingering; i++) {
        if (adm->n_held < LINGER_MAX)
            adm->held[adm->n_held++] = adm->lingering[i];
        else
            close(adm->lingering[i].fd); /* not reached while the cap holds */
    }
    adm->n_lingering = 0;
    atomic_store(&adm->n_held_seen, adm->n_held);
}

static void *reaper_main(void *arg)
{
    struct gh_admission *adm = arg;
    long long next_reap = 0;
    int lingering = 0;

    pthread_setname_np(pthread_self(), "gh-reaper");

    pthread_mutex_lock(&adm->stop_mu);
    while (!adm->stopping) {
        struct timespec ts;
        long tick = lingering ? LINGER_TICK_MS : REAP_MS;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += tick * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&adm->stop_cv, &adm->stop_mu, &ts);
        if (adm->stopping)
            break;
        pthread_mutex_unlock(&adm->stop_mu);
        if ((long long)gh_mono_ms() >= next_reap) {
            reap(adm);
            next_reap = (long long)gh_mono_ms() + REAP_MS;
        }
        pthread_mutex_lock(&adm->mu);
        take_lingering(adm);
        pthread_mutex_unlock(&adm->mu);
        lingering = drain_lingering(adm);
        pthread_mutex_lock(&adm->stop_mu);
    }
    pthread_mutex_unlock(&adm->stop_mu);
    return NULL;
}

struct gh_admission *gh_admission_new(const struct gh_http_config *cfg)
{
    struct gh_admission *adm = gh_malloc(sizeof *adm);

    if (!adm)
        return NULL;
    memset(adm, 0, sizeof *adm);
    adm->max_conns = cfg->max_connections > 0 ? cfg->max_connections : 1;
    adm->max_per_client = cfg->max_connections_per_client > 0 ? cfg->max_connections_per_client : 1;
    adm->hard = adm->max_conns + GH_ADMISSION_RESERVE + GH_ADMISSION_ROOM;
    adm->budget = cfg->upload_memory;
    adm->header_ms = (long long)cfg->header_timeout_s * 1000;
    adm->idle_ms = (long long)cfg->connection_timeout_s * 1000;
    adm->grace_ms = (long long)cfg->upload_grace_s * 1000;
    adm->min_rate = cfg->upload_min_rate;
    pthread_mutex_init(&adm->mu, NULL);
    pthread_cond_init(&adm->room, NULL);
    pthread_mutex_init(&adm->stop_mu, NULL);
    pthread_cond_init(&adm->stop_cv, NULL);
    if (pthread_create(&adm->reaper, NULL, reaper_main, adm) != 0) {
        gh_admission_free(adm);
        return NULL;
    }
    adm->reaper_started = 1;
    return adm;
}

void gh_admission_free(struct gh_admission *adm)
{
    if (!adm)
        return;
    if (adm->reaper_started) {
        pthread_mutex_lock(&adm->stop_mu);
        adm->stopping = 1;
        pthread_cond_signal(&adm->stop_cv);
        pthread_mutex_unlock(&adm->stop_mu);
        pthread_join(adm->reaper, NULL);
    }
    while (adm->pending) { /* handed over as the daemon stopped */
        struct gh_conn *c = adm->pending;

        pending_unlink(adm, c);
        conn_forget(adm, c);
    }
    for (int i = 0; i < adm->n_lingering; i++)
        close(adm->lingering[i].fd);
    for (int i = 0; i < adm->n_held; i++)
        close(adm->held[i].fd);
    for (size_t i = 0; i < N_BUCKETS; i++) /* empty once the daemon closed everything */
        while (adm->buckets[i]) {
            struct client *next = adm->buckets[i]->next;

            gh_free(adm->buckets[i]);
            adm->buckets[i] = next;
        }
    pthread_cond_destroy(&adm->stop_cv);
    pthread_mutex_destroy(&adm->stop_mu);
    pthread_cond_destroy(&adm->room);
    pthread_mutex_destroy(&adm->mu);
    gh_free(adm);
}
