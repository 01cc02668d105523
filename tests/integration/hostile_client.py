#!/usr/bin/python3
"""Sends a hostile client's worst onto a broker with the provisioning plugin:
malformed MQTT over a valid mutual-TLS connection (a claim certificate).
Standard library only. Every attack uses its own connection; the script
reports what the broker did with each and never waits long (bounded loops).

usage: hostile_client.py HOST PORT CA CERT KEY
       hostile_client.py MODE SECONDS HOST PORT CA CERT KEY
exit 0 when every attack ran (whatever the broker answered), 2 on bad usage.

Slow and hostile clients (MODE, each for at most SECONDS, one connection,
printing one line that says what it sent and whether the broker closed it):
  --noread-flood  subscribes to its reply topics, then floods requests as fast
                  as it can and never reads a byte
  --noread-paced  the same, four requests every 20 ms (within the in-flight
                  limit when the worker keeps up), never reading
  --noread-qos1   floods QoS 1 publishes (each owed a PUBACK), never reading
  --trickle-connect[=LENGTH]  TLS, then a CONNECT header announcing LENGTH
                  bytes (default 268435455, the most MQTT can say) and then
                  4 bytes a second
  --stall-connect  TLS, then 10 bytes of a CONNECT announcing 200, then
                  nothing: waits (up to SECONDS) for the broker to drop it
"""
import errno
import select
import socket
import ssl
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def utf8(s):
    data = s if isinstance(s, bytes) else s.encode()
    return struct.pack("!H", len(data)) + data


def packet(kind, flags, body):
    return bytes([(kind << 4) | flags]) + varint(len(body)) + body


def connect_packet(client_id, v5=True):
    level = 5 if v5 else 4
    body = utf8("MQTT") + bytes([level, 0x02]) + struct.pack("!H", 30)
    if v5:
        body += varint(0)  # no properties
    return packet(1, 0, body + utf8(client_id))


def publish_packet(topic_bytes, payload, qos=0, packet_id=1, v5=True):
    body = struct.pack("!H", len(topic_bytes)) + topic_bytes
    if qos:
        body += struct.pack("!H", packet_id)
    if v5:
        body += varint(0)
    return packet(3, qos << 1, body + payload)


def subscribe_packet(topic, packet_id=1, v5=True):
    body = struct.pack("!H", packet_id)
    if v5:
        body += varint(0)
    return packet(8, 2, body + utf8(topic) + bytes([1]))


class Connection:
    def __init__(self, args, client_id, v5=True):
        host, port, ca, cert, key = args
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        raw = socket.create_connection((host, int(port)), timeout=5)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        self.sock.settimeout(2)
        self.sock.sendall(connect_packet(client_id, v5))
        self.connack = self.read_some()

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def read_some(self):
        try:
            return self.sock.recv(65536)
        except (socket.timeout, OSError):
            return None

    def outcome(self):
        """'closed', 'answered <first byte hex>' or 'silent'."""
        data = self.read_some()
        if data == b"":
            return "closed"
        if data is None:
            return "silent"
        return "answered %02x" % data[0]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def attack(args, name, client_id, payload_fn, v5=True):
    try:
        c = Connection(args, client_id, v5)
    except (OSError, ssl.SSLError) as e:
        print("%-40s connect failed: %s" % (name, e))
        return
    if not c.connack or c.connack[0] != 0x20:
        print("%-40s refused at connect" % name)
        c.close()
        return
    sent = True
    for chunk in payload_fn():
        if not c.send(chunk):
            sent = False
            break
    print("%-40s %s" % (name, c.outcome() if sent else "closed while sending"))
    c.close()


REQUEST = "$provision/certificates/create-from-csr/json"


def tls_socket(args):
    host, port, ca, cert, key = args
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=5)
    return context.wrap_socket(raw, server_hostname=host)


def subscribe_v5(topic, packet_id, qos):
    body = struct.pack("!H", packet_id) + varint(0) + utf8(topic) + bytes([qos])
    return packet(8, 2, body)


