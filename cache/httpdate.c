/*
 * HTTP-date handling. Formatting splits the time by arithmetic (uc_utc_split): it runs
 * for every response, and gmtime_r takes the time-zone lock each call. Parsing uses the
 * reentrant timegm and is exact: trailing bytes or out-of-range fields refuse the date,
 * which makes the conditional header that carried it ignored (§13.1.3/4).
 */
#include "httpdate.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char *const uc_month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/*
 * Days since 1970-01-01 to a proleptic Gregorian date: count in 400-year eras of
 * 146,097 days from 0000-03-01, so that the leap day ends each year of the count.
 */
void uc_utc_split(int64_t t, struct uc_utc *out)
{
    int64_t days = t / 86400, secs = t % 86400;
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs / 60 % 60);
    out->sec = (int)(secs % 60);
    out->wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;         /* days from 0000-03-01 */
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;                                      /* day of the era */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* year of it */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* from March 1st */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    out->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->mon = (int)(mp < 10 ? mp + 2 : mp - 10);
    out->year = (int)(yoe + era * 400 + (out->mon < 2));
}

void uc_fmt_2d(char *out, int v)
{
    out[0] = (char)('0' + v / 10);
    out[1] = (char)('0' + v % 10);
}

void uc_fmt_year_clock(char *out, const struct uc_utc *u, char sep)
{
    uc_fmt_2d(out, u->year / 100 % 100);
    uc_fmt_2d(out + 2, u->year % 100);
    out[4] = sep;
    uc_fmt_2d(out + 5, u->hour);
    out[7] = ':';
    uc_fmt_2d(out + 8, u->min);
    out[10] = ':';
    uc_fmt_2d(out + 11, u->sec);
}

void uc_httpdate_format(int64_t t, char out[UC_HTTPDATE_LEN + 1])
{
    /* IMF-fixdate has a four-digit year: keep t within 1970..9999. */
    if (t < 0)
        t = 0;
    if (t > 253402300799LL)
        t = 253402300799LL;
    struct uc_utc u;
    uc_utc_split(t, &u);
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    memcpy(out, wday[u.wday], 3);
    memcpy(out + 3, ", ", 2);
    uc_fmt_2d(out + 5, u.mday);
    out[7] = ' ';
    memcpy(out + 8, uc_month_abbr[u.mon], 3);
    out[11] = ' ';
    uc_fmt_year_clock(out + 12, &u, ' ');
    memcpy(out + 25, " GMT", 4);
    out[UC_HTTPDATE_LEN] = 0;
}

static int month_of(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (!memcmp(s, uc_month_abbr[i], 3))
            return i;
    return -1;
}

/* Read exactly n digits at *p. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n))
        return false;
    *p += n;
    return true;
}

static bool read_time(const char **p, const char *end, struct tm *tm)
{
    return digits(p, end, 2, &tm->tm_hour) && lit(p, end, ":") && digits(p, end, 2, &tm->tm_min) &&
           lit(p, end, ":") && digits(p, end, 2, &tm->tm_sec);
}

static bool read_month(const char **p, const char *end, struct tm *tm)
{
    if (end - *p < 3 || (tm->tm_mon = month_of(*p)) < 0)
        return false;
    *p += 3;
    return true;
}

/* After the weekday: "DD Mon YYYY HH:MM:SS GMT" / "DD-Mon-YY HH:MM:SS GMT" / "Mon _D HH:MM:SS YYYY"
 */
static bool parse_rest(const char *p, const char *end, int form, struct tm *tm)
{
    if (form == 0)
        return digits(&p, end, 2, &tm->tm_mday) && lit(&p, end, " ") && read_month(&p, end, tm) &&
               lit(&p, end, " ") && digits(&p, end, 4, &tm->tm_year) && lit(&p, end, " ") &&
               read_time(&p, end, tm) && lit(&p, end, " GMT") && p == end;
    if (form == 1) {
        bool ok = digits(&p, end, 2, &tm->tm_mday) && lit(&p, end, "-") &&
                  read_month(&p, end, tm) && lit(&p, end, "-") &&
                  digits(&p, end, 2, &tm->tm_year) && lit(&p, end, " ") && read_time(&p, end, tm) &&
                  lit(&p, end, " GMT") && p == end;
        /* Two-digit years: RFC 9110 §5.6.7 says treat >50 years ahead as the past. */
        tm->tm_year += tm->tm_year < 70 ? 2000 : 1900;
        return ok;
    }
    if (!read_month(&p, end, tm) || !lit(&p, end, " "))
        return false;
    if (p < end && *p == ' ')
        p++, tm->tm_mday = 0;
    int d;
    if (!digits(&p, end, (p + 1 < end && p[1] != ' ') ? 2 : 1, &d))
        return false;
    tm->tm_mday = d;
    return lit(&p, end, " ") && read_time(&p, end, tm) && lit(&p, end, " ") &&
           digits(&p, end, 4, &tm->tm_year) && p == end;
}

int uc_httpdate_parse(const char *s, size_t len, int64_t *out)
{
    static const char *const longday[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
    const char *p = s, *end = s + len;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int form = -1;
    for (int i = 0; i < 7 && form < 0; i++) {
        const char *q = s;
        if (lit(&q, end, wday[i]) && lit(&q, end, ", "))
            form = 0, p = q;
        else if ((q = s, lit(&q, end, longday[i]) && lit(&q, end, ", ")))
            form = 1, p = q;
        else if ((q = s, lit(&q, end, wday[i]) && lit(&q, end, " ")))
            form = 2, p = q;
    }
    if (form < 0 || !parse_rest(p, end, form, &tm))
        return -EINVAL;
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    tm.tm_year -= 1900;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = (int64_t)t;
    return 0;
}
