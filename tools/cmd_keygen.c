/*
 * updcache keygen --out KEY: an Ed25519 publisher key pair. KEY is the PKCS#8 private
 * key (mode 0600, never overwritten without --force), KEY.pub the SPKI public key that
 * downstreams list in [upstream] publisher_keys. Prints the key id.
 */
#include "cli.h"
#include "dsse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static void help(void)
{
    printf("usage: updcache keygen --out KEY [--force]\n\n"
           "Make an Ed25519 publisher key pair: KEY (PKCS#8 PEM, mode 0600) and KEY.pub\n"
           "(SPKI PEM). Prints the key id (hex SHA-256 of the raw public key).\n"
           "  --out KEY   where to write the private key (required)\n"
           "  --force     overwrite an existing KEY\n");
}

int cmd_keygen(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"force", no_argument, 0, 'f'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'c':
            cli->config_path = optarg;
            break;
        case 'h':
            help();
            return UC_EXIT_OK;
        default:
            return UC_EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        cli_err(cli, "usage: updcache keygen --out KEY [--force]");
        return UC_EXIT_USAGE;
    }
    struct uc_key key;
    char *priv = NULL, *pub = NULL;
    size_t plen = 0, publen = 0;
    int rc = uc_key_generate(&key);
    if (!rc)
        rc = uc_key_pem(&key, true, &priv, &plen);
    if (!rc)
        rc = uc_key_pem(&key, false, &pub, &publen);
    if (rc) {
        cli_err(cli, "generating the key failed: %s", uc_strerror(rc));
        return UC_EXIT_FAIL;
    }
    char pubpath[PATH_MAX];
    snprintf(pubpath, sizeof(pubpath), "%s.pub", out);
    int ex = UC_EXIT_OK;
    rc = uc_write_file(out, priv, plen, 0600, force ? O_TRUNC : O_EXCL);
    if (rc) {
        cli_err(cli, "%s: %s%s", out, uc_strerror(rc),
                rc == -EEXIST ? " (a key is already there: pass --force to replace it)" : "");
        ex = UC_EXIT_FAIL;
    } else if ((rc = uc_write_file(pubpath, pub, publen, 0644, O_TRUNC))) {
        cli_err(cli, "%s: %s", pubpath, uc_strerror(rc));
        ex = UC_EXIT_FAIL;
    } else {
        printf("%s\n", key.keyid);
        fprintf(stderr,
                "wrote %s (private key: keep it secret) and %s (public key: list it "
                "in [upstream] publisher_keys downstream)\n",
                out, pubpath);
    }
    free(priv);
    free(pub);
    uc_key_free(&key);
    return ex;
}
