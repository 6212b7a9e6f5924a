//! The charts, drawn with plotters into SVG text.
//!
//! SVG rather than a canvas: the same drawing runs natively under
//! `cargo test`, exports as a file as it is, and scales on a projector. A
//! chart is drawn once per run; the step-through cursor is an overlay the
//! page moves, placed with the plot area's extent that [`Chart`] records, so
//! scrubbing never redraws a chart.

use plotters::prelude::*;
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

/// Light or dark page: the charts' ink and paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn ink(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(30, 30, 30),
            Theme::Dark => RGBColor(225, 225, 225),
        }
    }
    fn paper(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(255, 255, 255),
            Theme::Dark => RGBColor(28, 30, 34),
        }
    }
    fn grid(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(225, 225, 225),
            Theme::Dark => RGBColor(60, 63, 70),
        }
    }
}

/// A chart's numbers as a table (the chart's accessible twin, and its CSV).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
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

const W: u32 = 720;
const H: u32 = 300;

/// A chart's drawing context: one lifetime for the SVG text and the context,
/// so the series' legends may borrow either.
type Plot<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

struct Frame {
    svg: String,
    plot_x: (f64, f64),
}

/// Draws a chart over writes 1..=max_write with y in `y`; `draw` adds the series.
fn frame(
    title: &str,
    y_desc: &str,
    max_write: u32,
    y: (f64, f64),
    theme: Theme,
    // `dyn`, not generic: one copy of the frame code in the WASM bundle.
    draw: &mut dyn for<'a> FnMut(&mut Plot<'a>) -> Result<(), String>,
) -> Result<Frame, String> {
    let mut svg = String::new();
    let plot_x;
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let err = |e: &dyn std::fmt::Debug| format!("cannot draw `{title}`: {e:?}");
        root.fill(&theme.paper()).map_err(|e| err(&e))?;
        let x1 = f64::from(max_write.max(2));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16).into_font().color(&theme.ink()))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(1.0..x1, y.0..y.1)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("TSC write")
            .y_desc(y_desc)
            .axis_style(theme.ink())
            .bold_line_style(theme.grid())
            .light_line_style(theme.paper())
            .label_style(("sans-serif", 12).into_font().color(&theme.ink()))
            .axis_desc_style(("sans-serif", 12).into_font().color(&theme.ink()))
            .x_labels(max_write.clamp(2, 12) as usize)
            // Writes are whole numbers: no label between two of them.
            .x_label_formatter(&|v| {
                if v.fract().abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(|e| err(&e))?;
        draw(&mut chart)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(theme.ink())
            .background_style(theme.paper().mix(0.9))
            .label_font(("sans-serif", 12).into_font().color(&theme.ink()))
            .draw()
            .map_err(|e| err(&e))?;
        let (px0, _) = chart.backend_coord(&(1.0, y.0));
        let (px1, _) = chart.backend_coord(&(x1, y.0));
        plot_x = (f64::from(px0) / f64::from(W), f64::from(px1) / f64::from(W));
        root.present().map_err(|e| err(&e))?;
    }
    Ok(Frame { svg, plot_x })
}

fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e12 {
        format!("{:.2e}", v)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The marker of series `i`: a shape as well as a colour tells series apart.
fn marker<DB: DrawingBackend, C: Clone + 'static>(
    i: usize,
    at: C,
    style: ShapeStyle,
) -> DynElement<'static, DB, C> {
    match i % 4 {
        0 => Circle::new(at, 3, style.filled()).into_dyn(),
        1 => Cross::new(at, 4, style.stroke_width(2)).into_dyn(),
        2 => TriangleMarker::new(at, 4, style.filled()).into_dyn(),
        _ => Circle::new(at, 3, style.stroke_width(2)).into_dyn(),
    }
}

/// `nr_vcpus_matched_tsc` per backend and `online_vcpus − 1` over the writes,
/// with the write where `nr_vcpus_matched_tsc + 1 == online_vcpus` breaks for
/// good marked on each backend that breaks.
pub fn matched_chart(runs: &[BackendRun], theme: Theme) -> Result<Chart, String> {
    let max_write = runs.iter().map(BackendRun::write_count).max().unwrap_or(0);
    let y_max = runs
        .iter()
        .flat_map(|r| r.writes().map(|w| w.nr_matched.unwrap_or(0).max(w.online)))
        .max()
        .unwrap_or(1);
    let title = "nr_vcpus_matched_tsc over the TSC writes";
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
    let frame = frame(
        title,
        "count",
        max_write,
        (0.0, f64::from(y_max) + 1.0),
        theme,
        &mut |chart| {
            let err = |e: &dyn std::fmt::Debug| format!("cannot draw `{title}`: {e:?}");
            let grey = theme.ink().mix(0.55);
            chart
                .draw_series(LineSeries::new(
                    online.iter().copied(),
                    grey.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label("online_vcpus − 1 (needed)")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], grey.stroke_width(2))
                });
            for (i, run) in runs.iter().enumerate() {
                let (r, g, b) = backend_colour(run.backend);
                let colour = RGBColor(r, g, b);
                let pts: Vec<(f64, f64)> = run
                    .writes()
                    .enumerate()
                    .filter_map(|(k, w)| Some((k as f64 + 1.0, f64::from(w.nr_matched?))))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let style = ShapeStyle::from(&colour);
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
                    .map_err(|e| err(&e))?
                    .label(run.backend.name())
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (18, 0)], colour.stroke_width(2))
                            + marker::<SVGBackend<'_>, _>(i, (9, 0), style)
                    });
                if pts.len() <= 200 {
                    chart
                        .draw_series(pts.iter().map(|&p| marker(i, p, style)))
                        .map_err(|e| err(&e))?;
                }
                if let Some(k) = break_write(run) {
                    let x = f64::from(k);
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, 0.0), (x, f64::from(y_max) + 1.0)],
                            colour.stroke_width(1),
                        )))
                        .map_err(|e| err(&e))?;
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{} breaks here", run.backend),
                            (x, f64::from(y_max) + 0.6 - 0.4 * i as f64),
                            ("sans-serif", 11).into_font().color(&colour),
                        )))
                        .map_err(|e| err(&e))?;
                }
            }
            Ok(())
        },
    )?;
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
    Ok(Chart {
        title: title.into(),
        svg: frame.svg.into(),
        width: W,
        height: H,
        plot_x: frame.plot_x,
        writes: (1, max_write.max(2)),
        table: Table { headers, rows },
    })
}

