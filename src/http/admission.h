/* SPDX-License-Identifier: MIT */
/* Admission (issue 10, item 2): who may hold a connection and how many upload bytes, decided
 * before a body is read; deadlines for slow senders. Inside src/http only. */
#ifndef GH_HTTP_ADMISSION_H
#define GH_HTTP_ADMISSION_H

#include "gh/http.h"

#include <microhttpd.h>
#include <stddef.h>

struct gh_admission;
struct gh_conn;

/* What a request was told at its headers. */
enum gh_admit {
    GH_ADMIT_OK,
    GH_ADMIT_BUSY_TOTAL,  /* more than MAX_CONNECTIONS connections are open */
    GH_ADMIT_BUSY_CLIENT, /* this client holds more than MAX_CONNECTIONS_PER_CLIENT */
};

/* Connections accepted past the soft limits, to be told 503 from their headers; beyond them
 * new connections are closed at accept without a word. */
#define GH_ADMISSION_RESERVE        64
#define GH_ADMISSION_CLIENT_RESERVE 4
/* Room above MAX_CONNECTIONS + GH_ADMISSION_RESERVE for clients admitted by making room: when
 * the server is full, a client holding fewer connections than the busiest address is let in
 * and one of that address's connections still sending its headers (or idle between requests)
 * is shut down; this room covers the moments until those are closed. A flood from some
 * addresses never locks everyone else out. Past MAX_CONNECTIONS + both, counting connections
 * shut down but not yet closed, nothing is accepted: new clients wait in the kernel's backlog
 * until one closes (gh_admission_full). */
#define GH_ADMISSION_ROOM 64

/* A watcher (one reaper thread) for cfg's limits. NULL on allocation failure. */
struct gh_admission *gh_admission_new(const struct gh_http_config *cfg);

/* Stops the reaper and frees. Call after the daemon stopped (every connection closed). */
void gh_admission_free(struct gh_admission *adm);

/* At accept, on the listener's thread: 1 when the connection on fd from addr may be handed to
 * libmicrohttpd (counted from now; its record in *rec, NULL when out of memory), 0 when it is
 * to be closed at once (far past MAX_CONNECTIONS or MAX_CONNECTIONS_PER_CLIENT; logged). */
int gh_admission_admit(struct gh_admission *adm, MHD_socket fd, const struct sockaddr *addr,
                       struct gh_conn **rec);

/* libmicrohttpd refused (and closed) a connection admit let in: it is uncounted. */
void gh_admission_unadmit(struct gh_admission *adm, struct gh_conn *rec);

/* libmicrohttpd callbacks: MHD_OPTION_NOTIFY_CONNECTION (cls = adm) and
 * MHD_OPTION_UNESCAPE_CALLBACK (cls = adm; flags control bytes). */
void gh_admission_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe);
size_t gh_admission_unescape(void *cls, struct MHD_Connection *conn, char *s);

/* The connection's record, or NULL (never for a connection this daemon notified). */
struct gh_conn *gh_admission_conn(struct MHD_Connection *conn);

/* At the headers of a request: its verdict; the connection leaves the header deadline for the
 * upload rate check (body) or none (answering). Also 1 in *bad_uri when the path or query
 * decoded to control bytes. */
enum gh_admit gh_admission_begin(struct gh_admission *adm, struct gh_conn *c, int has_body,
                                 int *bad_uri);

/* Takes n bytes from the global upload budget for c. 0, or -1 when the budget is spent. */
int gh_admission_reserve(struct gh_admission *adm, struct gh_conn *c, size_t n);

/* Body bytes arrived (for the rate check). */
void gh_admission_progress(struct gh_conn *c, size_t n);

/* The body is in: no more rate check. */
void gh_admission_answering(struct gh_conn *c);

/* The request was refused (with status) while its client may still be sending a body: once
 * libmicrohttpd has sent the answer and closes, keep reading and dropping (bounded) so the
 * client reads it. After 429 or 503, which say "come back later", the end of the connection
 * is held back too, until the client closes or the bound is reached: a client that reconnects
 * the moment it sees the close (a retry loop, an attacker's reconnect-at-once) is slowed to one
 * attempt per LINGER_MS, while one that reads the answer by its Content-Length is not. */
void gh_admission_linger(struct gh_conn *c, int status);

/* The request is over: its budget goes back; the connection idles (keep-alive). */
void gh_admission_end(struct gh_admission *adm, struct gh_conn *c);

/* Connections open now (from their accept to their close), and those closed at accept. */
void gh_admission_counts(struct gh_admission *adm, int *open, unsigned long long *refused);

/* Admitted connections libmicrohttpd has not started yet, at most: past them the listener waits
 * for its I/O threads. Accepting faster than they start connections would count, for a client
 * that reconnects after each answer (Connection: close near the limit), its new connections
 * while its old ones still wait to be closed: it would look twice its size to make_room and
 * be refused in place of the flood. Accepting at the I/O threads' pace keeps what
 * libmicrohttpd's own accept loop did. */
#define GH_ADMISSION_PENDING_MAX 8

/* 1 while the listener should leave new connections in the kernel's backlog: every connection
 * the limits allow is open (closing ones included), or GH_ADMISSION_PENDING_MAX wait to be
 * started (it waits with gh_admission_wait_room), rather than accepting and closing them. */
int gh_admission_full(struct gh_admission *adm);

/* Waits until gh_admission_full is 0, or ms pass. */
void gh_admission_wait_room(struct gh_admission *adm, int ms);

/* Near MAX_CONNECTIONS: responses should close their connection. */
int gh_admission_crowded(struct gh_admission *adm);

#endif
