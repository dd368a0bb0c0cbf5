/*
 * counter.c - actors, the C twin of the Counter of Ray's actor guide
 * (https://docs.ray.io/en/latest/ray-core/actors.html):
 *
 *   @ray.remote
 *   class Counter:
 *       def __init__(self):
 *           self.value = 0
 *       def increment(self):
 *           self.value += 1
 *           return self.value
 *       def get_counter(self):
 *           return self.value
 *
 *   counter = Counter.remote()
 *   refs = [counter.increment.remote() for _ in range(10)]
 *   print(ray.get(refs))                          # [1, 2, ..., 10]
 *
 *   counters = [Counter.remote() for _ in range(4)]
 *   print(ray.get([c.increment.remote() for c in counters]))        # [1, 1, 1, 1]
 *   print(ray.get([counters[0].increment.remote() for _ in range(5)]))  # [2, ..., 6]
 *
 *   Counter.options(name="global_counter", lifetime="detached").remote()
 *   @ray.remote
 *   def bump(n):                                   # runs anywhere
 *       c = ray.get_actor("global_counter")
 *       return ray.get([c.increment.remote() for _ in range(n)])[-1]
 *   @ray.remote
 *   def bump_handle(c, n): ...                     # the handle as an argument
 *
 * Calls from one caller to one actor run in the order they were made, so the
 * results are known exactly; the program exits non-zero when one is wrong.
 *
 *   mpirun -np 4 ./counter
 */
#include <stdio.h>
#include <stdlib.h>

#include <lumen.h>

/* ---- the actor class ------------------------------------------------------- */
typedef struct counter {
    int64_t value;
} counter;

/* __init__(self, start=0): the optional argument is a C extra */
static lumen_status counter_init(lumen_task_ctx *ctx, void **self)
{
    int64_t start = 0;
    if (lumen_num_args(ctx) > 0) {
        lumen_status st = lumen_arg_get_i64(ctx, 0, &start);
        if (st != LUMEN_OK)
            return lumen_task_fail(ctx, "Counter(start): start must be an integer");
    }
    counter *c = malloc(sizeof *c);
    if (!c)
        return lumen_task_fail(ctx, "Counter: out of memory");
    c->value = start;
    *self = c;
    return LUMEN_OK;
}

static void counter_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Counter, counter_init, counter_destroy)

/* def increment(self): self.value += 1; return self.value */
LUMEN_METHOD(Counter, increment)
{
    counter *c = self;
    c->value += 1;
    return lumen_return_i64(ctx, 0, c->value);
}

/* def get_counter(self): return self.value */
LUMEN_METHOD(Counter, get_counter)
{
    counter *c = self;
    return lumen_return_i64(ctx, 0, c->value);
}

/* ---- tasks that use an actor ------------------------------------------------ */
/* increment `c` n times from this task's rank; returns the last value seen */
static lumen_status bump_actor(lumen_task_ctx *ctx, lumen_actor c, int64_t n)
{
    lumen_ref refs[64];
    if (n < 1 || n > 64)
        return lumen_task_fail(ctx, "bump: n = %lld is not in 1..64", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        lumen_status st = LUMEN_ACTOR_CALL0(&refs[i], c, "increment");
        if (st != LUMEN_OK) {
            for (int64_t k = 0; k < i; k++)
                lumen_ref_release(refs[k]);
            return lumen_task_fail(ctx, "bump: increment.remote(): %s", lumen_last_error());
        }
    }
    /* this rank's calls run in order: the last one sees the largest value,
     * and every value is larger than the one before */
    int64_t prev = 0, last = 0, bad_at = -1;
    lumen_status st = LUMEN_OK;
    for (int64_t i = 0; i < n; i++) {
        if (st == LUMEN_OK && (st = lumen_get_i64(refs[i], LUMEN_TIMEOUT_INFINITE, &last)) == LUMEN_OK) {
            if (last <= prev && bad_at < 0)
                bad_at = i;
            prev = last;
        }
        lumen_ref_release(refs[i]);
    }
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "bump: get: %s (%s)", lumen_strerror(st), lumen_last_error());
    if (bad_at >= 0)
        return lumen_task_fail(ctx, "bump: call %lld of this task saw a value not above the one before",
                               (long long)bad_at);
    return lumen_return_i64(ctx, 0, last);
}

/* def bump(n): c = ray.get_actor("global_counter"); ... */
LUMEN_REMOTE(bump)
{
    int64_t n;
    lumen_actor c;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &n);
    if (st != LUMEN_OK)
        return st;
    if ((st = lumen_get_actor("global_counter", NULL, &c)) != LUMEN_OK)
        return lumen_task_fail(ctx, "ray.get_actor(\"global_counter\"): %s (%s)", lumen_strerror(st),
                               lumen_last_error());
    /* no lumen_actor_release here: this task may share its rank with the
     * driver, which still uses the actor */
    return bump_actor(ctx, c, n);
}

