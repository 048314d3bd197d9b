#!/usr/bin/env python3
"""Summarizer of bench/compare.sh (stdlib only).

    compare.py --out DIR [--zkr PATH]   report of the runs in DIR: prints it, writes
                                        DIR/report.md, DIR/summary.json and DIR/plots/*.svg
    compare.py --line FILE.json         one line about one `zkr bench --json` run
    compare.py --agree DIR              the table of bench/agree.sh: per client and workload,
                                        ops/s median [min–max], p50, p99 (DIR/agree.md too)

DIR holds run.txt (key=value lines), workloads.txt ("name|args" lines, in order),
fsync-start.json / fsync-end.json (`zkr bench fsync --json`), floor-start.json /
floor-end.json (`zkr bench floor --json`, optional) and
results/<workload>-<server>-<rep>.json (`zkr bench --json`), workload with '-' for ' '.
Per workload, op and server: the median over reps with min and max; ratios are zkr/ZooKeeper of
the medians.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

SERVERS = ("zkr", "zookeeper")
NAMES = {"zkr": "zkr", "zookeeper": "ZooKeeper"}


def fmt(x, digits=None):
    """A number for humans: '-' for None, one decimal under 10, else thousands separators."""
    if x is None:
        return "-"
    if digits is not None:
        return f"{x:.{digits}f}"
    if abs(x) < 10:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def med(s):
    return None if s is None else s["median"]


def line(path):
    with open(path) as f:
        doc = json.load(f)
    parts = []
    for o in doc["ops"]:
        lat = o["latency_us"]
        err = f" ({o['errors']} errors)" if o["errors"] else ""
        parts.append(f"{o['op']} {fmt(o['ops_per_sec'])} ops/s p50 {fmt(lat['p50'])} us p99 {fmt(lat['p99'])} us{err}")
    return f"{doc['label']}: " + "; ".join(parts)


def read_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for ln in f:
                if "=" in ln:
                    k, v = ln.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def zk_version(srvr):
    """'3.8.0-${mvngit.commit.id}, built on ...' (Debian's build) -> '3.8.0'."""
    m = re.match(r"[0-9][0-9.]*", srvr)
    return m.group(0) if m else srvr


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemTotal:"):
                    mem = int(ln.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "nproc": cpus, "mem_gib": mem, "kernel": os.uname().release}


def load(out):
    """{(workload, server): {rep: doc}} and the workloads in order."""
    order = []
    wl_path = os.path.join(out, "workloads.txt")
    if os.path.exists(wl_path):
        with open(wl_path) as f:
            order = [ln.split("|", 1)[0] for ln in f.read().splitlines() if ln.strip()]
    by_slug = {w.replace(" ", "-"): w for w in order}
    runs = {}
    rdir = os.path.join(out, "results")
    pat = re.compile(r"^(.*)-(zookeeper|zkr)-(\d+)\.json$")
    for fn in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
        m = pat.match(fn)
        if not m:
            continue
        doc = read_json(os.path.join(rdir, fn))
        if doc is None:
            continue
        slug, srv, rep = m.group(1), m.group(2), int(m.group(3))
        name = by_slug.get(slug, slug.replace("-", " "))
        if name not in order:
            order.append(name)
        doc["_path"] = os.path.join(rdir, fn)
        runs.setdefault((name, srv), {})[rep] = doc
    return runs, order


def op_of(doc, op):
    for o in doc["ops"]:
        if o["op"] == op:
            return o
    return None


def summarize(runs, order):
    rows = []
    for name in order:
        ops = []
        for srv in SERVERS:
            for doc in runs.get((name, srv), {}).values():
                for o in doc["ops"]:
                    if o["op"] not in ops:
                        ops.append(o["op"])
        for op in ops:
            row = {"workload": name, "op": op}
            for srv in SERVERS:
                reps = runs.get((name, srv), {})
                vals = {"ops_per_sec": [], "p50_us": [], "p99_us": [], "p999_us": [], "client_cpu": [], "server_cpu": [], "errors": 0}
                for doc in reps.values():
                    o = op_of(doc, op)
                    if o is None:
                        continue
                    vals["ops_per_sec"].append(o["ops_per_sec"])
                    if o["ok"] > 0:
                        vals["p50_us"].append(o["latency_us"]["p50"])
                        vals["p99_us"].append(o["latency_us"]["p99"])
                        vals["p999_us"].append(o["latency_us"]["p999"])
                    vals["client_cpu"].append(doc.get("client_cpu"))
                    vals["server_cpu"].append(doc.get("server_cpu"))
                    vals["errors"] += o["errors"]
                row[srv] = {k: (v if k == "errors" else stats(v)) for k, v in vals.items()}
                row[srv]["reps"] = len(reps)
            z, k = row["zkr"], row["zookeeper"]
            row["ratio"] = {
                "ops_per_sec": ratio(med(z["ops_per_sec"]), med(k["ops_per_sec"])),
                "p50_us": ratio(med(z["p50_us"]), med(k["p50_us"])),
                "p99_us": ratio(med(z["p99_us"]), med(k["p99_us"])),
            }
            rows.append(row)
    return rows


def find(rows, workload, op):
    for r in rows:
        if r["workload"] == workload and r["op"] == op:
            return r
    return None


def spread(s):
    if s is None:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}–{fmt(s['max'])}]"


