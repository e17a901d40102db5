#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py: the arithmetic and the table of bench/run.sh. Standard library only.

Subcommands (run.sh calls them; each prints one line or appends one JSON record):

    report.py tcp IPERF_JSON                 -> "GBPS BYTES SECONDS IPERF_CPU_S RETRANSMITS"
    report.py udp IPERF_JSON                 -> "RECV_BPS LOSS_PCT SENT_BPS"
    report.py ping PING_OUTPUT               -> "MEDIAN_MS RECEIVED"
    report.py record RESULTS.jsonl k=v ...   append one record (numbers stay numbers)
    report.py summary RESULTS.jsonl META.json OUT.json   print the table, write OUT.json

RESULTS.jsonl holds one record per measurement: round, config (veth, wireguard-go, braid),
test and its values. The summary takes the median over rounds of each (config, row).
"""
import json
import statistics
import sys

CONFIGS = ["veth", "wireguard-go", "braid-ref", "braid-1t", "braid"]

# (key in records, label, field, lower_is_better, format)
ROWS = [
    ("tcp1_ab", "TCP 1 stream A->B, Gbit/s", "gbps", False, "{:.2f}"),
    ("tcp1_ba", "TCP 1 stream B->A, Gbit/s", "gbps", False, "{:.2f}"),
    ("tcp4_ab", "TCP 4 streams A->B, Gbit/s", "gbps", False, "{:.2f}"),
    ("tcp4_ba", "TCP 4 streams B->A, Gbit/s", "gbps", False, "{:.2f}"),
    ("udp", "UDP max rate <1% loss A->B, Gbit/s", "gbps", False, "{:.2f}"),
    ("ping_idle", "ping RTT idle, ms (lower better)", "ms", True, "{:.3f}"),
    ("ping_load", "ping RTT under TCP load, ms (lower better)", "ms", True, "{:.3f}"),
    ("tcp1_ab", "daemon CPU s/Gbit, 1 stream A->B (lower better)", "daemon_cpu_s_per_gbit",
     True, "{:.3f}"),
    ("tcp4_ab", "daemon CPU s/Gbit, 4 streams A->B (lower better)", "daemon_cpu_s_per_gbit",
     True, "{:.3f}"),
    ("tcp1_ab", "iperf3 CPU s/Gbit, 1 stream A->B (lower better)", "iperf_cpu_s_per_gbit",
     True, "{:.3f}"),
]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def cmd_tcp(path):
    d = load_json(path)
    if "error" in d:
        sys.exit("iperf3: " + d["error"])
    end = d["end"]
    recv = end["sum_received"]
    secs = recv["seconds"] or end["sum_sent"]["seconds"]
    gbps = recv["bits_per_second"] / 1e9
    cpu = end.get("cpu_utilization_percent", {})
    # iperf3 reports each end's CPU (getrusage of its own process) as a percentage of the
    # test's wall time: their sum times the duration is the CPU seconds of both iperf3s.
    iperf_cpu = (cpu.get("host_total", 0) + cpu.get("remote_total", 0)) / 100 * secs
    retr = end["sum_sent"].get("retransmits", 0)
    print(f"{gbps:.6f} {recv['bytes']} {secs:.3f} {iperf_cpu:.4f} {retr}")


def cmd_udp(path):
    d = load_json(path)
    if "error" in d:
        sys.exit("iperf3: " + d["error"])
    end = d["end"]
    s = end.get("sum_received") or end["sum"]
    sent = end.get("sum_sent") or end["sum"]
    # lost_percent counts datagrams the receiver never saw (sequence gaps).
    lost = s.get("lost_percent", end["sum"].get("lost_percent", 100.0))
    secs = s.get("seconds") or sent.get("seconds") or 1
    recv_bps = s["bytes"] * 8 / secs
    print(f"{recv_bps:.0f} {lost:.4f} {sent['bits_per_second']:.0f}")


def cmd_ping(path):
    rtts = []
    with open(path) as f:
        for line in f:
            i = line.find(" time=")
            if i >= 0 and "bytes from" in line:
                rtts.append(float(line[i + 6:].split()[0]))
    if not rtts:
        sys.exit("no ping replies in " + path)
    print(f"{statistics.median(rtts):.4f} {len(rtts)}")


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


def cmd_record(results, pairs):
    rec = {}
    for p in pairs:
        k, _, v = p.partition("=")
        rec[k] = parse_value(v)
    with open(results, "a") as f:
        f.write(json.dumps(rec, sort_keys=False) + "\n")


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cmd_summary(results, meta_path, out_path):
    records = []
    with open(results) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    meta = load_json(meta_path)
    configs = [c for c in CONFIGS if c in meta["configs"]]

    def values(config, test, field):
        return [r.get(field) for r in records
                if r.get("config") == config and r.get("test") == test]

    rows_out = []
    for key, label, field, lower, fmt in ROWS:
        row = {"row": label, "test": key, "field": field, "lower_is_better": lower,
               "median": {}, "rounds": {}}
        for c in configs:
            vals = values(c, key, field)
            row["rounds"][c] = vals
            row["median"][c] = median_or_none(vals)
        if key == "udp":
            row["sender_bound"] = {}
            for c in configs:
                sb = [r.get("sender_bound") for r in records
                      if r.get("config") == c and r.get("test") == "udp"]
                row["sender_bound"][c] = bool(sb) and sum(map(bool, sb)) * 2 > len(sb)
        b, w = row["median"].get("braid"), row["median"].get("wireguard-go")
        row["braid_over_wireguard_go"] = b / w if b is not None and w else None
        r = row["median"].get("braid-ref")
        row["braid_over_ref"] = b / r if b is not None and r else None
        rows_out.append(row)

    errors = [r for r in records if r.get("test") == "error"]
    out = {"meta": meta, "rows": rows_out, "errors": errors, "records": records}
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    # The table.
    head = ["", *configs]
    if "braid" in configs and "wireguard-go" in configs:
        head.append("braid/wg-go")
    if "braid" in configs and "braid-ref" in configs:
        head.append("braid/ref")
    table = [head]
    for (key, label, field, lower, fmt), row in zip(ROWS, rows_out):
        line = [label]
        for c in configs:
            m = row["median"][c]
            if m is None:
                cell = "n/a" if c == "veth" and field == "daemon_cpu_s_per_gbit" else "-"
            else:
                cell = fmt.format(m)
                if key == "udp" and row["sender_bound"].get(c):
                    cell = ">=" + cell
            line.append(cell)
        for ratio, col in (("braid_over_wireguard_go", "braid/wg-go"),
                           ("braid_over_ref", "braid/ref")):
            if col in head:
                r = row[ratio]
                line.append("-" if r is None else f"{r:.2f}x")
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    n = meta.get("rounds_done", meta.get("rounds"))
    if meta.get("note", "complete") != "complete":
        print(f"\nPARTIAL: {meta['note']}; medians over the samples taken "
              f"({n} of {meta['rounds']} rounds complete).")
    print(f"\nMedians over {n} round(s); {meta['seconds']} s per TCP test, "
          f"{meta['udp_seconds']} s per UDP step. Ratio > 1 is better for braid on Gbit/s rows, "
          f"< 1 on the 'lower better' rows.")
    for i, r in enumerate(table):
        cells = [r[0].ljust(widths[0])] + [c.rjust(widths[j + 1]) for j, c in enumerate(r[1:])]
        print("  " + "  ".join(cells))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print("  daemon CPU = utime+stime of both daemons (/proc/PID/stat) over the transfer, per "
          "gigabit of\n  iperf3 payload received; veth has no daemon (n/a). iperf3 CPU = both "
          "iperf3 processes\n  (their own getrusage), i.e. the endpoints' share of the kernel "
          "TCP/IP and TUN work.")
    if any(row.get("sender_bound", {}).get(c) for row in rows_out for c in configs):
        print("  '>=': the UDP sender (iperf3, one thread) could not send faster; no loss even "
              "unthrottled.")
    if errors:
        print(f"  {len(errors)} config run(s) failed:")
        for e in errors:
            print(f"    round {e.get('round')} {e.get('config')}: {e.get('message')}")
    print(f"  results: {out_path}")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "tcp" and len(args) == 1:
        cmd_tcp(args[0])
    elif cmd == "udp" and len(args) == 1:
        cmd_udp(args[0])
    elif cmd == "ping" and len(args) == 1:
        cmd_ping(args[0])
    elif cmd == "record" and len(args) >= 1:
        cmd_record(args[0], args[1:])
    elif cmd == "summary" and len(args) == 3:
        cmd_summary(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
