//! Reporting for `zkr bench`: human tables, JSON documents, HdrHistogram
//! `.hgrm` percentile distributions and standalone SVG latency plots.
//!
//! Latencies are recorded in nanoseconds; everything emitted is in microseconds.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Percentile ticks per half distance used for curves and `.hgrm` output.
const TICKS_PER_HALF: u32 = 5;

/// One op type's results. Latencies are recorded in NANOSECONDS; everything printed is in microseconds.
pub struct OpStats {
    /// Op type name, e.g. "get".
    pub op: String,
    /// Number of successful operations (only these count towards ops/s).
    pub ok: u64,
    /// Number of failed operations.
    pub errors: u64,
    /// Latency histogram in nanoseconds.
    pub hist: Histogram<u64>,
}

impl OpStats {
    /// Empty stats for `op` with an auto-resizing 3-significant-digit histogram.
    pub fn new(op: &str) -> OpStats {
        let hist = Histogram::new(3).expect("3 significant digits is a valid histogram config");
        OpStats {
            op: op.to_string(),
            ok: 0,
            errors: 0,
            hist,
        }
    }
}

/// The results of one benchmark run.
pub struct RunReport {
    /// Run name, e.g. "zkr get 16x16"; used as the curve name when plotting.
    pub label: String,
    /// Workload name, e.g. "get".
    pub workload: String,
    /// Target servers as host:port.
    pub servers: Vec<String>,
    /// Number of client sessions.
    pub sessions: usize,
    /// Outstanding requests per session.
    pub outstanding: usize,
    /// Payload size in bytes.
    pub payload: usize,
    /// Measured interval in seconds (after warm-up).
    pub elapsed_s: f64,
    /// Per-op results.
    pub ops: Vec<OpStats>,
    /// Cores used by the load generator (cpu seconds / elapsed).
    pub client_cpu: f64,
    /// Cores used by the server process, if known.
    pub server_cpu: Option<f64>,
    /// Workload-specific figures, e.g. ("watchers", 1000.0).
    pub extra: Vec<(String, f64)>,
}

/// `x` if finite, else 0.
fn fin(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// ns -> µs.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Successful ops per second; 0 when the interval is not a positive finite number.
fn rate(ok: u64, elapsed_s: f64) -> f64 {
    if elapsed_s > 0.0 && elapsed_s.is_finite() {
        fin(ok as f64 / elapsed_s)
    } else {
        0.0
    }
}

/// Integer with thousands separators, e.g. 1234567 -> "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number for humans: one decimal under 10, otherwise a rounded integer with separators.
fn human(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_string()
    } else if x < 0.0 {
        format!("-{}", human(-x))
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        thousands(x.round() as u64)
    }
}

/// Latency summary of one histogram in µs: (min, mean, p50, p90, p99, p99.9, max); zeros if empty.
fn summary(h: &Histogram<u64>) -> [f64; 7] {
    if h.is_empty() {
        return [0.0; 7];
    }
    let q = |x: f64| us(h.value_at_quantile(x));
    [
        us(h.min()),
        fin(h.mean() / 1000.0),
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        us(h.max()),
    ]
}

/// The plotting curve of a histogram: `iter_quantiles(5)` points (percentile 0..100, µs).
/// Percentiles are rounded to 10 decimals (so they survive a JSON round trip exactly);
/// points with equal percentiles are merged, interior points of flat runs are dropped, and a
/// non-empty curve always ends at (100.0, max).
fn percentile_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    if h.is_empty() {
        return pts;
    }
    for v in h.iter_quantiles(TICKS_PER_HALF) {
        let p = ((v.quantile_iterated_to() * 100.0).clamp(0.0, 100.0) * 1e10).round() / 1e10;
        let val = us(v.value_iterated_to());
        match pts.last_mut() {
            Some(last) if p <= last.0 => last.1 = last.1.max(val),
            _ => pts.push((p, val)),
        }
    }
    let max = us(h.max());
    match pts.last_mut() {
        Some(last) if last.0 >= 100.0 => *last = (100.0, max),
        _ => pts.push((100.0, max)),
    }
    // Drop the middle of flat runs: keep first and last point of each run of equal values.
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for (i, &pt) in pts.iter().enumerate() {
        let same_prev = i > 0 && pts[i - 1].1 == pt.1;
        let same_next = i + 1 < pts.len() && pts[i + 1].1 == pt.1;
        if !(same_prev && same_next) {
            out.push(pt);
        }
    }
    out
}

