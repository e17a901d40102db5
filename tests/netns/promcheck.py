#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""promcheck.py FAMILY...: parse the Prometheus text exposition on stdin with the reference
parser (python3-prometheus-client's) and check what a scraper relies on: every sample belongs to
a family with HELP and TYPE, no series appears twice, every FAMILY named is present. Prints one
line per family (name, type, samples); exits 1 with the reason on any failure."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    seen, families = set(), {}
    try:
        for fam in text_string_to_metric_families(text):
            if not fam.documentation:
                raise ValueError(f"{fam.name}: no HELP")
            if fam.type == "unknown":
                raise ValueError(f"{fam.name}: no TYPE")
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in seen:
                    raise ValueError(f"{s.name}{s.labels}: twice")
                seen.add(key)
            families[fam.name] = fam
    except ValueError as e:
        print(f"promcheck: not valid exposition: {e}")
        return 1
    for name, fam in sorted(families.items()):
        print(f"{name} {fam.type} {len(fam.samples)}")
    missing = [f for f in sys.argv[1:] if f not in families or not families[f].samples]
    if missing:
        print(f"promcheck: no samples for {' '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
