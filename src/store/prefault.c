/*
 * prefault.c - faults in the start of a new store's arena in the background.
 *
 * Copying into fresh shared-memory pages runs at a fifth of memcpy speed
 * (docs: shared/notes/machine-limits.md), so the creator starts one thread
 * that populates the first cfg->prefault bytes with MADV_POPULATE_WRITE in
 * 64 MiB chunks, or, on kernels without it (EINVAL, before Linux 5.14), by
 * touching one byte per page. The allocator hands out low addresses first, so
 * those pages are the ones puts use. The thread stops between chunks when
 * the store closes. Owns nothing else; it is best effort and never fails the
 * store.
 *
 * The fallback touches pages with an atomic OR of 0 rather than a plain
 * store of 0: the store is live while the thread runs, and an object may
 * already sit in the page being touched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store_int.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PREFAULT_CHUNK ((size_t)64 << 20)

static void touch_pages(char *p, size_t len, size_t page)
{
    for (size_t o = 0; o < len; o += page)
        __atomic_fetch_or((volatile unsigned char *)(p + o), (unsigned char)0, __ATOMIC_RELAXED);
}

static void *prefault_main(void *arg)
{
    lm_store *s = arg;
    /* background work: lowest priority, so the first tasks after init are
     * not slowed by it on a small allocation (per-thread nice on Linux) */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    char *p = s->arena;
    size_t len = s->prefault_len;
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    int use_madvise = 1;
    size_t done = 0;
    while (done < len && !atomic_load_explicit(&s->prefault_stop, memory_order_relaxed)) {
        size_t n = len - done < PREFAULT_CHUNK ? len - done : PREFAULT_CHUNK;
        if (use_madvise && madvise(p + done, n, MADV_POPULATE_WRITE) != 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno != EINVAL)
                break; /* ENOMEM, EFAULT, EHWPOISON: leave the rest to first touch */
            use_madvise = 0;
        }
        if (!use_madvise)
            touch_pages(p + done, n, page);
        done += n;
    }
    return NULL;
}

void lm_prefault_start(lm_store *s, size_t len)
{
    /* madvise wants whole pages; the arena starts on a page boundary. */
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    len = len / page * page;
    if (len == 0)
        return;
    s->prefault_len = len;
    atomic_store(&s->prefault_stop, 0);
    /* The thread takes no signals: they belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    s->prefault_running = pthread_create(&s->prefault_thread, NULL, prefault_main, s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void lm_prefault_stop(lm_store *s)
{
    if (!s->prefault_running)
        return;
    atomic_store(&s->prefault_stop, 1);
    pthread_join(s->prefault_thread, NULL);
    s->prefault_running = 0;
}
