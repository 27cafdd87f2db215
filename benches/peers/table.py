#!/usr/bin/env python3
"""Turn run_all.sh's measurements into one markdown table.

    python3 benches/peers/table.py WORK/header.json WORK/results.jsonl > WORK/peers_table.md

results.jsonl: one JSON object per row, written by run_all.sh:
    {"task": ..., "scale": 4, "rows": 2974080, "unit": "s" | "req/s",
     "hotspots": [measure, ...], "peer": [measure, ...], "peer_name": ...,
     "note": ...}
where a measure is measure.py's JSON ({"ok", "wall_s", "peak_rss_mb",
"reason"}) or, for serving, {"ok", "rate", "peak_rss_mb", "reason"}.
Each side's figure is the best (lowest time, highest rate) of its finished
runs; its memory the highest peak over those runs. Ratios are peer /
hotspots for time and memory (for req/s: hotspots / peer), so >1x means
hotspots is faster or smaller. When the peer did not finish, the ratio is a
lower bound ("> ..."): it was stopped at that time and memory.
Standard library only.
"""

from __future__ import annotations

import json
import sys


def summarise(runs: list[dict], unit: str) -> dict:
    done = [r for r in runs if r.get("ok")]
    if not runs:
        return {"state": "skipped", "reason": "not run"}
    if not done:
        r = runs[0]
        return {"state": "dnf", "reason": r.get("reason", "failed"),
                "time": r.get("wall_s"), "mem": r.get("peak_rss_mb")}
    if unit == "req/s":
        return {"state": "ok", "time": max(r["rate"] for r in done),
                "mem": max(r["peak_rss_mb"] for r in done), "n": len(done)}
    return {"state": "ok", "time": min(r["wall_s"] for r in done),
            "mem": max(r["peak_rss_mb"] for r in done), "n": len(done)}


def fmt_time(v: float, unit: str) -> str:
    if unit == "req/s":
        return f"{v:,.0f} req/s" if v >= 100 else f"{v:.1f} req/s"
    if v < 1:
        return f"{v * 1000:.0f} ms"
    return f"{v:.1f} s" if v < 100 else f"{v:.0f} s"


def cells(s: dict, unit: str) -> tuple[str, str]:
    if s["state"] == "skipped":
        return "not run", ""
    if s["state"] == "dnf":
        at = f" at {s['time']:.0f} s" if s.get("time") else ""
        return f"did not finish: {s['reason']}{at}", f"{s['mem']:,.0f}" if s.get("mem") else ""
    return fmt_time(s["time"], unit), f"{s['mem']:,.0f}"


def ratio(hs: dict, peer: dict, unit: str, what: str) -> str:
    if hs["state"] != "ok" or peer["state"] == "skipped" or not peer.get(what) or not hs.get(what):
        return "n/a"
    if what == "time" and unit == "req/s":
        r = hs["time"] / peer["time"]
    else:
        r = peer[what] / hs[what]
    txt = f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"
    return ("> " + txt) if peer["state"] == "dnf" else txt


def main() -> int:
    header = json.load(open(sys.argv[1]))
    rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
    out = []
    for line in header.get("lines", []):
        out.append(line)
    # Grouped by task (in order of first appearance), then by scale.
    order = {}
    for r in rows:
        order.setdefault(r["task"], len(order))
    rows.sort(key=lambda r: (order[r["task"]], r.get("scale", 0)))
    out.append("")
    for task in order:
        short = next(r.get("short", task) for r in rows if r["task"] == task)
        if short != task:
            out.append(f"- **{short}**: {task[len(short):].strip(' ()')}")
    out.append("")
    out.append("| task | scale | hotspots time | hotspots peak MB | peer | peer time | peer peak MB "
               "| time ratio | memory ratio |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        unit = r.get("unit", "s")
        hs = summarise(r.get("hotspots", []), unit)
        pe = summarise(r.get("peer", []), unit)
        hs_t, hs_m = cells(hs, unit)
        pe_t, pe_m = cells(pe, unit)
        scale = r.get("scale_label") or f"{r['scale']}x"
        if r.get("rows"):
            scale += f" ({r['rows'] / 1e6:.2f} M rows)"
        out.append(f"| {r.get('short', r['task'])} | {scale} | {hs_t} | {hs_m} | {r['peer_name']} | {pe_t} | {pe_m} | "
                   f"{ratio(hs, pe, unit, 'time')} | {ratio(hs, pe, unit, 'mem')} |")
    notes = header.get("notes", []) + [
        f"- {r.get('short', r['task'])}, {r.get('scale_label') or str(r['scale']) + 'x'}: {r['note']}"
        for r in rows if r.get("note")]
    if notes:
        out.append("")
        out.extend(notes)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
