/* err.c - the error carrier and the one table from kinds to errno. */
#include "mpfs/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mpfs_err_clear(struct mpfs_err *e)
{
	memset(e, 0, sizeof(*e));
}

void mpfs_err_set(struct mpfs_err *e, enum mpfs_err_kind kind, const char *fmt,
		  ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void mpfs_err_op(struct mpfs_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->op, sizeof(e->op), fmt, ap);
	va_end(ap);
}

enum mpfs_err_kind mpfs_err_kind_of_status(long status)
{
	if (status >= 200 && status < 300)
		return MPFS_OK;
	switch (status) {
	case 401:
	case 403:
		return MPFS_E_AUTH;
	case 404:
		return MPFS_E_NOT_FOUND;
	case 400:
	case 422:
		return MPFS_E_INVALID;
	default:
		return MPFS_E_SERVER;
	}
}

int mpfs_err_errno(const struct mpfs_err *e)
{
	switch (e->kind) {
	case MPFS_OK:
		return 0;
	case MPFS_E_NOT_FOUND:
	case MPFS_E_NO_NAME:
		return ENOENT;
	case MPFS_E_AUTH:
		return EACCES;
	case MPFS_E_NOMEM:
		return ENOMEM;
	case MPFS_E_NO_ATTR:
		return ENODATA;
	case MPFS_E_INTERRUPTED:
		return EINTR;
	case MPFS_E_UNSUPPORTED:
		return EOPNOTSUPP;
	case MPFS_E_NOT_DIR:
		return ENOTDIR;
	case MPFS_E_IS_DIR:
		return EISDIR;
	case MPFS_E_STALE:
		return ESTALE;
	case MPFS_E_INVALID:
	case MPFS_E_TRANSPORT:
	case MPFS_E_SERVER:
	case MPFS_E_MALFORMED:
	case MPFS_E_TOO_LARGE:
		break;
	}
	return EIO;
}