def pair(r, key, digits=None):
    return f"{fmt(med(r['zkr'][key]), digits)} / {fmt(med(r['zookeeper'][key]), digits)}"


def table(rows):
    head = ["workload", "op", "zkr ops/s median [min–max]", "ZooKeeper ops/s median [min–max]", "ops/s zkr/ZK",
            "p50 µs zkr / ZK", "p50 ratio", "p99 µs zkr / ZK", "p99 ratio", "client CPU zkr / ZK", "server CPU zkr / ZK"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["workload"], r["op"], spread(r["zkr"]["ops_per_sec"]), spread(r["zookeeper"]["ops_per_sec"]),
                 fmt(r["ratio"]["ops_per_sec"], 2), pair(r, "p50_us"), fmt(r["ratio"]["p50_us"], 2),
                 pair(r, "p99_us"), fmt(r["ratio"]["p99_us"], 2), pair(r, "client_cpu", 2), pair(r, "server_cpu", 2)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def best_floor(floors):
    """The better of the start and end `zkr bench floor` readings, per figure (None if absent)."""
    fl = [f for f in floors if f]
    if not fl:
        return None
    return {
        "fanout_p50_us": min(f["fanout_p50_us"] for f in fl),
        "sessions_per_s": max(f["sessions_per_s"] for f in fl),
        "write_gap_p50_us": min(f["write_gap_p50_us"] for f in fl),
        "write_rtt_p50_us": min(f["write_rtt_p50_us"] for f in fl),
    }


def targets(rows, fsync_p50, floor):
    """Each target with zkr's value and, where `zkr bench floor` bounds it, the best value any
    server could reach on this machine: bare kernel calls against ZooKeeper's measured figure."""
    def val(workload, op, get):
        r = find(rows, workload, op)
        return None if r is None else get(r)

    def over(x, y):
        return None if x is None or y is None or y == 0 else x / y

    set11 = val("set 1x1", "set", lambda r: med(r["zkr"]["p50_us"]))
    zk_fan = val("watch 1000", "fanout", lambda r: med(r["zookeeper"]["p50_us"]))
    zk_open = val("sessions 16", "open", lambda r: med(r["zookeeper"]["ops_per_sec"]))
    fl = floor or {}
    spec = [
        ("reads: get 16x16 throughput zkr/ZK", val("get 16x16", "get", lambda r: r["ratio"]["ops_per_sec"]), ">=", 4.0, None),
        ("reads: get 16x16 p99 zkr/ZK", val("get 16x16", "get", lambda r: r["ratio"]["p99_us"]), "<=", 0.25, None),
        ("writes: set 16x16 throughput zkr/ZK", val("set 16x16", "set", lambda r: r["ratio"]["ops_per_sec"]), ">=", 3.0, None),
        # The floor's bound on this target is its own best 1x1 round trip (request, inline
        # O_DSYNC write, reply) minus the same fsync p50: on an idle vCPU a lone write can
        # take longer than `zkr bench fsync`'s back-to-back ones, and no server avoids that.
        ("set 1x1: zkr p50 − fsync p50 (µs)", None if set11 is None or fsync_p50 is None else set11 - fsync_p50, "<=", 50.0,
         None if fl.get("write_rtt_p50_us") is None or fsync_p50 is None else fl["write_rtt_p50_us"] - fsync_p50),
        ("watch 1000: fanout p50 zkr/ZK", val("watch 1000", "fanout", lambda r: r["ratio"]["p50_us"]), "<=", 0.1,
         over(fl.get("fanout_p50_us"), zk_fan)),
        ("sessions 16: open ops/s zkr/ZK", val("sessions 16", "open", lambda r: r["ratio"]["ops_per_sec"]), ">=", 4.0,
         over(fl.get("sessions_per_s"), zk_open)),
    ]
    out = []
    for name, v, op, thr, limit in spec:
        if v is None:
            result = "not run"
        else:
            result = "pass" if (v >= thr if op == ">=" else v <= thr) else "FAIL"
        reachable = None if limit is None else (limit >= thr if op == ">=" else limit <= thr)
        out.append({"target": name, "value": v, "want": f"{op} {thr:g}", "result": result,
                    "machine_limit": limit, "reachable_here": reachable})
    return out


def median_rep(reps, workload):
    """The rep whose main figure is the median (lower middle): fanout p50 for watch, else the
    first op's ops/s."""
    def key(doc):
        o = doc["ops"][0]
        return o["latency_us"]["p50"] if workload.startswith("watch") else o["ops_per_sec"]
    docs = sorted(reps.values(), key=key)
    return docs[(len(docs) - 1) // 2] if docs else None


def plots(out, zkr, runs, order):
    made = []
    if not zkr:
        return made
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    for name in order:
        docs = [median_rep(runs.get((name, srv), {}), name) for srv in ("zookeeper", "zkr")]
        docs = [d for d in docs if d is not None]
        if not docs:
            continue
        svg = os.path.join(out, "plots", name.replace(" ", "-") + ".svg")
        cmd = [zkr, "bench", "plot", svg] + [d["_path"] for d in docs] + ["--title", f"zkr vs ZooKeeper: {name} (median rep)"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:
            made.append(os.path.relpath(svg, out))
        else:
            print(f"compare.py: plot {name}: {r.stderr.strip()}", file=sys.stderr)
    return made


def report(out, zkr):
    run = read_kv(os.path.join(out, "run.txt"))
    fs = {w: read_json(os.path.join(out, f"fsync-{w}.json")) for w in ("start", "end")}
    p50s = [f["p50_us"] for f in fs.values() if f]
    fsync_p50 = statistics.median(p50s) if p50s else None
    runs, order = load(out)
    rows = summarize(runs, order)
    floors = {w: read_json(os.path.join(out, f"floor-{w}.json")) for w in ("start", "end")}
    floor = best_floor(floors.values())
    tg = targets(rows, fsync_p50, floor)
    m = machine()
    plot_files = plots(out, zkr, runs, order)

    def fsync_s(f):
        return "-" if not f else f"p50 {fmt(f['p50_us'])} µs, p99 {fmt(f['p99_us'])} µs"

    md = ["# zkr vs Apache ZooKeeper: side by side", ""]
    dirty = " (dirty work tree)" if run.get("dirty") == "1" else ""
    md += [
        f"- date: {run.get('date', '-')}",
        f"- zkr: commit {run.get('commit', '-')}{dirty}, binary {run.get('zkr_bin', '-')}",
        f"- ZooKeeper: {zk_version(run.get('zookeeper_version', '-'))} (ZooKeeperServerMain, {run.get('java', '-')}, "
        f"JVM flags: {run.get('zk_jvm_flags') or 'none'})",
        f"- machine: {m['cpu']}, {m['nproc']} CPUs, {fmt(m['mem_gib'])} GiB, Linux {m['kernel']}",
        f"- load average (1/5/15 min): start {run.get('loadavg_start', '-')}, end {run.get('loadavg_end', '-')}",
        f"- disk: {run.get('filesystem', '-')}, both data dirs under {run.get('workdir', '-')}; "
        f"pwrite 4 KiB + fdatasync: start {fsync_s(fs['start'])}; end {fsync_s(fs['end'])}",
        f"- runs: {run.get('reps', '-')} reps x {run.get('duration', '-')} s measured after {run.get('warmup', '-')} s "
        f"warm-up, workloads interleaved, the first server alternating per rep; JIT prewarm {run.get('prewarm', '-')} s; "
        f"client `zkr bench` on the same machine; failed runs: {run.get('failed_runs', '-')}",
        f"- topology: {run.get('mode', 'standalone')}, one server each, forceSync=yes; "
        "ensemble: not available (zkr has no replication yet)",
        "",
        "Medians over reps, [min–max]; ratios are zkr/ZooKeeper of the medians; CPU in cores (CPU seconds / "
        "measured seconds) of the client process and of the server process.",
        "",
        table(rows),
        "",
    ]
    notes = []
    w = find(rows, "watch 1000", "fanout")
    if w:
        notes.append(f"- watch 1000: the figure is the fan-out latency (setData to the last of 1000 notifications): "
                     f"p50 {pair(w, 'p50_us')} µs, ratio {fmt(w['ratio']['p50_us'], 3)}; p99 {pair(w, 'p99_us')} µs, "
                     f"ratio {fmt(w['ratio']['p99_us'], 3)}. Its ops/s are rounds per second, one round at a time.")
    s = find(rows, "set 1x1", "set")
    if s and fsync_p50 is not None:
        zp, kp = med(s["zkr"]["p50_us"]), med(s["zookeeper"]["p50_us"])
        notes.append(f"- set 1x1: p50 minus fsync p50 ({fmt(fsync_p50)} µs, median of start and end): "
                     f"zkr {fmt(None if zp is None else zp - fsync_p50)} µs, "
                     f"ZooKeeper {fmt(None if kp is None else kp - fsync_p50)} µs.")
    for r in rows:
        for srv in SERVERS:
            if r[srv]["errors"]:
                notes.append(f"- {r['workload']} {r['op']}: {NAMES[srv]} answered {r[srv]['errors']} requests with errors "
                             "(over all reps).")
    want_reps = int(run.get("reps", "0") or 0)
    for name in order:
        for srv in SERVERS:
            n = len(runs.get((name, srv), {}))
            if n < want_reps:
                notes.append(f"- {name}: {NAMES[srv]} has {n} of {want_reps} reps (failed runs: see results/*.txt).")
    if notes:
        md += ["Notes:", ""] + notes + [""]
    def num(v):
        return fmt(v) if v is not None and abs(v) >= 10 else fmt(v, 3)

    md += ["## Targets", "",
           "\"machine limit\": the best value any server could reach here, from `zkr bench floor` (bare kernel "
           "calls, no server logic: the better of its start and end readings) against ZooKeeper's median, "
           "or for set 1x1 its request / inline O_DSYNC write / reply round trip minus the same fsync p50; "
           "\"-\" where it does not bound the target.", "",
           "| target | value | want | result | machine limit | reachable here |", "|---|---|---|---|---|---|"]
    for t in tg:
        reach = {None: "-", True: "yes", False: "no"}[t["reachable_here"]]
        md.append(f"| {t['target']} | {num(t['value'])} | {t['want']} | {t['result']} | {num(t['machine_limit'])} | {reach} |")
    md.append("")
    def floor_s(f):
        return "-" if not f else (f"fan-out {fmt(f['fanout_p50_us'])} µs, sessions {fmt(f['sessions_per_s'])}/s, "
                                  f"1x1 round trip {fmt(f['write_rtt_p50_us'])} µs "
                                  f"(its write {fmt(f['write_p50_us'])} µs, gap {fmt(f['write_gap_p50_us'])} µs)")
    md += [f"Machine floor (`zkr bench floor`): start {floor_s(floors['start'])}; end {floor_s(floors['end'])}.", ""]
    if plot_files:
        md += ["Plots (median rep of each server): " + ", ".join(plot_files), ""]
    text = "\n".join(md)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    summary = {
        "run": run,
        "machine": m,
        "fsync": {"start": fs["start"], "end": fs["end"], "p50_us_median": fsync_p50},
        "floor": {"start": floors["start"], "end": floors["end"], "best": floor},
        "ensemble": "not available (zkr has no replication yet)",
        "rows": rows,
        "targets": tg,
        "plots": plot_files,
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(text)


def agree(out):
    """bench/agree.sh: results/<workload>-<client>-<rep>.json, client zkr-bench or
    zookeeper-client."""
    run = read_kv(os.path.join(out, "run.txt"))
    pat = re.compile(r"^(get|set)-(zkr-bench|zookeeper-client)-(\d+)\.json$")
    runs = {}
    rdir = os.path.join(out, "results")
    for fn in sorted(os.listdir(rdir)):
        m = pat.match(fn)
        doc = read_json(os.path.join(rdir, fn)) if m else None
        if doc:
            runs.setdefault((m.group(1), m.group(2)), []).append(doc)
    md = [f"# Agreement: zkr bench and zookeeper-client against {run.get('against', '-')}", "",
          f"{run.get('reps', '-')} reps x {run.get('duration', '-')} s after {run.get('warmup', '-')} s warm-up, "
          f"interleaved; load average start {run.get('loadavg_start', '-')}, end {run.get('loadavg_end', '-')}. "
          "Medians over reps; p50/p99 in µs; CPU in cores."
          + (f" {run['cpus']}." if run.get('cpus') else ""), "",
          "| client | workload | ops/s median [min–max] | p50 µs | p99 µs | client CPU | server CPU | errors |",
          "|---|---|---|---|---|---|---|---|"]
    medians = {}
    p50s = {}
    for w in ("get", "set"):
        for c in ("zkr-bench", "zookeeper-client"):
            docs = runs.get((w, c), [])
            if not docs:
                continue
            ops = stats([d["ops"][0]["ops_per_sec"] for d in docs])
            p50 = stats([d["ops"][0]["latency_us"]["p50"] for d in docs])
            p99 = stats([d["ops"][0]["latency_us"]["p99"] for d in docs])
            ccpu = stats([d.get("client_cpu") for d in docs])
            scpu = stats([d.get("server_cpu") for d in docs])
            errors = sum(d["ops"][0]["errors"] for d in docs)
            medians[(w, c)] = ops
            p50s[(w, c)] = p50
            md.append(f"| {c} | {w} {docs[0]['sessions']}x{docs[0]['outstanding']} | {spread(ops)} | {fmt(med(p50))} | "
                      f"{fmt(med(p99))} | {fmt(med(ccpu), 2)} | {fmt(med(scpu), 2)} | {errors} |")
    md.append("")
    for w in ("get", "set"):
        a, b = medians.get((w, "zkr-bench")), medians.get((w, "zookeeper-client"))
        if a and b:
            overlap = a["min"] <= b["max"] and b["min"] <= a["max"]
            ranges = (f"; the [min–max] ranges {'overlap' if overlap else 'do not overlap'}"
                      if min(a["n"], b["n"]) >= 2 else " (one rep: no spread to compare with)")
            md.append(f"- {w}: ops/s zkr-bench / zookeeper-client = {fmt(ratio(a['median'], b['median']), 2)}{ranges}.")
            pa, pb = p50s[(w, "zkr-bench")], p50s[(w, "zookeeper-client")]
            if pa and pb and pa.get("median") and pb.get("median"):
                overlap = pa["min"] <= pb["max"] and pb["min"] <= pa["max"]
                ranges = (f"; the [min–max] ranges {'overlap' if overlap else 'do not overlap'}"
                          if min(pa["n"], pb["n"]) >= 2 else "")
                md.append(f"- {w}: p50 zkr-bench / zookeeper-client = {fmt(ratio(pa['median'], pb['median']), 2)} "
                          f"({fmt(pa['median'])} [{fmt(pa['min'])}–{fmt(pa['max'])}] µs against "
                          f"{fmt(pb['median'])} [{fmt(pb['min'])}–{fmt(pb['max'])}] µs){ranges}.")
    md.append("")
    text = "\n".join(md)
    with open(os.path.join(out, "agree.md"), "w") as f:
        f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--zkr", help="zkr binary, for the plots")
    ap.add_argument("--line", metavar="FILE")
    ap.add_argument("--agree", metavar="DIR")
    a = ap.parse_args()
    if a.agree:
        agree(a.agree)
    elif a.line:
        print(line(a.line))
    elif a.out:
        report(a.out, a.zkr)
    else:
        ap.error("want --out DIR or --line FILE")


if __name__ == "__main__":
    main()
