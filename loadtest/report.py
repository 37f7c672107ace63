"""HTML reports of load-test runs, with plots (matplotlib, inline SVG: one self-contained file).

`python -m loadtest.run ... --json out/x.json` and `python -m loadtest.bench` write them beside the
JSON; `python -m loadtest.report out/*.json` writes them again from JSON reports. Each shows the
run's figures and checks, latency percentiles over time, throughput over time, HTTP statuses and
business codes (totals and over time), and the CPU used by each component over time.
"""
import html
import io
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                     "figure.dpi": 96})
WIDTH = 9.5  # inches

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f5f5f5; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #0a7d32; font-weight: bold; } .failed { color: #b00020; font-weight: bold; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
"""


def svg(fig):
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)


def _ops(timeline):
    return list(timeline.get("ops", {}).items())


def latency_figure(timeline):
    ops = _ops(timeline)
    rows = max(1, (len(ops) + 1) // 2)
    fig, axes = plt.subplots(rows, 2 if len(ops) > 1 else 1, figsize=(WIDTH, 2.4 * rows), squeeze=False, sharex=True,
                             layout="constrained")
    for ax, (op, series) in zip(axes.flat, ops):
        for p, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            ax.plot(timeline["t"], [v if v is not None else float("nan") for v in series[p]], style, label=p)
        ax.set_title(op)
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=7)
    for ax in list(axes.flat)[len(ops):]:
        ax.set_visible(False)
    for column in range(axes.shape[1]):  # the time axis under the lowest visible panel of each column
        lowest = [ax for ax in axes[:, column] if ax.get_visible()][-1]
        lowest.xaxis.set_tick_params(labelbottom=True)
        lowest.set_xlabel("seconds into the run")
    fig.suptitle("Latency percentiles per second (answers finished in that second)")
    return fig


def per_second(timeline, counts):
    """Counts per bucket as rates; the last bucket is only as long as the run's tail."""
    widths = [b - a for a, b in zip([0.0] + timeline["t"][:-1], timeline["t"])]
    if timeline.get("end_s"):
        widths[-1] = max(1e-3, timeline["end_s"] - (timeline["t"][-2] if len(timeline["t"]) > 1 else 0.0))
    return [c / w for c, w in zip(counts, widths)]


def throughput_figure(timeline):
    fig, ax = plt.subplots(figsize=(WIDTH, 3), layout="constrained")
    total = [0] * len(timeline["t"])
    for op, series in _ops(timeline):
        ax.plot(timeline["t"], per_second(timeline, series["count"]), label=op)
        total = [a + b for a, b in zip(total, series["count"])]
    if len(timeline.get("ops", {})) > 1:
        ax.plot(timeline["t"], per_second(timeline, total), "k--", label="all", linewidth=1)
    ax.set_ylabel("answers / s")
    ax.set_xlabel("seconds into the run")
    ax.set_ylim(bottom=0)
    ax.set_title("Throughput")
    ax.legend(loc="upper right", fontsize=7)
    return fig


