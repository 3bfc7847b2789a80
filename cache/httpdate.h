/*
 * HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing all three forms
 * a recipient must accept (IMF-fixdate, obsolete RFC 850, asctime).
 */
#ifndef UC_HTTPDATE_H
#define UC_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>

#define UC_HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Format t (unix seconds, UTC) into out (UC_HTTPDATE_LEN + 1 bytes). */
void uc_httpdate_format(int64_t t, char out[UC_HTTPDATE_LEN + 1]);

/* The UTC calendar fields of t >= 0, as gmtime_r gives them, without its time-zone lock. */
struct uc_utc {
    int year, mon, mday, hour, min, sec, wday; /* mon 0-11, wday 0 = Sunday */
};
void uc_utc_split(int64_t t, struct uc_utc *out);
extern const char *const uc_month_abbr[12];
/* Two digits of v (0-99) at out. */
void uc_fmt_2d(char *out, int v);
/* u's year in four digits, then "hh:mm:ss" after sep: 13 bytes at out, no NUL. */
void uc_fmt_year_clock(char *out, const struct uc_utc *u, char sep);

/* Parse s[0..len) in any of the three forms; returns 0 and *out, or -EINVAL. */
int uc_httpdate_parse(const char *s, size_t len, int64_t *out);

#endif
