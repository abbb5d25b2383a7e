#!/usr/bin/env python3
"""faultserver: a small Kubernetes-like API server for controller tests, able to inject
the faults a real server rarely produces on demand.

Speaks enough of the API for list (paged), watch (chunked, newline-framed, bookmarks,
410 as an ERROR event when the requested resourceVersion was compacted), get, create,
update (optimistic concurrency on resourceVersion), merge patch, status update and delete,
for any /api/v1/... or /apis/G/V/... path; namespaced and cluster-scoped resources are told
apart by the URL alone.

Faults, via POST /_fault with a JSON body:
  {"drop_watches": true}         close every open watch abruptly (no final chunk)
  {"compact": true}              forget the event history: watches from older
                                 resourceVersions get 410 Gone
  {"errors": N, "status": 429, "retry_after": 1, "method": "GET", "watch": true|false}
                                 answer the next N matching requests with that status
  {"conflicts": N}               the next N PUTs answer 409 Conflict
GET /_stats returns request counters. --state FILE persists objects across restarts.
Prints "PORT <n>" on stdout once listening.
"""
import argparse
import bisect
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Condition()
STORE = {}          # collection key -> {name: obj}
EVENTS = []         # (rv, type, collection key, obj)
STATE = {"rv": 1, "oldest": 0, "conflicts": 0, "errors": [], "watch_gen": 0,
         "stats": {}}
STATE_FILE = None
MAX_EVENTS = 200000


def save():
    if not STATE_FILE:
        return
    tmp = STATE_FILE + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"rv": STATE["rv"], "store": STORE}, f)
    os.replace(tmp, STATE_FILE)


def load():
    if STATE_FILE and os.path.exists(STATE_FILE):
        with open(STATE_FILE) as f:
            d = json.load(f)
        STORE.update(d["store"])
        STATE["rv"] = d["rv"]
        STATE["oldest"] = d["rv"]  # no history survives a restart