impl RunReport {
    /// Human-readable table: a header line, one aligned row per op (op, ok, errors, ops/s,
    /// p50, p90, p99, p99.9, max; latencies in µs with one decimal under 10 µs, otherwise
    /// integers with thousands separators), then client/server CPU and the extras.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} [{}] servers={} sessions={} outstanding={} payload={}B elapsed={:.2}s\n",
            self.label,
            self.workload,
            self.servers.join(","),
            self.sessions,
            self.outstanding,
            self.payload,
            fin(self.elapsed_s)
        );
        let header = [
            "op", "ok", "errors", "ops/s", "p50", "p90", "p99", "p99.9", "max",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        for o in &self.ops {
            let mut row = vec![
                o.op.clone(),
                thousands(o.ok),
                thousands(o.errors),
                human(rate(o.ok, self.elapsed_s)),
            ];
            if o.hist.is_empty() {
                row.extend(std::iter::repeat_n("-".to_string(), 5));
            } else {
                let s = summary(&o.hist);
                row.extend([s[2], s[3], s[4], s[5], s[6]].iter().map(|&x| human(x)));
            }
            rows.push(row);
        }
        let mut widths = vec![0usize; header.len()];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i == 0 {
                    let _ = write!(line, "{cell:<w$}");
                } else {
                    let _ = write!(line, "  {cell:>w$}");
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("(latencies in µs)\n");
        let _ = writeln!(out, "client CPU: {:.2} cores", fin(self.client_cpu));
        match self.server_cpu {
            Some(c) if c.is_finite() => {
                let _ = writeln!(out, "server CPU: {c:.2} cores");
            }
            _ => out.push_str("server CPU: n/a\n"),
        }
        for (name, v) in &self.extra {
            let _ = writeln!(out, "{name}: {}", human(*v));
        }
        out
    }

    /// Pretty JSON document (keys in alphabetical order):
    /// `{"label","workload","servers":[..],"sessions","outstanding","payload","elapsed_s",
    /// "client_cpu","server_cpu" (number or null),"extra":{name:number,..},
    /// "ops":[{"op","ok","errors","ops_per_sec","latency_us":{"min","mean","p50","p90","p99",
    /// "p999","max"},"percentiles":[[percentile 0..100, µs],..]}]}`.
    /// `ops_per_sec` = ok / elapsed_s (0 if elapsed_s <= 0); an empty histogram gives zero
    /// latencies and no percentile points. Non-finite numbers are written as 0 (`server_cpu`
    /// as null).
    pub fn to_json(&self) -> String {
        let extra: Map<String, Value> = self
            .extra
            .iter()
            .map(|(k, v)| (k.clone(), json!(fin(*v))))
            .collect();
        let ops: Vec<Value> = self
            .ops
            .iter()
            .map(|o| {
                let s = summary(&o.hist);
                let pts: Vec<Value> = percentile_points(&o.hist)
                    .iter()
                    .map(|&(p, v)| json!([p, v]))
                    .collect();
                json!({
                    "op": o.op, "ok": o.ok, "errors": o.errors,
                    "ops_per_sec": rate(o.ok, self.elapsed_s),
                    "latency_us": {"min": s[0], "mean": s[1], "p50": s[2], "p90": s[3],
                                   "p99": s[4], "p999": s[5], "max": s[6]},
                    "percentiles": pts,
                })
            })
            .collect();
        let doc = json!({
            "label": self.label, "workload": self.workload, "servers": self.servers,
            "sessions": self.sessions, "outstanding": self.outstanding, "payload": self.payload,
            "elapsed_s": fin(self.elapsed_s), "client_cpu": fin(self.client_cpu),
            "server_cpu": self.server_cpu.filter(|c| c.is_finite()),
            "extra": extra, "ops": ops,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_string())
    }

    /// Writes `<prefix>-<op>.hgrm` (the [`hdr_distribution`] of each op) and returns the paths.
    /// Characters other than ASCII alphanumerics, `-`, `_` and `.` in op names become `_`.
    pub fn write_hdr_files(&self, prefix: &Path) -> Result<Vec<PathBuf>, String> {
        let mut paths = Vec::with_capacity(self.ops.len());
        for o in &self.ops {
            let safe: String =
                o.op.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
            let mut name = prefix.as_os_str().to_owned();
            name.push(format!("-{safe}.hgrm"));
            let path = PathBuf::from(name);
            std::fs::write(&path, hdr_distribution(&o.hist))
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// HdrHistogram's standard percentile distribution text, as written by Java's
/// `outputPercentileDistribution(out, 5, 1000.0)` (readable by HdrHistogram's online plotter):
/// header, blank line, rows `value(µs) percentile-fraction total-count 1/(1-p)` (the final 100%
/// row has no 1/(1-p) column), then the Mean/StdDeviation, Max/Total count and
/// Buckets/SubBuckets footer. As in Java, values have `sigfig` decimals (3 for the usual
/// 3-digit histograms). An empty histogram gives header and footer only.
pub fn hdr_distribution(h: &Histogram<u64>) -> String {
    let d = h.sigfig() as usize;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(TICKS_PER_HALF) {
            total = total.saturating_add(v.count_since_last_iteration());
            let q = v.quantile_iterated_to();
            let val = us(v.value_iterated_to());
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{val:>12.d$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{val:>12.d$} {q:>2.12} {total:>10}");
            }
        }
    }
    // Java: subBucketCount = 2^ceil(log2(2 * 10^sigfig)) (at least 2).
    let sub_buckets = (2u64 * 10u64.pow(u32::from(h.sigfig())))
        .next_power_of_two()
        .max(2);
    let max = if h.is_empty() { 0.0 } else { us(h.max()) };
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.d$}, StdDeviation   = {:>12.d$}]",
        fin(h.mean() / 1000.0),
        fin(h.stdev() / 1000.0)
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.d$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {sub_buckets:>12}]",
        h.buckets()
    );
    out
}

