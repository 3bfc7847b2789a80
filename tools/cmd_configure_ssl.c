/*
 * updcache configure-ssl NAME [--cert F --key F] [--https-port N]: the `wsusutil
 * configuressl` of updcache (SPEC §7). Checks first and changes nothing unless all
 * pass: NAME is a fully qualified DNS name, the certificate is for NAME, the key is its
 * key, it is valid now. Then it rewrites the config atomically (name, https_port, the
 * certificate paths; http_port dropped, as it follows from https_port), tells a running
 * updcached to re-read it (pid_file + SIGHUP: new listeners and certificate, no restart,
 * downloads in flight go on) and prints the URLs clients and downstreams must use.
 */
#include "cli.h"
#include "config_edit.h"
#include "fsutil.h"
#include "strparse.h"
#include "x509.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_HTTPS_PORT 8531 /* WSUS's */

static void help(void)
{
    printf("usage: updcache configure-ssl NAME [--cert F --key F] [--https-port N] "
           "[--config F]\n\n"
           "Serve metadata over TLS as NAME (a fully qualified DNS name). The certificate\n"
           "must name NAME, the key must be its key, and it must be valid now; then the\n"
           "config is rewritten and the running updcached that serves the store takes the change\n"
           "without a restart.\n"
           "  --cert F          PEM certificate (and chain); default: the config's [tls] cert\n"
           "  --key F           PEM private key; default: the config's [tls] key\n"
           "  --https-port N    TLS port (default: the config's, else 8531); the plain port\n"
           "                    is N-1, or 80 for 443\n");
}

static char *absolute(const char *path)
{
    char buf[PATH_MAX];
    return realpath(path, buf) ? strdup(buf) : NULL;
}

/*
 * Tell the running daemon that serves the config's store, found through the mark it
 * keeps in the store (no pid_file needed), else through pid_file; say plainly whether a
 * running daemon was reached.
 */
static void signal_daemon(const struct uc_cli *cli, const struct uc_config *cfg)
{
    long pid = uc_store_daemon_pid(cfg->store);
    const char *how = "the mark it keeps in the store";
    char *text = NULL;
    size_t n;
    uint64_t v;
    if (!pid && cfg->pid_file && !uc_read_file(cfg->pid_file, 64, &text, &n) &&
        !uc_parse_u64(text, &v) && v > 1 && v < INT32_MAX && kill((pid_t)v, 0) == 0) {
        pid = (long)v;
        how = cfg->pid_file;
    }
    free(text);
    if (!pid) {
        fprintf(stderr,
                "no running updcached serves %s: the new settings take effect when it "
                "starts\n",
                cfg->store);
    } else if (kill((pid_t)pid, SIGHUP)) {
        cli_err(cli, "updcached (pid %ld, from %s) cannot be signalled: %s; restart it", pid, how,
                strerror(errno));
    } else {
        fprintf(stderr,
                "reached the running updcached (pid %ld, from %s): told it to re-read the "
                "config (SIGHUP)\n",
                pid, how);
    }
}

static void print_urls(const char *name, int https_port)
{
    char tls[300], plain[300];
    uc_url_base(tls, sizeof(tls), true, name, https_port);
    uc_url_base(plain, sizeof(plain), false, name, uc_config_paired_http_port(https_port));
    printf("metadata (TLS):   %s\n", tls);
    printf("upstream url for downstreams: %s\n", tls);
    printf("content (plain):  %sContent/\n", plain);
}

/* The new config text: every key configure-ssl owns, set. */
static char *edit(const char *text, const char *name, int port, const char *cert, const char *key)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    struct {
        const char *section, *key, *value;
    } sets[] = {{"server", "name", name},
                {"server", "https_port", portbuf},
                {"server", "http_port", NULL},
                {"tls", "cert", cert},
                {"tls", "key", key}};
    char *cur = strdup(text);
    for (size_t i = 0; cur && i < sizeof(sets) / sizeof(sets[0]); i++) {
        char *next = uc_config_edit(cur, sets[i].section, sets[i].key, sets[i].value);
        free(cur);
        cur = next;
    }
    return cur;
}

