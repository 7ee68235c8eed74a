/*
 * switchboard-healthcheck: the container image's HEALTHCHECK probe.
 *
 *   switchboard-healthcheck [HOST:PORT] [PATH]
 *
 * GETs http://HOST:PORT/PATH (default 127.0.0.1:8080 and /healthz) and exits
 * 0 on a 200 answer, 1 otherwise (refused, timed out, any other status).
 * Without HOST:PORT the port of SWITCHBOARD_LISTEN is used when that
 * variable is set (the same variable `switchboard serve` reads), so moving
 * the listener by environment moves the probe with it; a wildcard host
 * (0.0.0.0, [::]) is probed on loopback.
 *
 * Why a separate program: the image has no shell and no curl, and
 * `switchboard` has no subcommand that only GETs a health path (its `bench`
 * makes MCP calls, which a listener off loopback refuses without
 * credentials). It is linked statically, needs nothing else in the image,
 * and is built with the binary (packaging/container/Dockerfile,
 * scripts/image.sh). IPv4 and IPv6 literal addresses only: no DNS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int fail(const char *what) {
    fprintf(stderr, "switchboard-healthcheck: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    char target[128] = "127.0.0.1:8080";
    const char *path = argc > 2 ? argv[2] : "/healthz";
    const char *listen = getenv("SWITCHBOARD_LISTEN");
    if (argc > 1) {
        snprintf(target, sizeof target, "%s", argv[1]);
    } else if (listen && *listen) {
        const char *colon = strrchr(listen, ':');
        if (!colon) return fail("SWITCHBOARD_LISTEN has no port");
        snprintf(target, sizeof target, "127.0.0.1%s", colon);
    }
    if (path[0] != '/' || strlen(path) > 256) return fail("the path must start with / (at most 256 bytes)");

    /* Split HOST:PORT, HOST possibly a bracketed IPv6 literal. */
    char *colon = strrchr(target, ':');
    if (!colon) return fail("expected HOST:PORT");
    *colon = '\0';
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535) return fail("bad port");
    char *host = target;
    if (host[0] == '[') {
        host++;
        char *end = strchr(host, ']');
        if (end) *end = '\0';
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "") == 0) host = "127.0.0.1";
    if (strcmp(host, "::") == 0) host = "::1";

    struct sockaddr_storage addr;
    socklen_t len;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        len = sizeof *v6;
    } else {
        return fail("HOST must be an IP address");
    }

    int fd = socket(addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0) return fail("socket");
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, len) != 0) return fail("connection refused or timed out");

    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: switchboard-healthcheck\r\n"
                     "Connection: close\r\n\r\n",
                     path);
    if (write(fd, request, (size_t)n) != n) return fail("write");

    char answer[64];
    size_t got = 0;
    while (got < sizeof answer - 1) {
        ssize_t r = read(fd, answer + got, sizeof answer - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        if (memchr(answer, '\n', got)) break;
    }
    close(fd);
    answer[got] = '\0';
    /* "HTTP/1.1 200 OK" */
    if (strncmp(answer, "HTTP/1.", 7) == 0 && strncmp(answer + 8, " 200", 4) == 0) return 0;
    char *eol = strpbrk(answer, "\r\n");
    if (eol) *eol = '\0';
    fprintf(stderr, "switchboard-healthcheck: %s answered \"%s\"\n", path, answer);
    return 1;
}
