/* sig.h - SIGHUP drops every cache, the kernel's included; SIGUSR2 steps
 * the log level (the handlers only write a byte to a pipe; a thread
 * started in init does the work); SIGTERM and SIGINT end the mount at
 * once. main.c and fs.c call this. */
#ifndef MPFS_SIG_H
#define MPFS_SIG_H

struct mpfs_core;
struct fuse_session;

/* Makes the pipe and installs the handlers, from the main thread (the one
 * that runs se's loop), after fuse_set_signal_handlers, whose handlers of
 * SIGHUP, SIGTERM and SIGINT these replace. Returns 0 or -1. */
int mpfs_sig_install(struct fuse_session *se);

/* Starts the thread that serves the signals (from the init operation, so
 * after the daemon forked). */
void mpfs_sig_start(struct mpfs_core *core);

/* Stops the thread and restores the default handlers. */
void mpfs_sig_stop(void);

#endif
