/* SPDX-License-Identifier: MIT */
/* The client's address behind reverse proxies: TRUSTED_PROXIES ranges and the
 * X-Forwarded-For hop the nearest trusted proxy added. Only hops appended by proxies we trust
 * are believed; whatever a client writes into the header itself lies left of them. */
#include "gh/limits.h"

#include "gh/alloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGES 64
#define MAX_HOPS   32

struct range {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

struct gh_limits_proxies {
    struct range r[MAX_RANGES];
    size_t n;
};

/* Textual address to bytes; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4, as a dual-stack
 * socket reports IPv4 peers that way. 0 on success. */
static int parse_addr(const char *s, int *family, unsigned char out[16])
{
    struct in6_addr a6;

    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &a6) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(out, a6.s6_addr + 12, 4);
        *family = AF_INET;
        return 0;
    }
    memcpy(out, a6.s6_addr, 16);
    *family = AF_INET6;
    return 0;
}

static int parse_range(const char *s, size_t len, struct range *r)
{
    char buf[INET6_ADDRSTRLEN + 8], *slash, *end = NULL;
    long bits;
    int max;

    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (parse_addr(buf, &r->family, r->addr) != 0)
        return -1;
    max = r->family == AF_INET ? 32 : 128;
    bits = max;
    if (slash) {
        bits = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || bits < 0 || bits > max)
            return -1;
    }
    r->bits = (int)bits;
    return 0;
}

int gh_limits_proxies_parse(const char *spec, struct gh_limits_proxies **out, struct gh_err *err)
{
    struct gh_limits_proxies *p;
    const char *s = spec;

    *out = NULL;
    if (!spec || !*spec)
        return GH_OK;
    p = gh_malloc(sizeof *p);
    if (!p)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading TRUSTED_PROXIES");
    memset(p, 0, sizeof *p);
    while (*s) {
        size_t n;

        s += strspn(s, ", \t");
        n = strcspn(s, ", \t");
        if (n == 0)
            break;
        if (p->n == MAX_RANGES) {
            gh_free(p);
            return gh_err_set(err, GH_EINVAL, "TRUSTED_PROXIES lists more than %d ranges",
                              MAX_RANGES);
        }
        if (parse_range(s, n, &p->r[p->n]) != 0) {
            gh_free(p);
            return gh_err_set(err, GH_EINVAL,
                              "TRUSTED_PROXIES: '%.*s' is not an address or CIDR range (like "
                              "10.0.0.0/8 or fd00::/8)",
                              (int)(n > 64 ? 64 : n), s);
        }
        p->n++;
        s += n;
    }
    *out = p;
    return GH_OK;
}

void gh_limits_proxies_free(struct gh_limits_proxies *p)
{
    gh_free(p);
}

static int in_range(const struct range *r, int family, const unsigned char *a)
{
    int full = r->bits / 8, rest = r->bits % 8;

    if (r->family != family || memcmp(r->addr, a, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((r->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int contains(const struct gh_limits_proxies *p, int family, const unsigned char *a)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (in_range(&p->r[i], family, a))
            return 1;
    return 0;
}

int gh_limits_proxies_contains(const struct gh_limits_proxies *p, const char *addr)
{
    unsigned char a[16];
    int family;

    return addr && parse_addr(addr, &family, a) == 0 && contains(p, family, a);
}

static void set_address(struct gh_identity *id, int family, const unsigned char *a)
{
    if (!inet_ntop(family, a, id->address, sizeof id->address))
        snprintf(id->address, sizeof id->address, "unknown");
    if (family == AF_INET)
        id->loopback = a[0] == 127;
    else
        id->loopback = IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)a);
}

void gh_limits_client_address(const struct gh_limits_proxies *p, const char *peer, const char *xff,
                              struct gh_identity *id)
{
    unsigned char a[16], hop[16];
    const char *end;
    int family, hf;

    if (!peer || parse_addr(peer, &family, a) != 0) {
        snprintf(id->address, sizeof id->address, "%s", peer ? peer : "unknown");
        id->loopback = 0;
        gh_identity_set_key(id);
        return;
    }
    /* Right to left: each trusted hop vouches for the one before it. */
    end = xff ? xff + strlen(xff) : NULL;
    for (int n = 0; end && contains(p, family, a) && n < MAX_HOPS; n++) {
        const char *start = end;
        char buf[INET6_ADDRSTRLEN];
        size_t len;

        while (start > xff && start[-1] != ',')
            start--;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        len = (size_t)(end - start);
        while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= sizeof buf)
            break;
        memcpy(buf, start, len);
        buf[len] = '\0';
        if (parse_addr(buf, &hf, hop) != 0)
            break; /* garbage: the last address a trusted hop gave us stands */
        family = hf;
        memcpy(a, hop, 16);
        while (start > xff && start[-1] != ',')
            start--;
        end = start > xff ? start - 1 : NULL;
    }
    set_address(id, family, a);
    gh_identity_set_key(id);
}
