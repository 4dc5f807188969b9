"""RTP relay throughput and latency: centralita's relay engine against rtpengine (userspace forwarding).

A load generator in a separate process (a small C program compiled here at start-up) plays N concurrent
calls on 127.0.0.1: every call has phone A and phone B, each sending 20 ms-paced G.711 RTP (172-byte
packets: 12-byte header + 160 bytes), so a call is 100 packets/s to relay.  The relay forwards A->B and
B->A; the generator counts what comes back and the one-way latency (send time in the payload, kernel
receive time from SO_TIMESTAMPNS).  A packet not back within 100 ms is lost.  The number of calls is ramped
until a step loses a packet; the highest clean step gives packets/s relayed, and the relay process's CPU
time over the measured window (from /proc/PID/task/*/schedstat) gives packets/s per core.  Latency
p50/p99 is reported at 1,000 concurrent calls, with the generator's own loopback path (phones talking
directly) as the baseline.

The same load then goes through rtpengine (Debian ``rtpengine-daemon``; no kernel module, so userspace
forwarding), whose ports are allocated with ``offer``/``answer`` over its ng control protocol (bencode
over UDP).  The generator reads the packets that come back only after the measured window (they wait in
large receive buffers), so that the generator costs less per packet than a relay and can offer more than
either relay takes on a 2-core machine.

    python bench/rtp_relay.py            # full: ramps, median of 3 runs
    python bench/rtp_relay.py --smoke    # a few seconds at a small load (CI); rtpengine skipped if absent
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SOCKETS_PER_SIDE = 4       # the generator's phones share this many sockets per side
PTIME_US = 20_000          # 20 ms G.711
LATE_MS = 100              # later than this = lost (a jitter buffer would discard it)
# Calls per step.  At most 4,500: rtpengine takes 4 sockets a call and the fd limit here is 20,000.
FULL_STEPS = [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000, 4500]
LATENCY_CALLS = 1000
TARGET_PER_CORE = 250_000
TARGET_RATIO = 1.5
TARGET_P99_US = 1000.0

NICE = 0  # scheduling niceness of the generator and the relays under test (--nice)


def _renice() -> None:
    """In the child before exec: every thread it will create inherits this niceness, and the child is killed
    when the bench dies, even by SIGKILL (prctl PR_SET_PDEATHSIG, Linux): no generator or rtpengine is ever
    left behind holding thousands of ports."""
    if NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


GENERATOR_C = r"""
/* RTP load generator for bench/rtp_relay.py: paced G.711 streams (172-byte RTP) for N calls, counts
 * what comes back and the one-way latency through the relay (send time in the payload, kernel receive
 * time from SO_TIMESTAMPNS).  Protocol on stdin/stdout:
 *   out: PORTS a0 .. aK-1 b0 .. bK-1          (the phones' sockets: phone A of call i uses a[i%K])
 *   in:  CALLS n, then n lines "pa pb"        (where phone A / phone B of call i send to)
 *   in:  RUN ncalls warmup_ms measure_ms drain_ms ptime_us late_ms
 *   out: MEASURE_START / MEASURE_END / RESULT key=value ...
 *   in:  QUIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXK 16
#define TXBATCH 16
#define RXBATCH 64
#define PKT 172
#define HIST_US 200000

static int K;
static int socks[2][MAXK];
static int ncalls_max;
static uint16_t *dest[2];

static int ncalls;
static int64_t warmup_ns, measure_ns, drain_ns, ptime_ns, late_ns;
static uint64_t sent_measured, sent_total, send_fail, lag_max_ns;
static uint64_t on_time, late, dups, reorder, warm_rx, stray;
static uint64_t *hist;
static uint32_t *expect;
static uint8_t *seen;
static int64_t seen_bits;

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct txq {
    struct mmsghdr msgs[TXBATCH];
    struct iovec iov[TXBATCH];
    struct sockaddr_in names[TXBATCH];
    uint8_t bufs[TXBATCH][PKT];
    int n;
};

static void flush(int fd, struct txq *q) {
    int64_t rt = now_ns(CLOCK_REALTIME);
    int off = 0;
    for (int i = 0; i < q->n; i++) memcpy(q->bufs[i] + 12, &rt, 8);
    while (off < q->n) {
        int r = sendmmsg(fd, q->msgs + off, q->n - off, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            send_fail++;
            off++;
            continue;
        }
        off += r;
    }
    q->n = 0;
}

static void *sender(void *arg) {
    (void)arg;
    int streams = 2 * ncalls;
    struct txq *queues = calloc(2 * K, sizeof(struct txq));
    uint32_t *counter = calloc(streams, sizeof(uint32_t));
    for (int q = 0; q < 2 * K; q++)
        for (int i = 0; i < TXBATCH; i++) {
            queues[q].iov[i].iov_base = queues[q].bufs[i];
            queues[q].iov[i].iov_len = PKT;
            queues[q].msgs[i].msg_hdr.msg_iov = &queues[q].iov[i];
            queues[q].msgs[i].msg_hdr.msg_iovlen = 1;
            queues[q].msgs[i].msg_hdr.msg_name = &queues[q].names[i];
            queues[q].msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
        }
    int64_t start = now_ns(CLOCK_MONOTONIC) + 5000000;
    int64_t warm_end = start + warmup_ns, meas_end = warm_end + measure_ns;
    int64_t s = 0, k = 0, last_wake = 0;
    int announced = 0;
    for (;;) {
        int64_t due = start + k * ptime_ns + s * ptime_ns / streams;
        if (due >= meas_end) break;
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (!announced && now >= warm_end) {
            printf("MEASURE_START\n");
            fflush(stdout);
            announced = 1;
        }
        if (due > now) {
            /* Wake up at most every 200 us and send everything due: a wake-up per packet would cost the
             * generator more than the relay spends on the packet.  The send time is taken at sendmmsg. */
            int64_t wake = due > last_wake + 200000 ? due : last_wake + 200000;
            struct timespec ts = {wake / 1000000000LL, wake % 1000000000LL};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            last_wake = wake;
            continue;
        }
        while (due <= now && due < meas_end) {
            int call = (int)(s >> 1), dir = (int)(s & 1);
            int qi = dir * K + call % K;
            struct txq *q = &queues[qi];
            uint8_t *p = q->bufs[q->n];
            int measured = due >= warm_end;
            uint32_t c = counter[s]++;
            uint16_t seq = (uint16_t)(c + call * 7);
            uint32_t ts = c * 160u, ssrc = htonl((uint32_t)s + 1), stream = (uint32_t)s;
            p[0] = 0x80; p[1] = 0;
            p[2] = seq >> 8; p[3] = seq & 0xFF;
            ts = htonl(ts);
            memcpy(p + 4, &ts, 4);
            memcpy(p + 8, &ssrc, 4);
            memcpy(p + 20, &stream, 4);
            memcpy(p + 24, &c, 4);
            p[28] = (uint8_t)measured;
            memset(p + 29, 0xFF, PKT - 29);
            q->names[q->n].sin_family = AF_INET;
            q->names[q->n].sin_port = htons(dest[dir][call]);
            q->names[q->n].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (measured) {
                sent_measured++;
                if ((uint64_t)(now - due) > lag_max_ns) lag_max_ns = now - due;
            }
            sent_total++;
            if (++q->n == TXBATCH) flush(socks[dir][call % K], q);
            if (++s == streams) { s = 0; k++; }
            due = start + k * ptime_ns + s * ptime_ns / streams;
        }
        for (int qi = 0; qi < 2 * K; qi++)
            if (queues[qi].n) flush(socks[qi / K][qi % K], &queues[qi]);
    }
    if (!announced) { printf("MEASURE_START\n"); fflush(stdout); }
    printf("MEASURE_END\n");
    fflush(stdout);
    free(queues);
    free(counter);
    return NULL;
}

