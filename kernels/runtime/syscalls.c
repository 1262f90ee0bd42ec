/* SPDX-License-Identifier: MIT */
/*
 * The few OS services picolibc needs on a node (see docs/kernels-c.md): stdin/stdout/stderr
 * for its tiny stdio, write(), _exit(), and getpid()/kill() for abort(). Output goes out through
 * ecall write (a7 = 64); the simulator prefixes every line with "[x,y tN] ".
 *
 * NOTE: stdout and stderr buffer per thread and per stream, indexed by the threadid CSR, and
 * write when a line ends, the buffer fills, on fflush() and at exit. One shared buffer would
 * mix the characters of threads that print at the same time into one line; an ecall per
 * character would cost a simulated system call per byte.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "dojo.h"

/* Threads beyond this count (a node configured with more SMT threads) write unbuffered. */
#define DOJO_STDIO_THREADS 8
#define DOJO_STDIO_LINE 128

struct dojo_line {
  unsigned len;
  char bytes[DOJO_STDIO_LINE];
};
/* [stream: 0 stdout, 1 stderr][thread] */
static struct dojo_line dojo_lines[2][DOJO_STDIO_THREADS];

static struct dojo_line* dojo_line_of(int fd) {
  const uint32_t t = dojo_thread_id();
  return t < DOJO_STDIO_THREADS ? &dojo_lines[fd - 1][t] : NULL;
}

static void dojo_flush_line(int fd, struct dojo_line* line) {
  if (line && line->len) {
    dojo_write(fd, line->bytes, line->len);
    line->len = 0;
  }
}

static int dojo_put(char c, int fd) {
  struct dojo_line* line = dojo_line_of(fd);
  if (!line) {
    dojo_write(fd, &c, 1);
    return (unsigned char)c;
  }
  line->bytes[line->len++] = c;
  if (c == '\n' || line->len == DOJO_STDIO_LINE) dojo_flush_line(fd, line);
  return (unsigned char)c;
}

static int dojo_put_stdout(char c, FILE* f) {
  (void)f;
  return dojo_put(c, 1);
}
static int dojo_put_stderr(char c, FILE* f) {
  (void)f;
  return dojo_put(c, 2);
}
static int dojo_flush_stdout(FILE* f) {
  (void)f;
  dojo_flush_line(1, dojo_line_of(1));
  return 0;
}
static int dojo_flush_stderr(FILE* f) {
  (void)f;
  dojo_flush_line(2, dojo_line_of(2));
  return 0;
}
/* A node has no input. */
static int dojo_get_eof(FILE* f) {
  (void)f;
  return _FDEV_EOF;
}

static FILE dojo_stdin = FDEV_SETUP_STREAM(NULL, dojo_get_eof, NULL, _FDEV_SETUP_READ);
static FILE dojo_stdout =
    FDEV_SETUP_STREAM(dojo_put_stdout, NULL, dojo_flush_stdout, _FDEV_SETUP_WRITE);
static FILE dojo_stderr =
    FDEV_SETUP_STREAM(dojo_put_stderr, NULL, dojo_flush_stderr, _FDEV_SETUP_WRITE);

FILE* const stdin = &dojo_stdin;
FILE* const stdout = &dojo_stdout;
FILE* const stderr = &dojo_stderr;

/* Called by crt0.S after main returns and by dojo_exit(): writes what this thread has
 * buffered, stdout first. */
void __dojo_stdio_flush(void) {
  dojo_flush_line(1, dojo_line_of(1));
  dojo_flush_line(2, dojo_line_of(2));
}

ssize_t write(int fd, const void* buf, size_t len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  dojo_flush_line(fd, dojo_line_of(fd)); /* keep the order of stdio and write() output */
  return dojo_write(fd, buf, len);
}

/* exit() ends here. Ends only the calling thread; the node's other threads run on. */
void _exit(int code) {
  dojo_exit(code);
}

/* abort() and a failed assert() raise SIGABRT, which picolibc delivers with kill(getpid()).
 * The thread ends with 128 + the signal number (134), as a shell reports a killed process. */
pid_t getpid(void) {
  return 1;
}
int kill(pid_t pid, int sig) {
  (void)pid;
  dojo_exit(128 + sig);
}
