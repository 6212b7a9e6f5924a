//! A run's exports: JSON (the trace, as the CLI prints it), CSV (one row per
//! write per backend) and a self-contained HTML report.

use crate::analysis::{self, BackendRun, Source};
use crate::charts::Chart;
use crate::markdown::escape;

fn source_name(s: &Source) -> String {
    match s {
        Source::Model => "model (in the browser)".into(),
        Source::Live => "real KVM (live)".into(),
        Source::Recorded { host } => format!("real KVM (recorded on {host})"),
        Source::Trace { label } => format!("imported trace ({label})"),
    }
}

#[derive(serde::Serialize)]
struct JsonExport<'a> {
    scenario: &'a str,
    runs: Vec<JsonRun<'a>>,
}

#[derive(serde::Serialize)]
struct JsonRun<'a> {
    backend: scenarios::BackendId,
    source: String,
    verdict: &'static str,
    events: &'a [scenarios::Event],
}

/// `{ "scenario": text, "runs": [ { "backend", "source", "verdict", "events": [...] } ] }`.
pub fn to_json(scenario: &str, runs: &[BackendRun]) -> String {
    let export = JsonExport {
        scenario,
        runs: runs
            .iter()
            .map(|r| JsonRun {
                backend: r.backend,
                source: source_name(&r.source),
                verdict: r.verdict().label(),
                events: &r.events,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&export).unwrap_or_default()
}

const CSV_HEADER: &str = "backend,write,step,line,t_ns,vcpu,origin,value,matched,new_generation,\
cur_tsc_generation,this_tsc_generation,nr_matched,online,vcpus_matched,offset,master_clock,count,why";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// A CSV field: quoted when it holds a comma, quote or newline.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn to_csv(runs: &[BackendRun]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in runs {
        for w in r.writes() {
            let cols = [
                w.backend.name().to_string(),
                w.write.to_string(),
                w.step.to_string(),
                w.line.to_string(),
                w.t_ns.to_string(),
                w.vcpu.to_string(),
                w.origin.name().to_string(),
                w.value.to_string(),
                opt(w.matched),
                opt(w.new_generation),
                opt(w.cur_tsc_generation),
                opt(w.this_tsc_generation),
                opt(w.nr_matched),
                w.online.to_string(),
                opt(w.vcpus_matched),
                opt(w.offset),
                w.master_clock.to_string(),
                w.count
                    .map_or(String::new(), |_| analysis::count_mark(w).to_string()),
                w.why(),
            ];
            let line: Vec<String> = cols.iter().map(|c| field(c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// One HTML file with everything inline: the scenario, the verdicts, the
/// chart (`nr_vcpus_matched_tsc`, as the page drew it), and every write's
/// reasoning per backend. No script, no fetches.
pub fn to_html_report(
    title: &str,
    scenario: &str,
    runs: &[BackendRun],
    chart: Option<&Chart>,
) -> String {
    let mut verdicts = String::new();
    for r in runs {
        let (label, class) = match r.verdict() {
            analysis::Verdict::Stable => ("STABLE", "ok"),
            analysis::Verdict::Unstable => ("UNSTABLE", "bad"),
            v => (v.label(), ""),
        };
        let s = r.summary();
        verdicts.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{label}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(r.backend.name()),
            escape(&source_name(&r.source)),
            s.and_then(|s| s.nr_matched).map_or("–".into(), |n| n.to_string()),
            s.map_or("–".into(), |s| s.online.to_string()),
            s.map_or("–", |s| if s.master_clock { "on" } else { "off" }),
        ));
    }
    let chart = chart.map_or_else(
        || "<p>(The chart was not drawn in the page.)</p>".to_string(),
        |c| c.svg.to_string(),
    );
    let divergence = analysis::first_divergence(runs).map_or(
        "<p>The backends agree on every write.</p>".to_string(),
        |d| {
            format!(
                "<p><strong>First divergence at write {}</strong>: {}.</p>",
                d.write,
                escape(&d.what)
            )
        },
    );
    let mut writes = String::new();
    let max = runs.iter().map(BackendRun::write_count).max().unwrap_or(0);
    for k in 1..=max {
        let w0 = runs.iter().find_map(|r| r.write(k));
        writes.push_str(&format!(
            "<tr><td>{k}</td><td>{}</td><td>{}</td>",
            w0.map_or(String::new(), |w| w.vcpu.to_string()),
            w0.map_or(String::new(), |w| w.value.to_string())
        ));
        for r in runs {
            match r.write(k) {
                Some(w) => writes.push_str(&format!(
                    "<td><b>{}</b> {}<br><small>{}</small></td>",
                    opt(w.nr_matched),
                    escape(analysis::count_mark(w)),
                    escape(&w.why())
                )),
                None => writes.push_str("<td>–</td>"),
            }
        }
        writes.push_str("</tr>\n");
    }
    let heads: String = runs
        .iter()
        .map(|r| format!("<th>{}</th>", escape(r.backend.name())))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{t} — TSC Lab report</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1e1e1e}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}}
pre{{background:#f5f5f5;padding:1em;overflow:auto}}.ok{{color:#007a55;font-weight:bold}}.bad{{color:#b34700;font-weight:bold}}
small{{color:#555}}svg{{max-width:100%;height:auto}}
</style></head><body>
<h1>{t}</h1>
<p>A TSC Lab report: one scenario through each kernel's TSC matching.</p>
<h2>Verdicts</h2>
<table><tr><th>backend</th><th>source</th><th>kvmclock</th><th>nr_vcpus_matched_tsc</th><th>online_vcpus</th><th>master clock</th></tr>
{verdicts}</table>
{divergence}
<h2>nr_vcpus_matched_tsc</h2>
{chart}
<h2>Scenario</h2>
<pre>{scenario}</pre>
<h2>Every write</h2>
<table><tr><th>write</th><th>vCPU</th><th>value</th>{heads}</tr>
{writes}</table>
</body></html>
"#,
        t = escape(title),
        scenario = escape(scenario),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::BackendId;

    fn runs() -> Vec<BackendRun> {
        let s = scenarios::parse("create 2\nwrite * 0\nwrite * 0\nrun *\n").unwrap();
        analysis::run_models(&s, &[BackendId::Linux314, BackendId::Linux317])
    }

    #[test]
    fn csv_has_a_row_per_write_per_backend_and_quotes_its_prose() {
        let csv = to_csv(&runs());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 1 + 6 + 6);
        assert!(lines[4].starts_with("linux-3.14,4,"), "{}", lines[4]);
        assert!(lines[4].contains(",3,2,false,"), "{}", lines[4]);
        assert!(lines[4].contains("counted again"), "{}", lines[4]);
        assert_eq!(field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn json_is_the_trace_per_backend() {
        let v: serde_json::Value = serde_json::from_str(&to_json("create 2", &runs())).unwrap();
        assert_eq!(v["runs"][0]["backend"], "linux-3.14");
        assert_eq!(v["runs"][0]["verdict"], "UNSTABLE");
        assert_eq!(v["runs"][1]["verdict"], "STABLE");
        let events: Vec<scenarios::Event> =
            serde_json::from_value(v["runs"][1]["events"].clone()).unwrap();
        assert_eq!(events, runs()[1].events);
    }

    #[test]
    fn the_report_is_self_contained_and_escapes_the_scenario() {
        let chart = crate::charts::matched_spec(&runs(), crate::charts::Theme::Light)
            .drawn("<svg><polyline/></svg>".into(), (0.1, 0.9));
        let html = to_html_report("<b>boot</b>", "# <script>x</script>", &runs(), Some(&chart));
        assert!(html.contains("&lt;b&gt;boot&lt;/b&gt;"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src="));
        assert!(html.contains("First divergence at write 3"));
        assert!(html.contains("<svg"));
        assert!(html.contains("UNSTABLE") && html.contains("STABLE"));
        let bare = to_html_report("boot", "create 1", &runs(), None);
        assert!(bare.contains("The chart was not drawn"));
    }
}
