/*
 * httpd-int.h - what the fuzz target reaches inside httpd.c
 *
 * Not part of the public API.
 */
#ifndef RL_HTTPD_INT_H
#define RL_HTTPD_INT_H

#include "reloadd/ops/httpd.h"

/*
 * The connections the server holds now; 0 once every connection has been
 * closed and freed (its memory too, which the fuzzer's leak check counts).
 */
unsigned rl__httpd_connections(struct rl_httpd *h);

#endif /* RL_HTTPD_INT_H */
