/* sig.h - SIGHUP drops every cache, the kernel's included; SIGUSR2 steps
 * the log level. The handlers only write a byte to a pipe; a thread
 * started in init does the work. main.c and fs.c call this. */
#ifndef MPFS_SIG_H
#define MPFS_SIG_H

struct mpfs_core;

/* Makes the pipe and installs the handlers; after fuse_set_signal_handlers
 * (which would take SIGHUP to unmount). Returns 0 or -1. */
int mpfs_sig_install(void);

/* Starts the thread that serves the signals (from the init operation, so
 * after the daemon forked). */
void mpfs_sig_start(struct mpfs_core *core);

/* Stops the thread and restores the default handlers. */
void mpfs_sig_stop(void);

#endif
