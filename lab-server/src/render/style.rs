//! The colours of the CLI: what draws the eye, in one place.
//!
//! Every renderer writes these styles unconditionally; the stream decides
//! (`anstream::AutoStream`, set up once in `main` from `--color` and
//! `NO_COLOR`): a terminal keeps them, a pipe or `--color never` gets the
//! same bytes with the escape sequences stripped. So a styled text must
//! already be padded to its column: the padding is counted without the
//! styles, and a stripped table lines up exactly as a plain one.

use std::fmt::Display;

use anstyle::{AnsiColor, Style};
use scenarios::trace::{Count, Tone};

/// kvmclock STABLE.
pub(crate) const STABLE: Style = AnsiColor::Green.on_default().bold();
/// kvmclock UNSTABLE.
pub(crate) const UNSTABLE: Style = AnsiColor::Red.on_default().bold();
/// A write that leaves the counter wrong (`+1!`, `=!`; "counted again (the
/// 2014 bug)"): `Tone::Miscounted`, as the notebook colours it.
pub(crate) const MISCOUNTED: Style = AnsiColor::Red.on_default().bold();
/// `◀ first divergence`.
pub(crate) const DIVERGENCE: Style = AnsiColor::Yellow.on_default().bold();
/// The `file:line:col:` of an error, as compilers show it.
pub(crate) const LOCATION: Style = Style::new().bold();

/// `text` in `style` (its reset after it).
pub(crate) fn paint(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

/// The style of a write's count mark: only what is wrong stands out.
pub(crate) fn count(c: Option<Count>) -> Style {
    match c.map(Count::tone) {
        Some(Tone::Miscounted) => MISCOUNTED,
        _ => Style::new(),
    }
}

/// A write's `why`, its last step (`counted again (the 2014 bug)`) painted
/// when the write is the 2014 bug.
pub(crate) fn why(why: &str, c: Option<Count>) -> String {
    if !c.is_some_and(Count::is_the_2014_bug) {
        return why.to_string();
    }
    let (head, last) = match why.rfind(" → ") {
        Some(i) => why.split_at(i + " → ".len()),
        None => ("", why),
    };
    format!("{head}{}", paint(MISCOUNTED, last))
}

/// An error message for stderr: each line's `file:line:col:` (or
/// `file:line:`) prefix painted. The prefix is the text up to the first
/// `:N:` or `:N:N:` whose part before holds no `": "` (a message's own
/// colon and space come later).
pub(crate) fn error(msg: &str) -> String {
    msg.split_inclusive('\n')
        .map(|line| match location_end(line) {
            Some(end) => format!("{}{}", paint(LOCATION, &line[..end]), &line[end..]),
            None => line.to_string(),
        })
        .collect()
}

/// Where a line's `file:line[:col]:` prefix ends (after its last colon).
fn location_end(line: &str) -> Option<usize> {
    if line.starts_with(':') {
        return None;
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find(':') {
        let colon = i + off;
        if colon > 0 && line[..colon].contains(": ") {
            return None;
        }
        let digits = |from: usize| {
            bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let n = digits(colon + 1);
        if colon > 0 && n > 0 && bytes.get(colon + 1 + n) == Some(&b':') {
            let after_line = colon + 1 + n;
            let m = digits(after_line + 1);
            return Some(if m > 0 && bytes.get(after_line + 1 + m) == Some(&b':') {
                after_line + 1 + m + 1
            } else {
                after_line + 1
            });
        }
        i = colon + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_of_an_error_is_its_prefix() {
        assert_eq!(
            location_end("<stdin>:2:7: vCPU 5"),
            Some("<stdin>:2:7:".len())
        );
        assert_eq!(location_end("a b.tsc:12: x"), Some("a b.tsc:12:".len()));
        assert_eq!(
            location_end("library/x.tsc:17:1: linux-3.17: KVM_VCPU_TSC_OFFSET"),
            Some("library/x.tsc:17:1:".len())
        );
        assert_eq!(location_end("kvm: not run: at 1:2: no"), None);
        assert_eq!(location_end("no location here"), None);
        assert_eq!(location_end(":3:4: nameless"), None);
    }

    #[test]
    fn painting_strips_back_to_the_plain_text() {
        let msg = "f.tsc:3:3: unknown statement\nf.tsc:2:1: never closed\nplain line\n";
        let painted = error(msg);
        assert_ne!(painted, msg);
        assert_eq!(anstream::adapter::strip_str(&painted).to_string(), msg);
        let why = "matched → already in generation 1 → counted again (the 2014 bug)";
        let painted = super::why(why, Some(Count::CountedAgain));
        assert!(painted.ends_with(&format!("{}", MISCOUNTED.render_reset())));
        assert_eq!(anstream::adapter::strip_str(&painted).to_string(), why);
        assert_eq!(super::why(why, Some(Count::Counted)), why);
    }
}
