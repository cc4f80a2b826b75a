#!/usr/bin/env python3
"""The experiments' load drivers, oracle and statistics.

Shell is the right tool to start brokers and agents, and the wrong one to
send a thousand concurrent requests or to compute a percentile, so the
experiments call this one file for those. It uses only Python's standard
library (http.client, threading, statistics), so that a fresh Debian
machine with python3 runs every experiment. Every subcommand prints one
JSON object on stdout (its summary) and, where it measures per-event
figures, writes them as CSV for the plots and the report.

The scoring oracle in `functional` is written from DESIGN.md section 6
and the choices documented at the top of src/core/scoring.cpp, not from
the C++ code: it keeps its own account of what every reservation holds
and recomputes R, P, C and S for every candidate, so a broker that drifts
from the documented formula disagrees with it.
"""

import argparse
import csv
import http.client
import json
import math
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse

GIB = 1024**3


# ---------------------------------------------------------------- HTTP


class Client:
    """One keep-alive connection to the broker (one per thread)."""

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def call(self, method, path, body=None):
        """Sends one request; returns (status, parsed JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        self.host, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, None
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


def advertisement(cid, cpu, mem_gib, gpus, model, prices, generation):
    """Builds an advertisement of an empty cluster (nothing allocated)."""
    res = {"cpu": str(cpu), "memory": f"{mem_gib}Gi", "pods": "1000"}
    if gpus:
        res["nvidia.com/gpu"] = str(gpus)
    zero = {"cpu": "0", "memory": "0", "pods": "0"}
    gpu_prices = {}
    if prices.get("gpu") is not None:
        gpu_prices = {"default": str(prices["gpu"])}
        if model:
            gpu_prices[model] = str(prices["gpu"])
    return {
        "clusterID": cid, "clusterName": cid.title(),
        "generation": generation,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "endpoint": f"https://{cid}.example:6443",
        "region": prices.get("region", ""), "labels": {"cloud": "gcp"},
        "resources": {"capacity": res, "allocatable": res,
                      "allocated": zero, "available": res,
                      "largestNodeAvailable": res},
        "gpuModels": {model: gpus} if gpus else {},
        "prices": {"currency": "USD", "cpuPerHour": str(prices["cpu"]),
                   "memoryGiBPerHour": str(prices["mem"]),
                   "gpuPerHour": gpu_prices},
        "consumed": {},
    }


def request_body(requester, cpu, mem_gib, gpus=0, policy=None, weights=None,
                 seed=None, duration="1h"):
    """Builds a reservation request."""
    res = {"cpu": str(cpu), "memory": f"{mem_gib}Gi"}
    if gpus:
        res["nvidia.com/gpu"] = str(gpus)
    body = {"requesterID": requester, "requestedResources": res,
            "duration": duration}
    if policy:
        body["policy"] = {"name": policy}
        if weights:
            body["policy"]["resourceWeight"] = weights[0]
            body["policy"]["costWeight"] = weights[1]
        if seed is not None:
            body["policy"]["seed"] = seed
    return body


# ------------------------------------------------------------ statistics


def percentile(values, q):
    """Returns the q-th percentile (0..100) by linear interpolation."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# Two-sided 95 % Student t quantiles for 1..30 degrees of freedom.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
       2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
       2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
       2.048, 2.045, 2.042]