static void drain_all(void) {
    /* Everything the relay sent back waits in the phones' (huge) receive queues: reading it only after the
     * measured window keeps the generator's cost below the relay's; the kernel receive timestamps keep
     * the latency exact. */
    static uint8_t bufs[RXBATCH][256];
    static uint8_t ctrl[RXBATCH][64];
    struct mmsghdr msgs[RXBATCH];
    struct iovec iov[RXBATCH];
    int streams = 2 * ncalls;
    for (int d = 0; d < 2; d++)
        for (int si = 0; si < K; si++) {
            int fd = socks[d][si];
            for (;;) {
                for (int i = 0; i < RXBATCH; i++) {
                    iov[i].iov_base = bufs[i];
                    iov[i].iov_len = sizeof(bufs[i]);
                    memset(&msgs[i].msg_hdr, 0, sizeof(struct msghdr));
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                    msgs[i].msg_hdr.msg_control = ctrl[i];
                    msgs[i].msg_hdr.msg_controllen = sizeof(ctrl[i]);
                }
                int r = recvmmsg(fd, msgs, RXBATCH, MSG_DONTWAIT, NULL);
                if (r <= 0) break;
                int64_t fallback = now_ns(CLOCK_REALTIME);
                for (int i = 0; i < r; i++) {
                    uint8_t *p = bufs[i];
                    if (msgs[i].msg_len < 29) { stray++; continue; }
                    int64_t rx = fallback, tx;
                    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
                         cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                            struct timespec ts;
                            memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                            rx = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
                        }
                    uint32_t stream, c;
                    memcpy(&tx, p + 12, 8);
                    memcpy(&stream, p + 20, 4);
                    memcpy(&c, p + 24, 4);
                    if ((int)stream >= streams || (int64_t)c >= seen_bits) { stray++; continue; }
                    int64_t bit = (int64_t)stream * seen_bits + c;
                    if (seen[bit >> 3] & (1 << (bit & 7))) { dups++; continue; }
                    seen[bit >> 3] |= (uint8_t)(1 << (bit & 7));
                    if (c < expect[stream]) reorder++; else expect[stream] = c + 1;
                    if (!p[28]) { warm_rx++; continue; }
                    int64_t lat = rx - tx;
                    if (lat < 0) lat = 0;
                    if (lat > late_ns) { late++; continue; }
                    on_time++;
                    int64_t us = lat / 1000;
                    hist[us < HIST_US ? us : HIST_US]++;
                }
            }
        }
}

