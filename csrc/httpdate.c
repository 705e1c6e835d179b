/* httpdate.c: HTTP-dates (RFC 7231 section 7.1.1.1) without the C library's time zone or locale.
 *   core.httpdate([epoch])   -> "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate; now when absent)
 *   core.parse_httpdate(s)   -> epoch integer, or nil, err
 * Parsing accepts IMF-fixdate and the obsolete RFC 850 and asctime forms, case-sensitively as the RFC
 * says, and rejects anything else: surrounding whitespace, impossible dates, and a day name that
 * does not match the date. Calendar arithmetic is done on 64-bit integers (Howard Hinnant's civil
 * date algorithms), so epochs after 2038 work whatever time_t is. Years are limited to 0001-9999,
 * the range a four-digit year can spell. */
#ifndef CLINCH_HTTPDATE_C
#define CLINCH_HTTPDATE_C

#include "compat.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define HTTPDATE_LEN 29
#define HTTPDATE_MIN_EPOCH INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define HTTPDATE_MAX_EPOCH INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static const char *const httpdate_wkday[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const httpdate_weekday[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                "Thursday", "Friday", "Saturday"};
static const char *const httpdate_month[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Floor division for possibly negative numerators. */
static int64_t httpdate_floordiv(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t httpdate_days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = httpdate_floordiv(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void httpdate_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = httpdate_floordiv(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday. 1970-01-01 was a Thursday. */
static int httpdate_weekday_of(int64_t days) {
    return (int)(days - httpdate_floordiv(days + 4, 7) * 7 + 4);
}

static int httpdate_days_in_month(int64_t y, int m) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

/* Formats an epoch as IMF-fixdate into out (HTTPDATE_LEN + 1 bytes). Returns 0 when out of range. */
static int httpdate_format(int64_t epoch, char *out) {
    int64_t days, secs, y;
    int m, d, wd;
    if (epoch < HTTPDATE_MIN_EPOCH || epoch > HTTPDATE_MAX_EPOCH) return 0;
    days = httpdate_floordiv(epoch, 86400);
    secs = epoch - days * 86400;
    httpdate_civil_from_days(days, &y, &m, &d);
    wd = httpdate_weekday_of(days);
    memcpy(out, httpdate_wkday[wd], 3);
    out[3] = ',';
    out[4] = ' ';
    out[5] = (char)('0' + d / 10);
    out[6] = (char)('0' + d % 10);
    out[7] = ' ';
    memcpy(out + 8, httpdate_month[m - 1], 3);
    out[11] = ' ';
    out[12] = (char)('0' + y / 1000);
    out[13] = (char)('0' + y / 100 % 10);
    out[14] = (char)('0' + y / 10 % 10);
    out[15] = (char)('0' + y % 10);
    out[16] = ' ';
    out[17] = (char)('0' + secs / 36000);
    out[18] = (char)('0' + secs / 3600 % 10);
    out[19] = ':';
    out[20] = (char)('0' + secs % 3600 / 600);
    out[21] = (char)('0' + secs % 3600 / 60 % 10);
    out[22] = ':';
    out[23] = (char)('0' + secs % 60 / 10);
    out[24] = (char)('0' + secs % 10);
    memcpy(out + 25, " GMT", 4);
    out[HTTPDATE_LEN] = '\0';
    return 1;
}

/* A cursor over the input; every matcher advances it only on success. */
typedef struct {
    const char *p, *end;
} httpdate_cur;

static int httpdate_lit(httpdate_cur *c, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* Exactly n digits. */
static int httpdate_digits(httpdate_cur *c, int n, int *out) {
    int v = 0, i;
    if (c->end - c->p < n) return 0;
    for (i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9') return 0;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 1;
}

/* Index of the name from the list that the cursor starts with, or -1. */
static int httpdate_name(httpdate_cur *c, const char *const *names, int count) {
    int i;
    for (i = 0; i < count; i++)
        if (httpdate_lit(c, names[i])) return i;
    return -1;
}

static int httpdate_time(httpdate_cur *c, int *h, int *mi, int *s) {
    return httpdate_digits(c, 2, h) && httpdate_lit(c, ":") && httpdate_digits(c, 2, mi) &&
           httpdate_lit(c, ":") && httpdate_digits(c, 2, s);
}

/* Parses an HTTP-date. now (an epoch) resolves RFC 850's two-digit years: RFC 7231 reads a year
 * more than 50 years in the future as the most recent past year with the same last two digits. */
static int httpdate_parse(const char *s, size_t len, int64_t now, int64_t *epoch, const char **why) {
    httpdate_cur c;
    int wd, d = 0, m = 0, h = 0, mi = 0, sec = 0, y4 = 0, ok;
    int64_t y, days;
    c.p = s;
    c.end = s + len;
    *why = "invalid HTTP-date";
    /* Full day names first: "Sun" is a prefix of "Sunday". */
    if ((wd = httpdate_name(&c, httpdate_weekday, 7)) >= 0) {
        int yy = 0, nm, nd;
        int64_t now_y;
        ok = httpdate_lit(&c, ", ") && httpdate_digits(&c, 2, &d) && httpdate_lit(&c, "-") &&
             (m = httpdate_name(&c, httpdate_month, 12)) >= 0 && httpdate_lit(&c, "-") &&
             httpdate_digits(&c, 2, &yy) && httpdate_lit(&c, " ") && httpdate_time(&c, &h, &mi, &sec) &&
             httpdate_lit(&c, " GMT");
        if (!ok) return 0;
        httpdate_civil_from_days(httpdate_floordiv(now, 86400), &now_y, &nm, &nd);
        y = now_y - now_y % 100 + yy;
        if (y > now_y + 50) y -= 100;
    } else if ((wd = httpdate_name(&c, httpdate_wkday, 7)) >= 0) {
        if (httpdate_lit(&c, ", ")) {
            ok = httpdate_digits(&c, 2, &d) && httpdate_lit(&c, " ") &&
                 (m = httpdate_name(&c, httpdate_month, 12)) >= 0 && httpdate_lit(&c, " ") &&
                 httpdate_digits(&c, 4, &y4) && httpdate_lit(&c, " ") && httpdate_time(&c, &h, &mi, &sec) &&
                 httpdate_lit(&c, " GMT");
        } else {
            /* asctime: the day is two digits or a space and one digit. */
            ok = httpdate_lit(&c, " ") && (m = httpdate_name(&c, httpdate_month, 12)) >= 0 &&
                 httpdate_lit(&c, " ") &&
                 (httpdate_digits(&c, 2, &d) || (httpdate_lit(&c, " ") && httpdate_digits(&c, 1, &d))) &&
                 httpdate_lit(&c, " ") && httpdate_time(&c, &h, &mi, &sec) && httpdate_lit(&c, " ") &&
                 httpdate_digits(&c, 4, &y4);
        }
        if (!ok) return 0;
        y = y4;
    } else {
        return 0;
    }
    if (c.p != c.end) return 0;
    if (y < 1 || d < 1 || d > httpdate_days_in_month(y, m + 1) || h > 23 || mi > 59 || sec > 60) {
        *why = "invalid HTTP-date: field out of range";
        return 0;
    }
    days = httpdate_days_from_civil(y, m + 1, d);
    if (httpdate_weekday_of(days) != wd) {
        *why = "invalid HTTP-date: day name does not match the date";
        return 0;
    }
    /* A leap second (60) counts as the first second of the next minute. */
    *epoch = days * 86400 + h * 3600 + mi * 60 + sec;
    return 1;
}

/* Reads an epoch number at idx: integral part of a finite number within the four-digit-year range.
 * Returns 0 when the value is not such a number. */
static int httpdate_toepoch(lua_State *L, int idx, int64_t *out) {
    lua_Number n;
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i < HTTPDATE_MIN_EPOCH || i > HTTPDATE_MAX_EPOCH) return 0;
        *out = (int64_t)i;
        return 1;
    }
    n = lua_tonumber(L, idx);
    if (!(n >= (lua_Number)HTTPDATE_MIN_EPOCH && n < (lua_Number)HTTPDATE_MAX_EPOCH + 1)) return 0;
    *out = (int64_t)floor(n);
    return 1;
}

static int64_t httpdate_now(void) {
    return (int64_t)time(NULL);
}

static int httpdate_l_httpdate(lua_State *L) {
    char buf[HTTPDATE_LEN + 1];
    int64_t epoch;
    if (lua_isnoneornil(L, 1)) {
        epoch = httpdate_now();
    } else if (!httpdate_toepoch(L, 1, &epoch)) {
        return luaL_argerror(L, 1, "epoch must be a number of seconds between years 0001 and 9999");
    }
    if (!httpdate_format(epoch, buf)) return luaL_argerror(L, 1, "epoch out of range");
    lua_pushlstring(L, buf, HTTPDATE_LEN);
    return 1;
}

static int httpdate_l_parse_httpdate(lua_State *L) {
    size_t len;
    const char *s, *why;
    int64_t epoch;
    if (lua_type(L, 1) != LUA_TSTRING) return luaL_argerror(L, 1, "string expected");
    s = lua_tolstring(L, 1, &len);
    if (!httpdate_parse(s, len, httpdate_now(), &epoch, &why)) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    compat_pushint(L, epoch);
    return 1;
}

static void httpdate_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"httpdate", httpdate_l_httpdate},
        {"parse_httpdate", httpdate_l_parse_httpdate},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}

#endif
