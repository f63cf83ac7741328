#!/usr/bin/env python3
"""Draws bench/results.json as a grouped bar chart (SVG, written by hand: no third-party modules).

    bench/chart.py bench/results.json bench/results.svg

One group per scenario and client count; in each, committed transfers/s of Tally and of the two
row-lock baselines, with the value above each bar.
"""

import json
import sys
from xml.sax.saxutils import escape

SERIES = [
    ("tally", "Tally (HTTP)", "#2b6cb0"),
    ("classic", "row-lock classic (pgbench)", "#c05621"),
    ("ordered", "row-lock, updates first (pgbench)", "#718096"),
]
WIDTH, HEIGHT = 860, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 60, 70


def nice_ceiling(value):
    """A round axis maximum at or above value (a few steps per power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return 10 * magnitude


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench/chart.py RESULTS_JSON OUT_SVG")
    results = json.load(open(sys.argv[1]))
    rows = results["rows"]
    values = [row[key]["transfers_per_s"] for row in rows for key, _, _ in SERIES if key in row]
    top = nice_ceiling(max(values + [1]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(rows), 1)
    bar_w = group_w * 0.8 / len(SERIES)
    y = lambda v: TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        f"Committed transfers per second, same PostgreSQL, durable commits</text>",
        f'<text x="{WIDTH / 2}" y="42" text-anchor="middle" fill="#555">'
        f"{escape(results['meta']['started_at'])}, {results['meta']['duration_s']} s per run, "
        f"{results['meta']['host']}</text>",
    ]
    for i in range(6):
        value = top * i / 5
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,.0f}</text>'
        )
    for g, row in enumerate(rows):
        x0 = LEFT + g * group_w + group_w * 0.1
        for s, (key, _, color) in enumerate(SERIES):
            if key not in row:
                continue
            value = row[key]["transfers_per_s"]
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar_w - 2:.1f}" '
                f'height="{TOP + plot_h - y(value):.1f}" fill="{color}"/>'
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y(value) - 4:.1f}" text-anchor="middle" '
                f'font-size="10">{value:,.0f}</text>'
            )
        center = LEFT + g * group_w + group_w / 2
        parts.append(
            f'<text x="{center:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
            f"{escape(row['scenario'])}-{row['accounts']}, {row['clients']} clients</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#333"/>'
    )
    legend_x = LEFT
    for key, name, color in SERIES:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 28}" width="12" height="12" fill="{color}"/>'
            f'<text x="{legend_x + 16}" y="{HEIGHT - 18}">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    with open(sys.argv[2], "w") as file:
        file.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
