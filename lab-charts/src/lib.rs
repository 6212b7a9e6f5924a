//! # lab-charts — the notebook's charts, drawn on demand
//!
//! plotters → SVG text, compiled to a WASM module of its own
//! (`lab_charts.js` and `lab_charts_bg.wasm` in `target/dist`) that the
//! notebook loads after its first results are on screen: drawing is some
//! 40 KB gzip of the bundle, and the charts sit below the verdicts, the
//! step-through and the tables. What a chart shows is decided in the page
//! (`lab_web::charts`: the series, the marks, the table); this module only
//! draws it, a [`Chart`] built a line at a time.
//!
//! SVG rather than a canvas: the same drawing runs natively under
//! `cargo test`, exports as a file as it is, and scales on a projector.

use plotters::prelude::*;
use wasm_bindgen::prelude::*;

/// The drawing's size in SVG pixels.
pub const W: u32 = 720;
pub const H: u32 = 300;

#[derive(Clone, Debug)]
struct Line {
    colour: RGBAColor,
    label: String,
    marker: Option<usize>,
    every: usize,
    points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
struct Mark {
    x: f64,
    colour: RGBColor,
    text: String,
    text_y: f64,
}

/// One chart: a frame over writes `1..=max_write`, its lines and marks.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct Chart {
    title: String,
    y_desc: String,
    max_write: u32,
    y: (f64, f64),
    dark: bool,
    lines: Vec<Line>,
    marks: Vec<Mark>,
    plot_x: (f64, f64),
}

fn rgb(c: u32) -> RGBColor {
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

#[wasm_bindgen]
impl Chart {
    /// A frame titled `title`, over writes `1..=max_write`, y in `y0..y1`,
    /// in dark ink on white or light ink on dark.
    #[wasm_bindgen(constructor)]
    pub fn new(
        title: String,
        y_desc: String,
        max_write: u32,
        y0: f64,
        y1: f64,
        dark: bool,
    ) -> Chart {
        Chart {
            title,
            y_desc,
            max_write,
            y: (y0, y1),
            dark,
            lines: Vec::new(),
            marks: Vec::new(),
            plot_x: (0.0, 1.0),
        }
    }

    /// A line through `(xs[i], ys[i])` in colour `0xRRGGBB` at `alpha`;
    /// `label` in the legend (none if empty) with marker shape `marker`
    /// (none if negative), drawn on every `every`th point (none if 0).
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        colour: u32,
        alpha: f64,
        label: String,
        marker: i32,
        every: u32,
        xs: &[f64],
        ys: &[f64],
    ) {
        let c = rgb(colour);
        self.lines.push(Line {
            colour: RGBAColor(c.0, c.1, c.2, alpha),
            label,
            marker: usize::try_from(marker).ok(),
            every: every as usize,
            points: xs.iter().copied().zip(ys.iter().copied()).collect(),
        });
    }

    /// A vertical line at write `x` across the frame, in `0xRRGGBB`, with
    /// `text` beside it at height `text_y`.
    pub fn mark(&mut self, x: f64, colour: u32, text: String, text_y: f64) {
        self.marks.push(Mark {
            x,
            colour: rgb(colour),
            text,
            text_y,
        });
    }

    /// The SVG text; throws why it cannot be drawn.
    pub fn draw(&mut self) -> Result<String, JsError> {
        self.svg().map_err(|e| JsError::new(&e))
    }

    /// The plot area's left edge, as a fraction of the width (after `draw`).
    pub fn plot_x0(&self) -> f64 {
        self.plot_x.0
    }

    /// The plot area's right edge, as a fraction of the width (after `draw`).
    pub fn plot_x1(&self) -> f64 {
        self.plot_x.1
    }
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

impl Chart {
    /// The SVG text, or why it cannot be drawn (as Rust).
    pub fn svg(&mut self) -> Result<String, String> {
        let (ink, paper, grid) = if self.dark {
            (
                RGBColor(225, 225, 225),
                RGBColor(28, 30, 34),
                RGBColor(60, 63, 70),
            )
        } else {
            (
                RGBColor(30, 30, 30),
                RGBColor(255, 255, 255),
                RGBColor(225, 225, 225),
            )
        };
        let title = self.title.clone();
        let err = |e: &dyn std::fmt::Debug| format!("cannot draw `{title}`: {e:?}");
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
            root.fill(&paper).map_err(|e| err(&e))?;
            let x1 = f64::from(self.max_write.max(2));
            let y = self.y;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 16).into_font().color(&ink))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(1.0..x1, y.0..y.1)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("TSC write")
                .y_desc(&self.y_desc)
                .axis_style(ink)
                .bold_line_style(grid)
                .light_line_style(paper)
                .label_style(("sans-serif", 12).into_font().color(&ink))
                .axis_desc_style(("sans-serif", 12).into_font().color(&ink))
                .x_labels(self.max_write.clamp(2, 12) as usize)
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
            for line in &self.lines {
                let colour = line.colour;
                let style = ShapeStyle::from(&colour);
                let s = chart
                    .draw_series(LineSeries::new(
                        line.points.iter().copied(),
                        colour.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?;
                if !line.label.is_empty() {
                    let s = s.label(line.label.clone());
                    match line.marker {
                        Some(i) => {
                            s.legend(move |(x, y)| {
                                EmptyElement::at((x, y))
                                    + PathElement::new(
                                        vec![(0, 0), (18, 0)],
                                        colour.stroke_width(2),
                                    )
                                    + marker::<SVGBackend<'_>, _>(i, (9, 0), style)
                            });
                        }
                        None => {
                            s.legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                            });
                        }
                    }
                }
                if let (Some(i), true) = (line.marker, line.every > 0) {
                    chart
                        .draw_series(
                            line.points
                                .iter()
                                .step_by(line.every)
                                .map(|&p| marker(i, p, style)),
                        )
                        .map_err(|e| err(&e))?;
                }
            }
            for m in &self.marks {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(m.x, y.0), (m.x, y.1)],
                        m.colour.stroke_width(1),
                    )))
                    .map_err(|e| err(&e))?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        m.text.clone(),
                        (m.x, m.text_y),
                        ("sans-serif", 11).into_font().color(&m.colour),
                    )))
                    .map_err(|e| err(&e))?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .border_style(ink)
                .background_style(paper.mix(0.9))
                .label_font(("sans-serif", 12).into_font().color(&ink))
                .draw()
                .map_err(|e| err(&e))?;
            let (px0, _) = chart.backend_coord(&(1.0, y.0));
            let (px1, _) = chart.backend_coord(&(x1, y.0));
            self.plot_x = (f64::from(px0) / f64::from(W), f64::from(px1) / f64::from(W));
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }
}

