/*
 * insitu.c - lumen inside an MPI simulation (library mode, in-situ
 * analysis). The simulation owns MPI: it calls MPI_Init_thread itself and
 * runs a 1-D heat equation split across the ranks of MPI_COMM_WORLD, with
 * halo exchanges every step. lumen is started on the same ranks with
 * lumen_init_comm. Every 50 steps each rank puts its slab in lumen's object
 * store and submits an analysis task (mean, max, energy of the slab) that
 * runs wherever lumen finds a free CPU, while the simulation goes on. At the
 * end each rank collects its analyses; rank 0 reduces them with MPI and
 * prints the history. lumen_finalize leaves MPI to the simulation, which
 * calls MPI_Finalize.
 *
 *   mpirun -np 4 ./insitu
 *
 * Exits non-zero when an analysis disagrees with the same numbers computed
 * in place, or when the heat is not conserved.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lumen/mpi.h>

#define NLOCAL 4096 /* cells per rank */
#define STEPS 500
#define EVERY 50
#define NSNAP (STEPS / EVERY)

/* analyze(slab bytes) -> [sum, max, sum of squares] as 3 doubles */
LUMEN_REMOTE(analyze)
{
    const void *data;
    size_t size;
    lumen_status st = lumen_arg_get_bytes(ctx, 0, &data, &size);
    if (st != LUMEN_OK)
        return st;
    size_t n = size / sizeof(double);
    double out[3] = {0, -INFINITY, 0};
    const double *u = data;
    for (size_t i = 0; i < n; i++) {
        out[0] += u[i];
        out[1] = u[i] > out[1] ? u[i] : out[1];
        out[2] += u[i] * u[i];
    }
    return lumen_return_bytes(ctx, 0, out, sizeof out);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    if (provided < MPI_THREAD_MULTIPLE) {
        fprintf(stderr, "insitu: the MPI library does not offer MPI_THREAD_MULTIPLE\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (lumen_init_comm(MPI_COMM_WORLD, NULL) != LUMEN_OK) {
        fprintf(stderr, "insitu: lumen_init_comm: %s\n", lumen_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    /* the simulation: u_t = k u_xx on a ring of size*NLOCAL cells, one hot spot */
    double *u = calloc(NLOCAL + 2, sizeof *u), *v = calloc(NLOCAL + 2, sizeof *v);
    if (rank == 0)
        u[1] = 1000.0;
    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    lumen_ref snaps[NSNAP];
    double local[NSNAP][3]; /* the same numbers computed in place, to check */
    int nsnap = 0, bad = 0;
    for (int step = 1; step <= STEPS; step++) {
        MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[NLOCAL + 1], 1, MPI_DOUBLE, right, 0, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        MPI_Sendrecv(&u[NLOCAL], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        for (int i = 1; i <= NLOCAL; i++)
            v[i] = u[i] + 0.25 * (u[i - 1] - 2 * u[i] + u[i + 1]);
        double *t = u;
        u = v;
        v = t;
        if (step % EVERY == 0) {
            /* hand the slab to lumen; the analysis runs while we go on */
            lumen_arg a = lumen_arg_bytes(&u[1], NLOCAL * sizeof(double));
            if (lumen_remote("analyze", &a, 1, NULL, &snaps[nsnap]) != LUMEN_OK) {
                fprintf(stderr, "insitu: rank %d: %s\n", rank, lumen_last_error());
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            local[nsnap][0] = 0;
            local[nsnap][1] = -INFINITY;
            local[nsnap][2] = 0;
            for (int i = 1; i <= NLOCAL; i++) {
                local[nsnap][0] += u[i];
                local[nsnap][1] = fmax(local[nsnap][1], u[i]);
                local[nsnap][2] += u[i] * u[i];
            }
            nsnap++;
        }
    }
    /* collect this rank's analyses */
    double got[NSNAP][3];
    for (int s = 0; s < nsnap; s++) {
        lumen_value val;
        if (lumen_get(snaps[s], 60000, &val) != LUMEN_OK || val.size != sizeof got[s]) {
            fprintf(stderr, "insitu: rank %d: analysis %d: %s\n", rank, s, lumen_last_error());
            bad = 1;
            memset(got[s], 0, sizeof got[s]);
        } else {
            memcpy(got[s], val.data, sizeof got[s]);
        }
        for (int k = 0; k < 3; k++)
            if (fabs(got[s][k] - local[s][k]) > 1e-9 * (1 + fabs(local[s][k])))
                bad = 1;
        lumen_ref_release(snaps[s]);
    }
    /* the simulation's own reduction of the analyses */
    double sum[NSNAP], mx[NSNAP], sq[NSNAP];
    for (int s = 0; s < nsnap; s++) {
        MPI_Reduce(&got[s][0], &sum[s], 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&got[s][1], &mx[s], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(&got[s][2], &sq[s], 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("in-situ analysis of a 1-D heat equation on %d ranks (%d cells), every %d steps:\n", size,
               size * NLOCAL, EVERY);
        for (int s = 0; s < nsnap; s++) {
            printf("  step %4d: heat %.6f  peak %9.4f  energy %10.4f\n", (s + 1) * EVERY, sum[s], mx[s], sq[s]);
            if (fabs(sum[s] - 1000.0) > 1e-6)
                any_bad = 1;
        }
        printf(any_bad ? "insitu: FAILED\n" : "insitu: analyses agree with the simulation; heat conserved\n");
    }
    MPI_Bcast(&any_bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(u);
    free(v);
    lumen_finalize(); /* leaves MPI to us */
    MPI_Finalize();
    return any_bad ? 1 : 0;
}
