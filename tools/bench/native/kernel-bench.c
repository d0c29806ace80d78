/*
 * kernel-bench: the real kernel's cost of the VM operations `pnpm bench`
 * simulates, measured on the machine the bench runs on.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The rmaplab authors
 *
 * Usage: kernel-bench FAULT_PAGES FORK_PAGES ROUNDS
 *
 *   FAULT_PAGES  pages of the region the fault, COW and munmap tests touch
 *                (1..262144, i.e. at most 1 GiB)
 *   FORK_PAGES   pages the parent of the fork test has written (1..262144)
 *   ROUNDS       rounds per test (1..20); the median round is reported
 *
 * Output: one JSON object per line on stdout. A test line is
 *   {"op":"anonWriteFault","pages":N,"rounds":R,"ns":[...],"median_ns":X}
 * where ns holds each round's nanoseconds for the whole operation (N faults,
 * one munmap of N pages, one fork). The first line describes the kernel.
 *
 * Safety: sizes are bounded above; every syscall's result is checked and a
 * failure exits with status 2 and a message on stderr; children _exit and are
 * reaped with waitpid; alarm() ends a run that takes longer than 60 s (30 s in
 * a child). Transparent huge pages are refused on every region (MADV_NOHUGEPAGE)
 * so the kernel takes one fault per 4 KB page, as the 2004 kernel did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAGES 262144L
#define MAX_ROUNDS 20

static long page_size;

static void die(const char *what) {
  fprintf(stderr, "kernel-bench: %s: %s\n", what, strerror(errno));
  _exit(2);
}

static double now_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) die("clock_gettime");
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long parse_arg(const char *s, long lo, long hi, const char *name) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "kernel-bench: %s must be a whole number in %ld..%ld, got '%s'\n", name, lo, hi, s);
    exit(2);
  }
  return v;
}

/* A private anonymous region of `pages` pages, with THP refused. */
static volatile char *map_region(long pages) {
  size_t len = (size_t)pages * (size_t)page_size;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
#ifdef MADV_NOHUGEPAGE
  /* EINVAL: a kernel built without THP, where there is nothing to refuse. */
  if (madvise(p, len, MADV_NOHUGEPAGE) != 0 && errno != EINVAL) die("madvise(MADV_NOHUGEPAGE)");
#endif
  return (volatile char *)p;
}

static void unmap_region(volatile char *p, long pages) {
  if (munmap((void *)p, (size_t)pages * (size_t)page_size) != 0) die("munmap");
}

static void write_pages(volatile char *p, long pages) {
  for (long i = 0; i < pages; i++) p[i * page_size] = (char)(i | 1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *op, long pages, int rounds, const double *ns) {
  double sorted[MAX_ROUNDS];
  memcpy(sorted, ns, sizeof(double) * (size_t)rounds);
  qsort(sorted, (size_t)rounds, sizeof(double), cmp_double);
  double median =
      rounds % 2 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
  printf("{\"op\":\"%s\",\"pages\":%ld,\"rounds\":%d,\"ns\":[", op, pages, rounds);
  for (int i = 0; i < rounds; i++) printf("%s%.0f", i ? "," : "", ns[i]);
  printf("],\"median_ns\":%.0f}\n", median);
  if (fflush(stdout) != 0) die("fflush");
}

/* Reap `pid`; its exit status must be 0. */
static void reap(pid_t pid) {
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r < 0 && errno == EINTR) continue;
    die("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "kernel-bench: child %d failed (status 0x%x)\n", (int)pid, status);
    exit(2);
  }
}

/* Anonymous write faults: one write per page of a fresh region. */
static void bench_write_faults(long pages, int rounds) {
  double ns[MAX_ROUNDS];
  for (int r = -1; r < rounds; r++) { /* round -1 warms up */
    volatile char *p = map_region(pages);
    double t0 = now_ns();
    write_pages(p, pages);
    double t1 = now_ns();
    unmap_region(p, pages);
    if (r >= 0) ns[r] = t1 - t0;
  }
  report("anonWriteFault", pages, rounds, ns);
}

