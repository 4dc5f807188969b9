# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""RTP relay between pairs of UDP legs, compiled: the twin of ``_relay_py.py`` (read its docstring).

The loop runs in a thread of its own without the GIL: ``epoll_wait`` (edge-triggered) with a short
timeout, then for each ready socket ``recvmmsg`` batches of up to 32 datagrams, the RFC 3550 rewrite in
place, and one ``sendmmsg`` (``sendto`` for a single datagram) from the paired leg's socket to its remote.  No Python object is touched in the loop; control
operations (add/remove a pair, statistics, events) take a mutex the loop holds only while it serves one
socket, and the loop reports RTP timeouts and latching through a queue signalled by an eventfd.

Same API, types and results as the pure twin; the types (``Leg``, ``LegStats``, events, ``RelayError``)
are the twin's.
"""

import os
import socket
import threading
import time

from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.unistd cimport close, read, write

from cython_media._relay_py import (
    BATCH,
    DEFAULT_COALESCE_US,
    EVENT_QUEUE_SIZE,
    IDLE_SCAN_NS,
    MAX_DATAGRAM,
    MAX_DROPOUT,
    MAX_ELAPSED_NS,
    MAX_MISORDER,
    NO_BAD_SEQ,
    POLL_INTERVAL,
    REORDER_WINDOW,
    ROUNDS_PER_EVENT,
    FlowStats,
    Leg,
    PhoneReport,
    LegStats,
    RelayError,
    RemoteLatched,
    RtcpMode,
    RtpTimeout,
    Side,
    check_coalesce,
    check_leg,
    check_pair,
    fd_of,
    normalise_remote,
    socket_family,
)

__all__ = ["RelayEngine", "flow_stats", "rewrite_stream"]


from cython_media._sockets cimport (
    iovec,
    socklen_t,
    sa_family_t,
    sockaddr,
    sockaddr_storage,
    msghdr,
    mmsghdr,
    recvmmsg,
    sendmmsg,
    sendto,
    MSG_DONTWAIT,
    MSG_TRUNC,
    AF_INET,
    AF_INET6,
    in_addr,
    in6_addr,
    sockaddr_in,
    sockaddr_in6,
    htons,
    ntohs,
    inet_pton,
    inet_ntop,
)

cdef extern from "<sys/epoll.h>" nogil:
    ctypedef union epoll_data_t:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
    int EPOLL_CLOEXEC
    int EPOLL_CTL_ADD
    int EPOLL_CTL_DEL
    int EPOLLIN
    int EPOLLET

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    int EFD_NONBLOCK
    int EFD_CLOEXEC

cdef extern from "<fcntl.h>" nogil:
    int fcntl(int fd, int cmd, ...)
    int F_DUPFD_CLOEXEC

cdef extern from "<sys/prctl.h>" nogil:
    int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)
    int PR_SET_TIMERSLACK

cdef extern from "<time.h>" nogil:
    int clock_nanosleep(int clockid, int flags, const timespec *request, timespec *remain)
    int TIMER_ABSTIME

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *mutex, void *attr)
    int pthread_mutex_destroy(pthread_mutex_t *mutex)
    int pthread_mutex_lock(pthread_mutex_t *mutex)
    int pthread_mutex_unlock(pthread_mutex_t *mutex)


cdef enum:
    C_BATCH = 32
    C_MAX_DATAGRAM = 2048
    C_ROUNDS = 4
    C_MAX_EVENTS = 1024
    C_EVENT_QUEUE = 1024
    C_PENDING = 4096
    RTCP_SR = 200
    RTCP_RR = 201
    RTCP_SDES = 202
    RTCP_BYE = 203
    RTCP_APP = 204
    RTCP_RTPFB = 205
    RTCP_PSFB = 206
    RTCP_XR = 207
    EVENT_TIMEOUT = 0
    EVENT_LATCHED = 1
    C_MAX_DROPOUT = 3000
    C_MAX_MISORDER = 100
    C_REORDER_WINDOW = 64
    C_NO_BAD_SEQ = 0x10001

cdef uint64_t WAKE_DATA = 0xFFFFFFFFFFFFFFFF
cdef int64_t MAX_ELAPSED_NS_C = MAX_ELAPSED_NS
cdef int64_t IDLE_SCAN_NS_C = IDLE_SCAN_NS
cdef int POLL_INTERVAL_MS = int(POLL_INTERVAL * 1000)

assert BATCH == C_BATCH and MAX_DATAGRAM == C_MAX_DATAGRAM and ROUNDS_PER_EVENT == C_ROUNDS
assert EVENT_QUEUE_SIZE == C_EVENT_QUEUE
assert MAX_DROPOUT == C_MAX_DROPOUT and MAX_MISORDER == C_MAX_MISORDER and REORDER_WINDOW == C_REORDER_WINDOW
assert NO_BAD_SEQ == C_NO_BAD_SEQ


cdef struct Tx:
    # Rewrite state of the stream sent on one leg; see _relay_py._Direction.
    uint32_t ssrc
    uint8_t pt_map[128]
    int has_next_seq
    int has_next_ts
    uint16_t next_seq
    uint32_t next_ts
    int have_src
    uint32_t src_ssrc
    uint16_t seq_delta
    uint32_t ts_delta
    int have_prev
    uint32_t prev_ssrc
    uint16_t prev_seq_delta
    uint32_t prev_ts_delta
    uint16_t prev_max_seq
    uint16_t max_seq
    uint32_t max_ts
    int64_t last_out_ns
    uint32_t step
    uint64_t source_changes
    int have_report
    uint8_t report_fraction
    int32_t report_lost
    uint32_t report_highest
    uint32_t report_jitter

cdef struct FlowC:
    # Reception statistics of the RTP a leg's phone sends; see _relay_py._Flow.
    int event_pt
    int have_src
    uint32_t ssrc
    uint64_t sources
    uint32_t base_seq
    uint16_t max_seq
    uint32_t bad_seq
    uint64_t cycles
    uint64_t received
    uint64_t window
    uint64_t retired_expected
    uint64_t retired_received
    uint64_t duplicates
    int have_transit
    uint32_t transit
    uint64_t jitter
    uint64_t max_jitter
    uint64_t jitter_sum
    uint64_t jitter_samples
    uint64_t forwarded
    uint64_t forwarded_bytes

cdef struct LegC:
    int fd
    int rtcp_fd
    int family
    sockaddr_storage remote
    int has_remote
    sockaddr_storage rtcp_remote
    int has_rtcp_remote
    int rtcp_remote_fixed
    int latch
    int latched
    int rtcp_latched
    Tx tx
    FlowC flow
    int64_t timeout_ns
    int timed_out
    int64_t added_ns
    int64_t last_seen_ns
    uint64_t packets_in
    uint64_t bytes_in
    uint64_t packets_out
    uint64_t bytes_out
    uint64_t dropped
    uint64_t rtcp_in
    uint64_t rtcp_out
    uint64_t send_errors

cdef struct PairC:
    int in_use
    uint32_t gen
    uint64_t pair_id
    uint32_t clock_rate
    int rtcp_mode
    LegC legs[2]

cdef struct EventC:
    int kind
    uint64_t pair_id
    int side
    int rtcp
    double idle
    sockaddr_storage addr


# -- byte order and addresses --------------------------------------------------------------------------

cdef inline uint16_t rd16(const uint8_t *p) noexcept nogil:
    return <uint16_t>((p[0] << 8) | p[1])

cdef inline uint32_t rd32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]

cdef inline void wr16(uint8_t *p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v

cdef inline void wr32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v

cdef inline bint serial_newer(uint16_t a, uint16_t b) noexcept nogil:
    cdef uint16_t d = <uint16_t>(a - b)
    return 0 < d < 0x8000

cdef inline socklen_t addr_len(const sockaddr_storage *a) noexcept nogil:
    return sizeof(sockaddr_in6) if a.ss_family == AF_INET6 else sizeof(sockaddr_in)

cdef inline bint addr_eq(const sockaddr_storage *a, const sockaddr_storage *b) noexcept nogil:
    cdef const sockaddr_in *a4
    cdef const sockaddr_in *b4
    cdef const sockaddr_in6 *a6
    cdef const sockaddr_in6 *b6
    if a.ss_family != b.ss_family:
        return False
    if a.ss_family == AF_INET:
        a4 = <const sockaddr_in *>a
        b4 = <const sockaddr_in *>b
        return a4.sin_port == b4.sin_port and a4.sin_addr.s_addr == b4.sin_addr.s_addr
    a6 = <const sockaddr_in6 *>a
    b6 = <const sockaddr_in6 *>b
    return a6.sin6_port == b6.sin6_port and memcmp(&a6.sin6_addr, &b6.sin6_addr, 16) == 0

cdef inline uint16_t addr_port(const sockaddr_storage *a) noexcept nogil:
    if a.ss_family == AF_INET6:
        return ntohs((<const sockaddr_in6 *>a).sin6_port)
    return ntohs((<const sockaddr_in *>a).sin_port)

cdef inline void addr_set_port(sockaddr_storage *a, uint16_t port) noexcept nogil:
    if a.ss_family == AF_INET6:
        (<sockaddr_in6 *>a).sin6_port = htons(port)
    else:
        (<sockaddr_in *>a).sin_port = htons(port)


cdef int fill_addr(sockaddr_storage *dst, object remote) except -1:
    """Numeric (host, port) -> sockaddr (the host was normalised for the socket's family already)."""
    cdef bytes host = remote[0].encode("ascii")
    memset(dst, 0, sizeof(sockaddr_storage))
    if inet_pton(AF_INET, host, &(<sockaddr_in *>dst).sin_addr) == 1:
        dst.ss_family = AF_INET
    elif inet_pton(AF_INET6, host, &(<sockaddr_in6 *>dst).sin6_addr) == 1:
        dst.ss_family = AF_INET6
    else:
        raise RelayError(f"bad address {remote!r}")
    addr_set_port(dst, <uint16_t>remote[1])
    return 0


cdef object addr_tuple(const sockaddr_storage *a):
    cdef char text[64]
    cdef const void *raw
    if a.ss_family == AF_INET6:
        raw = &(<const sockaddr_in6 *>a).sin6_addr
    else:
        raw = &(<const sockaddr_in *>a).sin_addr
    if inet_ntop(a.ss_family, raw, text, sizeof(text)) == NULL:
        return None
    return (text.decode("ascii"), addr_port(a))


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline uint32_t arrival_units(int64_t now_ns, uint32_t clock_rate) noexcept nogil:
    # RFC 3550 A.8: the arrival time in timestamp units, modulo 2^32 (see the twin's arrival_units).
    return <uint32_t>(<uint64_t>(now_ns // 1000000000) * clock_rate
                      + <uint64_t>(now_ns % 1000000000) * clock_rate // 1000000000)


# -- reception statistics (RFC 3550 A.1, A.3, A.8) ----------------------------------------------------

cdef inline void flow_retire(FlowC *f) noexcept nogil:
    f.retired_expected += f.cycles + f.max_seq - f.base_seq + 1
    f.retired_received += f.received


cdef inline void flow_update(FlowC *f, const uint8_t *p, uint32_t arrival) noexcept nogil:
    cdef uint16_t seq = rd16(p + 2)
    cdef uint32_t ts = rd32(p + 4)
    cdef uint32_t ssrc = rd32(p + 8)
    cdef uint16_t udelta, back
    cdef uint64_t bit
    cdef uint32_t transit, d
    if not f.have_src or ssrc != f.ssrc:
        if f.have_src:
            flow_retire(f)
        f.have_src = 1
        f.ssrc = ssrc
        f.sources += 1
        f.base_seq = seq
        f.max_seq = seq
        f.cycles = 0
        f.bad_seq = C_NO_BAD_SEQ
        f.window = 1
        f.received = 1
        f.have_transit = 0
    else:
        udelta = <uint16_t>(seq - f.max_seq)
        if udelta == 0:
            f.duplicates += 1
            return
        if udelta < C_MAX_DROPOUT:
            if seq < f.max_seq:
                f.cycles += 0x10000
            f.max_seq = seq
            f.window = ((f.window << udelta) | 1) if udelta < C_REORDER_WINDOW else 1
        elif udelta <= 0x10000 - C_MAX_MISORDER:
            if seq != f.bad_seq:
                f.bad_seq = <uint16_t>(seq + 1)
                return
            flow_retire(f)
            f.base_seq = <uint16_t>(seq - 1)
            f.cycles = 0x10000 if seq == 0 else 0
            f.max_seq = seq
            f.bad_seq = C_NO_BAD_SEQ
            f.window = 3
            f.received = 1
            f.have_transit = 0
        else:
            back = <uint16_t>(0x10000 - udelta)
            if back < C_REORDER_WINDOW:
                bit = (<uint64_t>1) << back
                if f.window & bit:
                    f.duplicates += 1
                    return
                f.window |= bit
        f.received += 1
    if (p[1] & 0x7F) == f.event_pt:
        return
    transit = arrival - ts
    if f.have_transit:
        d = transit - f.transit
        if <int32_t>d < 0:
            d = <uint32_t>(0 - d)
        f.jitter += d - ((f.jitter + 8) >> 4)
        f.jitter_sum += f.jitter
        f.jitter_samples += 1
        if f.jitter > f.max_jitter:
            f.max_jitter = f.jitter
    f.have_transit = 1
    f.transit = transit


cdef object flow_object(const FlowC *f, uint32_t clock_rate):
    cdef uint64_t expected = f.retired_expected
    cdef uint64_t received = f.retired_received + f.received
    if f.have_src:
        expected += f.cycles + f.max_seq - f.base_seq + 1
    return FlowStats(
        received, expected, expected - received if expected > received else 0, f.duplicates, f.forwarded,
        f.forwarded_bytes, f.jitter / 16.0,
        f.jitter_sum / 16.0 / f.jitter_samples if f.jitter_samples else 0.0, f.max_jitter / 16.0,
        f.ssrc if f.have_src else None, f.sources, clock_rate,
    )


# -- the packet rewrite (RFC 3550 §5.1, §7.2) ---------------------------------------------------------

cdef inline void write_header(uint8_t *p, uint8_t marker, uint8_t pt, uint16_t seq, uint32_t ts,
                              uint32_t ssrc) noexcept nogil:
    p[1] = marker | pt
    wr16(p + 2, seq)
    wr32(p + 4, ts)
    wr32(p + 8, ssrc)


cdef void rewrite_rtp(Tx *tx, uint8_t *p, int64_t now, uint32_t clock_rate) noexcept nogil:
    cdef uint16_t in_seq = rd16(p + 2)
    cdef uint32_t in_ts = rd32(p + 4)
    cdef uint32_t in_ssrc = rd32(p + 8)
    cdef uint8_t pt = tx.pt_map[p[1] & 0x7F]
    cdef bint mark = False
    cdef bint first = False
    cdef int64_t elapsed, ticks, advance
    cdef uint16_t out_seq
    cdef uint32_t out_ts, ts_step
    if not tx.have_src:
        tx.have_src = 1
        first = True
        tx.src_ssrc = in_ssrc
        tx.seq_delta = <uint16_t>(tx.next_seq - in_seq) if tx.has_next_seq else 0
        tx.ts_delta = <uint32_t>(tx.next_ts - in_ts) if tx.has_next_ts else 0
        mark = tx.has_next_seq or tx.has_next_ts
    elif in_ssrc != tx.src_ssrc:
        if (tx.have_prev and in_ssrc == tx.prev_ssrc
                and not serial_newer(<uint16_t>(in_seq + tx.prev_seq_delta), tx.prev_max_seq)):
            # A late packet of the previous source: its own numbering, no state change.
            write_header(p, p[1] & 0x80, pt, <uint16_t>(in_seq + tx.prev_seq_delta),
                         <uint32_t>(in_ts + tx.prev_ts_delta), tx.ssrc)
            return
        tx.have_prev = 1
        tx.prev_ssrc = tx.src_ssrc
        tx.prev_seq_delta = tx.seq_delta
        tx.prev_ts_delta = tx.ts_delta
        tx.prev_max_seq = tx.max_seq
        elapsed = now - tx.last_out_ns
        if elapsed < 0:
            elapsed = 0
        if elapsed > MAX_ELAPSED_NS_C:
            elapsed = MAX_ELAPSED_NS_C
        ticks = elapsed * clock_rate // 1000000000
        if tx.step:
            advance = (ticks + tx.step // 2) // tx.step
            if advance < 1:
                advance = 1
            advance *= tx.step
        else:
            advance = ticks if ticks > 1 else 1
        tx.src_ssrc = in_ssrc
        tx.seq_delta = <uint16_t>(tx.max_seq + 1 - in_seq)
        tx.ts_delta = <uint32_t>(tx.max_ts + <uint32_t>advance - in_ts)
        tx.source_changes += 1
        mark = True
    out_seq = <uint16_t>(in_seq + tx.seq_delta)
    out_ts = <uint32_t>(in_ts + tx.ts_delta)
    write_header(p, 0x80 if mark else (p[1] & 0x80), pt, out_seq, out_ts, tx.ssrc)
    if first or serial_newer(out_seq, tx.max_seq):
        ts_step = <uint32_t>(out_ts - tx.max_ts)
        if not first and out_seq == <uint16_t>(tx.max_seq + 1) and 0 < ts_step <= clock_rate // 10:
            tx.step = ts_step
        tx.max_seq = out_seq
        tx.max_ts = out_ts
    tx.last_out_ns = now



cdef void translate_one(uint8_t *p, int length, int pt, int count, Tx *out, Tx *back) noexcept nogil:
    cdef int block, i
    cdef uint32_t ext
    if length < 8:
        return
    if (pt == RTCP_SR or pt == RTCP_RR or pt == RTCP_APP or pt == RTCP_XR or pt == RTCP_RTPFB
            or pt == RTCP_PSFB or (pt == RTCP_SDES and count)):
        wr32(p + 4, out.ssrc)
    if pt == RTCP_SR and length >= 28:
        wr32(p + 16, <uint32_t>(rd32(p + 16) + out.ts_delta))
    if pt == RTCP_SR or pt == RTCP_RR:
        block = 28 if pt == RTCP_SR else 8
        for i in range(count):
            if block + 24 > length:
                break
            if rd32(p + block) == back.ssrc:
                # The phone's report about the stream it gets from us: kept for the call's quality (tx).
                ext = rd32(p + block + 8)
                back.have_report = 1
                back.report_fraction = p[block + 4]
                back.report_lost = <int32_t>((rd32(p + block + 4) & 0xFFFFFF) ^ 0x800000) - 0x800000
                back.report_highest = ext
                back.report_jitter = rd32(p + block + 12)
                if back.have_src:
                    wr32(p + block, back.src_ssrc)
                    wr32(p + block + 8, <uint32_t>(ext - back.seq_delta))
            block += 24
    if (pt == RTCP_RTPFB or pt == RTCP_PSFB) and length >= 12 and back.have_src:
        if rd32(p + 8) == back.ssrc:
            wr32(p + 8, back.src_ssrc)


cdef int translate_rtcp(uint8_t *buf, int n, Tx *out, Tx *back) noexcept nogil:
    cdef int off = 0
    cdef int dst = 0
    cdef int length, pt
    while off + 4 <= n:
        if buf[off] >> 6 != 2:
            return 0
        length = (rd16(buf + off + 2) + 1) * 4
        if off + length > n:
            return 0
        pt = buf[off + 1]
        if pt == RTCP_BYE:
            off += length
            continue
        if dst != off:
            memmove(buf + dst, buf + off, length)
        translate_one(buf + dst, length, pt, buf[dst] & 0x1F, out, back)
        dst += length
        off += length
    return dst


cdef inline bint is_muxed_rtcp(const uint8_t *p, int n) noexcept nogil:
    return n >= 2 and 64 <= (p[1] & 0x7F) <= 95


cdef class RelayEngine:
    """Relays RTP between pairs of legs in its own thread, without the GIL (compiled twin).

    Same API and results as ``cython_media._relay_py.RelayEngine``: create it, :meth:`add_pair` legs
    (before or after :meth:`start`), read :meth:`stats` at any time, wait for :meth:`fileno` to become
    readable and drain :meth:`events`, and :meth:`stop` it (joins the thread).  ``coalesce_us``: while
    packets keep arriving, the loop sleeps that long between rounds so that one wake-up relays many
    packets (as a NIC driver's NAPI does); 0 wakes up for every packet.
    """

    ACCELERATED = True

    cdef pthread_mutex_t mutex
    cdef int epfd
    cdef int wake_fd
    cdef int event_fd
    cdef PairC *pairs
    cdef int capacity
    cdef int stopping
    cdef int closed
    cdef int64_t last_scan
    cdef EventC *queue
    cdef int queue_head
    cdef int queue_len
    cdef uint8_t *bufs
    cdef mmsghdr *rmsgs
    cdef iovec *riov
    cdef sockaddr_storage *rnames
    cdef mmsghdr *smsgs
    cdef iovec *siov
    cdef uint64_t *pending
    cdef uint64_t *pending_next
    cdef int64_t coalesce_ns
    cdef object _thread
    cdef dict _slots
    cdef uint64_t _next_id

    def __cinit__(self):
        self.epfd = -1
        self.wake_fd = -1
        self.event_fd = -1
        pthread_mutex_init(&self.mutex, NULL)
        self.queue = <EventC *>calloc(C_EVENT_QUEUE, sizeof(EventC))
        self.bufs = <uint8_t *>calloc(C_BATCH, C_MAX_DATAGRAM)
        self.rmsgs = <mmsghdr *>calloc(C_BATCH, sizeof(mmsghdr))
        self.riov = <iovec *>calloc(C_BATCH, sizeof(iovec))
        self.rnames = <sockaddr_storage *>calloc(C_BATCH, sizeof(sockaddr_storage))
        self.smsgs = <mmsghdr *>calloc(C_BATCH, sizeof(mmsghdr))
        self.siov = <iovec *>calloc(C_BATCH, sizeof(iovec))
        self.pending = <uint64_t *>calloc(C_PENDING, sizeof(uint64_t))
        self.pending_next = <uint64_t *>calloc(C_PENDING, sizeof(uint64_t))
        if (self.pending == NULL or self.pending_next == NULL or self.queue == NULL or self.bufs == NULL
                or self.rmsgs == NULL or self.riov == NULL or self.rnames == NULL or self.smsgs == NULL
                or self.siov == NULL):
            raise MemoryError()

    def __init__(self, *, coalesce_us: int = DEFAULT_COALESCE_US):
        cdef epoll_event ev
        check_coalesce(coalesce_us)
        self.coalesce_ns = coalesce_us * 1000
        self._thread = None
        self._slots = {}
        self._next_id = 1
        self.epfd = epoll_create1(EPOLL_CLOEXEC)
        self.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        self.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if self.epfd < 0 or self.wake_fd < 0 or self.event_fd < 0:
            raise RelayError(f"cannot create epoll/eventfd: {os.strerror(errno)}")
        ev.events = EPOLLIN
        ev.data.u64 = WAKE_DATA
        if epoll_ctl(self.epfd, EPOLL_CTL_ADD, self.wake_fd, &ev) != 0:
            raise RelayError(f"epoll_ctl: {os.strerror(errno)}")
        cdef int i
        for i in range(C_BATCH):
            self.riov[i].iov_base = self.bufs + i * C_MAX_DATAGRAM
            self.riov[i].iov_len = C_MAX_DATAGRAM
            self.rmsgs[i].msg_hdr.msg_iov = &self.riov[i]
            self.rmsgs[i].msg_hdr.msg_iovlen = 1
            self.rmsgs[i].msg_hdr.msg_name = &self.rnames[i]
            self.smsgs[i].msg_hdr.msg_iov = &self.siov[i]
            self.smsgs[i].msg_hdr.msg_iovlen = 1

    def __dealloc__(self):
        cdef int i, side
        if self.pairs != NULL:
            for i in range(self.capacity):
                if self.pairs[i].in_use:
                    for side in range(2):
                        close_leg(&self.pairs[i].legs[side])
            free(self.pairs)
        for fd in (self.epfd, self.wake_fd, self.event_fd):
            if fd >= 0:
                close(fd)
        free(self.queue)
        free(self.bufs)
        free(self.rmsgs)
        free(self.riov)
        free(self.rnames)
        free(self.smsgs)
        free(self.siov)
        free(self.pending)
        free(self.pending_next)
        pthread_mutex_destroy(&self.mutex)

    # -- control ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the relay thread (no-op when running)."""
        if self.closed:
            raise RelayError("relay engine closed")
        if self._thread is not None:
            return
        self.lock()
        self.stopping = 0
        self.unlock()
        self._thread = threading.Thread(target=self._thread_main, name="rtp-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the relay thread and wait for it (pairs stay configured; :meth:`start` resumes)."""
        cdef uint64_t one = 1
        thread = self._thread
        if thread is None:
            return
        self.lock()
        self.stopping = 1
        self.unlock()
        write(self.wake_fd, &one, 8)
        thread.join(timeout)
        if thread.is_alive():
            raise RelayError("relay thread did not stop")
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the relay thread runs."""
        return self._thread is not None

    def close(self) -> None:
        """Stop, remove every pair (closing the engine's socket duplicates) and release the engine."""
        if self.closed:
            return
        self.stop()
        for pair_id in list(self._slots):
            self.remove_pair(pair_id)
        self.closed = 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def add_pair(self, a, b, *, clock_rate: int = 8000, rtcp=RtcpMode.FORWARD) -> int:
        """Relay between legs ``a`` and ``b``; returns the pair id.  ``clock_rate`` is the RTP clock (Hz)."""
        cdef LegC legs[2]
        cdef int slot, side, i, new_cap
        cdef PairC *grown
        cdef epoll_event ev
        cdef uint64_t pair_id
        cdef uint32_t gen
        if self.closed:
            raise RelayError("relay engine closed")
        check_leg(a)
        check_leg(b)
        check_pair(clock_rate, rtcp)
        memset(legs, 0, sizeof(legs))
        legs[0].fd = legs[0].rtcp_fd = legs[1].fd = legs[1].rtcp_fd = -1
        now = monotonic_ns()
        try:
            for side, leg in enumerate((a, b)):
                init_leg(&legs[side], leg, now)
        except BaseException:
            close_leg(&legs[0])
            close_leg(&legs[1])
            raise
        self.lock()
        try:
            slot = -1
            for i in range(self.capacity):
                if not self.pairs[i].in_use:
                    slot = i
                    break
            if slot < 0:
                new_cap = self.capacity * 2 if self.capacity else 64
                grown = <PairC *>realloc(self.pairs, new_cap * sizeof(PairC))
                if grown == NULL:
                    raise MemoryError()
                memset(grown + self.capacity, 0, (new_cap - self.capacity) * sizeof(PairC))
                self.pairs = grown
                slot = self.capacity
                self.capacity = new_cap
            pair_id = self._next_id
            self._next_id += 1
            gen = <uint32_t>(self.pairs[slot].gen + 1)
            memcpy(self.pairs[slot].legs, legs, sizeof(legs))
            self.pairs[slot].gen = gen
            self.pairs[slot].pair_id = pair_id
            self.pairs[slot].clock_rate = clock_rate
            self.pairs[slot].rtcp_mode = int(rtcp)
            for side in range(2):
                for i in range(2):
                    fd = legs[side].fd if i == 0 else legs[side].rtcp_fd
                    if fd < 0:
                        continue
                    # Edge-triggered: a socket is read until it is empty (or put on the pending list), so
                    # epoll does not poll every ready socket a second time as level-triggered mode does.
                    ev.events = EPOLLIN | EPOLLET
                    ev.data.u64 = (<uint64_t>gen << 32) | (<uint64_t>slot << 2) | (side << 1) | i
                    if epoll_ctl(self.epfd, EPOLL_CTL_ADD, fd, &ev) != 0:
                        err = os.strerror(errno)
                        for side2 in range(2):
                            unwatch_leg(self.epfd, &legs[side2])
                            close_leg(&legs[side2])
                        raise RelayError(f"cannot watch the legs' sockets: {err}")
            self.pairs[slot].in_use = 1
            self._slots[pair_id] = slot
        finally:
            self.unlock()
        return pair_id

    def remove_pair(self, pair_id: int):
        """Stop relaying ``pair_id`` and close the engine's duplicates of its sockets; returns the legs'
        final counters."""
        cdef int slot, side
        cdef LegC copy[2]
        cdef uint32_t clock_rate
        self.lock()
        try:
            slot = self._slot(pair_id)
            memcpy(copy, self.pairs[slot].legs, sizeof(copy))
            clock_rate = self.pairs[slot].clock_rate
            for side in range(2):
                unwatch_leg(self.epfd, &self.pairs[slot].legs[side])
                close_leg(&self.pairs[slot].legs[side])
            self.pairs[slot].in_use = 0
            del self._slots[pair_id]
        finally:
            self.unlock()
        return leg_stats(&copy[0], clock_rate), leg_stats(&copy[1], clock_rate)

    def set_remote(self, pair_id: int, side, remote, *, latch: bool = False) -> None:
        """Point ``side`` of ``pair_id`` at a new remote (re-INVITE); ``latch`` learns it again."""
        cdef LegC *leg
        cdef sockaddr_storage addr
        side = Side(side)
        self.lock()
        try:
            leg = &self.pairs[self._slot(pair_id)].legs[<int>side]
            normalised = normalise_remote(leg.family, remote)
            if normalised is not None:
                fill_addr(&addr, normalised)
                leg.remote = addr
            leg.has_remote = normalised is not None
            leg.latch = latch or remote is None
            leg.latched = 0
            leg.rtcp_latched = 0
            if not leg.rtcp_remote_fixed:
                leg.has_rtcp_remote = 0
        finally:
            self.unlock()

    def stats(self, pair_id: int):
        """Counters of both legs of ``pair_id`` (read while the loop runs)."""
        cdef LegC copy[2]
        cdef int slot
        self.lock()
        try:
            slot = self._slot(pair_id)
            memcpy(copy, self.pairs[slot].legs, sizeof(copy))
            clock_rate = self.pairs[slot].clock_rate
        finally:
            self.unlock()
        return leg_stats(&copy[0], clock_rate), leg_stats(&copy[1], clock_rate)

    def pair_ids(self) -> list:
        """Ids of the pairs being relayed."""
        self.lock()
        try:
            return sorted(self._slots)
        finally:
            self.unlock()

    def fileno(self) -> int:
        """A descriptor readable while events are pending (``loop.add_reader`` it)."""
        return self.event_fd

    def events(self) -> list:
        """Pending events, oldest first (drains the queue)."""
        cdef uint64_t count
        cdef EventC *ev
        cdef int i
        read(self.event_fd, &count, 8)
        drained = []
        self.lock()
        try:
            for i in range(self.queue_len):
                ev = &self.queue[(self.queue_head + i) % C_EVENT_QUEUE]
                if ev.kind == EVENT_TIMEOUT:
                    drained.append(RtpTimeout(ev.pair_id, Side(ev.side), ev.idle))
                else:
                    drained.append(RemoteLatched(ev.pair_id, Side(ev.side), addr_tuple(&ev.addr), bool(ev.rtcp)))
            self.queue_head = 0
            self.queue_len = 0
        finally:
            self.unlock()
        return drained

    # -- internals ---------------------------------------------------------------------------------------
    cdef inline void lock(self) noexcept:
        with nogil:
            pthread_mutex_lock(&self.mutex)

    cdef inline void unlock(self) noexcept:
        pthread_mutex_unlock(&self.mutex)

    cdef int _slot(self, object pair_id) except -1:
        slot = self._slots.get(pair_id)
        if slot is None:
            raise RelayError(f"no pair {pair_id}")
        return slot

    def _thread_main(self) -> None:
        with nogil:
            self.run_loop()

    cdef void run_loop(self) noexcept nogil:
        cdef epoll_event evs[C_MAX_EVENTS]
        cdef int n, i, n_pending = 0, n_next, timeout
        cdef uint64_t data, drain
        cdef uint64_t *swap
        cdef int64_t now, woke = 0, nap
        cdef bint busy = False
        cdef bint backlog = False
        cdef timespec until
        if self.coalesce_ns > 0:
            prctl(PR_SET_TIMERSLACK, <unsigned long>(self.coalesce_ns // 10 + 1), 0, 0, 0)
        while True:
            if n_pending or backlog:
                # Sockets left with data (more than one service's worth) are served again before sleeping:
                # with edge-triggered epoll nobody else would tell us.  After a stall (epoll returned as many
                # sockets as it could), no nap either until the backlog is gone: a relay that naps while
                # catching up lets every hiccup of the scheduler grow into tens of milliseconds of delay.
                timeout = 0
            elif busy and self.coalesce_ns > 0:
                # Traffic is flowing: let packets gather for coalesce_ns instead of waking up for each one
                # (a wake-up costs more than relaying a packet, above all in a VM); then take them all.
                nap = woke + self.coalesce_ns
                until.tv_sec = nap // 1000000000
                until.tv_nsec = nap % 1000000000
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL)
                timeout = 0
            else:
                timeout = POLL_INTERVAL_MS
            n = epoll_wait(self.epfd, evs, C_MAX_EVENTS, timeout)
            now = monotonic_ns()
            if n < 0:
                n = 0
            busy = n > 0
            backlog = n >= C_MAX_EVENTS
            if busy:
                woke = now
            n_next = 0
            for i in range(n + n_pending):
                data = evs[i].data.u64 if i < n else self.pending[i - n]
                if data == WAKE_DATA:
                    read(self.wake_fd, &drain, 8)
                    continue
                pthread_mutex_lock(&self.mutex)
                if self.stopping:
                    pthread_mutex_unlock(&self.mutex)
                    return
                if self.service(data, now) and n_next < C_PENDING:
                    # A full pending list only delays that socket until its next datagram arrives.
                    self.pending_next[n_next] = data
                    n_next += 1
                pthread_mutex_unlock(&self.mutex)
            swap = self.pending
            self.pending = self.pending_next
            self.pending_next = swap
            n_pending = n_next
            pthread_mutex_lock(&self.mutex)
            if self.stopping:
                pthread_mutex_unlock(&self.mutex)
                return
            if now - self.last_scan >= IDLE_SCAN_NS_C:
                self.last_scan = now
                self.scan_idle(now)
            pthread_mutex_unlock(&self.mutex)

    cdef bint push_event(self, int kind, uint64_t pair_id, int side, int rtcp, double idle,
                         const sockaddr_storage *addr) noexcept nogil:
        cdef uint64_t one = 1
        cdef EventC *ev
        if self.queue_len >= C_EVENT_QUEUE:
            return False
        ev = &self.queue[(self.queue_head + self.queue_len) % C_EVENT_QUEUE]
        self.queue_len += 1
        ev.kind = kind
        ev.pair_id = pair_id
        ev.side = side
        ev.rtcp = rtcp
        ev.idle = idle
        if addr != NULL:
            memcpy(&ev.addr, addr, sizeof(sockaddr_storage))
        write(self.event_fd, &one, 8)
        return True

    cdef void scan_idle(self, int64_t now) noexcept nogil:
        cdef int i, side
        cdef LegC *leg
        cdef int64_t since
        for i in range(self.capacity):
            if not self.pairs[i].in_use:
                continue
            for side in range(2):
                leg = &self.pairs[i].legs[side]
                if leg.timeout_ns <= 0 or leg.timed_out:
                    continue
                since = leg.last_seen_ns if leg.last_seen_ns else leg.added_ns
                if now - since >= leg.timeout_ns:
                    if self.push_event(EVENT_TIMEOUT, self.pairs[i].pair_id, side, 0, (now - since) / 1e9, NULL):
                        leg.timed_out = 1

    cdef bint service(self, uint64_t data, int64_t now) noexcept nogil:
        # Reads up to C_ROUNDS batches from one socket; True when it may still hold datagrams.
        cdef uint32_t gen = <uint32_t>(data >> 32)
        cdef int slot = <int>((data >> 2) & 0x3FFFFFFF)
        cdef int side = <int>((data >> 1) & 1)
        cdef int is_rtcp = <int>(data & 1)
        cdef PairC *pair
        cdef LegC *leg_in
        cdef LegC *leg_out
        cdef int fd, k, j, rounds, n_out
        cdef uint32_t arrival
        if slot >= self.capacity:
            return False
        pair = &self.pairs[slot]
        if not pair.in_use or pair.gen != gen:
            return False
        leg_in = &pair.legs[side]
        leg_out = &pair.legs[1 - side]
        fd = leg_in.rtcp_fd if is_rtcp else leg_in.fd
        for rounds in range(C_ROUNDS):
            for j in range(C_BATCH):
                self.rmsgs[j].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
                self.rmsgs[j].msg_hdr.msg_flags = 0
            k = recvmmsg(fd, self.rmsgs, C_BATCH, MSG_DONTWAIT, NULL)
            if k <= 0:
                return False
            # One clock reading per recvmmsg: the batch's arrival time for the jitter estimate (RFC 3550 A.8).
            arrival = arrival_units(monotonic_ns(), pair.clock_rate)
            n_out = 0
            for j in range(k):
                if self.rmsgs[j].msg_hdr.msg_flags & MSG_TRUNC:
                    leg_in.dropped += 1
                    continue
                if self.handle(pair, side, leg_in, leg_out, self.bufs + j * C_MAX_DATAGRAM,
                               <int>self.rmsgs[j].msg_len, &self.rnames[j], is_rtcp, now, arrival):
                    self.siov[n_out].iov_base = self.bufs + j * C_MAX_DATAGRAM
                    self.siov[n_out].iov_len = self.rmsgs[j].msg_len
                    self.smsgs[n_out].msg_hdr.msg_name = &leg_out.remote
                    self.smsgs[n_out].msg_hdr.msg_namelen = addr_len(&leg_out.remote)
                    n_out += 1
            if n_out == 1:
                send_one(leg_out, &leg_in.flow, &self.smsgs[0])
            elif n_out:
                send_batch(leg_out, &leg_in.flow, self.smsgs, n_out)
            if k < C_BATCH:
                return False
        return True

    cdef bint handle(self, PairC *pair, int side, LegC *leg_in, LegC *leg_out, uint8_t *buf, int n,
                     sockaddr_storage *source, int is_rtcp, int64_t now, uint32_t arrival) noexcept nogil:
        # Returns True when buf is an RTP packet rewritten for leg_out (the caller batches its send).
        cdef int length, out_fd
        cdef sockaddr_storage dest
        if is_rtcp:
            if leg_in.latch and not leg_in.rtcp_latched:
                if n < 8 or buf[0] >> 6 != 2:
                    leg_in.dropped += 1
                    return False
                memcpy(&leg_in.rtcp_remote, source, sizeof(sockaddr_storage))
                leg_in.has_rtcp_remote = 1
                leg_in.rtcp_latched = 1
                self.push_event(EVENT_LATCHED, pair.pair_id, side, 1, 0.0, source)
            elif not rtcp_destination(leg_in, &out_fd, &dest) or not addr_eq(source, &dest):
                leg_in.dropped += 1
                return False
        else:
            if leg_in.latch and not leg_in.latched:
                if n < 12 or buf[0] >> 6 != 2 or is_muxed_rtcp(buf, n):
                    leg_in.dropped += 1
                    return False
                memcpy(&leg_in.remote, source, sizeof(sockaddr_storage))
                leg_in.has_remote = 1
                leg_in.latched = 1
                self.push_event(EVENT_LATCHED, pair.pair_id, side, 0, 0.0, source)
            elif not leg_in.has_remote or not addr_eq(source, &leg_in.remote):
                leg_in.dropped += 1
                return False
        leg_in.packets_in += 1
        leg_in.bytes_in += n
        if n < 4 or buf[0] >> 6 != 2:
            leg_in.dropped += 1
            return False
        if is_rtcp or is_muxed_rtcp(buf, n):
            leg_in.rtcp_in += 1
            if pair.rtcp_mode == 0 or n < 8:
                leg_in.dropped += 1
                return False
            length = translate_rtcp(buf, n, &leg_out.tx, &leg_in.tx)
            if length == 0 or not rtcp_destination(leg_out, &out_fd, &dest):
                leg_in.dropped += 1
                return False
            if sendto(out_fd, buf, length, MSG_DONTWAIT, <sockaddr *>&dest, addr_len(&dest)) < 0:
                leg_out.send_errors += 1
            else:
                leg_out.packets_out += 1
                leg_out.bytes_out += length
                leg_out.rtcp_out += 1
            return False
        if n < 12:
            leg_in.dropped += 1
            return False
        leg_in.last_seen_ns = now
        leg_in.timed_out = 0
        flow_update(&leg_in.flow, buf, arrival)
        if not leg_out.has_remote:
            leg_in.dropped += 1
            return False
        rewrite_rtp(&leg_out.tx, buf, now, pair.clock_rate)
        return True



cdef bint rtcp_destination(LegC *leg, int *fd, sockaddr_storage *dest) noexcept nogil:
    # Socket and address RTCP for this leg's phone goes out of/to (False: none known yet).
    if leg.rtcp_fd < 0:
        fd[0] = leg.fd
        if not leg.has_remote:
            return False
        memcpy(dest, &leg.remote, sizeof(sockaddr_storage))
        return True
    fd[0] = leg.rtcp_fd
    if not leg.has_rtcp_remote and leg.has_remote:
        memcpy(dest, &leg.remote, sizeof(sockaddr_storage))
        addr_set_port(dest, addr_port(&leg.remote) + 1 if addr_port(&leg.remote) < 65535 else 65535)
        return True
    if not leg.has_rtcp_remote:
        return False
    memcpy(dest, &leg.rtcp_remote, sizeof(sockaddr_storage))
    return True


cdef inline void send_one(LegC *leg, FlowC *flow, mmsghdr *msg) noexcept nogil:
    # One datagram (the usual case: one packet per socket per 20 ms): sendto copies no msghdr.
    cdef ssize_t sent = sendto(leg.fd, msg.msg_hdr.msg_iov.iov_base, msg.msg_hdr.msg_iov.iov_len, MSG_DONTWAIT,
                               <sockaddr *>msg.msg_hdr.msg_name, msg.msg_hdr.msg_namelen)
    if sent < 0:
        leg.send_errors += 1
    else:
        leg.packets_out += 1
        leg.bytes_out += msg.msg_hdr.msg_iov.iov_len
        flow.forwarded += 1
        flow.forwarded_bytes += msg.msg_hdr.msg_iov.iov_len


cdef void send_batch(LegC *leg, FlowC *flow, mmsghdr *msgs, int n) noexcept nogil:
    cdef int off = 0
    cdef int sent, i
    while off < n:
        sent = sendmmsg(leg.fd, msgs + off, n - off, MSG_DONTWAIT)
        if sent < 0:
            if errno == EINTR:
                continue
            if errno == EAGAIN:
                leg.send_errors += n - off
                return
            leg.send_errors += 1  # this datagram was refused; go on with the next one
            off += 1
            continue
        if sent == 0:
            leg.send_errors += n - off
            return
        for i in range(off, off + sent):
            leg.packets_out += 1
            leg.bytes_out += msgs[i].msg_hdr.msg_iov.iov_len
            flow.forwarded += 1
            flow.forwarded_bytes += msgs[i].msg_hdr.msg_iov.iov_len
        off += sent


cdef int init_tx(Tx *tx, object leg) except -1:
    cdef int pt
    memset(tx, 0, sizeof(Tx))
    tx.ssrc = leg.ssrc
    for pt in range(128):
        tx.pt_map[pt] = leg.payload_types.get(pt, pt)
    if leg.next_seq is not None:
        tx.has_next_seq = 1
        tx.next_seq = leg.next_seq
    if leg.next_timestamp is not None:
        tx.has_next_ts = 1
        tx.next_ts = leg.next_timestamp
    return 0


def rewrite_stream(leg, packets, arrivals_ns, clock_rate=8000):
    """The relay's rewrite of the packets one direction would send on ``leg``, offline (see the twin)."""
    cdef Tx tx
    cdef bytearray buf
    cdef uint8_t *p
    check_leg(leg)
    check_pair(clock_rate, RtcpMode.FORWARD)
    if len(packets) != len(arrivals_ns):
        raise ValueError("packets and arrival times differ in length")
    init_tx(&tx, leg)
    out = []
    for packet, now in zip(packets, arrivals_ns):
        buf = bytearray(packet)
        p = buf
        if len(buf) < 12 or p[0] >> 6 != 2 or is_muxed_rtcp(p, len(buf)):
            continue
        rewrite_rtp(&tx, p, now, clock_rate)
        out.append(bytes(buf))
    return out


cdef int init_flow(FlowC *flow, object event_payload_type) except -1:
    memset(flow, 0, sizeof(FlowC))
    flow.event_pt = -1 if event_payload_type is None else event_payload_type
    flow.bad_seq = C_NO_BAD_SEQ
    return 0


def flow_stats(packets, arrivals_ns, clock_rate=8000, event_payload_type=None):
    """The relay's statistics of one direction for ``packets`` received at ``arrivals_ns``, offline (see
    the twin)."""
    cdef FlowC flow
    cdef const uint8_t *p
    cdef bytes data
    check_pair(clock_rate, RtcpMode.FORWARD)
    if len(packets) != len(arrivals_ns):
        raise ValueError("packets and arrival times differ in length")
    init_flow(&flow, event_payload_type)
    for packet, now in zip(packets, arrivals_ns):
        data = bytes(packet)
        p = data
        if len(data) < 12 or p[0] >> 6 != 2 or is_muxed_rtcp(p, len(data)):
            continue
        flow_update(&flow, p, arrival_units(now, clock_rate))
        flow.forwarded += 1
        flow.forwarded_bytes += len(data)
    return flow_object(&flow, clock_rate)


cdef int init_leg(LegC *c, object leg, int64_t now) except -1:
    fd = fd_of(leg.sock)
    family = socket_family(fd)
    c.family = family
    c.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)
    if c.fd < 0:
        raise RelayError(f"cannot duplicate fd {fd}: {os.strerror(errno)}")
    if leg.rtcp_sock is not None:
        rfd = fd_of(leg.rtcp_sock)
        if socket_family(rfd) != family:
            raise RelayError("RTP and RTCP sockets of a leg must have the same address family")
        c.rtcp_fd = fcntl(rfd, F_DUPFD_CLOEXEC, 0)
        if c.rtcp_fd < 0:
            raise RelayError(f"cannot duplicate fd {rfd}: {os.strerror(errno)}")
    remote = normalise_remote(family, leg.remote)
    if remote is not None:
        fill_addr(&c.remote, remote)
        c.has_remote = 1
    rtcp_remote = normalise_remote(family, leg.rtcp_remote)
    if rtcp_remote is not None:
        fill_addr(&c.rtcp_remote, rtcp_remote)
        c.has_rtcp_remote = 1
        c.rtcp_remote_fixed = 1
    c.latch = bool(leg.latch or leg.remote is None)
    init_tx(&c.tx, leg)
    init_flow(&c.flow, leg.event_payload_type)
    c.timeout_ns = <int64_t>(leg.rtp_timeout * 1e9)
    c.added_ns = now
    return 0


cdef void unwatch_leg(int epfd, LegC *leg) noexcept nogil:
    cdef epoll_event ev
    if leg.fd >= 0:
        epoll_ctl(epfd, EPOLL_CTL_DEL, leg.fd, &ev)
    if leg.rtcp_fd >= 0:
        epoll_ctl(epfd, EPOLL_CTL_DEL, leg.rtcp_fd, &ev)


cdef void close_leg(LegC *leg) noexcept nogil:
    if leg.fd >= 0:
        close(leg.fd)
        leg.fd = -1
    if leg.rtcp_fd >= 0:
        close(leg.rtcp_fd)
        leg.rtcp_fd = -1


cdef object leg_stats(LegC *leg, uint32_t clock_rate):
    return LegStats(
        leg.packets_in, leg.bytes_in, leg.packets_out, leg.bytes_out, leg.dropped, leg.rtcp_in, leg.rtcp_out,
        leg.send_errors, leg.tx.source_changes, leg.last_seen_ns / 1e9 if leg.last_seen_ns else None,
        addr_tuple(&leg.remote) if leg.has_remote else None, bool(leg.latched),
        <uint16_t>(leg.tx.max_seq + 1) if leg.tx.have_src else None,
        <uint32_t>(leg.tx.max_ts + leg.tx.step) if leg.tx.have_src else None,
        flow_object(&leg.flow, clock_rate),
        PhoneReport(leg.tx.report_fraction, leg.tx.report_lost, leg.tx.report_highest, leg.tx.report_jitter)
        if leg.tx.have_report else None,
    )
