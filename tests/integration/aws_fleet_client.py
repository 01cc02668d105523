#!/usr/bin/python3
"""A fleet provisioning client that knows nothing of this project.

It behaves like the AWS IoT device SDK's fleet provisioning sample, with only
the Python standard library and paho-mqtt 1.6 (Debian's python3-paho-mqtt):
MQTT 3.1.1 over mutual TLS with the claim certificate, an SDK-metrics
username and no password, the $aws/... topics and AWS's payloads.

  1. CreateKeysAndCertificate ($aws/certificates/create/json, payload {}) or,
     with --csr-file, CreateCertificateFromCsr
     ($aws/certificates/create-from-csr/json);
  2. RegisterThing ($aws/provisioning-templates/<template>/provision/json)
     with {"certificateOwnershipToken": ..., "parameters": {"SerialNumber": ...}};
  3. prints one JSON line with the accepted replies (privateKey redacted);
  4. reconnects with the new certificate (key and certificate written to a
     temporary directory, the key 0600) with the thing name as client id and
     publishes one QoS 1 message to --publish-topic, or else to the device
     configuration's telemetryTopic; prints a JSON line with the result.

Before each request it subscribes to the request's /accepted and /rejected
topics (QoS 1) and waits for the SUBACK.

Exit status: 0 all succeeded; 1 a request was rejected (the rejected reply is
printed as JSON); 2 bad usage; 3 no answer in time (--timeout); 4 refused by
the broker (CONNACK refused, SUBACK 0x80, lost connection) or cannot connect;
5 an unexpected reply or any other error.

Note: over MQTT 3.1.1 a broker acknowledges a publish it refuses with a plain
PUBACK (3.1.1 has no reason codes), so "published" means "PUBACK received".
"""

import argparse
import json
import os
import queue
import shutil
import ssl
import sys
import tempfile
import time

try:
    import paho.mqtt.client as mqtt
except ImportError:  # reported by the caller: exit 5 with a clear message
    mqtt = None

SDK_USERNAME = "?SDK=PythonV2&Version=1.0.0"
SUBACK_FAILURE = 0x80

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2, 3, 4, 5


class Failure(Exception):
    def __init__(self, code, message, payload=None):
        super().__init__(message)
        self.code = code
        self.payload = payload


def log(message):
    print("aws_fleet_client: " + message, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj, separators=(",", ":"), sort_keys=True), flush=True)


