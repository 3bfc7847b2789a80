/*
 * updcache mkcert NAME --out DIR: a private CA and a server certificate for NAME, for
 * labs and tests (SPEC §7, §11). Clients trust DIR/ca.pem; the server uses DIR/NAME.pem
 * and DIR/NAME.key (updcache configure-ssl NAME --cert ... --key ...).
 */
#include "cli.h"
#include "x509.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void help(void)
{
    printf("usage: updcache mkcert NAME --out DIR [--days N]\n\n"
           "Make a private CA and a server certificate for the fully qualified name NAME:\n"
           "DIR/ca.pem, DIR/ca.key, DIR/NAME.pem (certificate and chain), DIR/NAME.key.\n"
           "  --out DIR    where to write them (created if missing)\n"
           "  --days N     server certificate validity, 1 to 3650 days (default 825)\n");
}

int cmd_mkcert(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"days", required_argument, 0, 'd'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int days = 825, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o') {
            out = optarg;
        } else if (c == 'd') {
            days = atoi(optarg);
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            help();
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (!out || optind != argc - 1) {
        cli_err(cli, "usage: updcache mkcert NAME --out DIR [--days N]");
        return UC_EXIT_USAGE;
    }
    const char *name = argv[optind];
    struct uc_errbuf eb = {{0}};
    if (uc_x509_mkcert(name, out, days, &eb)) {
        cli_err(cli, "%s", eb.msg);
        return UC_EXIT_FAIL;
    }
    printf("%s/ca.pem\n%s/ca.key\n%s/%s.pem\n%s/%s.key\n", out, out, out, name, out, name);
    fprintf(stderr,
            "clients and downstreams trust %s/ca.pem; the server uses %s/%s.pem and its key:\n"
            "  updcache configure-ssl %s --cert %s/%s.pem --key %s/%s.key\n",
            out, out, name, name, out, name, out, name);
    return UC_EXIT_OK;
}
