"""Prints one line of a petrel-loadtest --json report: p50/p99, throughput, errors."""
import json
import sys

report = json.load(open(sys.argv[1]))
latency = report["latency_us"]
print("p50_us=%s p99_us=%s throughput_per_s=%.0f errors=%s" % (
    latency["p50"], latency["p99"], report["throughput_per_s"], report["totals"]["errors"]))
