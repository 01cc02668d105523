#!/usr/bin/python3
"""Sends a hostile client's worst onto a broker with the provisioning plugin:
malformed MQTT over a valid mutual-TLS connection (a claim certificate).
Standard library only. Every attack uses its own connection; the script
reports what the broker did with each and never waits long (bounded loops).

usage: hostile_client.py HOST PORT CA CERT KEY
exit 0 when every attack ran (whatever the broker answered), 2 on bad usage.
"""
import socket
import ssl
import struct
import sys


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


def main():
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