/// One latency percentile curve (of one op of one run) for plotting.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Run name (the report's label).
    pub run: String,
    /// Op type.
    pub op: String,
    /// (percentile 0..100, latency µs), non-decreasing in both coordinates.
    pub points: Vec<(f64, f64)>,
}

/// Reads the curves back out of one or more JSON documents written by [`RunReport::to_json`]
/// (concatenated, or as elements of a top-level array). Run name = "label".
pub fn curves_from_json(text: &str) -> Result<Vec<Curve>, String> {
    let mut docs = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v.map_err(|e| format!("invalid JSON: {e}"))? {
            Value::Array(items) => docs.extend(items),
            other => docs.push(other),
        }
    }
    if docs.is_empty() {
        return Err("no JSON documents found".to_string());
    }
    let mut curves = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let label = doc["label"]
            .as_str()
            .ok_or(format!("document {i}: missing string \"label\""))?;
        let ops = doc["ops"]
            .as_array()
            .ok_or(format!("document {i}: missing array \"ops\""))?;
        for (j, op) in ops.iter().enumerate() {
            let name = op["op"]
                .as_str()
                .ok_or(format!("{label}: op {j}: missing string \"op\""))?;
            let raw = op["percentiles"]
                .as_array()
                .ok_or(format!("{label} {name}: missing array \"percentiles\""))?;
            let mut points = Vec::with_capacity(raw.len());
            for pt in raw {
                match pt.as_array().map(|a| a.as_slice()) {
                    Some([p, v]) => match (p.as_f64(), v.as_f64()) {
                        (Some(p), Some(v)) => points.push((p, v)),
                        _ => return Err(format!("{label} {name}: non-numeric percentile point")),
                    },
                    _ => return Err(format!("{label} {name}: percentile point is not a pair")),
                }
            }
            curves.push(Curve {
                run: label.to_string(),
                op: name.to_string(),
                points,
            });
        }
    }
    Ok(curves)
}

/// The curves of a report, one per op, run name = label.
pub fn curves_of(report: &RunReport) -> Vec<Curve> {
    report
        .ops
        .iter()
        .map(|o| Curve {
            run: report.label.clone(),
            op: o.op.clone(),
            points: percentile_points(&o.hist),
        })
        .collect()
}

/// Escapes `& < > " '` for XML text and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Label of the x tick at 1/(1-p) = 10^k: 0%, 90%, 99%, 99.9%, ...
fn x_tick_label(k: u32) -> String {
    match k {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        2 => "99%".to_string(),
        _ => format!("99.{}%", "9".repeat(k as usize - 2)),
    }
}

