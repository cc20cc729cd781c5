#!/usr/bin/env python3
"""Reads a0sim's request log (/__sim/requests, NDJSON with t_ms, status)
for the rate-limit integration tests and prints one number.

  rate_check.py window LOG MS        most requests in any MS-long window
  rate_check.py rate LOG BURST       requests/s from the first request to
                                     the last, not counting BURST of them
  rate_check.py span LOG             seconds from the first request to the
                                     last (whole)
  rate_check.py between LOG FROM TO  requests with FROM < t_ms < TO
  rate_check.py inside LOG RATE BURST GRACE_MS
      requests sent inside a pause some 429 asked for: the 429's
      x-ratelimit-reset is rebuilt by replaying a0sim's token bucket
      (RATE/s, BURST, full at the first request) over the log; a request
      counts when it arrived more than GRACE_MS after the 429 (already on
      its way) and before that reset
  rate_check.py agree LOG RATE BURST  share (percent) of requests whose
      status the replay predicts (429 or not): checks the replay itself
"""
import json
import math
import sys


def load(path):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows.sort(key=lambda r: r["t_ms"])
    return rows


def window(rows, ms):
    ts = [r["t_ms"] for r in rows]
    best, j = 0, 0
    for i, t in enumerate(ts):
        while j < len(ts) and ts[j] < t + ms:
            j += 1
        best = max(best, j - i)
    return best


def replay(rows, rate, burst):
    """a0sim's bucket over the log: (passed, reset_s) per request."""
    tokens, last, out = float(burst), -1, []
    for r in rows:
        now = r["t_ms"]
        if last >= 0 and now > last:
            tokens = min(float(burst), tokens + rate * (now - last) / 1000.0)
        if now > last:
            last = now
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        need = math.floor(tokens) + 1.0 - tokens
        wait = 0.0 if tokens >= burst else need / rate * 1000.0
        out.append((ok, (now + int(math.ceil(wait)) + 999) // 1000))
    return out


def inside(rows, rate, burst, grace):
    sim = replay(rows, rate, burst)
    ts = [r["t_ms"] for r in rows]
    bad = set()
    for r, (_, reset) in zip(rows, sim):
        if r["status"] != 429:
            continue
        for k, t in enumerate(ts):
            if r["t_ms"] + grace < t < reset * 1000:
                bad.add(k)
    return len(bad)


def main(argv):
    cmd, rows = argv[1], load(argv[2])
    if cmd == "window":
        print(window(rows, int(argv[3])))
    elif cmd == "rate":
        span = (rows[-1]["t_ms"] - rows[0]["t_ms"]) / 1000.0
        print("%.3f" % ((len(rows) - int(argv[3])) / span if span else 0))
    elif cmd == "span":
        print((rows[-1]["t_ms"] - rows[0]["t_ms"]) // 1000 if rows else 0)
    elif cmd == "between":
        lo, hi = int(argv[3]), int(argv[4])
        print(sum(1 for r in rows if lo < r["t_ms"] < hi))
    elif cmd == "inside":
        print(inside(rows, float(argv[3]), float(argv[4]), int(argv[5])))
    elif cmd == "agree":
        sim = replay(rows, float(argv[3]), float(argv[4]))
        same = sum(1 for r, (ok, _) in zip(rows, sim)
                   if ok == (r["status"] != 429))
        print(100 * same // len(rows) if rows else 100)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