def mean_ci(values):
    """Returns (mean, half-width of the 95 % confidence interval)."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = statistics.fmean(values)
    if n == 1:
        return m, float("nan")
    t = T95[n - 2] if n - 1 <= len(T95) else 1.96
    return m, t * statistics.stdev(values) / math.sqrt(n)


def summary(values):
    """Returns count, mean, p50, p95, p99 and max of a sample."""
    return {"n": len(values), "mean": statistics.fmean(values) if values
            else float("nan"), "p50": percentile(values, 50),
            "p95": percentile(values, 95), "p99": percentile(values, 99),
            "max": max(values) if values else float("nan")}


def write_cdf(values, path):
    """Writes the empirical CDF (value, fraction) of a sample as CSV."""
    v = sorted(values)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["value", "fraction"])
        for i, x in enumerate(v):
            w.writerow([f"{x:.6g}", f"{(i + 1) / len(v):.6f}"])


def cmd_stats(a):
    """Prints the summary of one CSV column."""
    with open(a.file) as f:
        vals = [float(r[a.column]) for r in csv.DictReader(f)
                if r[a.column] != ""]
    out = summary(vals)
    out["ci95"] = mean_ci(vals)[1]
    print(json.dumps(out))


# ---------------------------------------------------------------- oracle

FLEET = {
    # id: cpu cores, memory GiB, gpus, model, prices per hour
    "rome": (64, 256, 0, "", {"cpu": 0.031902, "mem": 0.004276,
                              "gpu": None, "region": "europe-west8"}),
    "paris": (128, 512, 8, "A100-SXM4-80GB",
              {"cpu": 0.031902, "mem": 0.004276, "gpu": 2.934,
               "region": "europe-west9"}),
    "berlin": (256, 1024, 16, "T4",
               {"cpu": 0.035435, "mem": 0.004748, "gpu": 0.41,
                "region": "europe-west3"}),
    "warsaw": (96, 384, 4, "L4",
               {"cpu": 0.0285, "mem": 0.0038, "gpu": 0.7,
                "region": "europe-central2"}),
}
POLICIES = [("weighted", None), ("weighted", (0.5, 0.5)),
            ("resource", None), ("cost", None), ("binpack", None)]


def oracle(req, held):
    """Ranks the candidates for a request by DESIGN.md section 6.

    req: dict requester, cpu (cores), mem (GiB), gpu, weights (wr, wc),
    policy. held: {cluster: [cpu, mem, gpu]} locked so far. Returns the
    candidates as (S, P, id) best first.
    """
    rows = []
    for cid, (cpu, mem, gpus, _model, pr) in sorted(FLEET.items()):
        if cid == req["requester"]:
            continue
        h = held[cid]
        free = [cpu - h[0], mem - h[1], gpus - h[2]]
        ask = [req["cpu"], req["mem"], req["gpu"]]
        alloc = [cpu, mem, gpus]
        keys = [0, 1] + ([2] if req["gpu"] > 0 else [])
        if any(free[k] < ask[k] for k in keys):
            continue
        terms = [(free[k] - ask[k]) / alloc[k] if alloc[k] else 0.0
                 for k in keys]
        r = sum(terms) / len(terms)
        if req["policy"] == "binpack":
            r = 1 - r
        p = req["cpu"] * pr["cpu"] + req["mem"] * pr["mem"]
        if req["gpu"]:
            p += req["gpu"] * pr["gpu"]
        rows.append([cid, r, p])
    if not rows:
        return []
    pmin = min(p for _c, _r, p in rows)
    wr, wc = req["weights"]
    ranked = []
    for cid, r, p in rows:
        c = 1.0 if p == 0 else pmin / p
        ranked.append((100 * (wr * r + wc * c), p, cid))
    ranked.sort(key=lambda t: (-t[0], t[1], t[2]))
    return ranked


def weights_of(policy, weights):
    """Returns the (resource, cost) weights a policy scores with."""
    if policy == "resource":
        return (1.0, 0.0)
    if policy == "cost":
        return (0.0, 1.0)
    return weights or (0.7, 0.3)


def random_request(rng, i):
    """Draws one request: a requester, a size and a policy."""
    requester = rng.choice(sorted(FLEET))
    policy, weights = POLICIES[i % len(POLICIES)]
    gpu = rng.choice([0, 0, 0, 1, 2, 4])
    return {"requester": requester, "cpu": rng.randint(1, 24),
            "mem": rng.randint(1, 96), "gpu": gpu, "policy": policy,
            "weights": weights_of(policy, weights), "given": weights}


def cmd_functional(a):
    """Plays random requests and checks each choice against the oracle."""
    rng = random.Random(a.seed)
    cl = Client(a.url)
    gen = int(time.time() * 1000)
    for cid, (cpu, mem, gpus, model, pr) in FLEET.items():
        st, body = cl.call("POST", "/api/v1/advertisements",
                           advertisement(cid, cpu, mem, gpus, model, pr, gen))
        if st != 200:
            sys.exit(f"advertising {cid}: HTTP {st} {body}")
    held = {cid: [0, 0, 0] for cid in FLEET}
    live = {}  # id -> (cluster, [cpu, mem, gpu])
    rows, matches, score_err = [], 0, 0.0
    for i in range(a.n):
        req = random_request(rng, i)
        ranked = oracle(req, held)
        want = ranked[0][2] if ranked else ""
        st, r = cl.call("POST", "/api/v1/reservations", request_body(
            req["requester"], req["cpu"], req["mem"], req["gpu"],
            req["policy"], req["given"]))
        if st != 201:
            sys.exit(f"request {i}: HTTP {st} {r}")
        got = r.get("targetClusterID") or ""
        if r["status"]["phase"] != "Reserved":
            got = ""
        score = next((row.get("score") for row in r["decision"]["rows"]
                      if row.get("clusterID") == got), None) if got else None
        want_s = ranked[0][0] if ranked else None
        if got and score is not None and want_s is not None:
            score_err = max(score_err, abs(score - want_s))
        ok = got == want
        matches += ok
        rows.append([i, req["requester"], req["policy"],
                     f"{req['weights'][0]}/{req['weights'][1]}", req["cpu"],
                     req["mem"], req["gpu"], len(ranked), want or "-",
                     got or "-", "" if want_s is None else f"{want_s:.6f}",
                     "" if score is None else f"{score:.6f}", int(ok)])
        if got:
            amt = [req["cpu"], req["mem"], req["gpu"]]
            live[r["id"]] = (got, amt)
            held[got] = [h + x for h, x in zip(held[got], amt)]
        # Release often enough that free capacity goes both ways and
        # most requests still find a cluster.
        if live and rng.random() < 0.6:
            rid = rng.choice(sorted(live))
            cid, amt = live.pop(rid)
            st, _ = cl.call("POST", f"/api/v1/reservations/{rid}/release",
                            {"reason": "experiment"})
            if st != 200:
                sys.exit(f"release {rid}: HTTP {st}")
            held[cid] = [h - x for h, x in zip(held[cid], amt)]
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["i", "requester", "policy", "weights", "cpu", "mem_gib",
                    "gpu", "candidates", "oracle", "broker", "oracle_score",
                    "broker_score", "match"])
        w.writerows(rows)
    failed = sum(1 for r in rows if r[8] == "-")
    print(json.dumps({"requests": a.n, "matches": matches,
                      "contested": sum(1 for r in rows if r[7] >= 2),
                      "match_pct": 100.0 * matches / a.n,
                      "no_candidate": failed,
                      "max_score_diff": score_err}))


# ---------------------------------------------------------------- latency


def cmd_latency(a):
    """Times advertisements and reservations, one at a time."""
    cl = Client(a.url)
    gen = int(time.time() * 1000)
    ad_ms, res_ms = [], []
    for i in range(a.n):
        cid = ["paris", "berlin", "warsaw"][i % 3]
        cpu, mem, gpus, model, pr = FLEET[cid]
        body = advertisement(cid, cpu * 10, mem * 10, gpus, model, pr,
                             gen + i)
        t0 = time.perf_counter()
        st, _ = cl.call("POST", "/api/v1/advertisements", body)
        ad_ms.append((time.perf_counter() - t0) * 1000)
        if st != 200:
            sys.exit(f"advertisement {i}: HTTP {st}")
    ids = []
    for i in range(a.n):
        t0 = time.perf_counter()
        st, r = cl.call("POST", "/api/v1/reservations", request_body(
            a.requester, 1, 1, duration="1h"))
        res_ms.append((time.perf_counter() - t0) * 1000)
        if st != 201 or r["status"]["phase"] != "Reserved":
            sys.exit(f"reservation {i}: HTTP {st} {r}")
        ids.append((r["id"], time.time()))
        if a.pause:
            time.sleep(a.pause)
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "ms"])
        w.writerows([["advert", f"{x:.4f}"] for x in ad_ms])
        w.writerows([["reserve", f"{x:.4f}"] for x in res_ms])
    with open(a.ids, "w") as f:
        for rid, t in ids:
            f.write(f"{rid} {t:.6f}\n")
    print(json.dumps({"advert": summary(ad_ms), "reserve": summary(res_ms)}))


def cmd_notify(a):
    """Joins reservation times with the hook's log: Reserved -> notified."""
    sent = {}
    with open(a.ids) as f:
        for line in f:
            rid, t = line.split()
            sent[rid] = float(t)
    seen = {}
    with open(a.hook_log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] in sent:
                seen.setdefault(parts[0], float(parts[1]))
    ms = [(seen[r] - sent[r]) * 1000 for r in sent if r in seen]
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "ms"])
        w.writerows([["notify", f"{x:.4f}"] for x in ms])
    out = summary(ms)
    out["missing"] = len(sent) - len(ms)
    print(json.dumps(out))


