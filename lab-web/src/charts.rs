//! What the charts show: their lines, marks and tables, decided here from
//! the runs (plain Rust, tested natively). The drawing — plotters into SVG
//! text — is lab-charts, a WASM module the page loads after its first
//! results are on screen (`ui::lazy`), since drawing is some 40 KB gzip of
//! the bundle and the charts sit below the verdicts and the tables. A chart
//! is drawn once per run; the step-through cursor is an overlay the page
//! moves, placed with the plot area's extent that [`Chart`] records, so
//! scrubbing never redraws a chart.

use scenarios::BackendId;

use crate::analysis::{BackendRun, break_write};

/// Colours: Okabe & Ito's palette, told apart by the common colour-vision
/// deficiencies; each backend also has its own marker shape.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0, 114, 178),   // blue
    (213, 94, 0),    // vermillion
    (0, 158, 115),   // bluish green
    (204, 121, 167), // reddish purple
    (230, 159, 0),   // orange
    (86, 180, 233),  // sky blue
    (240, 228, 66),  // yellow
    (120, 120, 120), // grey
];

/// The colour of a backend, the same in every chart and table.
pub fn backend_colour(b: BackendId) -> (u8, u8, u8) {
    match b {
        BackendId::Linux314 => PALETTE[1],
        BackendId::Linux317 => PALETTE[0],
        BackendId::Linux317U8 => PALETTE[3],
        BackendId::Linux618 => PALETTE[2],
        BackendId::Kvm => PALETTE[4],
        BackendId::Trace => PALETTE[5],
    }
}

pub fn css(c: (u8, u8, u8)) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// `(r, g, b)` as `0xRRGGBB`, as lab-charts takes a colour.
pub fn hex(c: (u8, u8, u8)) -> u32 {
    u32::from(c.0) << 16 | u32::from(c.1) << 8 | u32::from(c.2)
}

/// Light or dark page: the charts' ink and paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    /// The ink the drawing uses on this paper.
    fn ink(self) -> (u8, u8, u8) {
        match self {
            Theme::Light => (30, 30, 30),
            Theme::Dark => (225, 225, 225),
        }
    }
}

/// A chart's numbers as a table (the chart's accessible twin, and its CSV).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// `0xRRGGBB`, and its opacity.
    pub colour: u32,
    pub alpha: f64,
    /// In the legend; none if empty.
    pub label: String,
    /// The marker shape (its series' index); none if negative.
    pub marker: i32,
    /// A marker on every `every`th point; none if 0.
    pub every: u32,
    pub points: Vec<(f64, f64)>,
}

/// A vertical line at a write, with a word beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub colour: u32,
    pub text: String,
    pub text_y: f64,
}

/// A chart to draw: its frame, lines and marks, and its table.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub title: String,
    pub y_desc: String,
    /// The frame spans writes `1..=max_write` (at least 2).
    pub max_write: u32,
    pub y: (f64, f64),
    pub dark: bool,
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
    pub table: Table,
}

impl Spec {
    /// The drawn chart: `svg` as lab-charts drew it, with its plot area.
    pub fn drawn(self, svg: String, plot_x: (f64, f64)) -> Chart {
        Chart {
            title: self.title,
            svg: svg.into(),
            width: W,
            height: H,
            plot_x,
            writes: (1, self.max_write.max(2)),
            table: self.table,
        }
    }

    fn new(title: String, y_desc: &str, max_write: u32, y: (f64, f64), theme: Theme) -> Spec {
        Spec {
            title,
            y_desc: y_desc.into(),
            max_write,
            y,
            dark: theme == Theme::Dark,
            lines: Vec::new(),
            marks: Vec::new(),
            table: Table::default(),
        }
    }
}

/// One drawn chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    /// Shared, so the page hands it around without copying.
    pub svg: std::rc::Rc<str>,
    pub width: u32,
    pub height: u32,
    /// The plot area's left and right edges, as fractions of the width.
    pub plot_x: (f64, f64),
    /// The write numbers at those edges.
    pub writes: (u32, u32),
    pub table: Table,
}

impl Chart {
    /// Where write `k` falls, as a fraction of the chart's width.
    pub fn cursor_x(&self, k: u32) -> f64 {
        let (w0, w1) = self.writes;
        let span = f64::from(w1.saturating_sub(w0).max(1));
        let t = (f64::from(k.clamp(w0, w1)) - f64::from(w0)) / span;
        self.plot_x.0 + t * (self.plot_x.1 - self.plot_x.0)
    }
}

/// lab-charts' drawing size, in SVG pixels.
const W: u32 = 720;
const H: u32 = 300;

