"""Draw a bench result as one PNG: latency vs load, fan-out rates, memory per connection.

    .venv/bin/python bench/plot.py bench/results/<timestamp>.json   # writes <timestamp>.png

Needs matplotlib (bench/requirements.txt); bench/run.py calls ``draw`` at the end of a run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SIDES = (("ours", "imcloud (daphne)", "tab:blue"), ("baseline", "bare websockets relay", "tab:orange"))


def _steps(results: dict[str, Any], side: str, *path: str) -> list[dict[str, Any]]:
    node: Any = results.get(side, {})
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, list) else []


def draw(results: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(19, 10))
    title = (
        f"imcloud bench ({results.get('mode')}, {results.get('started_at', '')[:16]}): "
        f"{results.get('machine', {}).get('nproc')} cores, "
        f"{results.get('parameters', {}).get('gateways')} server processes"
    )
    fig.suptitle(title)

    # 1. one-to-one latency vs offered load
    ax = axes[0][0]
    for side, label, colour in SIDES:
        steps = _steps(results, side, "p2p", "steps")
        if not steps:
            continue
        x = [s["offered_msgs_per_s"] for s in steps]
        for pct, style in (("p50", ":"), ("p99", "-")):
            y = [s["latency_ms"][pct] for s in steps]
            ax.plot(x, y, style, marker="o", color=colour, label=f"{label} {pct}")
    ax.axhline(50, color="grey", linewidth=0.8, linestyle="--", label="p99 target 50 ms")
    ax.set(
        xscale="log", yscale="log", xlabel="offered one-to-one msgs/s", ylabel="send-to-receive latency, ms"
    )
    ax.set_title("one-to-one: latency vs offered load")
    ax.legend(fontsize=7)

    # 2. one-to-one delivered (and acked) vs offered
    ax = axes[0][1]
    for side, label, colour in SIDES:
        steps = _steps(results, side, "p2p", "steps")
        if not steps:
            continue
        x = [s["offered_msgs_per_s"] for s in steps]
        ax.plot(x, [s["delivered_per_s_in_window"] for s in steps], "-", marker="o", color=colour,
                label=f"{label} delivered")  # fmt: skip
        if "acked_per_s_in_window" in steps[0]:
            ax.plot(x, [s["acked_per_s_in_window"] for s in steps], "--", marker="x", color=colour,
                    label=f"{label} persisted (acked)")  # fmt: skip
    offered = [s["offered_msgs_per_s"] for side, _, _ in SIDES for s in _steps(results, side, "p2p", "steps")]
    if offered:
        ax.plot([min(offered), max(offered)], [min(offered), max(offered)], color="grey", linewidth=0.8,
                linestyle=":", label="offered")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="offered msgs/s", ylabel="msgs/s within the window")
    ax.set_title("one-to-one: throughput")
    ax.legend(fontsize=7)

    # 3 and 4. team fan-out: deliveries/s and p99 vs offered deliveries/s
    markers = "os^D"
    for side, label, colour in SIDES:
        sizes = results.get(side, {}).get("team", {}).get("sizes", {})
        for n, (size, one) in enumerate(sorted(sizes.items(), key=lambda kv: int(kv[0]))):
            steps = one["steps"]
            style = ["-", "--", "-.", ":"][n % 4]
            x = [s["offered_deliveries_per_s"] for s in steps]
            name = f"{label}, {int(size):,} members"
            axes[1][0].plot(x, [s["delivered_per_s_in_window"] for s in steps], style, marker=markers[n % 4],
                            color=colour, label=name)  # fmt: skip
            axes[1][1].plot(x, [s["latency_ms"]["p99"] for s in steps], style, marker=markers[n % 4],
                            color=colour, label=name)  # fmt: skip
    ax = axes[1][0]
    ax.axhline(100_000, color="grey", linewidth=0.8, linestyle="--", label="target 100,000/s")
    ax.set(xscale="log", yscale="log", xlabel="offered deliveries/s", ylabel="deliveries/s within the window")
    ax.set_title("team fan-out: throughput")
    ax.legend(fontsize=7)
    ax = axes[1][1]
    ax.axhline(50, color="grey", linewidth=0.8, linestyle="--", label="50 ms")
    ax.set(xscale="log", yscale="log", xlabel="offered deliveries/s", ylabel="p99 delivery latency, ms")
    ax.set_title("team fan-out: p99 latency")
    ax.legend(fontsize=7)

    # 5. memory per idle connection and idle CPU
    ax = axes[0][2]
    names, kib, cpu, held = [], [], [], []
    for side, label, _ in SIDES:
        idle = results.get(side, {}).get("idle")
        if not idle:
            continue
        names.append(label)
        kib.append(idle.get("server_kib_per_connection") or 0)
        cpu.append(idle.get("idle_cpu_pct_of_one_core", {}).get("servers_total_pct") or 0)
        held.append(idle.get("connections_held") or 0)
    if names:
        bars = ax.bar(names, kib, color=[c for _, _, c in SIDES][: len(names)])
        for bar, k, c, h in zip(bars, kib, cpu, held, strict=True):
            text = f"{k:.1f} KiB/conn\n{h:,} held\nidle CPU {c:.0f}%"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, k), ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, max(kib) * 1.4 + 1)
    ax.set_ylabel("server RSS per idle connection, KiB")
    ax.set_title("idle connections: memory (CPU: % of one core)")

    # 6. the summary against the targets
    ax = axes[1][2]
    ax.axis("off")
    ax.set_title("summary")
    lines = []
    summary = results.get("summary", {})
    for side in ("ours", "baseline"):
        for key, value in summary.get(side, {}).items():
            lines.append(f"{side[:4]} {key}: {value}")
    for key, value in summary.get("ratios_ours_to_baseline", {}).items():
        lines.append(f"ratio {key}: {value}")
    ax.text(0, 1, "\n".join(lines[:48]), va="top", ha="left", fontsize=6.2, family="monospace",
            transform=ax.transAxes)  # fmt: skip

    from matplotlib.ticker import NullFormatter

    for ax in axes.flat:
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: plot.py RESULT.json")
    path = Path(sys.argv[1])
    png = path.with_suffix(".png")
    draw(json.loads(path.read_text()), png)
    print(png)


if __name__ == "__main__":
    main()
