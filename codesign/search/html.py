"""Self-contained HTML pages: ``codesign compare``'s interactive fronts (``FILE.html``) and
``codesign report``'s run page (``RUN/report.html``).  Torch-free; no network at view time.

One small renderer (plain JavaScript drawing SVG, embedded in each page) plots accuracy against
one objective for one or more runs: every feasible design as a dot, each run's front as a
staircase, details of a design on hover, a run hidden or shown from its legend entry.  The data
travel as JSON inside the page.  When the script has drawn the plot it sets
``data-ready="1"`` on ``<body>`` and writes what it drew into ``#status``, so a browser test
can tell a rendered page from a page that only has the right text.
"""
from __future__ import annotations

import base64
import datetime
import html
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from codesign.search.compare import COMPARE_OBJECTIVES, fronts

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}
#plot{border:1px solid #ddd}
.legend label{margin-right:14px;font-size:13px;cursor:pointer}
#tip{position:absolute;display:none;background:#fff;border:1px solid #888;padding:6px 8px;
font-size:12px;pointer-events:none;box-shadow:2px 2px 6px rgba(0,0,0,.2);white-space:pre}
.note{color:#555;font-size:13px}
"""

_SCRIPT = r"""
(function(){
  const D = JSON.parse(document.getElementById('plot-data').textContent);
  const W = 760, H = 420, M = {l:64, r:18, t:14, b:46};
  const svg = document.getElementById('plot');
  const NS = 'http://www.w3.org/2000/svg';
  const colors = ['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#17becf','#8c564b',
                  '#e377c2','#7f7f7f','#bcbd22'];
  function el(tag, attrs, parent){ const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]); (parent||svg).appendChild(e); return e; }
  const all = D.series.flatMap(s => s.points);
  const xs = all.map(p => p.x), ys = all.map(p => 100 * p.accuracy);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!all.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 100; }
  if (x1 === x0) { x0 -= 1; x1 += 1; } if (y1 === y0) { y0 -= 1; y1 += 1; }
  const px = (x1 - x0) * 0.04, py = (y1 - y0) * 0.06; x0 -= px; x1 += px; y0 -= py; y1 += py;
  const sx = v => M.l + (v - x0) / (x1 - x0) * (W - M.l - M.r);
  const sy = v => H - M.b - (v - y0) / (y1 - y0) * (H - M.t - M.b);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`); svg.setAttribute('width', W);
  svg.setAttribute('height', H);
  el('rect', {x:0, y:0, width:W, height:H, fill:'#fff'});
  for (let i = 0; i <= 5; i++) {
    const xv = x0 + (x1 - x0) * i / 5, yv = y0 + (y1 - y0) * i / 5;
    el('line', {x1:sx(xv), x2:sx(xv), y1:M.t, y2:H-M.b, stroke:'#eee'});
    el('line', {x1:M.l, x2:W-M.r, y1:sy(yv), y2:sy(yv), stroke:'#eee'});
    el('text', {x:sx(xv), y:H-M.b+16, 'text-anchor':'middle', 'font-size':11}).textContent =
      xv >= 1000 ? Math.round(xv).toLocaleString() : +xv.toPrecision(3);
    el('text', {x:M.l-6, y:sy(yv)+4, 'text-anchor':'end', 'font-size':11}).textContent =
      yv.toFixed(1);
  }
  el('rect', {x:M.l, y:M.t, width:W-M.l-M.r, height:H-M.t-M.b, fill:'none', stroke:'#999'});
  el('text', {x:(W+M.l)/2, y:H-8, 'text-anchor':'middle', 'font-size':12}).textContent = D.xlabel;
  const yl = el('text', {x:14, y:(H-M.b)/2, 'text-anchor':'middle', 'font-size':12,
                         transform:`rotate(-90 14 ${(H-M.b)/2})`});
  yl.textContent = 'validation accuracy (%)';
  const tip = document.getElementById('tip');
  const legend = document.getElementById('legend');
  let drawn = 0;
  D.series.forEach((s, k) => {
    const g = el('g', {'class':'series', 'data-run':s.label});
    const c = colors[k % colors.length];
    const front = s.points.filter(p => p.on_front).sort((a, b) => a.x - b.x);
    if (front.length) {
      let d = '';
      front.forEach((p, i) => {
        const X = sx(p.x), Y = sy(100 * p.accuracy);
        if (i === 0) d += `M${X},${Y}`;
        else d += D.sense === 'min' ? `H${X}V${Y}` : `V${Y}H${X}`;
      });
      el('path', {d:d, fill:'none', stroke:c, 'stroke-width':1.8, 'class':'front'}, g);
    }
    s.points.forEach(p => {
      const dot = el('circle', {cx:sx(p.x), cy:sy(100 * p.accuracy), r:p.on_front ? 4.5 : 3,
        fill:c, 'fill-opacity':p.on_front ? 0.95 : 0.35, stroke:p.on_front ? '#000' : 'none',
        'stroke-width':0.6, 'class':'pt', 'data-id':p.id}, g);
      drawn += 1;
      dot.addEventListener('mousemove', ev => {
        tip.style.display = 'block'; tip.style.left = (ev.pageX + 12) + 'px';
        tip.style.top = (ev.pageY + 12) + 'px';
        tip.textContent = `${s.label}, design ${p.id}\n` + p.details;
      });
      dot.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
    });
    const lab = document.createElement('label');
    const box = document.createElement('input'); box.type = 'checkbox'; box.checked = true;
    box.addEventListener('change', () => { g.style.display = box.checked ? '' : 'none'; });
    lab.appendChild(box);
    const sw = document.createElement('span'); sw.textContent = ' \u25CF ';
    sw.style.color = c; lab.appendChild(sw);
    lab.appendChild(document.createTextNode(`${s.label} (${front.length} on the front)`));
    legend.appendChild(lab);
  });
  document.getElementById('status').textContent =
    `${drawn} designs of ${D.series.length} run(s) drawn`;
  document.body.dataset.ready = '1';
})();
"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _json_script(obj: Any) -> str:
    text = json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="plot-data">{text}</script>'


def _details(x: Mapping[str, Any]) -> str:
    lines = [f"accuracy {100 * x['accuracy']:.2f} %"]
    if x.get("robust_accuracy") is not None:
        lines.append(f"robust accuracy {100 * x['robust_accuracy']:.2f} %")
    for key, fmt in (("lut", "LUT {:,.0f}"), ("bram18", "BRAM18 {:,.0f}"), ("dsp", "DSP {:,.0f}"),
                     ("fps", "{:,.0f} frames/s"), ("latency_ms", "{:.4f} ms")):
        if x.get(key) is not None:
            lines.append(fmt.format(x[key]))
    net = x.get("network") or {}
    layers = [l for l in net.get("layers", []) if l.get("op") != "maxpool"]
    if layers:
        lines.append(" - ".join(f"{l.get('op')} {l.get('out_channels', '')}"
                                f"(w{l.get('weight_bits')}/a{l.get('act_bits') or '-'})"
                                for l in layers))
    return "\n".join(lines)


def plot_data(runs: Sequence[tuple[str, Mapping[str, Any]]], objective: str) -> dict[str, Any]:
    """The renderer's input: per run, its feasible scored designs and which are on its front."""
    series = []
    for (label, d), (_, front) in zip(runs, fronts(runs, objective)):
        on = {x["id"] for x in front if "id" in x}
        pts = [{"id": x.get("id"), "accuracy": x["accuracy"], "x": x[objective],
                "on_front": x.get("id") in on, "details": _details(x)}
               for x in d["designs"] if x.get("feasible") and x.get("accuracy") is not None
               and x.get(objective) is not None]
        series.append({"label": label, "points": pts})
    return {"series": series, "xlabel": COMPARE_OBJECTIVES[objective][1],
            "sense": COMPARE_OBJECTIVES[objective][0]}


def _page(title: str, body: str, data: Mapping[str, Any]) -> str:
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n{body}\n<div id=\"tip\"></div>\n{_json_script(data)}\n"
            f"<script>{_SCRIPT}</script>\n</body></html>\n")


def _plot_block() -> str:
    return ('<div class="legend" id="legend"></div><svg id="plot" role="img" '
            'aria-label="accuracy against the objective"></svg>'
            '<p class="note" id="status">the plot needs JavaScript</p>')


def _hv_table(table: Mapping[str, Any]) -> str:
    obj, ref = table["objective"], table["reference"]
    def acc(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.2f} %"

    rows = "".join(
        f"<tr><td class=l>{_e(r['run'])}</td><td>{r['on_front']}</td>"
        f"<td>{acc(r['best_accuracy'])}</td>"
        f"<td>{r['hypervolume']:.4f}</td></tr>" for r in table["runs"])
    return (f"<p class=note>Hypervolume of each run's accuracy-vs-{_e(obj)} front: the share of "
            f"the box between the reference point (accuracy {ref['accuracy']:g}, {_e(obj)} "
            f"{ref[obj]:,.6g}: {_e(ref['why'])}) and the ideal point that the front dominates "
            "(0 to 1, more is better).</p>"
            "<table><tr><th class=l>run</th><th>designs on the front</th><th>best accuracy</th>"
            f"<th>hypervolume</th></tr>{rows}</table>")


def compare_page(runs: Sequence[tuple[str, Mapping[str, Any]]], objective: str,
                 table: Mapping[str, Any]) -> str:
    body = (f"<p class=note>{len(runs)} run(s), accuracy against {_e(objective)}; written "
            f"{datetime.datetime.now():%Y-%m-%d %H:%M} by <code>codesign compare</code>. Hover "
            "a dot for the design; click a legend entry to hide or show a run.</p>"
            + _plot_block() + "<h2>Hypervolume</h2>" + _hv_table(table))
    return _page(f"Pareto fronts: accuracy vs {objective}", body, plot_data(runs, objective))


# ------------------------------------------------------------------ codesign report
def exported_bundles(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The export bundles inside ``run_dir`` (folders up to two levels down whose
    ``report.json`` is a bundle's), sorted by path."""
    out = []
    for rep in sorted(list(run_dir.glob("*/report.json")) + list(run_dir.glob("*/*/report.json"))):
        try:
            d = json.loads(rep.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and "test_accuracy" in d and "files" in d:
            out.append((rep.parent, d))
    return out


def _kv(d: Mapping[str, Any]) -> str:
    return "<table>" + "".join(f"<tr><th class=l>{_e(k)}</th><td class=l>{_e(v)}</td></tr>"
                               for k, v in d.items()) + "</table>"


def report_page(run_dir: Path, pareto: Mapping[str, Any], objective: str,
                table: Mapping[str, Any]) -> str:
    """``RUN/report.html``: the request, the front, the plots, the exported designs."""
    req = pareto.get("request", {})
    designs = pareto["designs"]
    front = [x for x in designs if x.get("on_front")]
    front.sort(key=lambda x: (x.get(objective) is None, x.get(objective) or 0))
    cols = [("id", "{}"), ("accuracy", "{:.2%}"), ("robust_accuracy", "{:.2%}"),
            ("lut", "{:,.0f}"), ("bram18", "{:,.0f}"), ("dsp", "{:,.0f}"), ("fps", "{:,.0f}"),
            ("latency_ms", "{:.4f}")]
    cols = [(k, f) for k, f in cols if any(x.get(k) is not None for x in front)]
    head = "".join(f"<th>{_e(k)}</th>" for k, _ in cols) + "<th class=l>network</th>"
    rows = "".join("<tr>" + "".join(
        f"<td>{'' if x.get(k) is None else _e(f.format(x[k]))}</td>" for k, f in cols)
        + f"<td class=l>{_e(_details(x).splitlines()[-1])}</td></tr>" for x in front)
    png = run_dir / "pareto.png"
    img = (f'<img alt="pareto.png" src="data:image/png;base64,'
           f'{base64.b64encode(png.read_bytes()).decode()}" width="700">'
           if png.is_file() else "<p class=note>no pareto.png</p>")
    bundles = exported_bundles(run_dir)
    exp = []
    for path, r in bundles:
        cost = r.get("cost", {})
        facts = {"design": r.get("design", {}).get("id"),
                 "selected as": r.get("design", {}).get("selected_as"),
                 "test accuracy": f"{100 * r['test_accuracy']:.2f} % on "
                                  f"{r.get('test_images')} images",
                 "LUT": f"{cost.get('totals', {}).get('lut', 0):,.0f}",
                 "BRAM18": f"{cost.get('totals', {}).get('bram18', 0):,.0f}",
                 "frames/s": f"{cost.get('fps', 0):,.0f}",
                 "QONNX agreement": r.get("qonnx_agreement"),
                 "QCDQ agreement": r.get("qcdq_agreement")}
        if r.get("robustness"):
            rb = r["robustness"]
            facts["robust accuracy"] = (f"{100 * rb['robust_accuracy']:.2f} % ({rb['attack']}, "
                                        f"eps {rb['eps']:.4g})")
        links = " ".join(f'<a href="{_e(path.relative_to(run_dir).as_posix())}/{_e(f)}">{_e(f)}'
                         f"</a>" for f in r.get("files", {}).values())
        exp.append(f"<h3>{_e(path.relative_to(run_dir).as_posix())}</h3>{_kv(facts)}"
                   f"<p class=note>files: {links}</p>")
    timing = pareto.get("timing", {})
    summary = {"data set": pareto.get("dataset"), "device": req.get("device"),
               "strategy": req.get("strategy"), "space": req.get("space"),
               "trials": pareto.get("trials"),
               "constraints": "; ".join(f"{c['metric']} {'<=' if c['sense'] == 'max' else '>='} "
                                        f"{c['limit']:g}" for c in pareto.get("constraints", [])),
               "objectives": ", ".join(f"{o['name']} ({o['sense']})"
                                       for o in pareto.get("objectives", [])),
               "timing (s)": ", ".join(f"{k} {v}" for k, v in timing.items() if k != "note"),
               "trained on": pareto.get("device")}
    if pareto.get("prefilter"):
        summary["zero-cost prefilter"] = json.dumps(pareto["prefilter"]["rank_correlation"])
    body = (f"<p class=note>{_e(run_dir)}; written {datetime.datetime.now():%Y-%m-%d %H:%M} by "
            "<code>codesign report</code>.</p><h2>The search</h2>" + _kv(summary)
            + f"<h2>The front ({len(front)} designs)</h2><table><tr>{head}</tr>{rows}</table>"
            + "<h2>Accuracy against " + _e(objective) + "</h2>" + _plot_block()
            + _hv_table(table) + "<h2>pareto.png</h2>" + img
            + f"<h2>Exported designs ({len(bundles)})</h2>"
            + ("".join(exp) if exp else "<p class=note>none yet: <code>codesign export "
               f"{_e(run_dir)} --design best --out {_e(run_dir)}/export</code></p>")
            + "<h2>The request</h2>" + _kv(req))
    return _page(f"codesign run {run_dir.name}", body,
                 plot_data([(run_dir.name, pareto)], objective))


__all__ = ["compare_page", "report_page", "plot_data", "exported_bundles"]