/* Zero-page read faults: one read per page of a fresh region. */
static void bench_read_faults(long pages, int rounds) {
  double ns[MAX_ROUNDS];
  for (int r = -1; r < rounds; r++) {
    volatile char *p = map_region(pages);
    unsigned sum = 0;
    double t0 = now_ns();
    for (long i = 0; i < pages; i++) sum += (unsigned char)p[i * page_size];
    double t1 = now_ns();
    if (sum != 0) {
      fprintf(stderr, "kernel-bench: untouched anonymous memory read non-zero\n");
      exit(2);
    }
    unmap_region(p, pages);
    if (r >= 0) ns[r] = t1 - t0;
  }
  report("zeroPageReadFault", pages, rounds, ns);
}

/* COW faults: the child of a fork writes every page the parent wrote. */
static void bench_cow_faults(long pages, int rounds) {
  double ns[MAX_ROUNDS];
  volatile char *p = map_region(pages);
  write_pages(p, pages);
  for (int r = -1; r < rounds; r++) {
    int fds[2];
    if (pipe(fds) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      alarm(30);
      if (close(fds[0]) != 0) _exit(3);
      double t0 = now_ns();
      for (long i = 0; i < pages; i++) p[i * page_size] = (char)(i + 2);
      double t = now_ns() - t0;
      ssize_t w = write(fds[1], &t, sizeof t);
      _exit(w == (ssize_t)sizeof t ? 0 : 4);
    }
    if (close(fds[1]) != 0) die("close");
    double t = -1;
    ssize_t got = 0;
    while (got < (ssize_t)sizeof t) {
      ssize_t n = read(fds[0], (char *)&t + got, sizeof t - (size_t)got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += n;
    }
    if (close(fds[0]) != 0) die("close");
    reap(pid);
    if (got != (ssize_t)sizeof t) {
      fprintf(stderr, "kernel-bench: COW child sent no timing\n");
      exit(2);
    }
    if (r >= 0) ns[r] = t;
  }
  unmap_region(p, pages);
  report("cowFault", pages, rounds, ns);
}

/* fork of a process that wrote `pages` pages; the child _exits at once. */
static void bench_fork(long pages, int rounds) {
  double ns[MAX_ROUNDS];
  volatile char *p = map_region(pages);
  write_pages(p, pages);
  for (int r = -1; r < rounds; r++) {
    double t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    double t1 = now_ns();
    if (pid < 0) die("fork");
    reap(pid);
    if (r >= 0) ns[r] = t1 - t0;
  }
  unmap_region(p, pages);
  report("fork", pages, rounds, ns);
}

/* munmap of a region whose every page was written. */
static void bench_munmap(long pages, int rounds) {
  double ns[MAX_ROUNDS];
  for (int r = -1; r < rounds; r++) {
    volatile char *p = map_region(pages);
    write_pages(p, pages);
    double t0 = now_ns();
    unmap_region(p, pages);
    double t1 = now_ns();
    if (r >= 0) ns[r] = t1 - t0;
  }
  report("munmap", pages, rounds, ns);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: kernel-bench FAULT_PAGES FORK_PAGES ROUNDS\n");
    return 2;
  }
  long fault_pages = parse_arg(argv[1], 1, MAX_PAGES, "FAULT_PAGES");
  long fork_pages = parse_arg(argv[2], 1, MAX_PAGES, "FORK_PAGES");
  int rounds = (int)parse_arg(argv[3], 1, MAX_ROUNDS, "ROUNDS");
  alarm(60);
  page_size = sysconf(_SC_PAGESIZE);
  if (page_size <= 0) die("sysconf(_SC_PAGESIZE)");
  struct utsname u;
  if (uname(&u) != 0) die("uname");
  char kernel[3 * sizeof u.release + 3];
  snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
  for (char *c = kernel; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '_';
  printf("{\"kernel\":\"%s\",\"page_size\":%ld}\n", kernel, page_size);
  if (fflush(stdout) != 0) die("fflush");
  bench_write_faults(fault_pages, rounds);
  bench_read_faults(fault_pages, rounds);
  bench_cow_faults(fault_pages, rounds);
  bench_fork(fork_pages, rounds);
  bench_munmap(fault_pages, rounds);
  return 0;
}
