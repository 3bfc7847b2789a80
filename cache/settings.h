/*
 * Applying a re-read config to the running daemon (SIGHUP). Signal thread only.
 */
#ifndef UC_SETTINGS_H
#define UC_SETTINGS_H

#include "daemon.h"

/* Re-read the config file and publish it to the workers; -1 (logged) leaves all as it was. */
int uc_settings_reload(struct uc_daemon *d);
/* At exit, once the workers are gone. */
void uc_settings_free_retired(struct uc_daemon *d);
/* Write "http=PORT" to cfg's port_file, when set. */
int uc_settings_write_port_file(const struct uc_daemon *d, const struct uc_config *cfg);

#endif
