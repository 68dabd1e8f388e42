#!/usr/bin/env python3
"""Handshake flood for tests and benchmarks (only ever aimed at our own namespaces).

flood.py HOST PORT PUBKEY_BASE64 RATE SECONDS

Sends RATE datagrams per second for SECONDS to HOST:PORT: three of four are handshake initiations
(148 bytes, random content, a valid mac1 for the receiver's public key, mac2 zero), one of four is
junk of random length. mac1 = keyed BLAKE2s-128 with key HASH("mac1----" || public key) over the
message up to mac1 (the WireGuard paper, section 5.4.4). Bounded in count and time by its arguments;
prints "sent N in S s" at the end.
"""
import base64
import ctypes
import hashlib
import os
import socket
import sys
import time

host, port, pub, rate, seconds = sys.argv[1], int(sys.argv[2]), base64.b64decode(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
if rate > 1_000_000 or seconds > 120:
    sys.exit("flood.py: refusing more than 1M/s or 120 s")
key = hashlib.blake2s(b"mac1----" + pub).digest()

def initiation():
    m = bytearray(os.urandom(148))
    m[0:4] = b"\x01\x00\x00\x00"
    m[116:132] = hashlib.blake2s(bytes(m[:116]), key=key, digest_size=16).digest()
    m[132:148] = bytes(16)
    return bytes(m)

pool = []
for i in range(4096):
    pool.append(os.urandom(1 + (i * 37) % 200) if i % 4 == 3 else initiation())

family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
s.connect((host, port))

# sendmmsg(2) through ctypes: one system call per batch, so the generator is not the bottleneck.
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(iovec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]

class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint32)]

libc = ctypes.CDLL(None, use_errno=True)
BATCH = 256
bufs = [ctypes.create_string_buffer(p, len(p)) for p in pool]
iovs = (iovec * len(pool))(*[iovec(ctypes.cast(b, ctypes.c_void_p), len(p)) for b, p in zip(bufs, pool)])
msgs = (mmsghdr * len(pool))()
for i in range(len(pool)):
    msgs[i].hdr.iov = ctypes.pointer(iovs[i])
    msgs[i].hdr.iovlen = 1
fd = s.fileno()
MSG_DONTWAIT = 0x40

tick = 0.002
per_tick = max(1, int(rate * tick))
sent = 0
start = time.monotonic()
end = start + seconds
next_tick = start
i = 0
while True:
    now = time.monotonic()
    if now >= end:
        break
    if now < next_tick:
        time.sleep(next_tick - now)
        continue
    left = per_tick
    while left > 0:
        n = min(left, BATCH, len(pool) - i)
        r = libc.sendmmsg(fd, ctypes.byref(msgs, i * ctypes.sizeof(mmsghdr)), n, MSG_DONTWAIT)
        if r <= 0:
            break  # socket buffer full (or an error): the rest of this tick is dropped here
        sent += r
        left -= r
        i = (i + r) % len(pool)
    next_tick += tick
    # Behind by more than 100 ms (a loaded machine): do not try to catch up in one burst.
    if time.monotonic() - next_tick > 0.1:
        next_tick = time.monotonic()
print(f"sent {sent} in {time.monotonic() - start:.2f} s", flush=True)