static double percentile(double q) {
    uint64_t target = (uint64_t)(q * (double)on_time), acc = 0;
    if (on_time == 0) return -1;
    for (int i = 0; i <= HIST_US; i++) {
        acc += hist[i];
        if (acc > target) return i + 0.5;
    }
    return HIST_US;
}

int main(int argc, char **argv) {
    K = argc > 1 ? atoi(argv[1]) : 4;
    if (K < 1 || K > MAXK) return 2;
    prctl(PR_SET_TIMERSLACK, 1UL);
    printf("PORTS");
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < K; i++) {
            int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 1 << 30, on = 1;
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            socklen_t len = sizeof(a);
            if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
            if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
            setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
            if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) { perror("bind"); return 1; }
            getsockname(fd, (struct sockaddr *)&a, &len);
            socks[d][i] = fd;
            printf(" %d", ntohs(a.sin_port));
        }
    printf("\n");
    fflush(stdout);
    hist = calloc(HIST_US + 1, sizeof(uint64_t));
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "CALLS", 5) == 0) {
            ncalls_max = atoi(line + 6);
            free(dest[0]);
            free(dest[1]);
            dest[0] = calloc(ncalls_max + 1, sizeof(uint16_t));
            dest[1] = calloc(ncalls_max + 1, sizeof(uint16_t));
            for (int i = 0; i < ncalls_max; i++) {
                unsigned pa, pb;
                if (!fgets(line, sizeof(line), stdin) || sscanf(line, "%u %u", &pa, &pb) != 2) return 3;
                dest[0][i] = (uint16_t)pa;
                dest[1][i] = (uint16_t)pb;
            }
            printf("OK\n");
            fflush(stdout);
        } else if (strncmp(line, "RUN", 3) == 0) {
            long long w, m, d, p, l;
            if (sscanf(line + 4, "%d %lld %lld %lld %lld %lld", &ncalls, &w, &m, &d, &p, &l) != 6 ||
                ncalls < 1 || ncalls > ncalls_max) return 4;
            warmup_ns = w * 1000000LL; measure_ns = m * 1000000LL; drain_ns = d * 1000000LL;
            ptime_ns = p * 1000LL; late_ns = l * 1000000LL;
            sent_measured = sent_total = send_fail = lag_max_ns = 0;
            on_time = late = dups = reorder = warm_rx = stray = 0;
            memset(hist, 0, (HIST_US + 1) * sizeof(uint64_t));
            seen_bits = (warmup_ns + measure_ns) / ptime_ns + 8;
            expect = calloc(2 * ncalls, sizeof(uint32_t));
            seen = calloc((size_t)(2 * ncalls * seen_bits / 8 + 1), 1);
            drain_all();  /* leftovers of an earlier run */
            stray = 0;
            sender(NULL);
            struct timespec ds = {drain_ns / 1000000000LL, drain_ns % 1000000000LL};
            nanosleep(&ds, NULL);
            drain_all();
            printf("RESULT sent=%" PRIu64 " on_time=%" PRIu64 " late=%" PRIu64 " dup=%" PRIu64
                   " reorder=%" PRIu64 " stray=%" PRIu64 " send_fail=%" PRIu64 " lag_max_us=%" PRIu64
                   " p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
                   sent_measured, on_time, late, dups, reorder, stray, send_fail, lag_max_ns / 1000,
                   percentile(0.50), percentile(0.99), percentile(0.999), percentile(1.0 - 1e-12));
            fflush(stdout);
            free(expect);
            free(seen);
        } else if (strncmp(line, "QUIT", 4) == 0) {
            break;
        }
    }
    return 0;
}
"""


FLOOR_C = r"""
/* The kernel's floor for a userspace relay on this machine: one flow, no epoll, nothing but recvmmsg and
 * sendmmsg/sendto between two sockets, CPU time of the relaying thread only.  argv: packets, batch. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static struct sockaddr_in leg_in, leg_out, sink, source;
static int fd_in, fd_out, fd_sink, fd_source;
static long total;
static volatile int sender_done;

static int udp(struct sockaddr_in *a) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 64 << 20;
    socklen_t len = sizeof(*a);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)a, sizeof(*a));
    getsockname(fd, (struct sockaddr *)a, &len);
    return fd;
}

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *sender(void *arg) {
    static uint8_t bufs[32][172];
    struct mmsghdr msgs[32];
    struct iovec iov[32];
    long sent = 0;
    (void)arg;
    for (int i = 0; i < 32; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = 172;
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &leg_in;
        msgs[i].msg_hdr.msg_namelen = sizeof(leg_in);
    }
    while (sent < total) {
        int r = sendmmsg(fd_source, msgs, 32, 0);
        if (r > 0) sent += r;
        if ((sent / 32) % 64 == 0) {
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
    }
    sender_done = 1;
    return NULL;
}

int main(int argc, char **argv) {
    static uint8_t bufs[64][2048];
    struct mmsghdr in[64], out[64];
    struct iovec in_iov[64], out_iov[64];
    struct sockaddr_in names[64];
    pthread_t thread;
    long got = 0;
    int batch;
    if (argc < 3) return 2;
    total = atol(argv[1]);
    batch = atoi(argv[2]);
    fd_in = udp(&leg_in);
    fd_out = udp(&leg_out);
    fd_sink = udp(&sink);
    fd_source = udp(&source);
    for (int i = 0; i < 64; i++) {
        in_iov[i].iov_base = bufs[i];
        in_iov[i].iov_len = sizeof(bufs[i]);
        memset(&in[i], 0, sizeof(in[i]));
        in[i].msg_hdr.msg_iov = &in_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &names[i];
        memset(&out[i], 0, sizeof(out[i]));
        out[i].msg_hdr.msg_iov = &out_iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
        out[i].msg_hdr.msg_name = &sink;
        out[i].msg_hdr.msg_namelen = sizeof(sink);
    }
    struct timeval wait = {0, 200000};  /* a datagram dropped on overflow must not hang the loop */
    setsockopt(fd_in, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    pthread_create(&thread, NULL, sender, NULL);
    double start = thread_cpu();
    while (got < total) {
        for (int i = 0; i < batch; i++) in[i].msg_hdr.msg_namelen = sizeof(names[i]);
        int r = recvmmsg(fd_in, in, batch, 0, NULL);
        if (r <= 0) {
            if (sender_done) break;
            continue;
        }
        for (int i = 0; i < r; i++) {
            out_iov[i].iov_base = bufs[i];
            out_iov[i].iov_len = in[i].msg_len;
        }
        if (r == 1)
            sendto(fd_out, bufs[0], in[0].msg_len, 0, (struct sockaddr *)&sink, sizeof(sink));
        else
            sendmmsg(fd_out, out, r, 0);
        got += r;
    }
    double used = thread_cpu() - start;
    printf("batch %d: %.2f us CPU per packet = %.0f kpps/core", batch, used / got * 1e6, got / used / 1e3);
    pthread_join(thread, NULL);
    return 0;
}
"""


# -- the generator ----------------------------------------------------------------------------------------

def build(workdir: Path, name: str, source_text: str) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("no C compiler: install the Debian package build-essential")
    source = workdir / f"{name}.c"
    source.write_text(source_text)
    binary = workdir / name
    subprocess.run([compiler, "-O2", "-pthread", "-o", str(binary), str(source)], check=True)
    return binary


def build_generator(workdir: Path) -> Path:
    return build(workdir, "rtpgen", GENERATOR_C)


def kernel_floor(workdir: Path, packets: int) -> str:
    """What a bare C relay loop costs per packet here (context for the per-core figures)."""
    binary = build(workdir, "floor", FLOOR_C)
    lines = []
    for batch in (32, 1):
        out = subprocess.run([str(binary), str(packets), str(batch)], capture_output=True, text=True, timeout=60,
                             check=True, preexec_fn=_renice).stdout.strip()
        lines.append(out)
    return "; ".join(lines)


@dataclass
class GenResult:
    sent: int
    on_time: int
    late: int
    dup: int
    lag_max_us: int
    p50_us: float
    p99_us: float
    cpu_s: float      # relay CPU over the measured window
    wall_s: float
    wait_s: float     # time the relay's threads were runnable but waiting for a CPU
    foreign_cores: float = 0.0  # CPU used meanwhile by processes that are neither relay nor generator

    @property
    def lost(self) -> int:
        return self.sent - self.on_time

    @property
    def sustained(self) -> bool:
        """The generator offered the load on time (else the machine, relay included, could not carry it)."""
        return self.lag_max_us <= LATE_MS * 1000

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.dup == 0 and self.sustained


class Generator:
    """The C generator process: its phones' ports, a call table, runs."""

    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen([str(binary), str(SOCKETS_PER_SIDE)], preexec_fn=_renice, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        words = self._line().split()
        if not words or words[0] != "PORTS":
            raise SystemExit(f"generator did not start: {words}")
        ports = [int(w) for w in words[1:]]
        self.a_ports, self.b_ports = ports[:SOCKETS_PER_SIDE], ports[SOCKETS_PER_SIDE:]

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("generator exited")
        return line.strip()

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def set_calls(self, table: list[tuple[int, int]]) -> None:
        """Call i: phone A sends to port table[i][0], phone B to table[i][1] (on 127.0.0.1)."""
        self._send(f"CALLS {len(table)}\n" + "".join(f"{a} {b}\n" for a, b in table))
        if self._line() != "OK":
            raise SystemExit("generator refused the call table")

    def run(self, calls: int, warmup_ms: int, measure_ms: int, relay_pid: int | None) -> GenResult:
        self._send(f"RUN {calls} {warmup_ms} {measure_ms} 200 {PTIME_US} {LATE_MS}\n")
        start = end = Snapshot.take(relay_pid, self.process.pid)
        while True:
            line = self._line()
            if line == "MEASURE_START":
                start = Snapshot.take(relay_pid, self.process.pid)
            elif line == "MEASURE_END":
                end = Snapshot.take(relay_pid, self.process.pid)
            elif line.startswith("RESULT"):
                values = dict(item.split("=") for item in line.split()[1:])
                wall = end.time - start.time
                ours = (end.relay_cpu - start.relay_cpu) + (end.generator_cpu - start.generator_cpu)
                foreign = (end.busy - start.busy) - ours - (end.own_cpu - start.own_cpu)
                return GenResult(int(values["sent"]), int(values["on_time"]), int(values["late"]),
                                 int(values["dup"]), int(values["lag_max_us"]), float(values["p50_us"]),
                                 float(values["p99_us"]), (end.relay_cpu - start.relay_cpu) / 1e9, wall,
                                 (end.relay_wait - start.relay_wait) / 1e9, max(foreign, 0) / 1e9 / wall if wall else 0)

    def close(self) -> None:
        try:
            self._send("QUIT\n")
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, SystemExit):
            self.process.kill()
            self.process.wait()