def codes_figure(timeline):
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3), layout="constrained")
    for ax, key, title in ((axes[0], "http", "HTTP status per second"), (axes[1], "codes", "Business code per second")):
        series = sorted(timeline.get(key, {}).items())
        if series:
            ax.stackplot(timeline["t"], *[per_second(timeline, counts) for _, counts in series],
                         labels=[name for name, _ in series])
            ax.legend(loc="upper right", fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("seconds into the run")
        ax.set_ylabel("answers / s")
    return fig


def cpu_figure(timeline):
    cpu = timeline.get("cpu") or {}
    fig, ax = plt.subplots(figsize=(WIDTH, 3), layout="constrained")
    for group, values in cpu.items():
        if group != "t":
            ax.plot(cpu["t"], values, label=group)
    ax.set_ylabel("cores")
    ax.set_xlabel("seconds into the run")
    ax.set_ylim(bottom=0)
    ax.set_title("CPU per component (generator, service workers, MariaDB, Redis)")
    if len(cpu) > 1:
        ax.legend(loc="upper right", fontsize=7)
    return fig


def _cell(value):
    if isinstance(value, bool):
        return f'<td class="{"ok" if value else "failed"}">{"yes" if value else "NO"}</td>'
    if isinstance(value, float):
        return f'<td class="n">{value:,.2f}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def table(rows, header=None):
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(_cell(v) if i else f"<th>{html.escape(str(v))}</th>"
                                    for i, v in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def operations(report):
    """Per operation over the whole run: steady has them all; the others one, in the report's top level."""
    if "operations" in report:
        return report["operations"]
    timeline = report.get("timeline", {})
    ops = list(timeline.get("ops", {}))
    single = {**(report.get("latency_ms") or {}), "http": report.get("http") or {}, "codes": report.get("codes") or {}}
    if ops:
        single["count"] = sum(timeline["ops"][ops[0]]["count"])
    return {ops[0] if ops else report["scenario"]: single}


def render(report):
    name = report.get("scenario", "run")
    check = report.get("check", {})
    ok = check.get("ok")
    figures = {k: v for k, v in report.items()
               if not isinstance(v, (dict, list)) and k not in ("scenario",)}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)} — load test</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Load test: {html.escape(name)} — check "
             f"<span class='{'ok' if ok else 'failed'}'>{'OK' if ok else 'FAILED'}</span></h1>",
             "<h2>Figures</h2>", table(sorted(figures.items())),
             "<h2>CPU (cores used on average)</h2>", table(sorted((report.get("cpu_cores") or {}).items())),
             "<h2>Correctness check (read back from the database)</h2>", table(sorted(check.items()))]
    rows = [(op, s.get("count", ""), s.get("p50", 0.0), s.get("p95", 0.0), s.get("p99", 0.0), s.get("max", 0.0),
             ", ".join(f"{k}: {v}" for k, v in sorted((s.get("http") or {}).items(), key=str)),
             ", ".join(f"{k}: {v}" for k, v in sorted((s.get("codes") or {}).items(), key=str)))
            for op, s in operations(report).items()]
    parts += ["<h2>Operations</h2>",
              table(rows, ["operation", "answers", "p50 ms", "p95 ms", "p99 ms", "max ms", "HTTP statuses",
                           "business codes"])]
    if report.get("errors"):
        parts += ["<h2>Client errors</h2>", table(sorted(report["errors"].items()))]
    timeline = report.get("timeline")
    if timeline and timeline.get("ops"):
        for title, make in (("Latency over time", latency_figure), ("Throughput over time", throughput_figure),
                            ("Statuses and codes over time", codes_figure), ("CPU over time", cpu_figure)):
            parts += [f"<h2>{title}</h2>", f"<figure>{svg(make(timeline))}</figure>"]
    else:
        parts.append("<p>No timeline in this report (written before reports had one).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report, path):
    Path(path).write_text(render(report), encoding="utf-8")
    return str(path)


UNITS = (("orders_per_s", "orders/s"), ("tx_per_s", "tx/s"), ("pages_per_s", "pages/s"), ("requests_per_s", "req/s"))


def write_index(reports, links, path):
    """One page for a bench run: the summary of every scenario, linking to each one's report."""
    rows = []
    for report, link in zip(reports, links):
        name = report["scenario"]
        key, unit = next(((k, u) for k, u in UNITS if k in report), (None, ""))
        rate = report.get(key) or 0.0
        latency = report.get("latency_ms") or report.get("operations", {}).get("create", {})
        ok = report["check"]["ok"]
        rows.append(f"<tr><th><a href='{html.escape(link)}'>{html.escape(name)}</a></th>"
                    f"<td class='n'>{rate:,.0f} {unit}</td>"
                    + "".join(f"<td class='n'>{(latency.get(p) or 0):.1f}</td>" for p in ("p50", "p95", "p99", "max"))
                    + f"<td class='{'ok' if ok else 'failed'}'>{'OK' if ok else 'FAILED'}</td></tr>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>bench</title><style>{STYLE}</style></head>"
            "<body><h1>Benchmark run</h1><table><tr><th>scenario</th><th>throughput</th><th>p50 ms</th>"
            "<th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>check</th></tr>" + "\n".join(rows)
            + "</table><p>Each scenario's page has its plots.</p></body></html>")
    Path(path).write_text(page, encoding="utf-8")
    return str(path)


def main(argv=None):
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        raise SystemExit("usage: python -m loadtest.report REPORT.json [...]")
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        print(write_html(report, Path(path).with_suffix(".html")))


if __name__ == "__main__":
    main()
