"""A minimal control-socket client for benchmarks (python3 stdlib only).

Speaks catalogd's control protocol: 4-byte big-endian length + one msgpack
map per frame.  Only the msgpack types the control protocol uses are
implemented.  Requests may be pipelined: send many, then read replies.
"""
import socket
import struct


def pack(o, out):
    if o is None:
        out.append(b"\xc0")
    elif o is True:
        out.append(b"\xc3")
    elif o is False:
        out.append(b"\xc2")
    elif isinstance(o, int):
        if 0 <= o < 128:
            out.append(bytes([o]))
        elif o >= 0:
            out.append(b"\xcf" + struct.pack(">Q", o))
        else:
            out.append(b"\xd3" + struct.pack(">q", o))
    elif isinstance(o, str):
        b = o.encode()
        out.append(b"\xdb" + struct.pack(">I", len(b)) + b)
    elif isinstance(o, (bytes, bytearray)):
        out.append(b"\xc6" + struct.pack(">I", len(o)) + bytes(o))
    elif isinstance(o, (list, tuple)):
        out.append(b"\xdd" + struct.pack(">I", len(o)))
        for x in o:
            pack(x, out)
    elif isinstance(o, dict):
        out.append(b"\xdf" + struct.pack(">I", len(o)))
        for k, v in o.items():
            pack(k, out)
            pack(v, out)
    else:
        raise TypeError(type(o))


def unpack(b, i=0):
    c = b[i]
    if c <= 0x7f:
        return c, i + 1
    if 0x80 <= c <= 0x8f:
        return _map(b, i + 1, c & 15)
    if 0x90 <= c <= 0x9f:
        return _arr(b, i + 1, c & 15)
    if 0xa0 <= c <= 0xbf:
        n = c & 31
        return b[i + 1:i + 1 + n].decode(), i + 1 + n
    if c >= 0xe0:
        return c - 256, i + 1
    if c == 0xc0:
        return None, i + 1
    if c in (0xc2, 0xc3):
        return c == 0xc3, i + 1
    if c in (0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb):
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}[c]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        raw = b[i + 1 + w:i + 1 + w + n]
        return (bytes(raw) if c < 0xd0 else raw.decode()), i + 1 + w + n
    if c in (0xcc, 0xcd, 0xce, 0xcf):
        w = 1 << (c - 0xcc)
        return int.from_bytes(b[i + 1:i + 1 + w], "big"), i + 1 + w
    if c in (0xd0, 0xd1, 0xd2, 0xd3):
        w = 1 << (c - 0xd0)
        return int.from_bytes(b[i + 1:i + 1 + w], "big", signed=True), i + 1 + w
    if c in (0xdc, 0xdd):
        w = 2 if c == 0xdc else 4
        return _arr(b, i + 1 + w, int.from_bytes(b[i + 1:i + 1 + w], "big"))
    if c in (0xde, 0xdf):
        w = 2 if c == 0xde else 4
        return _map(b, i + 1 + w, int.from_bytes(b[i + 1:i + 1 + w], "big"))
    raise ValueError(hex(c))


def _arr(b, i, n):
    out = []
    for _ in range(n):
        v, i = unpack(b, i)
        out.append(v)
    return out, i


def _map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = unpack(b, i)
        v, i = unpack(b, i)
        out[k] = v
    return out, i


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    @staticmethod
    def frame(req):
        out = []
        pack(req, out)
        body = b"".join(out)
        return struct.pack(">I", len(body)) + body

    def send(self, req):
        self.s.sendall(self.frame(req))

    def has_frame(self):
        return len(self.buf) >= 4 and len(self.buf) >= 4 + struct.unpack(">I", self.buf[:4])[0]

    def recv(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    frame, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return unpack(frame)[0]
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("control socket closed")
            self.buf += chunk

    def call(self, req):
        self.send(req)
        r = self.recv()
        if not r.get("ok"):
            raise RuntimeError(r.get("error"))
        return r

    def close(self):
        self.s.close()