/// `nr_vcpus_matched_tsc` per backend and `online_vcpus − 1` over the writes,
/// with the write where `nr_vcpus_matched_tsc + 1 == online_vcpus` breaks for
/// good marked on each backend that breaks.
pub fn matched_spec(runs: &[BackendRun], theme: Theme) -> Spec {
    let max_write = runs.iter().map(BackendRun::write_count).max().unwrap_or(0);
    let y_max = runs
        .iter()
        .flat_map(|r| r.writes().map(|w| w.nr_matched.unwrap_or(0).max(w.online)))
        .max()
        .unwrap_or(1);
    let top = f64::from(y_max) + 1.0;
    let mut spec = Spec::new(
        "nr_vcpus_matched_tsc over the TSC writes".into(),
        "count",
        max_write,
        (0.0, top),
        theme,
    );
    let online: Vec<(f64, f64)> = runs
        .iter()
        .max_by_key(|r| r.write_count())
        .map(|r| {
            r.writes()
                .enumerate()
                .map(|(i, w)| (i as f64 + 1.0, f64::from(w.online.saturating_sub(1))))
                .collect()
        })
        .unwrap_or_default();
    spec.lines.push(Line {
        colour: hex(theme.ink()),
        alpha: 0.55,
        label: "online_vcpus − 1 (needed)".into(),
        marker: -1,
        every: 0,
        points: online,
    });
    for (i, run) in runs.iter().enumerate() {
        let colour = hex(backend_colour(run.backend));
        let points: Vec<(f64, f64)> = run
            .writes()
            .enumerate()
            .filter_map(|(k, w)| Some((k as f64 + 1.0, f64::from(w.nr_matched?))))
            .collect();
        if points.is_empty() {
            continue;
        }
        spec.lines.push(Line {
            colour,
            alpha: 1.0,
            label: run.backend.name().into(),
            marker: i as i32,
            every: u32::from(points.len() <= 200),
            points,
        });
        if let Some(k) = break_write(run) {
            spec.marks.push(Mark {
                x: f64::from(k),
                colour,
                text: format!("{} breaks here", run.backend),
                text_y: top - 0.4 - 0.4 * i as f64,
            });
        }
    }
    let mut headers = vec!["write".to_string(), "vcpu".into(), "online_vcpus".into()];
    headers.extend(runs.iter().map(|r| format!("{} nr_matched", r.backend)));
    let rows = (1..=max_write)
        .map(|k| {
            let any = runs.iter().find_map(|r| r.write(k));
            let mut row = vec![
                k.to_string(),
                any.map_or(String::new(), |w| w.vcpu.to_string()),
                any.map_or(String::new(), |w| w.online.to_string()),
            ];
            row.extend(runs.iter().map(|r| {
                r.write(k)
                    .and_then(|w| w.nr_matched)
                    .map_or("–".into(), |n| n.to_string())
            }));
            row
        })
        .collect();
    spec.table = Table { headers, rows };
    spec
}

/// A per-vCPU quantity after every write to that vCPU, as step lines.
fn per_vcpu_spec(
    run: &BackendRun,
    theme: Theme,
    title: String,
    y_desc: &str,
    column: &str,
    value: &dyn Fn(&scenarios::WriteEvent) -> Option<f64>,
    show: &dyn Fn(&scenarios::WriteEvent) -> String,
) -> Spec {
    let max_write = run.write_count();
    let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut rows = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, w) in run.writes().enumerate() {
        let k = i as f64 + 1.0;
        rows.push(vec![(i + 1).to_string(), w.vcpu.to_string(), show(w)]);
        let Some(y) = value(w) else { continue };
        lo = lo.min(y);
        hi = hi.max(y);
        let v = w.vcpu as usize;
        if lines.len() <= v {
            lines.resize(v + 1, Vec::new());
        }
        if let Some(&(_, prev)) = lines[v].last() {
            lines[v].push((k, prev));
        }
        lines[v].push((k, y));
    }
    for line in &mut lines {
        if let Some(&(_, y)) = line.last() {
            line.push((f64::from(max_write.max(2)), y));
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1.0);
    let mut spec = Spec::new(title, y_desc, max_write, (lo - pad, hi + pad), theme);
    let labelled = lines.len() <= 8;
    for (v, points) in lines.into_iter().enumerate().filter(|(_, l)| !l.is_empty()) {
        spec.lines.push(Line {
            colour: hex(PALETTE[v % PALETTE.len()]),
            alpha: 1.0,
            label: if labelled {
                format!("vCPU {v}")
            } else {
                String::new()
            },
            marker: if labelled { v as i32 } else { -1 },
            every: if labelled { 2 } else { 0 },
            points,
        });
    }
    spec.table = Table {
        headers: vec!["write".into(), "vcpu".into(), column.into()],
        rows,
    };
    spec
}