CLOCK_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def system_busy_ns() -> int:
    """CPU time of the whole machine outside idle, I/O wait and the hypervisor's steal (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) * CLOCK_TICK_NS


@dataclass
class Snapshot:
    """CPU accounting at one instant: the relay, the generator, this script and the whole machine."""

    time: float
    relay_cpu: int
    relay_wait: int
    generator_cpu: int
    own_cpu: int
    busy: int

    @classmethod
    def take(cls, relay_pid: int | None, generator_pid: int) -> Snapshot:
        relay_cpu, relay_wait = process_cpu_ns(relay_pid)
        return cls(time.monotonic(), relay_cpu, relay_wait, process_cpu_ns(generator_pid)[0],
                   process_cpu_ns(os.getpid())[0], system_busy_ns())


def wait_until_quiet(max_wait: float, threshold_cores: float = 0.15) -> float:
    """Wait (at most ``max_wait`` s) for a second in which the machine is busy less than ``threshold_cores``.

    The machine is shared: measuring while others' programs run measures them.  Returns the last load seen.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before, t0 = system_busy_ns(), time.monotonic()
        time.sleep(1.0)
        load = (system_busy_ns() - before) / 1e9 / (time.monotonic() - t0)
        if load < threshold_cores or time.monotonic() >= deadline:
            return load