/* def bump_handle(c, n): the handle travels as an argument */
LUMEN_REMOTE(bump_handle)
{
    lumen_actor c;
    int64_t n;
    lumen_status st = lumen_arg_get_actor(ctx, 0, &c);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &n);
    if (st != LUMEN_OK)
        return st;
    return bump_actor(ctx, c, n);
}

/* ---- the driver -------------------------------------------------------------- */
#define TRY(call)                                                                            \
    do {                                                                                     \
        lumen_status s_ = (call);                                                            \
        if (s_ != LUMEN_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            goto out;                                                                        \
        }                                                                                    \
    } while (0)

/* print(ray.get(refs)) for a list of integers, e.g. [1, 2, 3] */
static void print_list(const char *label, const lumen_value *v, size_t n)
{
    printf("%s[", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)v[i].i64);
    printf("]\n");
}

/* every value is an I64 and v[i] == first + i * step */
static int check_list(const char *what, const lumen_value *v, size_t n, int64_t first, int64_t step)
{
    for (size_t i = 0; i < n; i++) {
        int64_t want = first + (int64_t)i * step;
        if (v[i].type != LUMEN_TYPE_I64 || v[i].i64 != want) {
            fprintf(stderr, "%s: element %zu is %lld (type %d), expected %lld\n", what, i,
                    (long long)v[i].i64, (int)v[i].type, (long long)want);
            return 1;
        }
    }
    return 0;
}

enum { NCALLS = 10, NCOUNTERS = 4, NBUMPS = 4, BUMP_N = 5 };

