#!/usr/bin/env python3
"""Writes N ConfigMaps to an API server over HTTPS with T parallel keep-alive connections;
prints the achieved creates per second. Used by bench/controller.sh.
usage: controller-writer.py URL CA_FILE TOKEN N THREADS PREFIX DATA_BYTES"""
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

url, ca, token = sys.argv[1], sys.argv[2], sys.argv[3]
n, threads, prefix, size = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
u = urllib.parse.urlsplit(url)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}


def work(t):
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    for i in range(t, n, threads):
        body = {"metadata": {"name": "%s%d" % (prefix, i), "labels": {"bench": prefix}},
                "data": {"v": "x" * size}}
        c.request("POST", "/api/v1/namespaces/default/configmaps", json.dumps(body), hdr)
        r = c.getresponse()
        r.read()
        if r.status != 201:
            sys.exit("create failed: HTTP %d" % r.status)


t0 = time.time()
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("%.0f" % (n / (time.time() - t0)))