def cmd_cdf(a):
    """Writes the CDF of one kind of a latency CSV."""
    with open(a.file) as f:
        vals = [float(r["ms"]) for r in csv.DictReader(f)
                if r["kind"] == a.kind]
    write_cdf(vals, a.out)
    print(json.dumps(summary(vals)))


# ------------------------------------------------------------ concurrency


def cmd_burst(a):
    """Sends N reservation requests from N threads released at once."""
    barrier = threading.Barrier(a.n)
    results = [None] * a.n
    clusters = a.clusters.split(",")

    def worker(i):
        cl = Client(a.url, timeout=120)
        requester = clusters[i % len(clusters)] if a.alternate else a.requester
        body = request_body(requester, a.cpu, a.mem, duration="1h")
        try:
            barrier.wait(timeout=120)
            t0 = time.perf_counter()
            st, r = cl.call("POST", "/api/v1/reservations", body)
            ms = (time.perf_counter() - t0) * 1000
            phase = (r or {}).get("status", {}).get("phase", "")
            results[i] = (st, phase, (r or {}).get("id", ""),
                          (r or {}).get("targetClusterID", ""), ms)
        except Exception as e:  # noqa: BLE001 - counted as a transport error
            results[i] = (0, type(e).__name__, "", "", 0.0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in
               range(a.n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    wall = time.perf_counter() - t0
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["i", "status", "phase", "id", "target", "ms"])
        for i, r in enumerate(results):
            r = r or (0, "hung", "", "", 0.0)
            w.writerow([i, r[0], r[1], r[2], r[3], f"{r[4]:.3f}"])
    done = [r for r in results if r]
    out = {"n": a.n, "wall_s": wall,
           "reserved": sum(1 for r in done if r[1] == "Reserved"),
           "failed": sum(1 for r in done if r[1] == "Failed"),
           "errors": sum(1 for r in done if r[0] != 201),
           # A 201 must carry a reservation: Reserved or Failed, with an id.
           "empty": sum(1 for r in done if r[0] == 201 and
                        (r[1] not in ("Reserved", "Failed") or not r[2])),
           "hung": a.n - len(done),
           "latency": summary([r[4] for r in done if r[0] == 201])}
    print(json.dumps(out))


def amount(q, name):
    """Converts a quantity string to millicores (cpu) or base units."""
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
    q = str(q)
    i = len(q)
    while i > 0 and q[i - 1].isalpha():
        i -= 1
    v = float(q[:i]) * units[q[i:]]
    return round(v * 1000) if name == "cpu" else round(v)


def cmd_recount(a):
    """Recounts what the Reserved and Active reservations hold.

    For every cluster: the sum of granted cpu and memory over its holding
    reservations must equal the broker's `reserved`, must not exceed what
    it advertised as available, and `free` must not be negative.
    Double-bookings are the clusters where holdings exceed availability.
    """
    cl = Client(a.url)
    _, clusters = cl.call("GET", "/api/v1/clusters")
    # The list stops at 1,000 by default; the API allows 10,000.
    _, res = cl.call("GET", "/api/v1/reservations?limit=10000")
    held = {}
    for r in res["items"]:
        if r["status"]["phase"] not in ("Reserved", "Active"):
            continue
        g = r.get("grantedResources") or r["requestedResources"]
        h = held.setdefault(r["targetClusterID"], {"cpu": 0, "memory": 0})
        for k in h:
            h[k] += amount(g.get(k, "0"), k)
    out = {"holding": 0, "mismatch": 0, "double_booked": 0, "negative": 0,
           "clusters": {}}
    for c in clusters["items"]:
        cid, rs = c["clusterID"], c["resources"]
        h = held.get(cid, {"cpu": 0, "memory": 0})
        row = {}
        for k in ("cpu", "memory"):
            avail = amount(rs["available"].get(k, "0"), k)
            reserved = amount(rs.get("reserved", {}).get(k, "0"), k)
            free = amount(rs.get("free", {}).get(k, "0"), k)
            row[k] = {"held": h[k], "reserved": reserved,
                      "available": avail, "free": free}
            out["mismatch"] += h[k] != reserved
            out["double_booked"] += h[k] > avail
            out["negative"] += free < 0
        out["clusters"][cid] = row
    out["holding"] = sum(1 for r in res["items"]
                         if r["status"]["phase"] in ("Reserved", "Active"))
    print(json.dumps(out))


def cmd_setup(a):
    """Advertises the experiment fleet (or a part of it), scaled."""
    cl = Client(a.url)
    gen = int(time.time() * 1000)
    for cid in a.clusters.split(","):
        cpu, mem, gpus, model, pr = FLEET[cid]
        st, body = cl.call("POST", "/api/v1/advertisements", advertisement(
            cid, cpu * a.scale, mem * a.scale, gpus, model, pr, gen))
        if st != 200:
            sys.exit(f"advertising {cid}: HTTP {st} {body}")
    print(json.dumps({"advertised": a.clusters}))


def cmd_ci(a):
    """Prints the mean and 95 % CI half-width of numbers on stdin."""
    vals = [float(x) for x in sys.stdin.read().split()]
    m, h = mean_ci(vals)
    print(json.dumps({"n": len(vals), "mean": m, "ci95": h}))


# ------------------------------------------------------------ scalability


def proc_cpu_s(pid):
    """Returns the user + system CPU seconds a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_kib(pid, name):
    """Returns a /proc/<pid>/status field in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def histogram_quantile(text, name, q):
    """Returns the upper bound of the bucket holding quantile q."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le),
                            float(line.split()[-1])))
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    total = buckets[-1][1]
    for le, n in buckets:
        if n >= q * total:
            return le
    return float("inf")


def fleet_ad(i, gen):
    """Builds the advertisement of simulated cluster i."""
    rng = random.Random(i)
    gpus = rng.choice([0, 8, 16, 64])
    pr = {"cpu": round(rng.uniform(0.027, 0.047), 6),
          "mem": round(rng.uniform(0.0029, 0.0048), 6),
          "gpu": round(rng.uniform(0.29, 0.47), 4)}
    return advertisement(f"c{i:05d}", rng.choice([256, 512, 1024]),
                         rng.choice([1024, 2048, 4096]), gpus, "T4", pr, gen)


def cmd_scale(a):
    """Registers N clusters, keeps them advertising, times reservations."""
    gen = int(time.time() * 1000)
    ids = list(range(a.clusters))

    def register(part):
        cl = Client(a.url)
        for i in part:
            st, _ = cl.call("POST", "/api/v1/advertisements",
                            fleet_ad(i, gen))
            if st != 200:
                raise SystemExit(f"advertising c{i:05d}: HTTP {st}")

    threads = [threading.Thread(target=register, args=(ids[k::4],))
               for k in range(4)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    register_s = time.perf_counter() - t0

    stop = threading.Event()
    sent = [0]

    def advertise():
        # Each cluster every `every` seconds, as its agent would.
        cl, k, start = Client(a.url), 0, time.perf_counter()
        rate = a.clusters / a.every
        while not stop.is_set():
            due = start + k / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(min(due - now, 0.05))
                continue
            cl.call("POST", "/api/v1/advertisements",
                    fleet_ad(k % a.clusters, gen + 1 + k))
            k += 1
            sent[0] = k

    adv = threading.Thread(target=advertise)
    cpu0, w0 = proc_cpu_s(a.pid), time.perf_counter()
    adv.start()
    cl, lat, rng = Client(a.url), [], random.Random(a.clusters)
    end = w0 + a.duration
    k = 0
    while time.perf_counter() < end:
        due = w0 + k / a.rate
        if due > time.perf_counter():
            time.sleep(due - time.perf_counter())
        req = f"c{rng.randrange(a.clusters):05d}" if a.clusters > 1 \
            else "requester"
        t = time.perf_counter()
        st, r = cl.call("POST", "/api/v1/reservations",
                        request_body(req, 1, 1, duration="1h"))
        lat.append((time.perf_counter() - t) * 1000)
        k += 1
    stop.set()
    adv.join()
    wall = time.perf_counter() - w0
    cpu = proc_cpu_s(a.pid) - cpu0
    _, _ = cl.call("GET", "/healthz")
    cl.conn.request("GET", "/metrics")
    text = cl.conn.getresponse().read().decode()
    out = {"clusters": a.clusters, "register_s": register_s,
           "adverts_per_s": sent[0] / wall, "reservations": len(lat),
           "broker_cpu_pct": 100 * cpu / wall,
           "rss_mib": proc_kib(a.pid, "VmRSS") / 1024,
           "peak_rss_mib": proc_kib(a.pid, "VmHWM") / 1024,
           "reserve_p50_ms": percentile(lat, 50),
           "reserve_p99_ms": percentile(lat, 99),
           "decision_p50_le_ms": 1000 * histogram_quantile(
               text, "broker_decision_latency_seconds", 0.5),
           "decision_p99_le_ms": 1000 * histogram_quantile(
               text, "broker_decision_latency_seconds", 0.99)}
    print(json.dumps(out))


# ------------------------------------------------------------------ cost


def cmd_cost(a):
    """Aggregates `lrb sim` runs: savings against random, paired by seed.

    Input CSV: regions,size,policy,seed,accepted,total_usd,mean_usd. For
    each (regions, size, policy), the saving of a seed is
    (mean_random - mean_policy) / mean_random of the per-reservation cost
    of the same seed (same requesters), in %; the table gives the mean
    and the 95 % CI of the totals, the per-reservation costs and those
    savings over the seeds.
    """
    with open(a.file) as f:
        rows = list(csv.DictReader(f))
    by = {}
    for r in rows:
        by.setdefault((r["regions"], r["size"], r["policy"]), {})[
            r["seed"]] = r
    out_rows = []
    for (regions, size, policy), seeds in by.items():
        base = by[(regions, size, "random")]
        tot = [float(r["total_usd"]) for r in seeds.values()]
        per = [float(r["mean_usd"]) for r in seeds.values()]
        acc = [float(r["accepted"]) for r in seeds.values()]
        sav = [100 * (float(base[s]["mean_usd"]) - float(r["mean_usd"])) /
               float(base[s]["mean_usd"]) for s, r in seeds.items()]
        out_rows.append([regions, size, policy, len(seeds),
                         *mean_ci(acc), *mean_ci(tot), *mean_ci(per),
                         *mean_ci(sav)])
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["regions", "size", "policy", "seeds", "accepted",
                    "accepted_ci", "total_usd", "total_ci", "mean_usd",
                    "mean_ci", "saving_pct", "saving_ci"])
        for r in out_rows:
            w.writerow([r[0], r[1], r[2], r[3]] +
                       [f"{x:.6g}" for x in r[4:]])
    for r in out_rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.0f} | "
              f"{r[6]:,.2f} ± {r[7]:,.2f} | {r[8]:.4f} ± {r[9]:.4f} | "
              f"{r[10]:+.2f} ± {r[11]:.2f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("functional")
    s.add_argument("--url", required=True)
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--csv", required=True)
    s.set_defaults(fn=cmd_functional)
    s = sub.add_parser("latency")
    s.add_argument("--url", required=True)
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--requester", default="rome")
    s.add_argument("--pause", type=float, default=0.0)
    s.add_argument("--csv", required=True)
    s.add_argument("--ids", required=True)
    s.set_defaults(fn=cmd_latency)
    s = sub.add_parser("notify")
    s.add_argument("--ids", required=True)
    s.add_argument("--hook-log", required=True)
    s.add_argument("--csv", required=True)
    s.set_defaults(fn=cmd_notify)
    s = sub.add_parser("cdf")
    s.add_argument("file")
    s.add_argument("kind")
    s.add_argument("out")
    s.set_defaults(fn=cmd_cdf)
    s = sub.add_parser("stats")
    s.add_argument("file")
    s.add_argument("column")
    s.set_defaults(fn=cmd_stats)
    s = sub.add_parser("burst")
    s.add_argument("--url", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--requester", default="rome")
    s.add_argument("--clusters", default="rome,paris")
    s.add_argument("--alternate", action="store_true")
    s.add_argument("--cpu", type=int, default=1)
    s.add_argument("--mem", type=int, default=1)
    s.add_argument("--csv", required=True)
    s.set_defaults(fn=cmd_burst)
    s = sub.add_parser("recount")
    s.add_argument("--url", required=True)
    s.set_defaults(fn=cmd_recount)
    s = sub.add_parser("setup")
    s.add_argument("--url", required=True)
    s.add_argument("--clusters", required=True)
    s.add_argument("--scale", type=int, default=1)
    s.set_defaults(fn=cmd_setup)
    s = sub.add_parser("scale")
    s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--clusters", type=int, required=True)
    s.add_argument("--every", type=float, default=10.0)
    s.add_argument("--rate", type=float, default=20.0)
    s.add_argument("--duration", type=float, default=10.0)
    s.set_defaults(fn=cmd_scale)
    s = sub.add_parser("cost")
    s.add_argument("file")
    s.add_argument("out")
    s.set_defaults(fn=cmd_cost)
    s = sub.add_parser("ci")
    s.set_defaults(fn=cmd_ci)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
