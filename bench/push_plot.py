"""Draw a bench/push.py result as one PNG.

    .venv/bin/python bench/push_plot.py bench/results/push-<timestamp>.json   # writes the .png next to it

Panels: the burst (notifications received vs seconds since the send, per worker configuration,
against the 2,000/s target), the burst's latency distribution, sustained delivered vs offered
notifications/s, and the sustained steps over time (delivered/s and the Celery queue).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def draw(results: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = results.get("parameters", {}).get("target_notifications_per_s", 2000)
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    machine = results.get("machine", {})
    params = results.get("parameters", {})
    fig.suptitle(
        f"imcloud offline push ({results.get('mode')}, {results.get('started_at', '')[:16]}): "
        f"{params.get('provider')}, {params.get('users')} users, {machine.get('nproc')} cores, "
        f"load at start {', '.join(f'{x:.1f}' for x in results.get('load_average_at_start', []))}"
    )

    bursts = results.get("burst", [])
    # 1. burst: cumulative notifications vs time since the send
    ax = axes[0][0]
    longest = 1.0
    for burst in bursts:
        curve = burst.get("curve_s_vs_received", [])
        if not curve:
            continue
        xs, ys = [0.0] + [c[0] for c in curve], [0] + [c[1] for c in curve]
        longest = max(longest, xs[-1])
        ax.plot(xs, ys, label=f"{burst['config']['label']}: {burst['notifications_per_s']:.0f}/s")
    if bursts:
        n = bursts[0]["recipients"]
        ax.plot([0, n / target], [0, n], "--", color="grey", label=f"target {target}/s")
    ax.set(xlabel="seconds since message_send", ylabel="notifications received by the server")
    ax.set_title("burst: one message to the whole team, everyone offline")
    ax.legend(fontsize=8)

    # 2. burst latency distribution (CDF from the percentiles)
    ax = axes[0][1]
    for burst in bursts:
        lat = burst.get("latency_ms", {})
        points = [
            (lat.get(k), q) for k, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p999", 99.9), ("max", 100))
        ]
        points = [(x / 1000, q) for x, q in points if x is not None]
        if points:
            ax.plot(
                [p[0] for p in points], [p[1] for p in points], marker="o", label=burst["config"]["label"]
            )
    ax.set(xlabel="send-to-received latency, s", ylabel="percentile")
    ax.set_title("burst: per-notification latency (p50, p95, p99, p99.9, max)")
    ax.legend(fontsize=8)

    steps = results.get("sustained", {}).get("steps", [])
    # 3. sustained delivered vs offered
    ax = axes[1][0]
    if steps:
        offered = [s["offered_notifications_per_s"] for s in steps]
        ax.plot(
            offered, [s["delivered_per_s_in_window"] for s in steps], marker="o", label="delivered in window"
        )
        top = max([*offered, target]) * 1.1
        ax.plot([0, top], [0, top], ":", color="grey", label="delivered = offered")
        ax.axhline(target, color="red", linestyle="--", linewidth=0.8, label=f"target {target}/s")
        for s in steps:
            ax.annotate(
                f"p99 {s['latency_ms']['p99'] or 0:.0f} ms" + (" LAG" if s["lagging"] else ""),
                (s["offered_notifications_per_s"], s["delivered_per_s_in_window"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, -10),
            )
    ax.set(xlabel="offered notifications/s", ylabel="delivered notifications/s")
    ax.set_title(f"sustained: team messages ({results.get('sustained', {}).get('config', '')})")
    ax.legend(fontsize=8)

    # 4. sustained over time: delivered/s and queue length per step
    ax = axes[1][1]
    twin = ax.twinx()
    for s in steps:
        series = s.get("series_t_delivered_queued_unacked", [])
        if len(series) < 2:
            continue
        t = [p[0] for p in series]
        rate = [0.0] + [
            (series[i][1] - series[i - 1][1]) / max(1e-3, series[i][0] - series[i - 1][0])
            for i in range(1, len(series))
        ]
        line = ax.plot(t, rate, linewidth=0.8, label=f"{s['offered_notifications_per_s']}/s offered")[0]
        twin.plot(t, [p[2] for p in series], ":", color=line.get_color(), linewidth=0.8)
    ax.set(xlabel="seconds into the step", ylabel="delivered/s (solid)")
    twin.set_ylabel("tasks queued in Celery (dotted)")
    ax.set_title("sustained steps over time")
    ax.legend(fontsize=7)

    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main() -> None:
    path = Path(sys.argv[1])
    draw(json.loads(path.read_text()), path.with_suffix(".png"))
    print(path.with_suffix(".png"))


if __name__ == "__main__":
    main()
