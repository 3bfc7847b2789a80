/*
 * Error decoding for the -errno / UC_E* convention of uc.h.
 */
#include "uc.h"

#include <lmdb.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *uc_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case UC_EPARSE:
        return "malformed input";
    case UC_ESIG:
        return "signature does not verify";
    case UC_EKEY:
        return "not signed by a trusted key";
    case UC_EDIGEST:
        return "digest mismatch";
    case UC_ESCHEMA:
        return "index written by a newer schema";
    case UC_ENOTFOUND:
        return "not found";
    case UC_ECONFIG:
        return "configuration error";
    case UC_ECRYPTO:
        return "cryptographic library failure";
    case UC_EINDEX:
        return "index (LMDB) failure";
    case UC_ESIZE:
        return "size mismatch";
    case UC_EEXIST:
        return "already exists";
    case UC_ESTALE:
        return "older than the stored record";
    case UC_ECONFLICT:
        return "another file with the same SHA-1 is stored";
    default:
        break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
        return mdb_strerror(rc);
    return "unknown error";
}

int uc_errf(struct uc_errbuf *eb, int rc, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}
