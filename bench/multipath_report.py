#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""multipath_report.py: the arithmetic and the tables of bench/multipath.sh. Standard library only.

Subcommands (multipath.sh calls them):

    multipath_report.py sample RESULTS.jsonl k=v ...   one test's record: reads iperf=FILE (iperf3
        -J), get_a=FILE and get_b=FILE (braid's lines of `get` after the test), mid_a=FILE and
        mid_b=FILE (the same during it), trace=FILE (optional; absent files are skipped), takes
        the counters given (ticks_a, ticks_b, clk_tck, mptcp_joins; bytes_before and
        bytes_after: "NAME=BYTES ..." of a's nft counters per uplink) and the labels (round,
        pair, config, test, load1); appends the record and prints one line about it
    multipath_report.py linkem RESULTS.jsonl STATSFILE k=v ...   linkem's counters as a record
    multipath_report.py record RESULTS.jsonl k=v ...   append one record (numbers stay numbers)
    multipath_report.py summary RESULTS.jsonl META.json OUT.json   the tables, OUT.json

The summary takes, per link pair, configuration and test, the median over rounds of each
figure, and sets the issue's targets against them (it reports, it does not judge the run).
"""
import json
import os
import statistics
import sys

CONFIGS = ["A", "B", "aggregate", "aggregate-ref", "aggregate-flow", "mptcp"]
CONFIG_LABEL = {"A": "A alone", "B": "B alone", "aggregate": "aggregate",
                "aggregate-ref": "aggregate (ref)", "aggregate-flow": "aggregate-flow",
                "mptcp": "MPTCP"}
TESTS = ["tcp1_ab", "tcp1_ba", "tcp4_ab", "udp_ab"]
TEST_LABEL = {"tcp1_ab": "TCP 1 a->b", "tcp1_ba": "TCP 1 b->a", "tcp4_ab": "TCP 4 a->b",
              "udp_ab": "UDP a->b"}
# The hold histogram's buckets are 2 ms wide: hold_p99_us is the upper edge of one.
HOLD_BUCKET_US = 2000
# a's address on each uplink: how b's learned paths are told apart.
UPLINK_OF_ADDR = {"198.51.100.2": "A", "198.51.100.130": "B"}


def parse_value(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    if v in ("true", "false"):
        return v == "true"
    if v.startswith("[") or v.startswith("{"):
        return json.loads(v)
    return v


def kv(pairs):
    rec = {}
    for p in pairs:
        k, _, v = p.partition("=")
        rec[k] = parse_value(v)
    return rec


def append(results, rec):
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")


def fields(text):
    """'k=v,k=v' -> dict, numbers as numbers."""
    out = {}
    for item in text.split(","):
        k, _, v = item.partition("=")
        out[k] = parse_value(v)
    return out


def uplink_of(p):
    """A or B: a's paths by their local address, b's by their remote one."""
    for key in ("local", "remote"):
        addr = str(p.get(key, "")).rsplit(":", 1)[0] if key == "remote" else p.get(key)
        if addr in UPLINK_OF_ADDR:
            return UPLINK_OF_ADDR[addr]
    return None


def parse_get(path):
    """braid's lines of one `get`: mode, far end, paths, reorder statistics (None: no file)."""
    if not path or not os.path.exists(path):
        return None
    g = {"paths": [], "reorder": None}
    with open(path) as f:
        for line in f:
            key, _, val = line.strip().partition("=")
            if key == "braid_path":
                name, _, rest = val.partition(",")
                p = fields(rest)
                p["name"] = name
                p["uplink"] = uplink_of(p)
                g["paths"].append(p)
            elif key == "braid_reorder":
                g["reorder"] = fields(val)
            elif key in ("braid_multipath", "braid_peer_multipath"):
                g[key[6:]] = val
    return g


def parse_trace(path):
    """The sender's get every 0.5 s: [{t_ms, paths: [{name, state, rate_bps, owd_us, ...}]}]."""
    if not path or not os.path.exists(path):
        return None
    out, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("t="):
                cur = {"t_ms": int(line[2:]), "paths": []}
                out.append(cur)
            elif line.startswith("braid_path=") and cur is not None:
                name, _, rest = line[11:].partition(",")
                p = fields(rest)
                cur["paths"].append({"name": name, "uplink": uplink_of(p), "state": p.get("state"),
                                     "rate_bps": p.get("rate_bps"), "owd_us": p.get("owd_us"),
                                     "rtt_us": p.get("rtt_us"), "tx_bytes": p.get("tx_bytes")})
    return out


def parse_iperf(path, test):
    with open(path) as f:
        d = json.load(f)
    if "error" in d:
        sys.exit("iperf3: " + d["error"])
    end = d["end"]
    recv, sent = end["sum_received"], end["sum_sent"]
    r = {"mbps": recv["bits_per_second"] / 1e6, "bytes": recv["bytes"],
         "seconds": recv["seconds"] or sent["seconds"]}
    # Every interval, the omitted ones too: the span the daemons' CPU was measured over.
    r["all_bytes"] = sum(i["sum"]["bytes"] for i in d.get("intervals", []))
    if test.startswith("udp"):
        # iperf3 3.12 counts the omitted seconds' losses in lost_percent, not their datagrams:
        # the loss is what did not arrive of what was sent over the measured span.
        r["loss_percent"] = max(0.0, 100 * (1 - recv["bytes"] / sent["bytes"])) \
            if sent["bytes"] else 100.0
        r["iperf3_lost_percent"] = recv.get("lost_percent")
        r["offered_mbps"] = sent["bits_per_second"] / 1e6
    else:
        r["retransmits"] = sent.get("retransmits", 0)
    return r


def counters(text):
    """'NAME=BYTES NAME=BYTES' -> dict."""
    return {k: int(v) for k, _, v in (w.partition("=") for w in text.split())}


def cmd_sample(results, pairs):
    a = kv(pairs)
    test = a["test"]
    rec = {k: a[k] for k in ("round", "pair", "config", "test", "load1")}
    rec.update(parse_iperf(a["iperf"], test))
    ab = test.endswith("_ab")
    before, after = counters(a["bytes_before"]), counters(a["bytes_after"])
    ub = {k: after[k] - before.get(k, 0) for k in after}
    # What neither braid nor the test's TCP sent: anything else on the uplink.
    for up in ("cA", "cB"):
        for d in ("tx", "rx"):
            ub[f"other_{up}_{d}"] = ub[f"all_{up}_{d}"] - ub[f"braid_{up}_{d}"] - \
                ub[f"tcp_{up}_{d}"]
    rec["uplink_bytes"] = ub
    # The split in the data's direction (a sends a->b data, receives b->a), of the traffic
    # under test: braid's for braid, TCP for MPTCP.
    kind = "tcp" if rec["config"] == "mptcp" else "braid"
    d = "tx" if ab else "rx"
    ua, ubb = ub[f"{kind}_cA_{d}"], ub[f"{kind}_cB_{d}"]
    rec["share_a_percent"] = 100.0 * ua / (ua + ubb) if ua + ubb else None
    rec["other_bytes"] = sum(ub[f"other_{u}_{x}"] for u in ("cA", "cB") for x in ("tx", "rx"))
    if rec["config"] == "mptcp":
        rec["mptcp_joins"] = a["mptcp_joins"]
    else:
        cpu = (a["ticks_a"] + a["ticks_b"]) / a["clk_tck"]
        rec["daemon_cpu_s"] = cpu
        rec["daemon_cpu_s_a"] = a["ticks_a"] / a["clk_tck"]
        rec["daemon_cpu_s_b"] = a["ticks_b"] / a["clk_tck"]
        gbit = rec["all_bytes"] * 8 / 1e9
        if not test.startswith("udp") and gbit > 0:
            rec["daemon_cpu_s_per_gbit"] = cpu / gbit
        ga, gb = parse_get(a.get("get_a")), parse_get(a.get("get_b"))
        rec["get_a"], rec["get_b"] = ga, gb
        rec["mid_a"], rec["mid_b"] = parse_get(a.get("mid_a")), parse_get(a.get("mid_b"))
        # The sender's rates while the data flowed.
        mid = rec["mid_a"] if ab else rec["mid_b"]
        if mid:
            rec["sender_rates_mbps"] = {p["uplink"] or p["name"]: p.get("rate_bps", 0) / 1e6
                                        for p in mid["paths"]}
        recv_get = gb if ab else ga
        if recv_get is not None:
            rec["receiver_has_reorder"] = recv_get["reorder"] is not None
            rec["reorder"] = recv_get["reorder"]
        # The bound moves with the queues: after the test it is that of drained paths. A hold
        # is measured against the bound in force; take the larger of the two samples.
        recv_mid = rec["mid_b"] if ab else rec["mid_a"]
        ro, ro_mid = rec.get("reorder"), recv_mid and recv_mid["reorder"]
        if ro and ro_mid and ro_mid.get("bound_us", 0) > ro["bound_us"]:
            ro["bound_after_us"] = ro["bound_us"]
            ro["bound_us"] = ro_mid["bound_us"]
        trace = parse_trace(a.get("trace"))
        if trace is not None:
            rec["trace"] = trace
    append(results, rec)
    line = f"    {CONFIG_LABEL[rec['config']]:<14} {TEST_LABEL[test]:<11} {rec['mbps']:8.2f} Mbit/s"
    if "loss_percent" in rec:
        line += f" ({rec['offered_mbps']:.0f} offered, {rec['loss_percent']:.1f}% lost)"
    else:
        line += f"  retr {rec['retransmits']:<5}"
    if rec["share_a_percent"] is not None:
        line += f"  on A {rec['share_a_percent']:5.1f}%"
    if "daemon_cpu_s_per_gbit" in rec:
        line += f"  CPU {rec['daemon_cpu_s_per_gbit']:.2f} s/Gbit"
    if "mptcp_joins" in rec:
        line += f"  joins {rec['mptcp_joins']}"
    if rec["other_bytes"] > 10000:
        line += f"  other traffic {rec['other_bytes']} B"
    ro = rec.get("reorder")
    if ro:
        line += (f"  reorder p99 {ro['hold_p99_us'] / 1000:.0f}/bound "
                 f"{ro['bound_us'] / 1000:.1f} ms held {ro['held']} gave_up {ro['gave_up']} "
                 f"(early {ro.get('gave_up_early', 0)}) late {ro['late']}")
    elif rec.get("receiver_has_reorder") is False and rec["config"] == "aggregate":
        line += "  receiver: no reorder buffer"
    if rec["config"].startswith("aggregate") and rec.get("sender_rates_mbps"):
        rates = [f"{k} {v:.1f}" for k, v in sorted(rec["sender_rates_mbps"].items())]
        line += f"  {'a' if ab else 'b'}'s rates " + ", ".join(rates) + " Mbit/s"
    print(line, flush=True)


def cmd_linkem(results, stats, pairs):
    rec = kv(pairs)
    rec["test"] = "linkem"
    rec["devices"] = {}
    with open(stats) as f:
        for line in f:
            words = line.split()
            if len(words) > 2 and words[0] == "linkem:" and "=" in words[2]:
                rec["devices"][words[1]] = kv(words[2:])
    append(results, rec)
    for dev, c in rec["devices"].items():
        if c.get("tun_dropped", 0) or c.get("late_avg_us", 0) > 1000:
            print(f"    linkem {dev}: tun_dropped {c.get('tun_dropped')}, late avg "
                  f"{c.get('late_avg_us')} us, max {c.get('late_max_us')} us "
                  "(the emulator was short of CPU)")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def pair_summary(pair, meta, records):
    """Medians per (config, test) of one pair and the targets against them."""
    recs = [r for r in records if r.get("pair") == pair["name"] and "mbps" in r]
    configs = [c for c in CONFIGS if c in meta["configs"]]
    rows = []
    med = {}
    for c in configs:
        for t in TESTS:
            rs = [r for r in recs if r["config"] == c and r["test"] == t]
            if not rs:
                continue
            ro = [r["reorder"] for r in rs if r.get("reorder")]
            row = {"config": c, "test": t, "samples": len(rs),
                   "mbps": median([r["mbps"] for r in rs]),
                   "mbps_rounds": [r["mbps"] for r in sorted(rs, key=lambda r: r["round"])],
                   "retransmits": median([r.get("retransmits") for r in rs]),
                   "loss_percent": median([r.get("loss_percent") for r in rs]),
                   "daemon_cpu_s_per_gbit": median([r.get("daemon_cpu_s_per_gbit")
                                                    for r in rs]),
                   "share_a_percent": median([r.get("share_a_percent") for r in rs]),
                   "reorder_p99_us": median([o["hold_p99_us"] for o in ro]),
                   "reorder_bound_us": median([o["bound_us"] for o in ro]),
                   "reorder_gave_up": median([o["gave_up"] for o in ro]),
                   "receiver_without_reorder": sum(1 for r in rs
                                                   if r.get("receiver_has_reorder") is False)}
            med[(c, t)] = row["mbps"]
            rows.append(row)
    for row in rows:
        a, b = med.get(("A", row["test"])), med.get(("B", row["test"]))
        row["percent_of_sum"] = 100 * row["mbps"] / (a + b) if a and b else None
    return rows, targets(pair, recs, rows)


def targets(pair, recs, rows):
    """The issue's targets, each with the figures it is met or missed by."""
    out = []
    by = {(r["config"], r["test"]): r for r in rows}
    want = 90 if pair["delay_a"] == pair["delay_b"] else 80
    for t in ("tcp1_ab", "tcp1_ba"):
        agg = by.get(("aggregate", t))
        if not agg:
            continue
        if agg["percent_of_sum"] is not None:
            out.append({"target": f"aggregate {TEST_LABEL[t]} >= {want}% of A + B alone",
                        "value": agg["percent_of_sum"], "limit": want,
                        "met": agg["percent_of_sum"] >= want,
                        "text": f"{agg['mbps']:.1f} Mbit/s = {agg['percent_of_sum']:.1f}% of "
                                f"{by[('A', t)]['mbps'] + by[('B', t)]['mbps']:.1f}"})
        m = by.get(("mptcp", t))
        if m:
            out.append({"target": f"aggregate {TEST_LABEL[t]} >= MPTCP", "value": agg["mbps"],
                        "limit": m["mbps"], "met": agg["mbps"] >= m["mbps"],
                        "text": f"{agg['mbps']:.1f} vs {m['mbps']:.1f} Mbit/s "
                                f"({100 * agg['mbps'] / m['mbps']:.0f}%)"})
    # Reorder: every aggregate sample whose receiver held packets.
    ag = [r for r in recs if r["config"] == "aggregate"]
    with_ro = [r for r in ag if r.get("reorder")]
    if with_ro:
        within = [r for r in with_ro
                  if r["reorder"]["hold_p99_us"] <= r["reorder"]["bound_us"] + HOLD_BUCKET_US]
        worst = max(with_ro, key=lambda r: r["reorder"]["hold_p99_us"] -
                    r["reorder"]["bound_us"])
        out.append({"target": "aggregate reorder hold p99 <= bound (2 ms buckets)",
                    "value": len(within), "limit": len(with_ro),
                    "met": len(within) == len(with_ro),
                    "text": f"{len(within)} of {len(with_ro)} samples; worst "
                            f"{TEST_LABEL[worst['test']]} round {worst['round']}: p99 "
                            f"{worst['reorder']['hold_p99_us'] / 1000:.0f} ms, bound "
                            f"{worst['reorder']['bound_us'] / 1000:.1f} ms"})
    cpu_a, cpu_agg = by.get(("A", "tcp1_ab")), by.get(("aggregate", "tcp1_ab"))
    if cpu_a and cpu_agg and cpu_a["daemon_cpu_s_per_gbit"] and cpu_agg["daemon_cpu_s_per_gbit"]:
        ratio = cpu_agg["daemon_cpu_s_per_gbit"] / cpu_a["daemon_cpu_s_per_gbit"]
        out.append({"target": "aggregate CPU/Gbit (TCP 1 a->b) <= 1.2 x A alone",
                    "value": ratio, "limit": 1.2, "met": ratio <= 1.2,
                    "text": f"{cpu_agg['daemon_cpu_s_per_gbit']:.3f} vs "
                            f"{cpu_a['daemon_cpu_s_per_gbit']:.3f} s/Gbit = {ratio:.2f}x"})
    return out


def print_pair(pair, rows, tg, n_rounds):
    print(f"\n== {pair['name']}: {pair['desc']} (one-way; medians of {n_rounds} round(s))")
    head = ["configuration", "test", "Mbit/s", "rounds", "% of A+B", "retr|loss", "CPU s/Gbit",
            "on A", "reorder p99/bound ms"]
    table = [head]
    for r in rows:
        if r["test"].startswith("udp"):
            rl = fmt(r["loss_percent"], ".1f") + "%"
        else:
            rl = fmt(r["retransmits"], ".0f")
        if r["reorder_p99_us"] is not None:
            ro = f"{r['reorder_p99_us'] / 1000:.0f}/{r['reorder_bound_us'] / 1000:.1f}"
        elif r["receiver_without_reorder"] and r["config"] == "aggregate":
            ro = "no buffer"
        else:
            ro = "-"
        table.append([CONFIG_LABEL[r["config"]], TEST_LABEL[r["test"]], fmt(r["mbps"], ".1f"),
                      " ".join(f"{v:.1f}" for v in r["mbps_rounds"]),
                      fmt(r["percent_of_sum"], ".0f") + ("%" if r["percent_of_sum"] else ""),
                      rl, fmt(r["daemon_cpu_s_per_gbit"], ".3f"),
                      fmt(r["share_a_percent"], ".0f") + ("%" if r["share_a_percent"]
                                                          is not None else ""),
                      ro])
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    for i, t in enumerate(table):
        cells = [t[0].ljust(widths[0]), t[1].ljust(widths[1])]
        cells += [c.rjust(widths[j + 2]) for j, c in enumerate(t[2:])]
        print("  " + "  ".join(cells))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print("  targets:")
    for t in tg:
        print(f"    {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['text']}")
    if not tg:
        print("    (none measurable: configurations or tests missing)")


def cmd_summary(results, meta_path, out_path):
    records = []
    with open(results) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    with open(meta_path) as f:
        meta = json.load(f)
    n = meta.get("rounds_done", meta["rounds"])
    if meta.get("note", "complete") != "complete":
        print(f"\nPARTIAL: {meta['note']}; medians over the samples taken "
              f"({n} of {meta['rounds']} rounds complete).")
    out = {"meta": meta, "pairs": [], "errors": [r for r in records if "error" in r],
           "records": records}
    for pair in meta["pairs"]:
        rows, tg = pair_summary(pair, meta, records)
        out["pairs"].append({"pair": pair, "rows": rows, "targets": tg})
        print_pair(pair, rows, tg, n)
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"\n  {meta['seconds']} s measured per test after {meta['omit']} s left out. "
          "rounds: each round's Mbit/s. % of A+B: against the medians of\n  A alone and B "
          "alone in the same test.\n"
          "  retr|loss: TCP retransmits (sender), UDP datagrams lost (offered "
          f"{meta['udp_over_percent']}% of the pair's sum). CPU: utime+stime\n"
          "  of both daemons per gigabit carried (TCP; MPTCP has no daemon). on A: a's bytes "
          "on uplink A in the data's\n  direction. reorder: the receiver's braid_reorder after "
          "the test, hold p99 (2 ms buckets, upper edge) / bound\n  (the larger of the "
          "receiver's bound 0.5 s before the end, under load, and after it); 'no buffer': the "
          "receiver\n  kept no reorder buffer.")
    if out["errors"]:
        print(f"  {len(out['errors'])} test(s) failed:")
        for e in out["errors"]:
            print(f"    round {e.get('round')} {e.get('pair')} {e.get('config')} "
                  f"{e.get('test')}: {e.get('error')}")
    print(f"  results: {out_path}")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "sample":
        cmd_sample(argv[2], argv[3:])
    elif cmd == "linkem" and len(argv) >= 4:
        cmd_linkem(argv[2], argv[3], argv[4:])
    elif cmd == "record":
        append(argv[2], kv(argv[3:]))
    elif cmd == "summary" and len(argv) == 5:
        cmd_summary(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