int cmd_configure_ssl(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"cert", required_argument, 0, 'C'},
                                         {"key", required_argument, 0, 'K'},
                                         {"https-port", required_argument, 0, 'p'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cert_arg = NULL, *key_arg = NULL;
    uint64_t port = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'C') {
            cert_arg = optarg;
        } else if (c == 'K') {
            key_arg = optarg;
        } else if (c == 'p') {
            if (uc_parse_u64(optarg, &port) || port < 2 || port > 65535) {
                cli_err(cli,
                        "--https-port %s: give a port from 2 to 65535 (its plain port is "
                        "N-1, or 80 for 443)",
                        optarg);
                return UC_EXIT_USAGE;
            }
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            help();
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || (!cert_arg) != (!key_arg)) {
        cli_err(cli, "usage: updcache configure-ssl NAME [--cert F --key F] [--https-port N]");
        return UC_EXIT_USAGE;
    }
    const char *name = argv[optind], *why;
    if (!uc_fqdn_valid(name, &why)) {
        cli_err(cli, "'%s': %s; nothing changed", name, why);
        return UC_EXIT_USAGE;
    }
    struct uc_errbuf leb = {{0}};
    if (uc_config_load_ex(cli->config_path, &cli->cfg, true, &leb)) {
        cli_err(cli, "configuration error:\n%s", leb.msg);
        return UC_EXIT_USAGE;
    }
    cli->cfg_loaded = true;
    const struct uc_config *cfg = &cli->cfg;
    if (!cfg->path) {
        cli_err(cli, "no config file to rewrite (%s does not exist): pass --config F",
                UC_CONFIG_DEFAULT);
        return UC_EXIT_USAGE;
    }
    const char *cert_in = cert_arg ? cert_arg : cfg->tls_cert;
    const char *key_in = key_arg ? key_arg : cfg->tls_key;
    if (!cert_in || !key_in) {
        cli_err(cli,
                "no certificate: pass --cert F --key F (updcache mkcert %s --out DIR makes "
                "a lab one); nothing changed",
                name);
        return UC_EXIT_USAGE;
    }
    if (!port)
        port = cfg->https_port ? (uint64_t)cfg->https_port : DEFAULT_HTTPS_PORT;
    char *cert = absolute(cert_in);
    int err = errno;
    char *key = cert ? absolute(key_in) : NULL;
    err = cert ? errno : err;
    struct uc_errbuf eb = {{0}};
    int64_t not_after = 0;
    int rc = !cert || !key ? -err : uc_x509_check(name, cert, key, &not_after, &eb);
    if (rc) {
        if (!cert || !key)
            cli_err(cli, "%s: %s; nothing changed", !cert ? cert_in : key_in, strerror(err));
        else
            cli_err(cli, "%s; nothing changed", eb.msg);
        free(cert);
        free(key);
        return UC_EXIT_FAIL;
    }
    /* Rewrite: the new text must load as a valid config before it replaces the old. */
    char *text = NULL, *out = NULL, tmp[PATH_MAX];
    size_t n;
    snprintf(tmp, sizeof(tmp), "%s.configure-ssl.%d", cfg->path, (int)getpid());
    rc = uc_read_file(cfg->path, 1 << 20, &text, &n);
    if (!rc && !(out = edit(text, name, (int)port, cert, key)))
        rc = -ENOMEM;
    if (!rc)
        rc = uc_write_file(tmp, out, strlen(out), 0600, O_TRUNC); /* secrets inside */
    struct uc_config check;
    struct uc_errbuf ceb = {{0}};
    if (!rc && uc_config_load(tmp, &check, &ceb)) {
        cli_err(cli, "the rewritten config would not load; nothing changed:\n%s", ceb.msg);
        rc = UC_ECONFIG;
    } else if (!rc) {
        uc_config_free(&check);
        rc = uc_rewrite_file(cfg->path, out, strlen(out), NULL); /* mode, owner, symlink kept */
    }
    unlink(tmp);
    free(text);
    free(out);
    if (rc) {
        if (rc != UC_ECONFIG)
            cli_err(cli, "%s: %s; nothing changed", cfg->path, uc_strerror(rc));
        free(cert);
        free(key);
        return UC_EXIT_FAIL;
    }
    char when[32];
    time_t t = (time_t)not_after;
    strftime(when, sizeof(when), "%Y-%m-%d", gmtime(&t));
    fprintf(stderr, "%s: TLS as %s on port %llu with %s (valid until %s)\n", cfg->path, name,
            (unsigned long long)port, cert, when);
    signal_daemon(cli, cfg);
    print_urls(name, (int)port);
    free(cert);
    free(key);
    return UC_EXIT_OK;
}
