/* The devbroker's control socket: a unix stream socket, any number of clients, one text command
 * per line, one answer line per command ("ok ..." or "error: ..."), as jtm_devbroker_command
 * gives them. Single-threaded: the daemon's loop calls jtm_control_serve. */
#ifndef JTM_DEVBROKER_CONTROL_H
#define JTM_DEVBROKER_CONTROL_H

#include <stddef.h>

#include "devbroker.h"

typedef struct jtm_control jtm_control;

/* Listens on path (mode 0600). A stale socket file (nobody listening) is replaced; a live one (another
 * devbroker answers) or any other file is an error. Returns NULL with errstr. */
jtm_control *jtm_control_new(const char *path, char *errstr, size_t errlen);
/* Waits up to timeout_ms for connections and command lines and answers them. Returns the number
 * of commands served, 0 on timeout or interruption by a signal. */
int jtm_control_serve(jtm_control *c, jtm_devbroker *d, int timeout_ms);
/* Closes every connection, removes the socket file, frees c. NULL is fine. */
void jtm_control_free(jtm_control *c);

#endif
