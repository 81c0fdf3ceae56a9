/* SPDX-License-Identifier: MIT */
/* The listening socket and the threads that accept on it (see listener.c for why libmicrohttpd
 * does not listen itself). Inside src/http only. */
#ifndef GH_HTTP_LISTENER_H
#define GH_HTTP_LISTENER_H

#include "gh/err.h"

#include <microhttpd.h>
#include <sys/socket.h>

struct gh_admission;
struct gh_listener;

/* Binds and listens on addr; its port (the one chosen for port 0) in *port. */
int gh_listener_open(const struct sockaddr *addr, socklen_t len, struct gh_listener **out,
                     int *port, struct gh_err *err);

#define GH_LISTENER_THREADS_MAX 8

/* Starts n_threads (1..GH_LISTENER_THREADS_MAX) accepting threads: each connection admission
 * lets in goes to daemon (started with MHD_USE_NO_LISTEN_SOCKET and MHD_USE_ITC). */
int gh_listener_start(struct gh_listener *l, struct MHD_Daemon *daemon, struct gh_admission *adm,
                      int n_threads, struct gh_err *err);

/* Stops accepting: from its return new clients are refused by the kernel and nothing more is
 * handed to the daemon. Idempotent. */
void gh_listener_stop(struct gh_listener *l);

/* Stops and closes. NULL is fine. */
void gh_listener_free(struct gh_listener *l);

#endif
