//! Live polls in the notebook's words: what a cell's prediction asks the
//! room ([`request`]); the class's markup, every text escaped — a cell's
//! instructor buttons ([`tools`]), a poll's heading and buttons ([`head`]),
//! its distribution ([`distribution`]: bars of plain elements and a table);
//! and what a poll says to whoever
//! sees it ([`words`]), a follower's announced as it changes.
//! The wire shapes are `scenarios::protocol`'s ([`PollRequest`], [`Poll`]).
//!
//! Markup joined from pieces, not components nor `format!`: the first load
//! is held to 350 KB gzip, and each element drawn through Yew or each
//! `format!` costs it more than a line of this text. The page keeps as its
//! own elements only what must live on: the live regions, the table's
//! disclosure, and the containers whose one click handler reads the
//! buttons' `data-act` and `data-value`.

use scenarios::protocol::{Poll, PollRequest, PollState};

use crate::analysis::BackendRun;
use crate::markdown::escape;
use crate::notebook::Prediction;

/// The poll asking `q` of the room: its question, its choices (`stable`,
/// `unstable`; or the counts 0 ..= max(8, twice the run's writes)), and the
/// right answer where `run` (the cell's run of the question's backend)
/// shows it. `cell` names the cell it comes from.
pub fn request(q: &Prediction, run: Option<&BackendRun>, cell: &str) -> PollRequest {
    let choices = match q {
        Prediction::Stable { .. } => vec!["stable".into(), "unstable".into()],
        Prediction::NrMatched { .. } => {
            let writes = run.map_or(0, BackendRun::write_count);
            (0..=writes.saturating_mul(2).max(8))
                .map(|n| n.to_string())
                .collect()
        }
    };
    PollRequest {
        question: q.question(),
        choices,
        answer: run.and_then(|r| q.answer(r)).map(|a| a.to_string()),
        cell: Some(cell.to_string()),
    }
}

/// A cell's instructor buttons: "Ask the room" per prediction
/// (`data-act="ask"`, `data-value` its index), then "Present this cell"
/// (`data-act="present"`).
pub fn tools(predict: &[Prediction]) -> String {
    let mut out = String::new();
    for (i, q) in predict.iter().enumerate() {
        let (backend, write) = match *q {
            Prediction::Stable { backend } => (backend, None),
            Prediction::NrMatched { backend, write } => (backend, Some(write.to_string())),
        };
        let gist = match &write {
            None => "stable",
            Some(w) => &["nr_vcpus_matched_tsc after write ", w].concat(),
        };
        out += &[
            r#"<button data-act="ask" data-value=""#,
            &i.to_string(),
            r#"">Ask the room: "#,
            gist,
            " on ",
            backend.name(),
            "?</button>",
        ]
        .concat();
    }
    out + r#"<button data-act="present">Present this cell</button>"#
}

/// A poll's heading and buttons: the instructor's (`csv`: the address of
/// its `results.csv`, for the instructor) Close while open, Reveal until
/// revealed (`data-act` close, reveal) and the CSV as a download link (the
/// server names the file); a
/// follower's button per choice (`data-act="answer"`, `data-value` its
/// index), pressed on this tab's answer `mine`, usable while the poll is open.
pub fn head(poll: &Poll, csv: Option<&str>, mine: Option<&str>) -> String {
    let instructor = csv.is_some();
    let open = poll.state == PollState::Open;
    let mut out = ["<h2>", &escape(&poll.question), "</h2>"].concat();
    out += if instructor {
        r#"<div class="lab-poll-actions" role="group" aria-label="the poll">"#
    } else {
        r#"<div class="lab-poll-actions" role="group" aria-label="your answer">"#
    };
    if instructor {
        if open {
            out += r#"<button data-act="close">Close</button>"#;
        }
        if poll.state != PollState::Revealed {
            out += r#"<button data-act="reveal">Reveal</button>"#;
        }
        out += &[
            r#"<a class="lab-poll-csv" href=""#,
            &escape(csv.unwrap_or_default()),
            r#"" download>Download CSV</a>"#,
        ]
        .concat();
    } else {
        for (i, c) in poll.choices.iter().enumerate() {
            out += &[
                r#"<button data-act="answer" data-value=""#,
                &i.to_string(),
                if mine == Some(c.as_str()) {
                    r#"" aria-pressed="true""#
                } else {
                    r#"" aria-pressed="false""#
                },
                if open { ">" } else { " disabled>" },
                &escape(c),
                "</button>",
            ]
            .concat();
        }
    }
    out + "</div>"
}