def process_cpu_ns(pid: int | None) -> tuple[int, int]:
    """CPU time and run-queue wait of every thread of ``pid`` (ns, the scheduler's own accounting)."""
    if pid is None:
        return 0, 0
    cpu = wait = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
            cpu += int(fields[0])
            wait += int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    return cpu, wait


# -- our relay, in its own process ------------------------------------------------------------------------

def raise_fd_limit(wanted: int = 65536) -> None:
    """rtpengine needs 4 sockets per call (RTP + RTCP, both sides), our relay 2: raise the limit (root may)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((max(wanted, soft), max(wanted, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return
        except (ValueError, OSError):
            continue


def _default_relay_threads() -> int:
    from cython_media.relay import default_threads

    return default_threads()


def serve_relay(pure: bool, coalesce_us: int | None, threads: int) -> int:
    """``--serve-relay``: create the legs for the calls asked on stdin and relay them until QUIT."""
    if pure:
        os.environ["CENTRALITA_NO_EXTENSIONS"] = "1"
    from cython_media import relay

    raise_fd_limit()
    options = {} if coalesce_us is None else {"coalesce_us": coalesce_us}
    engine = relay.RelayPool(threads, **options)  # as the gateway runs it ([media] relay_threads)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "SETUP":
            calls = int(words[1])
            a_ports = [int(w) for w in words[2:2 + SOCKETS_PER_SIDE]]
            b_ports = [int(w) for w in words[2 + SOCKETS_PER_SIDE:2 + 2 * SOCKETS_PER_SIDE]]
            ports: list[str] = []
            for i in range(calls):
                legs = []
                for phone_port in (a_ports[i % SOCKETS_PER_SIDE], b_ports[i % SOCKETS_PER_SIDE]):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sock.bind(("127.0.0.1", 0))
                    ports.append(str(sock.getsockname()[1]))
                    # Remote from the SDP, learnt again from the first packet (rtpengine does the same).
                    legs.append((sock, relay.Leg(sock, random.getrandbits(32), ("127.0.0.1", phone_port), latch=True)))
                engine.add_pair(legs[0][1], legs[1][1])
                for sock, _ in legs:
                    sock.close()  # the engine keeps its own duplicate
            engine.start()
            print("PORTS " + " ".join(ports), flush=True)
        elif words[0] == "STATS":
            totals = [0, 0, 0]
            for pair_id in engine.pair_ids():
                for leg in engine.stats(pair_id):
                    totals[0] += leg.packets_out
                    totals[1] += leg.dropped
                    totals[2] += leg.send_errors
            print(f"STATS out={totals[0]} dropped={totals[1]} send_errors={totals[2]}", flush=True)
        elif words[0] == "QUIT":
            break
    engine.close()
    return 0


class OurRelay:
    name = "centralita"

    def __init__(self, generator: Generator, calls: int, pure: bool, coalesce_us: int | None = None,
                 threads: int = 0) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-relay", f"--relay-threads={threads}"]
        if pure:
            command.append("--pure")
        if coalesce_us is not None:
            command.append(f"--coalesce-us={coalesce_us}")
        self.process = subprocess.Popen(command, preexec_fn=_renice, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True,
                                        bufsize=1, cwd=REPO)
        self.pid: int | None = self.process.pid
        assert self.process.stdin is not None and self.process.stdout is not None
        ports = " ".join(map(str, generator.a_ports + generator.b_ports))
        self.process.stdin.write(f"SETUP {calls} {ports}\n")
        self.process.stdin.flush()
        words = self.process.stdout.readline().split()
        if not words or words[0] != "PORTS":
            self.close()
            raise SystemExit("relay process did not start")
        numbers = [int(w) for w in words[1:]]
        self.table = [(numbers[2 * i], numbers[2 * i + 1]) for i in range(calls)]

    def close(self) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write("QUIT\n")
            self.process.stdin.flush()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


# -- rtpengine ----------------------------------------------------------------------------------------------

Bencodable = Union[int, str, bytes, list[Any], dict[str, Any]]


def bencode(value: Bencodable) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


def bdecode(data: bytes, i: int = 0) -> tuple[Any, int]:
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        i += 1
        items: list[Any] = []
        while data[i:i + 1] != b"e":
            item, i = bdecode(data, i)
            items.append(item)
        if c == b"l":
            return items, i + 1
        return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, i + 1
    colon = data.index(b":", i)
    length = int(data[i:colon])
    return data[colon + 1:colon + 1 + length], colon + 1 + length


class RtpEngine:
    """rtpengine in the foreground, userspace forwarding only, driven over its ng protocol."""

    name = "rtpengine"

    def __init__(self, workdir: Path, generator: Generator, calls: int) -> None:
        binary = shutil.which("rtpengine")
        if binary is None:
            raise FileNotFoundError("rtpengine not installed: apt-get install -y rtpengine-daemon")
        self.ng_port = free_port()
        self.log = (workdir / "rtpengine.log").open("w")
        self.process = subprocess.Popen(
            [binary, "--config-file=none", "--foreground", "--log-stderr", "--table=-1", "--interface=127.0.0.1",
             f"--listen-ng=127.0.0.1:{self.ng_port}", "--port-min=20000", "--port-max=59999", "--log-level=3",
             "--timeout=3600", "--silent-timeout=3600", "--delete-delay=0"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_renice)
        self.pid: int | None = self.process.pid
        self.control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.control.connect(("127.0.0.1", self.ng_port))
        self.control.settimeout(0.5)
        self._cookie = 0
        try:
            self.table = self._set_up(workdir, generator, calls)
        except BaseException:
            self.close()
            raise

    def _set_up(self, workdir: Path, generator: Generator, calls: int) -> list[tuple[int, int]]:
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.command({"command": "ping"}).get("result") == b"pong":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"rtpengine did not answer on its ng port; see {workdir / 'rtpengine.log'}")
            time.sleep(0.1)
        return [self._allocate(i, generator.a_ports[i % SOCKETS_PER_SIDE], generator.b_ports[i % SOCKETS_PER_SIDE])
                for i in range(calls)]

    def command(self, message: dict[str, Any]) -> dict[str, Any]:
        for _attempt in range(5):
            self._cookie += 1
            cookie = b"c%d" % self._cookie
            self.control.send(cookie + b" " + bencode(message))
            try:
                while True:
                    reply = self.control.recv(65536)
                    if reply.startswith(cookie + b" "):
                        decoded, _ = bdecode(reply, len(cookie) + 1)
                        return dict(decoded)
            except TimeoutError:
                continue
        raise OSError("rtpengine ng command timed out")

    @staticmethod
    def _sdp(port: int) -> str:
        return (f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")

    def _allocate(self, i: int, phone_a: int, phone_b: int) -> tuple[int, int]:
        """offer (phone A's SDP) / answer (phone B's): the ports phone A and phone B send to."""
        common = {"call-id": f"bench-{i}", "from-tag": f"a{i}"}
        offer = self.command({"command": "offer", "sdp": self._sdp(phone_a), **common})
        port_b = self._port(offer, i)  # the offer's SDP goes to B: the port B sends to
        answer = self.command({"command": "answer", "sdp": self._sdp(phone_b), "to-tag": f"b{i}", **common})
        return self._port(answer, i), port_b

    @staticmethod
    def _port(reply: dict[str, Any], call: int) -> int:
        if reply.get("result") != b"ok":
            raise SystemExit(f"rtpengine refused call {call}: {reply}")
        match = re.search(rb"m=audio (\d+)", reply["sdp"])
        if match is None:
            raise SystemExit(f"no m=audio in rtpengine's SDP: {reply['sdp']!r}")
        return int(match.group(1))

    def close(self) -> None:
        self.control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- measurement ----------------------------------------------------------------------------------------------

@dataclass
class Step:
    calls: int
    result: GenResult

    @property
    def relayed_pps(self) -> float:
        return self.result.on_time / self.result.wall_s if self.result.wall_s else 0.0

    @property
    def per_core(self) -> float:
        return self.result.on_time / self.result.cpu_s if self.result.cpu_s else 0.0

    def line(self, label: str) -> str:
        r = self.result
        cores = r.cpu_s / r.wall_s if r.wall_s else 0.0
        lag = f"  generator lag {r.lag_max_us / 1000:.0f} ms" if r.lag_max_us > 20_000 else ""
        lag += " (load not sustained)" if not r.sustained else ""
        lag += f"  others' load {r.foreign_cores:.2f} cores" if r.foreign_cores > 0.05 else ""
        lag += f"  relay waited {r.wait_s:.2f} s for a CPU" if r.wait_s > 0.05 * r.wall_s else ""
        return (f"    {label:<10} {self.calls:5d} calls  offered {self.calls * 100 / 1000:6.1f} kpps  "
                f"relayed {self.relayed_pps / 1000:6.1f} kpps  lost {r.lost:6d} (late {r.late})  "
                f"CPU {cores:4.2f} core  {self.per_core / 1000:6.1f} kpps/core  "
                f"p50 {r.p50_us:7.1f} us  p99 {r.p99_us:8.1f} us{lag}")


@dataclass
class RampResult:
    best: Step | None
    at_latency: Step | None
    steps: list[Step]


FOREIGN_LIMIT = 0.15  # cores used by other programs during a step beyond which it is measured again


def measure(generator: Generator, relay_pid: int | None, calls: int, warmup_ms: int, measure_ms: int,
            attempts: int, label: str) -> GenResult:
    """One step; measured again (up to ``attempts`` times, after waiting for a quiet machine) when other
    programs used more than FOREIGN_LIMIT cores meanwhile."""
    for attempt in range(attempts):
        if attempts > 1:
            wait_until_quiet(60.0)
        result = generator.run(calls, warmup_ms, measure_ms, relay_pid)
        if result.foreign_cores <= FOREIGN_LIMIT or attempt == attempts - 1:
            return result
        print(Step(calls, result).line(label) + "  -> measured again", flush=True)
    raise AssertionError("unreachable")


def ramp(generator: Generator, relay: OurRelay | RtpEngine, steps: list[int], warmup_ms: int,
         measure_ms: int, label: str, attempts: int, prime: bool = True) -> RampResult:
    generator.set_calls(relay.table)
    # Every call's streams once before measuring (not counted): a relay may learn or set up a stream on its
    # first packets (rtpengine's endpoint learning), which must not count as loss at the step a call joins.
    if prime:
        generator.run(max(steps), 100, 300, None)
        time.sleep(1.0)  # what the relay still holds arrives now; the next run drains it before measuring
    done: list[Step] = []
    best = None
    for calls in steps:
        step = Step(calls, measure(generator, relay.pid, calls, warmup_ms, measure_ms, attempts, label))
        print(step.line(label), flush=True)
        done.append(step)
        if not step.result.clean:
            break
        best = step
    # Latency at LATENCY_CALLS (or the largest step of a short ramp) even when the ramp stopped before it.
    latency_calls = min(LATENCY_CALLS, max(steps))
    at_latency = next((step for step in done if step.calls == latency_calls), None)
    if at_latency is None:
        at_latency = Step(latency_calls, measure(generator, relay.pid, latency_calls, warmup_ms, measure_ms,
                                                 attempts, label))
        print(at_latency.line(label) + "  (latency step)", flush=True)
    return RampResult(best, at_latency, done)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="a few seconds at a small load (CI)")
    parser.add_argument("--runs", type=int, default=3, help="runs in full mode (median reported)")
    parser.add_argument("--pure", action="store_true", help="measure the pure-Python twin instead")
    parser.add_argument("--only", choices=["centralita", "rtpengine"], help="measure one relay only")
    parser.add_argument("--relay-threads", type=int, default=0,
                        help="threads of our relay ([media] relay_threads; 0: one per CPU like rtpengine's default)")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of the generator and both relays (negative needs root): isolates the "
                             "measurement from other programs on a shared machine; the same for both relays")
    parser.add_argument("--attempts", type=int, default=3,
                        help="full mode: measure a step again (after waiting for a quiet machine) up to this many "
                             "times while other programs use more than 0.15 cores")
    parser.add_argument("--coalesce-us", type=int, default=None,
                        help="the relay engine's coalescing wait (default: the engine's default)")
    parser.add_argument("--serve-relay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=lambda text: [int(x) for x in text.split(",")], default=None,
                        help="comma-separated call counts of the ramp")
    args = parser.parse_args()
    if args.serve_relay:
        return serve_relay(args.pure, args.coalesce_us, args.relay_threads)
    global NICE
    NICE = args.nice
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: no orphaned relays
    raise_fd_limit()
    if args.smoke:
        steps, runs, warmup_ms, measure_ms, attempts = args.steps or [200], 1, 100, 500, 1
    else:
        steps, runs, warmup_ms, measure_ms, attempts = args.steps or FULL_STEPS, args.runs, 500, 3000, args.attempts
    if not args.pure:
        try:
            import cython_media._relay  # noqa: F401
        except ImportError:
            raise SystemExit("cython_media._relay is not built: python setup.py build_ext --inplace "
                             "(or --pure to measure the pure twin)") from None
    load = os.getloadavg()
    print(f"RTP relay, {len(steps)} step(s) of {measure_ms / 1000:.1f} s, G.711 20 ms (172-byte RTP), "
          f"generator in a separate process, 127.0.0.1, {os.cpu_count()} CPUs, both relays with their default "
          f"threads (ours: {args.relay_threads or _default_relay_threads()}), "
          f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    have_rtpengine = shutil.which("rtpengine") is not None
    if not have_rtpengine and args.only != "centralita":
        message = "rtpengine not installed (apt-get install -y rtpengine-daemon)"
        if not args.smoke:
            raise SystemExit(message)
        print(f"  rtpengine: skipped, {message}")
    ours_label = "pure twin" if args.pure else "centralita"
    results: dict[str, list[RampResult]] = {ours_label: [], "rtpengine": []}
    baselines: list[GenResult] = []
    max_calls = max(steps)
    with tempfile.TemporaryDirectory(prefix="cta-rtpbench-") as tmp:
        workdir = Path(tmp)
        print("  kernel floor (bare C recvmmsg/sendmmsg loop, one flow): "
              + kernel_floor(workdir, 20_000 if args.smoke else 300_000), flush=True)
        generator = Generator(build_generator(workdir))
        try:
            for run in range(runs):
                print(f"  run {run + 1}/{runs}", flush=True)
                latency_calls = min(LATENCY_CALLS, max_calls)
                generator.set_calls([(generator.b_ports[i % SOCKETS_PER_SIDE], generator.a_ports[i % SOCKETS_PER_SIDE])
                                     for i in range(latency_calls)])
                baseline = measure(generator, None, latency_calls, warmup_ms, measure_ms, attempts, "baseline")
                baselines.append(baseline)
                print(f"    {'baseline':<10} {latency_calls:5d} calls  phones talking directly: "
                      f"p50 {baseline.p50_us:.1f} us  p99 {baseline.p99_us:.1f} us  lost {baseline.lost}", flush=True)
                order = [ours_label, "rtpengine"] if run % 2 == 0 else ["rtpengine", ours_label]
                for name in order:
                    skipped = args.only is not None and (name == "rtpengine") != (args.only == "rtpengine")
                    if skipped or (name == "rtpengine" and not have_rtpengine):
                        continue
                    relay: OurRelay | RtpEngine
                    relay = (OurRelay(generator, max_calls, args.pure, args.coalesce_us, args.relay_threads)
                             if name == ours_label
                             else RtpEngine(workdir, generator, max_calls))
                    try:
                        results[name].append(ramp(generator, relay, steps, warmup_ms, measure_ms, name, attempts,
                                                  prime=not args.smoke))
                    finally:
                        relay.close()
        finally:
            generator.close()
    return report(results, baselines, ours_label, args.smoke)


def report(results: dict[str, list[RampResult]], baselines: list[GenResult], ours: str, smoke: bool) -> int:
    print("summary (median of runs)" if len(baselines) > 1 else "summary")
    figures: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        if not runs:
            continue
        best = [r.best for r in runs]
        lat = [r.at_latency for r in runs if r.at_latency is not None and r.at_latency.result.on_time]
        figures[name] = {
            "pps": median([b.relayed_pps if b else 0.0 for b in best]),
            "calls": median([b.calls if b else 0 for b in best]),
            "per_core": median([b.per_core if b else 0.0 for b in best]),
            "per_core_latency_step": median([s.per_core for s in lat]),
            "p50": median([s.result.p50_us for s in lat]),
            "p99": median([s.result.p99_us for s in lat]),
            "latency_calls": median([s.calls for s in lat]),
        }
        f = figures[name]
        capped = any(r.best is not None and r.best is r.steps[-1] for r in runs)
        print(f"  {name:<10} highest clean load {f['calls']:.0f} calls = {f['pps'] / 1000:.1f} kpps relayed"
              f"{' (every step clean: the ramp, not the relay, was the limit)' if capped else ''}; "
              f"{f['per_core'] / 1000:.1f} kpps per core at that load; at {f['latency_calls']:.0f} calls "
              f"{f['per_core_latency_step'] / 1000:.1f} kpps per core, latency p50 {f['p50']:.1f} us "
              f"p99 {f['p99']:.1f} us")
    print(f"  baseline (no relay) p50 {median([b.p50_us for b in baselines]):.1f} us "
          f"p99 {median([b.p99_us for b in baselines]):.1f} us")
    ok = True
    base_p50 = median([b.p50_us for b in baselines])
    base_p99 = median([b.p99_us for b in baselines])
    for name, f in figures.items():
        print(f"  {name}: added latency p50 {f['p50'] - base_p50:.1f} us p99 {f['p99'] - base_p99:.1f} us at "
              f"{f['latency_calls']:.0f} calls (relay minus the phones' direct path)")
    if ours in figures:
        f = figures[ours]
        ok = f["per_core"] >= TARGET_PER_CORE and f["p99"] <= TARGET_P99_US
    if ours in figures and "rtpengine" in figures:
        o, r = figures[ours], figures["rtpengine"]
        throughput = o["pps"] / r["pps"] if r["pps"] else float("inf")
        efficiency = o["per_core"] / r["per_core"] if r["per_core"] else float("inf")
        same_load = (o["per_core_latency_step"] / r["per_core_latency_step"]
                     if r["per_core_latency_step"] else float("inf"))
        print(f"  ratio {ours}/rtpengine: highest clean throughput x{throughput:.2f}, packets per core at each "
              f"one's highest clean load x{efficiency:.2f}, packets per core at {o['latency_calls']:.0f} calls "
              f"x{same_load:.2f}")
        ok = ok and efficiency >= TARGET_RATIO
    print(f"  targets (>= {TARGET_PER_CORE // 1000} kpps per core, >= x{TARGET_RATIO} rtpengine, p99 <= "
          f"{TARGET_P99_US / 1000:.0f} ms at {LATENCY_CALLS} calls): {'met' if ok else 'NOT met'}")
    return 0 if ok or smoke else 1


if __name__ == "__main__":
    sys.exit(main())