class Session:
    """One MQTT 3.1.1 connection; paho's network thread feeds a queue."""

    def __init__(self, args, client_id, certfile, keyfile):
        self.args = args
        self.client_id = client_id
        self.events = queue.Queue()
        self.stash = []  # events that arrived while waiting for something else
        self.connected = False
        c = mqtt.Client(client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        c.username_pw_set(SDK_USERNAME, None)
        c.tls_set(ca_certs=args.ca, certfile=certfile, keyfile=keyfile, cert_reqs=ssl.CERT_REQUIRED)
        c.on_connect = lambda _c, _u, _flags, rc: self.events.put(("connack", rc))
        c.on_subscribe = lambda _c, _u, mid, granted: self.events.put(("suback", mid, list(granted)))
        c.on_publish = lambda _c, _u, mid: self.events.put(("puback", mid))
        c.on_message = lambda _c, _u, msg: self.events.put(("message", msg.topic, bytes(msg.payload)))
        c.on_disconnect = lambda _c, _u, rc: self.events.put(("disconnect", rc))
        self.client = c

    def _wait(self, what, matches):
        """The first event for which matches(event) holds; other events are
        kept, except that a lost connection ends the wait."""
        for i, event in enumerate(self.stash):
            if matches(event):
                return self.stash.pop(i)
        deadline = time.monotonic() + self.args.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure(EXIT_TIMEOUT, "%s: no answer within %.1f s" % (what, self.args.timeout))
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if matches(event):
                return event
            if event[0] == "disconnect":
                self.connected = False
                raise Failure(EXIT_REFUSED, "%s: the broker closed the connection (rc %d)" % (what, event[1]))
            self.stash.append(event)

    def connect(self):
        try:
            self.client.connect(self.args.host, self.args.port, keepalive=30)
        except (OSError, ssl.SSLError) as e:  # ConnectionRefusedError, TLS alert...
            raise Failure(EXIT_REFUSED, "cannot connect to %s:%d as '%s': %s" % (self.args.host, self.args.port, self.client_id, e))
        self.client.loop_start()
        event = self._wait("CONNECT as '%s'" % self.client_id, lambda e: e[0] in ("connack", "disconnect"))
        if event[0] == "disconnect" or event[1] != 0:
            rc = event[1]
            raise Failure(EXIT_REFUSED, "connect as '%s' refused: %s (%d)" % (self.client_id, mqtt.connack_string(rc), rc))
        self.connected = True
        log("connected as '%s'" % self.client_id)

    def subscribe(self, topic):
        result, mid = self.client.subscribe(topic, qos=1)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise Failure(EXIT_REFUSED, "SUBSCRIBE %s: %s" % (topic, mqtt.error_string(result)))
        event = self._wait("SUBSCRIBE " + topic, lambda e: e[0] == "suback" and e[1] == mid)
        granted = event[2]
        if not granted or granted[0] >= SUBACK_FAILURE:
            raise Failure(EXIT_REFUSED, "SUBSCRIBE %s refused by the broker (SUBACK 0x%02x)" % (topic, granted[0] if granted else 0))

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise Failure(EXIT_REFUSED, "PUBLISH %s: %s" % (topic, mqtt.error_string(info.rc)))
        self._wait("PUBACK for " + topic, lambda e: e[0] == "puback" and e[1] == info.mid)

    def request(self, operation, topic, payload):
        """Subscribes to the replies, publishes, and returns the accepted
        reply; raises Failure(EXIT_REJECTED) with the rejected one."""
        accepted, rejected = topic + "/accepted", topic + "/rejected"
        self.subscribe(accepted)
        self.subscribe(rejected)
        self.publish(topic, json.dumps(payload))
        event = self._wait(operation + " reply", lambda e: e[0] == "message" and e[1] in (accepted, rejected))
        try:
            body = json.loads(event[2].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Failure(EXIT_ERROR, "%s: reply on %s is not JSON: %s" % (operation, event[1], e))
        if event[1] == rejected:
            raise Failure(EXIT_REJECTED, "%s rejected" % operation,
                          {"rejected": {"operation": operation, "topic": rejected, "reply": body}})
        if not isinstance(body, dict):
            raise Failure(EXIT_ERROR, "%s: accepted reply is not an object" % operation)
        return body

    def close(self):
        try:
            if self.connected:
                self.client.disconnect()
                self.connected = False
        finally:
            self.client.loop_stop()


def require_fields(operation, body, fields):
    missing = [f for f in fields if not isinstance(body.get(f), str) or not body.get(f)]
    if missing:
        raise Failure(EXIT_ERROR, "%s: accepted reply lacks %s" % (operation, ", ".join(missing)))


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def provision(args, workdir):
    replies = {}
    claim = Session(args, args.client_id, args.cert, args.key)
    try:
        claim.connect()
        if args.csr_file:
            with open(args.csr_file) as f:
                csr = f.read()
            operation = "CreateCertificateFromCsr"
            issued = claim.request(operation, "$aws/certificates/create-from-csr/json", {"certificateSigningRequest": csr})
            require_fields(operation, issued, ["certificateId", "certificatePem", "certificateOwnershipToken"])
            with open(args.csr_key) as f:
                private_key = f.read()
            replies["createCertificateFromCsr"] = issued
        else:
            operation = "CreateKeysAndCertificate"
            issued = claim.request(operation, "$aws/certificates/create/json", {})
            require_fields(operation, issued, ["certificateId", "certificatePem", "privateKey", "certificateOwnershipToken"])
            private_key = issued["privateKey"]
            replies["createKeysAndCertificate"] = dict(issued, privateKey="<redacted>")
        log("%s accepted: certificate %s" % (operation, issued["certificateId"]))

        operation = "RegisterThing"
        registered = claim.request(operation, "$aws/provisioning-templates/%s/provision/json" % args.template,
                                   {"certificateOwnershipToken": issued["certificateOwnershipToken"],
                                    "parameters": {"SerialNumber": args.serial}})
        require_fields(operation, registered, ["thingName"])
        replies["registerThing"] = registered
        log("RegisterThing accepted: thing %s" % registered["thingName"])
    finally:
        claim.close()
    emit(replies)

    # Reconnect as the device.
    thing = registered["thingName"]
    cert_file, key_file = os.path.join(workdir, "device.pem.crt"), os.path.join(workdir, "private.pem.key")
    with open(cert_file, "w") as f:
        f.write(issued["certificatePem"])
    write_private(key_file, private_key)
    configuration = registered.get("deviceConfiguration") or {}
    topic = args.publish_topic or (configuration.get("telemetryTopic") if isinstance(configuration, dict) else None)
    if not topic:
        raise Failure(EXIT_ERROR, "no --publish-topic and no deviceConfiguration.telemetryTopic")
    device = Session(args, thing, cert_file, key_file)
    try:
        device.connect()
        device.publish(topic, json.dumps({"serialNumber": args.serial, "message": "hello from the AWS-style client"}))
    finally:
        device.close()
    log("published to %s as %s" % (topic, thing))
    emit({"firstPublish": {"clientId": thing, "topic": topic, "qos": 1, "puback": True}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8883)
    parser.add_argument("--ca", required=True, help="CA certificate(s) that verify the broker")
    parser.add_argument("--cert", required=True, help="claim certificate (PEM)")
    parser.add_argument("--key", required=True, help="claim certificate's private key (PEM)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--template", required=True, help="provisioning template name")
    parser.add_argument("--serial", required=True, help="the SerialNumber parameter")
    parser.add_argument("--csr-file", "--csr", dest="csr_file",
                        help="use CreateCertificateFromCsr with this PEM CSR (needs --csr-key)")
    parser.add_argument("--csr-key", help="the CSR's private key (PEM), to reconnect with the new certificate")
    parser.add_argument("--publish-topic", help="topic of the first publish (default: deviceConfiguration.telemetryTopic)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)")
    args = parser.parse_args()
    if args.csr_file and not args.csr_key:
        parser.error("--csr-file needs --csr-key")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    for option, path in (("--ca", args.ca), ("--cert", args.cert), ("--key", args.key),
                         ("--csr-file", args.csr_file), ("--csr-key", args.csr_key)):
        if path is not None and not os.access(path, os.R_OK):
            parser.error("%s %s: not a readable file" % (option, path))
    if mqtt is None:
        log("paho-mqtt is not installed for %s (Debian: apt-get install python3-paho-mqtt)" % sys.executable)
        return EXIT_ERROR

    workdir = tempfile.mkdtemp(prefix="aws-fleet-client-")  # 0700
    try:
        provision(args, workdir)
        return EXIT_OK
    except Failure as e:
        if e.payload is not None:
            emit(e.payload)
        log(str(e))
        return e.code
    except (OSError, KeyError, ValueError) as e:
        log("error: %s" % e)
        return EXIT_ERROR
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