/// A per-vCPU quantity after every write to that vCPU, as step lines.
fn per_vcpu_chart(
    run: &BackendRun,
    theme: Theme,
    title: String,
    y_desc: &str,
    column: &str,
    value: &dyn Fn(&scenarios::WriteEvent) -> Option<f64>,
    show: &dyn Fn(&scenarios::WriteEvent) -> String,
) -> Result<Chart, String> {
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
    let frame = frame(
        &title,
        y_desc,
        max_write,
        (lo - pad, hi + pad),
        theme,
        &mut |chart| {
            let err = |e: &dyn std::fmt::Debug| format!("cannot draw a chart: {e:?}");
            let labelled = lines.len() <= 8;
            for (v, line) in lines.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
                let (r, g, b) = PALETTE[v % PALETTE.len()];
                let colour = RGBColor(r, g, b);
                let s = chart
                    .draw_series(LineSeries::new(
                        line.iter().copied(),
                        colour.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?;
                if labelled {
                    let style = ShapeStyle::from(&colour);
                    s.label(format!("vCPU {v}")).legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (18, 0)], colour.stroke_width(2))
                            + marker::<SVGBackend<'_>, _>(v, (9, 0), style)
                    });
                    chart
                        .draw_series(line.iter().step_by(2).map(|&p| marker(v, p, style)))
                        .map_err(|e| err(&e))?;
                }
            }
            Ok(())
        },
    )?;
    Ok(Chart {
        title,
        svg: frame.svg.into(),
        width: W,
        height: H,
        plot_x: frame.plot_x,
        writes: (1, max_write.max(2)),
        table: Table {
            headers: vec!["write".into(), "vcpu".into(), column.into()],
            rows,
        },
    })
}

/// `this_tsc_generation` of every vCPU over the writes.
pub fn generations_chart(run: &BackendRun, theme: Theme) -> Result<Chart, String> {
    per_vcpu_chart(
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
pub fn offsets_chart(run: &BackendRun, theme: Theme) -> Result<Chart, String> {
    let first = run.writes().find_map(|w| w.offset).unwrap_or(0);
    per_vcpu_chart(
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
    fn the_matched_chart_draws_every_backend_and_marks_the_break() {
        let runs = boot(2);
        let c = matched_chart(&runs, Theme::Light).unwrap();
        assert!(c.svg.starts_with("<svg"), "{}", &c.svg[..60]);
        assert!(c.svg.contains("<polyline"));
        for b in BackendId::MODELS {
            assert!(c.svg.contains(b.name()), "{b} missing from the legend");
        }
        assert!(c.svg.contains("linux-3.14 breaks here"));
        assert!(!c.svg.contains("linux-3.17 breaks here"));
        assert_eq!(c.table.rows.len(), 6);
        assert_eq!(c.table.headers.len(), 3 + 4);
        // 3.14's column counts every matched write: 0,1,2,3,4,5.
        let col: Vec<&str> = c.table.rows.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(col, ["0", "1", "2", "3", "4", "5"]);
        let (l, r) = c.plot_x;
        assert!(0.0 < l && l < r && r < 1.0, "{l} {r}");
        assert!((c.cursor_x(1) - l).abs() < 1e-9 && (c.cursor_x(6) - r).abs() < 1e-9);
    }

    #[test]
    fn generation_and_offset_charts_have_a_line_per_vcpu() {
        let runs = boot(3);
        let g = generations_chart(&runs[1], Theme::Dark).unwrap();
        assert!(g.svg.matches("<polyline").count() >= 3);
        assert!(g.svg.contains("vCPU 2"));
        assert_eq!(g.table.rows.len(), 9);
        let o = offsets_chart(&runs[3], Theme::Light).unwrap();
        assert!(o.svg.contains("TSC offset per vCPU (linux-6.18)"));
        let cursor = with_cursor(&o, 4);
        assert!(cursor.ends_with("</svg>") && cursor.contains("stroke-dasharray"));
    }

    #[test]
    fn an_empty_run_still_draws() {
        let runs = vec![BackendRun::new(
            BackendId::Kvm,
            crate::analysis::Source::Live,
        )];
        let c = matched_chart(&runs, Theme::Light).unwrap();
        assert!(c.table.rows.is_empty());
        assert!(generations_chart(&runs[0], Theme::Light).is_ok());
    }
}