def parse(path):
    """-> (collection key, namespace, resource, name, sub, group_version) or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        gv, rest = "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        gv, rest = parts[1] + "/" + parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces" and False:
        pass
    if not rest:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return gv, ns, resource, name, sub


def coll_key(gv, ns, resource):
    return "%s|%s|%s" % (gv, ns or "", resource)


def status(code, reason, message, retry=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if retry:
        st["details"] = {"retryAfterSeconds": retry}
    return st


REASONS = {404: "NotFound", 409: "Conflict", 410: "Gone", 429: "TooManyRequests",
           500: "InternalError", 503: "ServiceUnavailable", 422: "Invalid", 400: "BadRequest"}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # small writes (headers, then body) must not wait for delayed ACKs
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, code, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null") if n else None

    def count(self, key):
        s = STATE["stats"]
        s[key] = s.get(key, 0) + 1

    def injected(self, method, watch):
        with LOCK:
            for e in STATE["errors"]:
                if e["n"] > 0 and e.get("method", method) == method and \
                        e.get("watch", watch) == watch:
                    e["n"] -= 1
                    return e
        return None

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_fault":
            return self.fault(self.body() or {})
        if url.path == "/_stats":
            with LOCK:
                return self.send_json(200, dict(STATE["stats"], rv=STATE["rv"]))
        if url.path in ("/healthz", "/readyz", "/livez"):
            return self.send_json(200, {"status": "ok"})
        watch = q.get("watch") in ("1", "true")
        with LOCK:
            self.count(method + (" watch" if watch else ""))
        inj = self.injected(method, watch)
        if inj:
            code = inj.get("status", 500)
            extra = {"Retry-After": str(inj["retry_after"])} if inj.get("retry_after") else None
            return self.send_json(code, status(code, REASONS.get(code, "InternalError"),
                                               "injected fault", inj.get("retry_after")), extra)
        p = parse(url.path)
        if not p:
            return self.send_json(404, status(404, "NotFound", "no such path " + url.path))
        gv, ns, resource, name, sub = p
        if method == "GET" and watch:
            return self.watch(gv, ns, resource, q)
        if method == "GET" and not name:
            return self.list(gv, ns, resource, q)
        with LOCK:
            if method == "POST" and not name:
                return self.create(gv, ns, resource)
            key = coll_key(gv, ns, resource)
            objs = STORE.get(key, {})
            cur = objs.get(name)
            if method == "GET":
                if cur is None:
                    return self.send_json(404, status(404, "NotFound", "%s \"%s\" not found" % (resource, name)))
                return self.send_json(200, cur)
            if method == "DELETE":
                if cur is None:
                    return self.send_json(404, status(404, "NotFound", "%s \"%s\" not found" % (resource, name)))
                del objs[name]
                STATE["rv"] += 1
                cur = json.loads(json.dumps(cur))
                cur["metadata"]["resourceVersion"] = str(STATE["rv"])
                self.record("DELETED", key, cur)
                return self.send_json(200, cur)
            if cur is None:
                return self.send_json(404, status(404, "NotFound", "%s \"%s\" not found" % (resource, name)))
            body = self.body()
            if method == "PUT":
                if STATE["conflicts"] > 0:
                    STATE["conflicts"] -= 1
                    return self.send_json(409, status(409, "Conflict", "injected conflict"))
                want = (body.get("metadata") or {}).get("resourceVersion")
                if want and want != cur["metadata"]["resourceVersion"]:
                    return self.send_json(409, status(409, "Conflict",
                        "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                        "please apply your changes to the latest version and try again" % (resource, name)))
                new = json.loads(json.dumps(cur))
                if sub == "status":
                    new["status"] = body.get("status")
                else:
                    st = new.get("status")
                    new = body
                    if st is not None and "status" in cur:
                        new["status"] = st
                    new["metadata"]["uid"] = cur["metadata"]["uid"]
                    new["metadata"]["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
                    if json.dumps(new.get("spec"), sort_keys=True) != json.dumps(cur.get("spec"), sort_keys=True):
                        new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
            elif method == "PATCH":
                new = merge_patch(json.loads(json.dumps(cur)), body)
            else:
                return self.send_json(405, status(405, "MethodNotAllowed", method))
            STATE["rv"] += 1
            new["metadata"]["resourceVersion"] = str(STATE["rv"])
            new["metadata"]["name"] = name
            if ns:
                new["metadata"]["namespace"] = ns
            objs[name] = new
            self.record("MODIFIED", key, new)
            return self.send_json(200, new)

    def create(self, gv, ns, resource):
        body = self.body()
        md = body.setdefault("metadata", {})
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "%05d" % STATE["rv"]
        key = coll_key(gv, ns, resource)
        objs = STORE.setdefault(key, {})
        if md.get("name") in objs:
            return self.send_json(409, status(409, "AlreadyExists", "%s \"%s\" already exists" % (resource, md["name"])))
        STATE["rv"] += 1
        md["resourceVersion"] = str(STATE["rv"])
        md["uid"] = "uid-%d" % STATE["rv"]
        md["generation"] = 1
        md["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if ns:
            md["namespace"] = ns
        objs[md["name"]] = body
        self.record("ADDED", key, body)
        return self.send_json(201, body)

    def record(self, typ, key, obj):
        EVENTS.append((STATE["rv"], typ, key, json.loads(json.dumps(obj))))
        if len(EVENTS) > MAX_EVENTS:
            drop = len(EVENTS) - MAX_EVENTS
            STATE["oldest"] = EVENTS[drop - 1][0]
            del EVENTS[:drop]
        save()
        LOCK.notify_all()

    def matches(self, key, gv, ns, resource):
        k_gv, k_ns, k_res = key.split("|")
        return k_gv == gv and k_res == resource and (ns is None or k_ns == ns)

    def list(self, gv, ns, resource, q):
        limit = int(q.get("limit") or 0)
        start = int(q.get("continue") or 0)
        with LOCK:
            items = []
            for key, objs in STORE.items():
                if self.matches(key, gv, ns, resource):
                    items.extend(objs.values())
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            rv = str(STATE["rv"])
        sel = q.get("labelSelector")
        if sel:
            want = dict(t.split("=", 1) for t in sel.split(","))
            items = [o for o in items if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in want.items())]
        page = items[start:start + limit] if limit else items[start:]
        md = {"resourceVersion": rv}
        if limit and start + limit < len(items):
            md["continue"] = str(start + limit)
        kind = resource.capitalize() + "List"
        self.send_json(200, {"kind": kind, "apiVersion": gv, "metadata": md, "items": page})

    def watch(self, gv, ns, resource, q):
        rv = int(q.get("resourceVersion") or 0)
        timeout = float(q.get("timeoutSeconds") or 300)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        deadline = time.time() + timeout
        with LOCK:
            gen = STATE["watch_gen"]
            if rv and rv < STATE["oldest"]:
                chunk({"type": "ERROR", "object": status(410, "Expired",
                       "too old resource version: %d (%d)" % (rv, STATE["oldest"]))})
                self.wfile.write(b"0\r\n\r\n")
                return
            if not rv:
                rv = STATE["rv"]
        pos = rv
        try:
            while True:
                with LOCK:
                    while True:
                        if STATE["watch_gen"] != gen:
                            self.close_connection = True
                            return  # dropped: no final chunk
                        if pos < STATE["oldest"]:
                            chunk({"type": "ERROR", "object": status(410, "Expired", "compacted")})
                            self.wfile.write(b"0\r\n\r\n")
                            return
                        pending = []
                        if EVENTS and EVENTS[-1][0] > pos:
                            i = bisect.bisect_right(EVENTS, pos, key=lambda e: e[0])
                            pending = [e for e in EVENTS[i:] if self.matches(e[2], gv, ns, resource)]
                            pos = EVENTS[-1][0]
                        if pending:
                            break
                        left = deadline - time.time()
                        if left <= 0:
                            self.wfile.write(b"0\r\n\r\n")
                            return
                        LOCK.wait(min(left, 1.0))
                for e in pending:
                    chunk({"type": e[1], "object": e[3]})
        except (BrokenPipeError, ConnectionResetError):
            return

    def fault(self, f):
        with LOCK:
            if f.get("drop_watches"):
                STATE["watch_gen"] += 1
            if f.get("compact"):
                STATE["oldest"] = STATE["rv"] + 1
                EVENTS.clear()
            if f.get("conflicts"):
                STATE["conflicts"] = int(f["conflicts"])
            if f.get("errors"):
                e = {"n": int(f["errors"]), "status": int(f.get("status", 500))}
                for k in ("retry_after", "method", "watch"):
                    if k in f:
                        e[k] = f[k]
                STATE["errors"].append(e)
            LOCK.notify_all()
        self.send_json(200, {"ok": True})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global STATE_FILE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state")
    a = ap.parse_args()
    STATE_FILE = a.state
    load()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    try:
        sys.stdout.write("PORT %d\n" % srv.server_address[1])
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    # nothing else goes to stdout: a reader may close it after the port line
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    srv.serve_forever()


if __name__ == "__main__":
    main()