/// `this_tsc_generation` of every vCPU over the writes.
pub fn generations_spec(run: &BackendRun, theme: Theme) -> Spec {
    per_vcpu_spec(
        run,
        theme,
        format!("this_tsc_generation per vCPU ({})", run.backend),
        "generation",
        "this_tsc_generation",
        &|w| w.this_tsc_generation.map(|g| g as f64),
        &|w| w.this_tsc_generation.map_or("–".into(), |g| g.to_string()),
    )
}

/// Every vCPU's TSC offset over the writes, drawn relative to the first
/// offset of the run (offsets are host-sized numbers; what matters is where
/// vCPUs differ). The table keeps the kernel's values.
pub fn offsets_spec(run: &BackendRun, theme: Theme) -> Spec {
    let first = run.writes().find_map(|w| w.offset).unwrap_or(0);
    per_vcpu_spec(
        run,
        theme,
        format!("TSC offset per vCPU ({}), relative to {first}", run.backend),
        "offset − first offset (cycles)",
        "offset",
        &|w| w.offset.map(|o| o.wrapping_sub(first) as f64),
        &|w| w.offset.map_or("–".into(), |o| o.to_string()),
    )
}

/// The chart's SVG with a cursor line at write `k` drawn in: for exports,
/// where there is no overlay.
pub fn with_cursor(chart: &Chart, k: u32) -> String {
    let x = chart.cursor_x(k) * f64::from(chart.width);
    let line = format!(
        "<line x1=\"{x:.1}\" y1=\"30\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/></svg>",
        chart.height - 36
    );
    match chart.svg.rfind("</svg>") {
        Some(i) => format!("{}{line}", &chart.svg[..i]),
        None => chart.svg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::run_models;

    fn boot(n: u32) -> Vec<BackendRun> {
        let s = scenarios::parse(&format!("create {n}\nwrite * 0\nwrite * 0\nrun *\n")).unwrap();
        run_models(&s, &BackendId::MODELS)
    }

    #[test]
    fn the_matched_chart_has_every_backend_and_marks_the_break() {
        let runs = boot(2);
        let c = matched_spec(&runs, Theme::Light);
        let labels: Vec<&str> = c.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "online_vcpus − 1 (needed)",
                "linux-3.14",
                "linux-3.17",
                "linux-3.17-u8",
                "linux-6.18"
            ]
        );
        assert_eq!(c.lines[1].colour, hex(backend_colour(BackendId::Linux314)));
        assert_eq!((c.lines[1].marker, c.lines[1].every), (0, 1));
        let marks: Vec<&str> = c.marks.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(marks, ["linux-3.14 breaks here"]);
        assert_eq!(c.marks[0].x, 3.0);
        assert_eq!(c.table.rows.len(), 6);
        assert_eq!(c.table.headers.len(), 3 + 4);
        // 3.14's column counts every matched write: 0,1,2,3,4,5.
        let col: Vec<&str> = c.table.rows.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(col, ["0", "1", "2", "3", "4", "5"]);
        let chart = c.drawn("<svg></svg>".into(), (0.1, 0.9));
        assert_eq!(chart.writes, (1, 6));
        assert!((chart.cursor_x(1) - 0.1).abs() < 1e-9 && (chart.cursor_x(6) - 0.9).abs() < 1e-9);
    }

    #[test]
    fn generation_and_offset_charts_have_a_line_per_vcpu() {
        let runs = boot(3);
        let g = generations_spec(&runs[1], Theme::Dark);
        assert!(g.dark);
        assert_eq!(g.lines.len(), 3);
        assert_eq!(g.lines[2].label, "vCPU 2");
        assert_eq!(g.table.rows.len(), 9);
        let o = offsets_spec(&runs[3], Theme::Light);
        assert!(o.title.starts_with("TSC offset per vCPU (linux-6.18)"));
        let chart = o.drawn("<svg><rect/></svg>".into(), (0.1, 0.9));
        let cursor = with_cursor(&chart, 4);
        assert!(cursor.ends_with("</svg>") && cursor.contains("stroke-dasharray"));
    }

    #[test]
    fn an_empty_run_still_has_a_frame() {
        let runs = vec![BackendRun::new(
            BackendId::Kvm,
            crate::analysis::Source::Live,
        )];
        let c = matched_spec(&runs, Theme::Light);
        assert!(c.table.rows.is_empty());
        assert_eq!(c.max_write, 0);
        let g = generations_spec(&runs[0], Theme::Light);
        assert_eq!(g.y, (-1.0, 2.0));
    }
}
