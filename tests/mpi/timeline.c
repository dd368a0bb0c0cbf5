/*
 * timeline.c - lumen_timeline writes Chrome trace JSON with one complete
 * ("X") event per task, actor method and actor constructor that ran, on
 * every rank: the test runs 40 tasks (some with a 1000-byte argument, one
 * failing), an actor with 10 calls, then parses the file with cJSON and
 * checks the counts per name, that events carry rank, node, argument bytes
 * and a failed flag, that durations cover the 20 ms a sleeping task slept,
 * and that every rank that ran something appears. NULL or unwritable paths
 * are errors.
 */
#include "check.h"

#include <cjson/cJSON.h>
#include <unistd.h>

LUMEN_REMOTE(tl_work)
{
    int64_t ms = 0;
    if (lumen_num_args(ctx) > 0 && lumen_arg_type(ctx, 0) == LUMEN_TYPE_I64)
        TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    if (ms > 0)
        usleep((useconds_t)ms * 1000);
    return lumen_return_i64(ctx, 0, lumen_rank());
}

LUMEN_REMOTE(tl_fail) { return lumen_task_fail(ctx, "meant to fail"); }

static lumen_status tl_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(TlActor, tl_init, NULL)
LUMEN_METHOD(TlActor, ping)
{
    (void)self;
    return lumen_return_i64(ctx, 0, 1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_rank() == 0) {
        int n = lumen_world_size();
        lumen_ref r[40];
        char big[1000] = {0};
        int ran_on[64] = {0};
        for (int i = 0; i < 40; i++) {
            if (i == 0) {
                CHECK_OK(LUMEN_CALL(&r[i], "tl_work", LUMEN_ARG(20)));
            } else if (i % 2) {
                CHECK_OK(LUMEN_CALL(&r[i], "tl_work", LUMEN_BYTES(big, sizeof big)));
            } else {
                CHECK_OK(LUMEN_CALL(&r[i], "tl_work", LUMEN_ARG(0)));
            }
        }
        for (int i = 0; i < 40; i++) {
            int64_t rank;
            CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &rank));
            CHECK(rank >= 0 && rank < 64);
            ran_on[rank] = 1;
            CHECK_OK(lumen_ref_release(r[i]));
        }
        lumen_ref f;
        CHECK_OK(lumen_remote("tl_fail", NULL, 0, NULL, &f));
        lumen_value v;
        CHECK_ST(lumen_get(f, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
        CHECK_OK(lumen_ref_release(f));
        lumen_actor a;
        CHECK_OK(lumen_actor_create("TlActor", NULL, 0, NULL, &a));
        for (int i = 0; i < 10; i++) {
            int64_t one;
            CHECK_OK(LUMEN_ACTOR_CALL0(&r[0], a, "ping"));
            CHECK_OK(lumen_get_i64(r[0], T_TIMEOUT, &one));
            CHECK_OK(lumen_ref_release(r[0]));
        }

        char dir[] = "/tmp/lumen-timeline-XXXXXX";
        CHECK(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof path, "%s/trace.json", dir);
        CHECK_ST(lumen_timeline(NULL), LUMEN_ERR_INVALID_ARG);
        CHECK_ST(lumen_timeline("/nonexistent-dir/x/trace.json"), LUMEN_ERR_IO);
        CHECK_OK(lumen_timeline(path));

        char *text = slurp(path);
        cJSON *root = cJSON_Parse(text);
        CHECKF(root, "the timeline is not JSON");
        cJSON *events = cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
        CHECK(cJSON_IsArray(events));
        int work = 0, fails = 0, pings = 0, inits = 0, with_bytes = 0, long_one = 0;
        int seen_rank[64] = {0};
        cJSON *e;
        cJSON_ArrayForEach(e, events)
        {
            cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
            cJSON *ph = cJSON_GetObjectItemCaseSensitive(e, "ph");
            cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts");
            cJSON *dur = cJSON_GetObjectItemCaseSensitive(e, "dur");
            cJSON *tid = cJSON_GetObjectItemCaseSensitive(e, "tid");
            cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
            CHECK(cJSON_IsString(name) && cJSON_IsString(ph) && !strcmp(ph->valuestring, "X"));
            CHECK(cJSON_IsNumber(ts) && ts->valuedouble > 1.6e15); /* microseconds since 1970 */
            CHECK(cJSON_IsNumber(dur) && dur->valuedouble >= 0);
            CHECK(cJSON_IsNumber(tid) && tid->valueint >= 0 && tid->valueint < n);
            CHECK(cJSON_IsObject(args));
            cJSON *bytes = cJSON_GetObjectItemCaseSensitive(args, "arg_bytes");
            cJSON *failed = cJSON_GetObjectItemCaseSensitive(args, "failed");
            CHECK(cJSON_IsNumber(bytes) && cJSON_IsBool(failed));
            CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(args, "node")));
            seen_rank[tid->valueint] = 1;
            if (!strcmp(name->valuestring, "tl_work")) {
                work++;
                with_bytes += bytes->valuedouble == 1000;
                long_one += dur->valuedouble >= 19000;
            } else if (!strcmp(name->valuestring, "tl_fail")) {
                fails++;
                CHECK(cJSON_IsTrue(failed));
            } else if (!strcmp(name->valuestring, "TlActor.ping")) {
                pings++;
            } else if (!strcmp(name->valuestring, "TlActor.__init__")) {
                inits++;
            }
        }
        CHECKF(work == 40 && fails == 1 && pings == 10 && inits == 1,
               "events: %d tl_work, %d tl_fail, %d pings, %d constructors", work, fails, pings, inits);
        CHECKF(with_bytes == 20, "%d tl_work events with 1000 argument bytes", with_bytes);
        CHECK(long_one >= 1);
        for (int k = 0; k < n && k < 64; k++)
            CHECKF(!ran_on[k] || seen_rank[k], "rank %d ran tasks but has no events", k);
        int total = cJSON_GetArraySize(events);
        cJSON_Delete(root);
        free(text);
        unlink(path);
        rmdir(dir);
        CHECK_OK(lumen_actor_release(a));
        printf("timeline: OK on %d ranks (%d events)\n", n, total);
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
