/*
 * output.c - what tasks print reaches the driver's terminal marked with the
 * rank that printed it, as Ray prefixes worker output with "(pid=...)".
 * On every rank but the driver, lumen_init points stdout at a pipe; a
 * thread reads it and writes each line, prefixed "(rank R) ", to the
 * original stdout, which the MPI launcher forwards to the terminal. The
 * driver's own output (and tasks run on rank 0) is left as it is. stdout
 * becomes line buffered so lines leave promptly. LUMEN_PREFIX_OUTPUT=0
 * turns it off. lumen_finalize flushes and puts stdout back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/observe.h"
#include "runtime/config.h"

static int saved_fd = -1;  /* the original stdout */
static int read_fd = -1;
static pthread_t reader;
static char prefix[48];

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *read_main(void *arg)
{
    (void)arg;
    char buf[8192], line[8192 + 64];
    size_t have = 0; /* bytes of an unfinished line in line[] after the prefix */
    size_t plen = strlen(prefix);
    memcpy(line, prefix, plen);
    for (;;) {
        ssize_t n = read(read_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            line[plen + have++] = buf[i];
            if (buf[i] == '\n' || plen + have == sizeof line) {
                write_all(saved_fd, line, plen + have);
                have = 0;
            }
        }
    }
    if (have) { /* a last line without its newline */
        line[plen + have++] = '\n';
        write_all(saved_fd, line, plen + have);
    }
    return NULL;
}

void lm_output_start(lm_rt *rt)
{
    if (rt->rank == 0 || (getenv("LUMEN_PREFIX_OUTPUT") && !lm_env_flag("LUMEN_PREFIX_OUTPUT")) || saved_fd >= 0)
        return;
    int p[2];
    if (pipe(p) != 0)
        return;
    fflush(stdout);
    saved_fd = dup(STDOUT_FILENO);
    if (saved_fd < 0 || dup2(p[1], STDOUT_FILENO) < 0) {
        if (saved_fd >= 0)
            close(saved_fd);
        saved_fd = -1;
        close(p[0]);
        close(p[1]);
        return;
    }
    close(p[1]);
    read_fd = p[0];
    snprintf(prefix, sizeof prefix, "(rank %d) ", rt->rank);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pthread_create(&reader, NULL, read_main, NULL) != 0) { /* give stdout back */
        dup2(saved_fd, STDOUT_FILENO);
        close(saved_fd);
        close(read_fd);
        saved_fd = read_fd = -1;
    }
}

void lm_output_stop(void)
{
    if (saved_fd < 0)
        return;
    fflush(stdout);
    dup2(saved_fd, STDOUT_FILENO); /* the pipe's last writer goes: the reader sees its end */
    pthread_join(reader, NULL);
    close(saved_fd);
    close(read_fd);
    saved_fd = read_fd = -1;
}