/// What the poll says to the instructor (its state and how many answered)
/// or to a follower (the question, this tab's answer `mine`), and once
/// known the answer. A follower's is announced as it changes.
pub fn words(poll: &Poll, instructor: bool, mine: Option<&str>) -> String {
    let n = poll.total().unwrap_or(0).to_string();
    let mut out = match (instructor, poll.state) {
        (true, PollState::Open) => ["Open: ", &n, " answered so far."].concat(),
        (true, PollState::Closed) => [
            "Closed: ",
            &n,
            " answered; the room sees the answer at the reveal.",
        ]
        .concat(),
        (true, _) => ["Revealed to the room: ", &n, " answered."].concat(),
        (_, PollState::Open) => ["The presenter asks: ", &poll.question, " "].concat(),
        (_, PollState::Closed) => "The poll is closed. ".into(),
        (_, _) => "Revealed. ".into(),
    };
    if !instructor {
        out += &match mine {
            Some(c) => ["Your answer: ", c, "."].concat(),
            None if poll.state == PollState::Open => "Not answered yet: pick one.".into(),
            None => "You did not answer.".into(),
        };
    }
    if let Some(a) = &poll.answer {
        out += &[" The answer: ", a].concat();
        out += match mine {
            Some(c) if !instructor && c == a => " — as you said.",
            Some(_) if !instructor => " — not what you said.",
            _ => ".",
        };
    }
    // The distribution, in words, for whoever cannot see the bars.
    if let (false, PollState::Revealed, Some(counts)) = (instructor, poll.state, &poll.counts) {
        out += " Answers:";
        for (c, n) in poll.choices.iter().zip(counts) {
            out += &[" ", c, " ", &n.to_string(), ";"].concat();
        }
        out.pop();
        out.push('.');
    }
    out
}

/// `poll`'s distribution as markup: the bars (a list: a choice each, its
/// bar as wide as its share of the answers, its count and share written),
/// then the table of every choice and its count. The right
/// answer, where known, is marked ✔ in words, not colour alone. Counts not
/// known are 0.
pub fn distribution(poll: &Poll) -> (String, String) {
    let counts = poll.counts.as_deref().unwrap_or_default();
    let total: u64 = counts.iter().sum();
    let mut bars = r#"<ul class="lab-poll-bars" aria-label="answers per choice">"#.to_string();
    let mut table = [
        "<table><caption>",
        &total.to_string(),
        r#" answered</caption><thead><tr><th scope="col">choice</th><th scope="col">count</th></tr></thead><tbody>"#,
    ]
    .concat();
    for (i, choice) in poll.choices.iter().enumerate() {
        let n = counts.get(i).copied().unwrap_or(0);
        let right = poll.answer.as_deref() == Some(choice.as_str());
        let (mark, tone) = if right {
            ("✔ ", " lab-poll-right")
        } else {
            ("", "")
        };
        let (c, n_s) = (escape(choice), n.to_string());
        {
            let pct = (n * 100).checked_div(total).unwrap_or(0).to_string();
            bars += &[
                r#"<li class="lab-poll-row" data-choice=""#,
                &c,
                r#"" data-count=""#,
                &n_s,
                r#""><span class="lab-poll-label">"#,
                mark,
                &c,
                r#"</span><span class="lab-poll-bar"><span class="lab-poll-fill"#,
                tone,
                r#"" style="width:"#,
                &pct,
                r#"%"></span></span><span class="lab-num">"#,
                &n_s,
                " (",
                &pct,
                "%)</span></li>",
            ]
            .concat();
        }
        table += &[
            "<tr><td>",
            mark,
            &c,
            r#"</td><td class="lab-num">"#,
            &n_s,
            "</td></tr>",
        ]
        .concat();
    }
    (bars + "</ul>", table + "</tbody></table>")
}

#[cfg(test)]
mod tests {
    use scenarios::BackendId;

    use super::*;
    use crate::analysis;

    fn run(backend: BackendId) -> BackendRun {
        let text = scenarios::library::get("qemu-2.0-boot-2")
            .expect("in the library")
            .text;
        let s = scenarios::parse(text).expect("parses");
        analysis::run_models(&s, &[backend]).remove(0)
    }