/// "Nice" step (1, 2 or 5 times a power of ten) giving about 5 ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// A standalone SVG chart of all curves, like HdrHistogram's plotter.
///
/// The x axis is log10(1/(1-p)) with ticks 0%, 90%, 99%, 99.9%, ... up to the first tick beyond
/// the highest percentile below 100 (at least 90%, at most 15 nines); p = 100 is drawn at that
/// last tick. The y axis is latency in µs, linear from 0 with 1/2/5 tick steps. Curves get
/// distinct colors (dashed after the first 10) and a legend entry "run op". Non-finite points are
/// ignored; with no drawable points the chart says "no data".
pub fn plot_svg(curves: &[Curve], title: &str) -> String {
    const W: f64 = 960.0;
    const H: f64 = 540.0;
    const L: f64 = 80.0;
    const R: f64 = 250.0;
    const T: f64 = 50.0;
    const B: f64 = 60.0;
    let (pw, ph) = (W - L - R, H - T - B);
    let xt = |p: f64| -> Option<f64> {
        let p = p.clamp(0.0, 100.0);
        if p >= 100.0 {
            None
        } else {
            Some((1.0 / (1.0 - p / 100.0)).log10().min(15.0))
        }
    };
    // (index for color, curve, its finite points); curves without finite points are skipped.
    let drawable: Vec<_> = curves
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let pts: Vec<(f64, f64)> = c
                .points
                .iter()
                .copied()
                .filter(|(p, v)| p.is_finite() && v.is_finite())
                .collect();
            (!pts.is_empty()).then_some((i, c, pts))
        })
        .collect();
    let tmax = drawable
        .iter()
        .flat_map(|(_, _, p)| p.iter().filter_map(|&(p, _)| xt(p)))
        .fold(0.0, f64::max);
    let last_tick = ((tmax.floor() as u32) + 1).clamp(1, 15);
    let ymax_data = drawable
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, v)| v))
        .fold(0.0, f64::max);
    let step = if ymax_data > 0.0 {
        nice_step(ymax_data)
    } else {
        0.2
    };
    let ymax = (ymax_data / step).ceil().max(1.0) * step;
    let sx = |p: f64| {
        L + pw * xt(p).unwrap_or(last_tick as f64).min(last_tick as f64) / last_tick as f64
    };
    let sy = |v: f64| T + ph * (1.0 - v.max(0.0) / ymax);

    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="16">{}</text>"#,
        L + pw / 2.0,
        xml_escape(title)
    );
    for k in 0..=last_tick {
        let x = L + pw * k as f64 / last_tick as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{x:.2}" y1="{T}" x2="{x:.2}" y2="{}" stroke="#ddd"/>"##,
            T + ph
        );
        let _ = writeln!(
            s,
            r#"<text x="{x:.2}" y="{}" text-anchor="middle">{}</text>"#,
            T + ph + 18.0,
            x_tick_label(k)
        );
    }
    let nticks = (ymax / step).round() as u32;
    let decimals = (-step.log10().floor()).clamp(0.0, 9.0) as usize;
    for k in 0..=nticks {
        let v = step * k as f64;
        let y = sy(v);
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{y:.2}" x2="{}" y2="{y:.2}" stroke="#ddd"/>"##,
            L + pw
        );
        let label = if step >= 1.0 {
            thousands(v.round() as u64)
        } else {
            format!("{v:.decimals$}")
        };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.2}" text-anchor="end">{label}</text>"#,
            L - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        L + pw / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{0}" text-anchor="middle" transform="rotate(-90 20 {0})">latency (µs)</text>"#,
        T + ph / 2.0
    );
    if drawable.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="20" fill="#888">no data</text>"##,
            L + pw / 2.0,
            T + ph / 2.0
        );
    }
    for (n, (i, c, pts)) in drawable.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let dash = if (i / PALETTE.len()) % 2 == 1 {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let coords: Vec<String> = pts
            .iter()
            .map(|&(p, v)| format!("{:.2},{:.2}", sx(p), sy(v)))
            .collect();
        if pts.len() == 1 {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.2}" cy="{:.2}" r="3" fill="{color}"/>"#,
                sx(pts[0].0),
                sy(pts[0].1)
            );
        } else {
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} points="{}"/>"#,
                coords.join(" ")
            );
        }
        let ly = T + 10.0 + 18.0 * n as f64;
        let lx = L + pw + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"{dash}/>"#,
            lx + 20.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 26.0,
            ly + 4.0,
            xml_escape(&format!("{} {}", c.run, c.op))
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, ok: u64, errors: u64, vals_ns: &[u64]) -> OpStats {
        let mut o = OpStats::new(name);
        o.ok = ok;
        o.errors = errors;
        for &v in vals_ns {
            o.hist.record(v).expect("record");
        }
        o
    }

    fn sample() -> RunReport {
        let lat: Vec<u64> = (1..=10_000u64).map(|i| 20_000 + i * i / 7).collect();
        RunReport {
            label: "zkr get 16x16".into(),
            workload: "get".into(),
            servers: vec!["127.0.0.1:2181".into(), "127.0.0.1:2182".into()],
            sessions: 16,
            outstanding: 16,
            payload: 100,
            elapsed_s: 2.5,
            ops: vec![
                op("get", 123_456, 3, &lat),
                op("set", 10, 0, &[1_500, 2_500]),
                op("del", 0, 7, &[]),
            ],
            client_cpu: 1.25,
            server_cpu: None,
            extra: vec![("watchers".into(), 1000.0)],
        }
    }

    #[test]
    fn table_rows_aligned() {
        let r = sample();
        let t = r.table();
        let lines: Vec<&str> = t.lines().skip(1).take(1 + r.ops.len()).collect();
        assert!(lines[0].starts_with("op "), "{t}");
        for (o, line) in r.ops.iter().zip(&lines[1..]) {
            assert!(line.starts_with(&o.op), "{t}");
        }
        // Every column ends at the same char position in every row (right-aligned numbers).
        let ends = |l: &str| -> Vec<usize> {
            let c: Vec<char> = l.chars().collect();
            (1..=c.len())
                .filter(|&i| c[i - 1] != ' ' && (i == c.len() || c[i] == ' '))
                .collect()
        };
        let e0 = ends(lines[0]);
        assert_eq!(e0.len(), 9);
        for l in &lines {
            assert_eq!(ends(l)[1..], e0[1..], "{t}");
        }
        assert!(t.contains("123,456") && t.contains("49,382"), "{t}");
        assert!(
            t.contains("client CPU: 1.25")
                && t.contains("server CPU: n/a")
                && t.contains("watchers: 1,000")
        );
    }

    #[test]
    fn json_fields_and_values() {
        let r = sample();
        let v: Value = serde_json::from_str(&r.to_json()).expect("valid json");
        assert_eq!(v["label"], "zkr get 16x16");
        assert_eq!(v["workload"], "get");
        assert_eq!(v["servers"][1], "127.0.0.1:2182");
        assert_eq!(
            (
                v["sessions"].as_u64(),
                v["outstanding"].as_u64(),
                v["payload"].as_u64()
            ),
            (Some(16), Some(16), Some(100))
        );
        assert_eq!(v["elapsed_s"].as_f64(), Some(2.5));
        assert_eq!(v["client_cpu"].as_f64(), Some(1.25));
        assert!(v["server_cpu"].is_null());
        assert_eq!(v["extra"]["watchers"].as_f64(), Some(1000.0));
        let ops = v["ops"].as_array().expect("ops");
        assert_eq!(ops.len(), 3);
        let get = &ops[0];
        assert_eq!(
            (
                get["op"].as_str(),
                get["ok"].as_u64(),
                get["errors"].as_u64()
            ),
            (Some("get"), Some(123_456), Some(3))
        );
        assert_eq!(get["ops_per_sec"].as_f64(), Some(123_456.0 / 2.5));
        let h = &r.ops[0].hist;
        let l = &get["latency_us"];
        assert_eq!(l["max"].as_f64(), Some(h.max() as f64 / 1000.0));
        assert_eq!(l["min"].as_f64(), Some(h.min() as f64 / 1000.0));
        assert_eq!(
            l["p999"].as_f64(),
            Some(h.value_at_quantile(0.999) as f64 / 1000.0)
        );
        assert!((l["mean"].as_f64().unwrap_or(0.0) - h.mean() / 1000.0).abs() < 1e-9);
        for k in ["p50", "p90", "p99"] {
            assert!(l[k].is_f64(), "{k}");
        }
        assert_eq!(ops[2]["latency_us"]["max"].as_f64(), Some(0.0));
        assert!(
            ops[2]["percentiles"]
                .as_array()
                .is_some_and(|a| a.is_empty())
        );
        // Non-finite values never leak out.
        let mut bad = sample();
        bad.elapsed_s = 0.0;
        bad.client_cpu = f64::NAN;
        bad.server_cpu = Some(f64::INFINITY);
        let v: Value = serde_json::from_str(&bad.to_json()).expect("valid json");
        assert_eq!(v["ops"][0]["ops_per_sec"].as_f64(), Some(0.0));
        assert_eq!(v["client_cpu"].as_f64(), Some(0.0));
        assert!(v["server_cpu"].is_null());
    }

    #[test]
    fn percentiles_monotone_and_end_at_100() {
        let r = sample();
        for o in &r.ops[..2] {
            let pts = percentile_points(&o.hist);
            assert!(pts.len() >= 2);
            for w in pts.windows(2) {
                assert!(w[0].0 < w[1].0 && w[0].1 <= w[1].1, "{w:?}");
            }
            assert_eq!(
                *pts.last().expect("non-empty"),
                (100.0, o.hist.max() as f64 / 1000.0)
            );
        }
        let single = op("x", 1, 0, &[5_000]);
        assert_eq!(
            percentile_points(&single.hist).last().map(|p| p.0),
            Some(100.0)
        );
    }

    #[test]
    fn hdr_distribution_parses() {
        let r = sample();
        let h = &r.ops[0].hist;
        let text = hdr_distribution(h);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("       Value     Percentile TotalCount 1/(1-Percentile)")
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<&str> = text
            .lines()
            .skip(2)
            .filter(|l| !l.starts_with('#'))
            .collect();
        let (last, body) = rows.split_last().expect("rows");
        for row in body {
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols.len(), 4, "{row}");
            assert!(cols.iter().all(|c| c.parse::<f64>().is_ok()), "{row}");
        }
        let cols: Vec<f64> = last
            .split_whitespace()
            .map(|c| c.parse().expect("num"))
            .collect();
        assert_eq!(cols.len(), 3, "{last}");
        assert!((cols[0] - h.max() as f64 / 1000.0).abs() < 0.0005);
        assert_eq!((cols[1], cols[2]), (1.0, h.len() as f64));
        assert!(text.contains("#[Mean    = ") && text.contains(", StdDeviation   = "));
        assert!(text.contains(&format!(
            "#[Max     = {:>12.3}, Total count    = {:>12}]",
            h.max() as f64 / 1000.0,
            10_000
        )));
        assert!(text.contains("#[Buckets = ") && text.contains("SubBuckets     =         2048]"));
        let empty = hdr_distribution(&r.ops[2].hist);
        assert_eq!(empty.lines().count(), 5, "{empty}");
    }

    #[test]
    fn hdr_files_written() {
        let dir = std::env::temp_dir().join(format!("zkr-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut r = sample();
        r.ops[1].op = "a/b".into();
        let paths = r.write_hdr_files(&dir.join("run1")).expect("write");
        assert_eq!(
            paths,
            vec![
                dir.join("run1-get.hgrm"),
                dir.join("run1-a_b.hgrm"),
                dir.join("run1-del.hgrm")
            ]
        );
        assert_eq!(
            std::fs::read_to_string(&paths[0]).ok(),
            Some(hdr_distribution(&r.ops[0].hist))
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(r.write_hdr_files(&dir.join("missing/x")).is_err());
    }

    #[test]
    fn curves_round_trip_and_errors() {
        let r = sample();
        let json = r.to_json();
        assert_eq!(curves_from_json(&json), Ok(curves_of(&r)));
        let two = format!("{json}\n{json}");
        assert_eq!(curves_from_json(&two).map(|c| c.len()), Ok(6));
        for bad in [
            "",
            "{",
            "[1,2",
            "{\"label\":1}",
            "{\"label\":\"x\",\"ops\":[{\"op\":\"g\",\"percentiles\":[[1]]}]}",
            "nul",
        ] {
            assert!(curves_from_json(bad).is_err(), "{bad}");
        }
    }

    /// Minimal well-formedness check: balanced tags, quoted attributes, valid entities.
    fn check_xml(s: &str) -> Result<(), String> {
        fn check_text(t: &str) -> Result<(), String> {
            if t.contains('<') || t.contains('>') {
                return Err(format!("raw < or > in {t:?}"));
            }
            let mut rest = t;
            while let Some(i) = rest.find('&') {
                rest = &rest[i + 1..];
                let end = rest.find(';').ok_or("unterminated entity")?;
                let ent = &rest[..end];
                let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                    || (ent.starts_with('#')
                        && ent[1..].chars().all(|c| c.is_ascii_alphanumeric())
                        && ent.len() > 1);
                if !ok {
                    return Err(format!("bad entity &{ent};"));
                }
            }
            Ok(())
        }
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = s
            .strip_prefix("<?xml")
            .map(|r| r.split_once("?>").map_or("", |x| x.1))
            .unwrap_or(s);
        while let Some(i) = rest.find('<') {
            check_text(&rest[..i])?;
            if stack.is_empty() && !rest[..i].trim().is_empty() {
                return Err("text outside root".into());
            }
            rest = &rest[i + 1..];
            let close = rest.starts_with('/');
            let body = if close { &rest[1..] } else { rest };
            let name_end = body
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .ok_or("eof in tag")?;
            let name = &body[..name_end];
            if name.is_empty() {
                return Err("empty tag name".into());
            }
            let mut a = &body[name_end..];
            loop {
                a = a.trim_start();
                if let Some(r) = a.strip_prefix("/>") {
                    if close {
                        return Err("</x/>".into());
                    }
                    if stack.is_empty() {
                        roots += 1;
                    }
                    rest = r;
                    break;
                }
                if let Some(r) = a.strip_prefix('>') {
                    if close {
                        if stack.pop().as_deref() != Some(name) {
                            return Err(format!("mismatched </{name}>"));
                        }
                    } else {
                        if stack.is_empty() {
                            roots += 1;
                        }
                        stack.push(name.to_string());
                    }
                    rest = r;
                    break;
                }
                if close {
                    return Err("attribute in closing tag".into());
                }
                let eq = a.find('=').ok_or("attribute without =")?;
                let an = &a[..eq];
                if an.is_empty()
                    || !an
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-:_".contains(c))
                {
                    return Err(format!("bad attribute name {an:?}"));
                }
                let q = a[eq + 1..].chars().next().ok_or("eof")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute {an}"));
                }
                let v = &a[eq + 2..];
                let end = v.find(q).ok_or("unterminated attribute")?;
                check_text(&v[..end])?;
                a = &v[end + 1..];
                if !(a.starts_with(char::is_whitespace)
                    || a.starts_with('>')
                    || a.starts_with("/>"))
                {
                    return Err("no space after attribute".into());
                }
            }
        }
        if !rest.trim().is_empty() || !stack.is_empty() || roots != 1 {
            return Err(format!("unbalanced: open {stack:?}, roots {roots}"));
        }
        Ok(())
    }

    #[test]
    fn xml_checker_rejects_bad() {
        for bad in [
            "<a><b></a></b>",
            "<a x=1/>",
            "<a>&b</a>",
            "<a>x<</a>",
            "<a/><b/>",
            "<a>",
            "<a x=\"<\"/>",
        ] {
            assert!(check_xml(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_xml("<?xml version=\"1.0\"?>\n<a x='1'><b/>t&amp;u</a>\n"),
            Ok(())
        );
    }

    #[test]
    fn svg_well_formed_and_escaped() {
        let r = sample();
        let mut curves = curves_of(&r);
        curves[0].run = r#"a&b<"c">"#.into();
        let svg = plot_svg(&curves, "t & <'x'>");
        assert_eq!(check_xml(&svg), Ok(()));
        assert!(svg.contains("a&amp;b&lt;&quot;c&quot;&gt; get"));
        assert!(svg.contains("t &amp; &lt;&apos;x&apos;&gt;"));
        assert!(
            svg.contains(">99%<")
                && svg.contains(">99.99%<")
                && svg.contains(">0<")
                && svg.contains("<polyline")
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let empty = plot_svg(&[], "");
        assert_eq!(check_xml(&empty), Ok(()));
        assert!(empty.contains("no data"));
        let one = Curve {
            run: "r".into(),
            op: "o".into(),
            points: vec![(100.0, 3.0)],
        };
        let weird = Curve {
            run: "w".into(),
            op: "o".into(),
            points: vec![(f64::NAN, 1.0), (50.0, f64::INFINITY)],
        };
        let svg = plot_svg(&[one, weird], "single");
        assert_eq!(check_xml(&svg), Ok(()));
        assert!(svg.contains("<circle") && !svg.contains("no data") && !svg.contains("NaN"));
    }
}