def closed_by_peer(sock, wait):
    """True when the peer closed the connection within `wait` seconds
    (reads, and throws away, whatever is pending)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                return False
            while True:
                if sock.recv(65536) == b"":
                    return True
                if not sock.pending():
                    break
        except (ssl.SSLWantReadError, BlockingIOError, socket.timeout):
            continue
        except (OSError, ssl.SSLError):
            return True


def send_some(sock, data):
    """Sends what the socket takes now: bytes sent, 0 when it would block,
    None when the connection is gone."""
    try:
        return sock.send(data)
    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
        return 0
    except (OSError, ssl.SSLError):
        return None


def noread(args, mode, seconds):
    """Subscribes to its replies (or not), then sends and never reads."""
    sock = tls_socket(args)
    sock.sendall(connect_packet("noread-%s-%d" % (mode, int(time.time() * 1000) % 100000)))
    connack = sock.recv(64)
    if not connack or connack[0] != 0x20:
        print("%s: refused at connect" % mode)
        return 1
    sock.sendall(subscribe_v5(REQUEST + "/accepted", 1, 0) + subscribe_v5(REQUEST + "/rejected", 2, 0))
    time.sleep(0.3)
    sock.recv(64)  # the SUBACKs; nothing is read from here on
    sock.setblocking(False)
    if mode == "qos1":
        batch = b"".join(publish_packet(b"devices/noread/telemetry", b"{}", 1, packet_id=i + 1) for i in range(100))
    elif mode == "paced":
        batch = b"".join(publish_packet(REQUEST.encode(), b"{}", 0) for _ in range(4))
    else:
        batch = b"".join(publish_packet(REQUEST.encode(), b"{}", 0) for _ in range(100))
    per_batch = 4 if mode == "paced" else 100
    started = time.monotonic()
    sent = 0
    pending = b""
    closed_at = None
    while time.monotonic() - started < seconds:
        if not pending:
            pending = batch
        n = send_some(sock, pending)
        if n is None:
            closed_at = time.monotonic() - started
            break
        pending = pending[n:]
        if not pending:
            sent += per_batch
            if mode == "paced":
                time.sleep(0.02)
        elif n == 0:
            time.sleep(0.005)
    took = time.monotonic() - started
    if closed_at is None and closed_by_peer(sock, 0.5):
        closed_at = took
    if closed_at is None:
        print("noread-%s: sent %d requests in %.1f s without reading; still connected" % (mode, sent, took))
    else:
        print("noread-%s: sent %d requests without reading; closed by the broker after %.2f s" % (mode, sent, closed_at))
    sock.close()
    return 0


def trickle_connect(args, announced, seconds):
    sock = tls_socket(args)
    sock.setblocking(False)
    started = time.monotonic()
    header = bytes([0x10]) + varint(announced)
    # what follows is a plausible start of a CONNECT's variable header, then filler
    body = utf8("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 30) + varint(0) + b"x" * 1000000
    sent = 0
    closed_at = None
    if send_some(sock, header) is None:
        closed_at = 0.0
    while closed_at is None and time.monotonic() - started < seconds:
        if closed_by_peer(sock, 1.0):
            closed_at = time.monotonic() - started
            break
        if send_some(sock, body[sent:sent + 4]) is None:
            closed_at = time.monotonic() - started
            break
        sent += 4
    if closed_at is None:
        print("trickle-connect %d: sent %d bytes in %.1f s; still connected" % (announced, sent, time.monotonic() - started))
    else:
        print("trickle-connect %d: sent %d bytes; closed by the broker after %.1f s" % (announced, sent, closed_at))
    sock.close()
    return 0


def stall_connect(args, seconds):
    sock = tls_socket(args)
    sock.sendall(bytes([0x10]) + varint(200) + utf8("MQTT") + bytes([5, 0x02]) + b"\x00")
    started = time.monotonic()
    if closed_by_peer(sock, seconds):
        print("stall-connect: closed by the broker after %.1f s" % (time.monotonic() - started))
    else:
        print("stall-connect: still connected after %.1f s" % (time.monotonic() - started))
    sock.close()
    return 0


def slow_mode(argv):
    if len(argv) != 8:
        print(__doc__)
        return 2
    mode, seconds, args = argv[1], float(argv[2]), argv[3:]
    if mode in ("--noread-flood", "--noread-paced", "--noread-qos1"):
        return noread(args, mode.split("-")[-1], seconds)
    if mode.startswith("--trickle-connect"):
        announced = int(mode.split("=", 1)[1]) if "=" in mode else 268435455
        return trickle_connect(args, announced, seconds)
    if mode == "--stall-connect":
        return stall_connect(args, seconds)
    print(__doc__)
    return 2


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        return slow_mode(sys.argv)
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    args = sys.argv[1:]
    request = b"$provision/certificates/create-from-csr/json"
    attack(args, "invalid UTF-8 topic", "hostile-1", lambda: [publish_packet(b"\xff\xfe\x00bad", b"{}", 1)])
    attack(args, "65535-byte topic", "hostile-2", lambda: [publish_packet(b"a" * 65535, b"{}", 1)])
    attack(args, "topic with NUL", "hostile-3", lambda: [publish_packet(b"$provision/\x00/json", b"{}", 1)])
    attack(args, "wildcard in publish topic", "hostile-4", lambda: [publish_packet(b"$provision/#", b"{}", 1)])
    attack(args, "remaining length 256 MB, then close", "hostile-5", lambda: [bytes([0x30]) + varint(268435455) + b"abc"])
    attack(args, "garbage bytes", "hostile-6", lambda: [b"\x00\xff" * 1000])
    attack(args, "1000-level filter", "hostile-7", lambda: [subscribe_packet("/".join(["+"] * 1000))])
    attack(args, "client id '+/#'", "+/#", lambda: [publish_packet(request, b"{}", 1)])
    attack(args, "empty client id v3.1.1", "", lambda: [publish_packet(request, b"{}", 1, v5=False)], v5=False)
    attack(args, "non-UTF-8 client id", "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
           lambda: [publish_packet(request, b"{}", 1)])
    # A bounded flood of requests on one connection, QoS 0.
    attack(args, "flood: 300 requests of 12 KB", "hostile-flood",
           lambda: [publish_packet(request, b"\x00" * 12000, 0, v5=True) for _ in range(300)])
    attack(args, "flood: 300 duplicate packet ids", "hostile-dup",
           lambda: [publish_packet(request, b"{}", 1, packet_id=7) for _ in range(300)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
