#!/usr/bin/env python3
"""Run one command under GNU time, with a memory and time guard.

    python3 benches/peers/measure.py [--limit-mb MB] [--timeout S] [--log FILE] -- CMD ARGS...

Runs `/usr/bin/time -v CMD ARGS...` in a process group of its own and
prints one JSON line:

    {"ok": true, "wall_s": 6.21, "peak_rss_mb": 1093.4, "exit": 0, "reason": ""}

wall_s and peak_rss_mb are GNU time's "Elapsed (wall clock) time" and
"Maximum resident set size" (MiB), the same for every tool measured: a fresh
process, start-up (and, for Python, the interpreter and imports) included.

The guard: every 0.2 s the resident memory of the whole process group is
summed from /proc; above --limit-mb (default: $PEERS_MEM_LIMIT_MB or 12000)
the command is killed (SIGKILL; GNU time still reports its peak) and the result says
"did not finish: RSS passed N MB". Past --timeout seconds (default: none)
likewise. This keeps a peer that would exhaust the machine's memory from
taking other work down with it (no swap here: the kernel OOM killer would
pick a victim). A non-zero exit is "did not finish: exit N". CMD's stdout and
stderr go to --log (default: inherited). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def group_members(pgid: int) -> dict[int, int]:
    """{pid: RSS in KiB} of every process whose process group is pgid."""
    members = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after the ")" that closes comm: state ppid pgrp ... rss is field 24.
        rest = stat[stat.rfind(b")") + 2:].split()
        if int(rest[2]) == pgid:
            members[int(pid)] = int(rest[21]) * PAGE_KB
    return members


def parse_time_v(path: str) -> dict:
    out = {}
    with open(path, errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("Elapsed (wall clock) time"):
                parts = line.rsplit(": ", 1)[1].split(":")
                s = 0.0
                for p in parts:
                    s = s * 60 + float(p)
                out["wall_s"] = s
            elif line.startswith("Maximum resident set size (kbytes)"):
                out["peak_rss_mb"] = int(line.rsplit(": ", 1)[1]) / 1024
            elif line.startswith("Exit status"):
                out["exit"] = int(line.rsplit(": ", 1)[1])
            elif line.startswith("Command terminated by signal"):
                out["signal"] = int(line.rsplit(" ", 1)[1])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit-mb", type=float, default=float(os.environ.get("PEERS_MEM_LIMIT_MB", 12000)))
    ap.add_argument("--timeout", type=float, default=0, help="seconds; 0 = none")
    ap.add_argument("--log", help="file for the command's stdout and stderr")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command")
    if not os.access("/usr/bin/time", os.X_OK):
        raise SystemExit("measure: /usr/bin/time (GNU time) is missing: apt-get install -y time")

    fd, tfile = tempfile.mkstemp(prefix="measure.", suffix=".time")
    os.close(fd)
    log = open(args.log, "wb") if args.log else None
    t0 = time.monotonic()
    proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile, *cmd],
                            stdout=log, stderr=log, start_new_session=True)
    pgid = proc.pid  # start_new_session: the child leads its own group
    reason = ""
    polled_peak = 0
    while proc.poll() is None:
        rss = sum(group_members(pgid).values())
        polled_peak = max(polled_peak, rss)
        if rss / 1024 > args.limit_mb:
            reason = f"RSS passed {args.limit_mb:.0f} MB (guard)"
        elif args.timeout and time.monotonic() - t0 > args.timeout:
            reason = f"no result after {args.timeout:.0f} s (guard)"
        if reason:
            # Kill the command, not GNU time, so that time still writes its
            # figures (peak RSS up to the kill); then time itself if need be.
            for pid in group_members(pgid):
                if pid != proc.pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                proc.wait()
            break
        time.sleep(0.2)
    if log:
        log.close()
    res = parse_time_v(tfile)
    os.unlink(tfile)
    if "wall_s" not in res:  # /usr/bin/time itself was killed before writing
        res["wall_s"] = time.monotonic() - t0
        res["peak_rss_mb"] = polled_peak / 1024
    code = res.get("exit", proc.returncode)
    if not reason and res.get("signal"):
        reason = f"killed by signal {res['signal']}"
    elif not reason and code:
        reason = f"exit {code}"
    out = {
        "ok": not reason,
        "wall_s": round(res["wall_s"], 3),
        "peak_rss_mb": round(res["peak_rss_mb"], 1),
        "polled_peak_mb": round(polled_peak / 1024, 1),
        "exit": code,
        "reason": reason,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