static int driver(void)
{
    int rc = 1, bad = 0;
    lumen_actor counter = LUMEN_ACTOR_NIL, named = LUMEN_ACTOR_NIL, found = LUMEN_ACTOR_NIL;
    lumen_actor counters[NCOUNTERS];
    size_t ncounters = 0;
    lumen_ref refs[NCALLS + NBUMPS * 2];
    size_t nrefs = 0;
    lumen_value vals[NCALLS + NBUMPS * 2];
    lumen_ref one = LUMEN_REF_NIL;
    int64_t x;

    /* counter = Counter.remote(); refs = [counter.increment.remote() for _ in range(10)] */
    TRY(lumen_actor_create("Counter", NULL, 0, NULL, &counter));
    for (; nrefs < NCALLS; nrefs++)
        TRY(LUMEN_ACTOR_CALL0(&refs[nrefs], counter, "increment"));
    TRY(lumen_get_many(refs, NCALLS, LUMEN_TIMEOUT_INFINITE, vals));
    print_list("", vals, NCALLS); /* [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] */
    bad |= check_list("counter.increment", vals, NCALLS, 1, 1);
    for (; nrefs > 0; nrefs--)
        TRY(lumen_ref_release(refs[nrefs - 1]));
    /* print(ray.get(counter.get_counter.remote())) */
    TRY(LUMEN_ACTOR_CALL0(&one, counter, "get_counter"));
    TRY(lumen_get_i64(one, LUMEN_TIMEOUT_INFINITE, &x));
    TRY(lumen_ref_release(one));
    one = LUMEN_REF_NIL;
    printf("%lld\n", (long long)x); /* 10 */
    if (x != NCALLS) {
        fprintf(stderr, "counter.get_counter: %lld, expected %d\n", (long long)x, NCALLS);
        bad = 1;
    }

    /* counters = [Counter.remote() for _ in range(4)]: each its own state */
    for (; ncounters < NCOUNTERS; ncounters++)
        TRY(lumen_actor_create("Counter", NULL, 0, NULL, &counters[ncounters]));
    for (; nrefs < NCOUNTERS; nrefs++)
        TRY(LUMEN_ACTOR_CALL0(&refs[nrefs], counters[nrefs], "increment"));
    TRY(lumen_get_many(refs, NCOUNTERS, LUMEN_TIMEOUT_INFINITE, vals));
    print_list("", vals, NCOUNTERS); /* [1, 1, 1, 1] */
    bad |= check_list("[c.increment.remote() for c in counters]", vals, NCOUNTERS, 1, 0);
    for (; nrefs > 0; nrefs--)
        TRY(lumen_ref_release(refs[nrefs - 1]));
    /* counters[0] five times: serial, shared state */
    for (; nrefs < 5; nrefs++)
        TRY(LUMEN_ACTOR_CALL0(&refs[nrefs], counters[0], "increment"));
    TRY(lumen_get_many(refs, 5, LUMEN_TIMEOUT_INFINITE, vals));
    print_list("", vals, 5); /* [2, 3, 4, 5, 6] */
    bad |= check_list("counters[0].increment x5", vals, 5, 2, 1);
    for (; nrefs > 0; nrefs--)
        TRY(lumen_ref_release(refs[nrefs - 1]));

    /* A named, detached actor, found by name from tasks on any rank, and the
     * same actor's handle passed to tasks as an argument. */
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_NAME | LUMEN_ACTOR_LIFETIME,
                             .name = "global_counter", .lifetime = LUMEN_ACTOR_DETACHED};
    TRY(lumen_actor_create("Counter", NULL, 0, &o, &named));
    /* a second create under the same name fails, as in Ray */
    lumen_actor dup;
    lumen_status st = lumen_actor_create("Counter", NULL, 0, &o, &dup);
    if (st != LUMEN_ERR_ALREADY_EXISTS) {
        fprintf(stderr, "second Counter named global_counter: %s, expected %s\n", lumen_strerror(st),
                lumen_strerror(LUMEN_ERR_ALREADY_EXISTS));
        if (st == LUMEN_OK)
            lumen_actor_kill(dup, 1);
        bad = 1;
    }
    TRY(lumen_get_actor("global_counter", NULL, &found));
    if (!lumen_actor_equal(found, named)) {
        fprintf(stderr, "ray.get_actor(\"global_counter\") is not the actor created under that name\n");
        bad = 1;
    }
    lumen_task_options spread = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_spread()};
    for (int i = 0; i < NBUMPS; i++, nrefs++) {
        lumen_arg n = lumen_arg_i64(BUMP_N);
        TRY(lumen_remote("bump", &n, 1, &spread, &refs[nrefs]));
    }
    for (int i = 0; i < NBUMPS; i++, nrefs++) {
        lumen_arg a[2] = {lumen_arg_actor(named), lumen_arg_i64(BUMP_N)};
        TRY(lumen_remote("bump_handle", a, 2, &spread, &refs[nrefs]));
    }
    TRY(lumen_get_many(refs, nrefs, LUMEN_TIMEOUT_INFINITE, vals));
    for (; nrefs > 0; nrefs--)
        TRY(lumen_ref_release(refs[nrefs - 1]));
    TRY(LUMEN_ACTOR_CALL0(&one, found, "get_counter"));
    TRY(lumen_get_i64(one, LUMEN_TIMEOUT_INFINITE, &x));
    TRY(lumen_ref_release(one));
    one = LUMEN_REF_NIL;
    printf("global_counter: %lld after %d tasks of %d increments\n", (long long)x, 2 * NBUMPS, BUMP_N);
    if (x != 2 * NBUMPS * BUMP_N) {
        fprintf(stderr, "global_counter.get_counter: %lld, expected %d\n", (long long)x, 2 * NBUMPS * BUMP_N);
        bad = 1;
    }

    /* ray.kill(actor): a detached actor lives until killed; later calls fail
     * with ActorDiedError */
    TRY(lumen_actor_kill(named, 1));
    TRY(LUMEN_ACTOR_CALL0(&one, named, "get_counter"));
    st = lumen_get_i64(one, LUMEN_TIMEOUT_INFINITE, &x);
    TRY(lumen_ref_release(one));
    one = LUMEN_REF_NIL;
    if (st != LUMEN_ERR_ACTOR_DIED) {
        fprintf(stderr, "call after ray.kill: %s, expected %s\n", lumen_strerror(st),
                lumen_strerror(LUMEN_ERR_ACTOR_DIED));
        bad = 1;
    } else {
        printf("after ray.kill: %s\n", lumen_strerror(st));
    }
    rc = bad;
out:
    if (!lumen_ref_is_nil(one))
        lumen_ref_release(one);
    for (size_t i = 0; i < nrefs; i++)
        lumen_ref_release(refs[i]);
    /* the handles go out of scope: owned actors end after their calls */
    if (!lumen_actor_is_nil(found) && !lumen_actor_equal(found, named))
        lumen_actor_release(found);
    if (!lumen_actor_is_nil(named))
        lumen_actor_release(named);
    for (size_t i = 0; i < ncounters; i++)
        lumen_actor_release(counters[i]);
    if (!lumen_actor_is_nil(counter))
        lumen_actor_release(counter);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    TRY(lumen_init(&argc, &argv, NULL));
    rc = lumen_is_driver() ? driver() : 0;
    TRY(lumen_finalize());
    return rc;
out:
    return 1;
}