    fn poll(choices: &[&str], counts: Option<Vec<u64>>, answer: Option<&str>) -> Poll {
        Poll {
            id: "p1".into(),
            question: "Stable?".into(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
            state: PollState::Revealed,
            cell: None,
            answer: answer.map(str::to_string),
            counts,
        }
    }

    /// A stable question asks stable or unstable, answered by the run.
    #[test]
    fn a_stable_prediction_asks_stable_or_unstable() {
        let q = Prediction::Stable {
            backend: BackendId::Linux314,
        };
        let r = request(&q, Some(&run(BackendId::Linux314)), "nb#2");
        assert_eq!(r.question, q.question());
        assert_eq!(r.choices, ["stable", "unstable"]);
        assert_eq!(r.answer.as_deref(), Some("unstable"));
        assert_eq!(r.cell.as_deref(), Some("nb#2"));
    }

    /// A count question offers 0 ..= max(8, 2 × writes); the answer is one of them.
    #[test]
    fn a_count_prediction_offers_every_count_up_to_twice_the_writes() {
        let q = Prediction::NrMatched {
            backend: BackendId::Linux314,
            write: 4,
        };
        let r314 = run(BackendId::Linux314);
        let r = request(&q, Some(&r314), "nb#2");
        let top = (2 * r314.write_count()).max(8);
        assert_eq!(r.choices.len() as u32, top + 1);
        assert_eq!(r.choices[0], "0");
        assert_eq!(
            r.choices.last().map(String::as_str),
            Some(top.to_string().as_str())
        );
        let a = r.answer.expect("write 4 is in the run");
        assert!(r.choices.contains(&a), "{a}");
        // Without a run: 0 ..= 8, and no answer.
        let r = request(&q, None, "nb#2");
        assert_eq!(r.choices.len(), 9);
        assert_eq!(r.answer, None);
    }

    /// The instructor gets the poll's actions; a follower a button per
    /// choice, pressed on its answer, usable while open; the text escaped.
    #[test]
    fn the_heading_holds_each_ones_buttons() {
        let mut p = poll(&["<i>", "unstable"], None, None);
        p.state = PollState::Open;
        let teach = head(&p, Some("api/polls/p1/results.csv?token=a&b"), None);
        assert!(teach.contains(r#"data-act="close""#) && teach.contains(r#"data-act="reveal""#));
        assert!(
            teach.contains(r#"href="api/polls/p1/results.csv?token=a&amp;b" download"#),
            "{teach}"
        );
        assert!(!teach.contains(r#"data-act="answer""#), "{teach}");
        let room = head(&p, None, Some("unstable"));
        assert!(
            room.contains(r#"data-act="answer" data-value="1" aria-pressed="true">unstable<"#),
            "{room}"
        );
        assert!(
            room.contains(r#"aria-pressed="false">&lt;i&gt;<"#),
            "{room}"
        );
        assert!(
            !room.contains("disabled") && !room.contains("close"),
            "{room}"
        );
        p.state = PollState::Closed;
        assert_eq!(head(&p, None, None).matches(" disabled").count(), 2);
        assert_eq!(
            words(&p, false, Some("unstable")),
            "The poll is closed. Your answer: unstable."
        );
        p.state = PollState::Revealed;
        p.answer = Some("stable".into());
        assert_eq!(
            words(&p, false, Some("unstable")),
            "Revealed. Your answer: unstable. The answer: stable — not what you said."
        );
        let q = Prediction::Stable {
            backend: BackendId::Linux314,
        };
        assert!(tools(&[q]).starts_with(
            r#"<button data-act="ask" data-value="0">Ask the room: stable on linux-3.14?</button>"#
        ));
    }

    /// The markup escapes the choices and writes every count.
    #[test]
    fn the_distribution_is_escaped_markup_with_every_count() {
        let p = poll(&["<b>", "unstable"], Some(vec![1, 3]), Some("unstable"));
        let (bars, table) = distribution(&p);
        assert!(
            !bars.contains("<b>") && bars.contains("&lt;b&gt;"),
            "{bars}"
        );
        assert!(
            bars.contains(r#"data-choice="unstable" data-count="3""#),
            "{bars}"
        );
        assert!(
            bars.contains("✔ unstable") && bars.contains("width:75%"),
            "{bars}"
        );
        assert!(table.contains("<caption>4 answered</caption>"), "{table}");
        assert!(
            table.contains(r#"<td>&lt;b&gt;</td><td class="lab-num">1</td>"#),
            "{table}"
        );
    }

    /// A follower hears the question, then the answer with the counts.
    #[test]
    fn a_follower_hears_the_question_then_the_answer() {
        let mut p = poll(&["stable", "unstable"], None, None);
        p.state = PollState::Open;
        assert_eq!(
            words(&p, false, None),
            "The presenter asks: Stable? Not answered yet: pick one."
        );
        p.state = PollState::Revealed;
        p.answer = Some("unstable".into());
        p.counts = Some(vec![1, 2]);
        assert_eq!(
            words(&p, false, Some("unstable")),
            "Revealed. Your answer: unstable. The answer: unstable — as you said. \
             Answers: stable 1; unstable 2."
        );
        assert_eq!(
            words(&p, true, None),
            "Revealed to the room: 3 answered. The answer: unstable."
        );
    }
}
