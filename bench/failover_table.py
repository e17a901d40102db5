#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The table of bench/failover.sh from its samples (python3 standard library only).

  failover_table.py SAMPLES ROUNDS

SAMPLES is the script's tab-separated file (round, config, scenario, metric, value). Each row is
one figure of one scenario, each column a configuration; a cell is the median over the rounds
and, in parentheses, the worst (the largest), "[n=K]" when only K rounds gave it, "-" where the
figure does not apply. A gap that lasted until A came back (no recovery while A was down) counts
as the outage's length and shows as ">=N", or "none in N s" when it did so in every round.
"""
import statistics
import sys

CONFIGS = [("braid", "braid/braid"), ("wireguard-go", "braid->wg-go"), ("off", "multipath off"),
           ("mptcp", "MPTCP a/a"), ("mptcp-backup", "MPTCP backup")]
KINDS = [("admin", "admin down"), ("carrier", "carrier loss"), ("blackhole", "black-hole")]


def both(a, b):
    """The sum of two metrics of a run, when it has both."""
    return lambda m: m[a] + m[b] if a in m and b in m else None


def worse(a, b):
    return lambda m: max(m[a], m[b]) if a in m and b in m else None


def one(name):
    return lambda m: m.get(name)


def rows():
    """(label, scenario, value of a run's metrics, metric of its 'capped' flag or None)."""
    out = []
    for kind, label in KINDS:
        out += [
            ("%s: gap a->b, ms" % label, kind, one("gap_ab"), "capped_ab"),
            ("%s: gap b->a, ms" % label, kind, one("gap_ba"), "capped_ba"),
            ("%s: lost, datagrams both ways" % label, kind, both("lost_ab", "lost_ba"), None),
            ("%s: a shows A down, ms" % label, kind, one("detect_ms"), "detect_ms_capped"),
            ("%s: mp_up to A active, ms" % label, kind, one("failback_ms"),
             "failback_ms_capped"),
            ("%s: from mp_up: longest gap, ms" % label, kind, worse("fb_gap_ab", "fb_gap_ba"),
             None),
            ("%s: from mp_up: lost, both ways" % label, kind, both("fb_lost_ab", "fb_lost_ba"),
             None),
        ]
    out += [
        ("redundant 5%+5%: loss a->b, %", "redundant", pct("lost_ab", "sent_ab"), None),
        ("redundant 5%+5%: loss b->a, %", "redundant", pct("lost_ba", "sent_ba"), None),
        ("redundant: p50 delay a->b, ms", "redundant", one("p50_ab"), None),
        ("redundant: p50 delay b->a, ms", "redundant", one("p50_ba"), None),
        ("redundant: p99 delay a->b, ms", "redundant", one("p99_ab"), None),
        ("redundant: p99 delay b->a, ms", "redundant", one("p99_ba"), None),
        ("idle: WG datagrams/s a sent on A", "idle", one("tx_A"), None),
        ("idle: WG datagrams/s a sent on B", "idle", one("tx_B"), None),
        ("idle: WG datagrams/s a got on A", "idle", one("rx_A"), None),
        ("idle: WG datagrams/s a got on B", "idle", one("rx_B"), None),
        ("idle: packets/s on link cA (tx+rx)", "idle", one("link_A"), None),
        ("idle: packets/s on link cB (tx+rx)", "idle", one("link_B"), None),
    ]
    return out


def pct(lost, sent):
    return lambda m: 100.0 * m[lost] / m[sent] if m.get(sent) else None


def number(v):
    if abs(v) >= 100 or v == int(v):
        return "%.0f" % v
    return "%.2f" % v if abs(v) < 10 else "%.1f" % v


def cell(values, rounds):
    """values: (value, capped, window) per round: a capped value lasted the whole window."""
    if not values:
        return "-"
    nums = [v for v, _, _ in values]
    if all(c for _, c, _ in values):
        text = "none in %.3g s" % (max(w for _, _, w in values) / 1000.0)
    else:
        med = statistics.median_low(nums)
        worst = max(nums)

        def show(v):
            return (">=" if any(c and x == v for x, c, _ in values) else "") + number(v)

        text = "%s (%s)" % (show(med), show(worst))
    if len(values) < rounds:
        text += " [n=%d]" % len(values)
    return text


def pooled(runs, config, d):
    """The redundant loss of one direction over every round: 'P% of N'."""
    mine = [m for (c, s, _), m in runs.items() if c == config and s == "redundant"]
    lost = sum(m["lost_" + d] for m in mine if "lost_" + d in m and "sent_" + d in m)
    sent = sum(m["sent_" + d] for m in mine if "lost_" + d in m and "sent_" + d in m)
    return "%.2f%% of %d" % (100.0 * lost / sent, sent) if sent else "-"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, rounds = sys.argv[1], int(sys.argv[2])
    runs, errors = {}, []
    with open(path) as f:
        next(f)
        for line in f:
            rnd, config, scen, metric, value = line.rstrip("\n").split("\t", 4)
            if metric == "error":
                errors.append("round %s, %s, %s: %s" % (rnd, config, scen, value))
                continue
            try:
                runs.setdefault((config, scen, rnd), {})[metric] = float(value)
            except ValueError:
                pass
    present = [(c, h) for c, h in CONFIGS if any(k[0] == c for k in runs)]
    width = max(len(r[0]) for r in rows())
    cols = [max(16, len(h)) for _, h in present]
    print("%-*s  %s" % (width, "scenario", "  ".join("%-*s" % (w, h)
                                                     for (_, h), w in zip(present, cols))))
    last = None
    for label, scen, value, capped in rows():
        cells, any_value = [], False
        for (config, _), w in zip(present, cols):
            values = []
            for (c, s, _), m in sorted(runs.items()):
                if c != config or s != scen:
                    continue
                v = value(m)
                if v is not None:
                    values.append((v, bool(capped and m.get(capped)),
                                   m.get("window_ms", v) if capped and capped.startswith("capped_") else v))
            any_value |= bool(values)
            cells.append("%-*s" % (w, cell(values, rounds)))
        if not any_value:
            continue
        if last is not None and scen != last:
            print()
        last = scen
        print("%-*s  %s" % (width, label, "  ".join(cells).rstrip()))
        if label.startswith("redundant 5%+5%: loss b->a"):
            for d, arrow in (("ab", "a->b"), ("ba", "b->a")):
                print("%-*s  %s" % (width, "redundant: all rounds' loss " + arrow, "  ".join(
                    "%-*s" % (w, pooled(runs, c, d)) for (c, _), w in zip(present, cols)).rstrip()))
    print()
    print("median (worst) over the rounds. gap: the longest run of lost datagrams (1000/s) once A")
    print("failed, or for MPTCP the longest time without arrivals; '>=N', 'none in N s': no")
    print("recovery while A was down. from mp_up: what happened once A was back (multipath off:")
    print("the rest of its outage). Links: A 10 ms one way, B 30 +- 5 ms (linkem).")
    for e in errors:
        print("error: " + e)


if __name__ == "__main__":
    main()