/// A chart spec of the notebook drawn here, natively: the calls the page
/// makes to this module (`lab_web::ui::lazy`), in the same order.
#[cfg(any(test, feature = "spec"))]
pub fn draw_spec(spec: lab_web::charts::Spec) -> Result<lab_web::charts::Chart, String> {
    let mut c = Chart::new(
        spec.title.clone(),
        spec.y_desc.clone(),
        spec.max_write,
        spec.y.0,
        spec.y.1,
        spec.dark,
    );
    for l in &spec.lines {
        let (xs, ys): (Vec<f64>, Vec<f64>) = l.points.iter().copied().unzip();
        c.line(
            l.colour,
            l.alpha,
            l.label.clone(),
            l.marker,
            l.every,
            &xs,
            &ys,
        );
    }
    for m in &spec.marks {
        c.mark(m.x, m.colour, m.text.clone(), m.text_y);
    }
    let svg = c.svg()?;
    let plot_x = (c.plot_x0(), c.plot_x1());
    Ok(spec.drawn(svg, plot_x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_web::analysis::{BackendRun, Source, run_models};
    use lab_web::charts::{self, Spec, Theme};
    use scenarios::BackendId;

    fn draw(spec: &Spec) -> (String, (f64, f64)) {
        let c = draw_spec(spec.clone()).unwrap();
        (c.svg.to_string(), c.plot_x)
    }

    fn boot(n: u32) -> Vec<BackendRun> {
        let s = scenarios::parse(&format!("create {n}\nwrite * 0\nwrite * 0\nrun *\n")).unwrap();
        run_models(&s, &BackendId::MODELS)
    }

    #[test]
    fn the_matched_chart_draws_every_backend_and_marks_the_break() {
        let (svg, (l, r)) = draw(&charts::matched_spec(&boot(2), Theme::Light));
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.contains("<polyline"));
        for b in BackendId::MODELS {
            assert!(svg.contains(b.name()), "{b} missing from the legend");
        }
        assert!(svg.contains("linux-3.14 breaks here"));
        assert!(!svg.contains("linux-3.17 breaks here"));
        assert!(0.0 < l && l < r && r < 1.0, "{l} {r}");
    }

    #[test]
    fn generation_and_offset_charts_have_a_line_per_vcpu() {
        let runs = boot(3);
        let (g, _) = draw(&charts::generations_spec(&runs[1], Theme::Dark));
        assert!(g.matches("<polyline").count() >= 3);
        assert!(g.contains("vCPU 2"));
        assert!(g.to_uppercase().contains("#1C1E22"), "the dark paper");
        let (o, _) = draw(&charts::offsets_spec(&runs[3], Theme::Light));
        assert!(o.contains("TSC offset per vCPU (linux-6.18)"));
    }

    #[test]
    fn an_empty_run_still_draws() {
        let runs = vec![BackendRun::new(BackendId::Kvm, Source::Live)];
        draw(&charts::matched_spec(&runs, Theme::Light));
        draw(&charts::generations_spec(&runs[0], Theme::Light));
    }

    #[test]
    fn numbers_on_the_axis_are_short() {
        assert_eq!(short_number(3.0), "3");
        assert_eq!(short_number(2.5), "2.5");
        assert_eq!(short_number(25_000.0), "25k");
        assert_eq!(short_number(2_500_000.0), "2.5M");
    }
}
