//! Markdown cells: a small, safe subset rendered to HTML.
//!
//! Notebooks arrive in share links, so a cell's text is untrusted: every
//! character of it is escaped, and only the markup below is produced —
//! headings (`#`…`###`), paragraphs, `-`/`*` and `1.` lists, fenced code,
//! `**bold**`, `*italic*`, `` `code` `` and `[text](http…)` links. There is no
//! raw HTML. A full CommonMark parser would cost more bundle than this lab's
//! cells need.

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

enum Block {
    None,
    Para,
    List(&'static str),
}

/// Renders a markdown cell to HTML.
pub fn to_html(text: &str) -> String {
    let mut out = String::new();
    let mut block = Block::None;
    let mut code: Option<String> = None;
    let close = |out: &mut String, block: &mut Block| {
        match block {
            Block::Para => out.push_str("</p>\n"),
            Block::List(tag) => out.push_str(&format!("</li></{tag}>\n")),
            Block::None => {}
        }
        *block = Block::None;
    };
    for line in text.lines() {
        if let Some(buf) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push_str(&format!("<pre><code>{}</code></pre>\n", escape(buf)));
                code = None;
            } else {
                buf.push_str(line);
                buf.push('\n');
            }
            continue;
        }
        let t = line.trim();
        if t.starts_with("```") {
            close(&mut out, &mut block);
            code = Some(String::new());
        } else if t.is_empty() {
            close(&mut out, &mut block);
        } else if let Some((level, rest)) = heading(t) {
            close(&mut out, &mut block);
            out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(rest)));
        } else if let Some((tag, rest)) = list_item(t) {
            match block {
                Block::List(open) if open == tag => out.push_str("</li>\n<li>"),
                _ => {
                    close(&mut out, &mut block);
                    out.push_str(&format!("<{tag}>\n<li>"));
                    block = Block::List(tag);
                }
            }
            out.push_str(&inline(rest));
        } else {
            match block {
                Block::Para | Block::List(_) => out.push(' '),
                Block::None => {
                    out.push_str("<p>");
                    block = Block::Para;
                }
            }
            out.push_str(&inline(t));
        }
    }
    if let Some(buf) = code {
        out.push_str(&format!("<pre><code>{}</code></pre>\n", escape(&buf)));
    }
    close(&mut out, &mut block);
    out
}

fn heading(t: &str) -> Option<(usize, &str)> {
    let level = t.bytes().take_while(|&b| b == b'#').count();
    let rest = t[level..].strip_prefix(' ')?;
    (1..=6).contains(&level).then_some((level.min(4), rest))
}

fn list_item(t: &str) -> Option<(&'static str, &str)> {
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some(("ul", rest));
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let rest = t[digits..].strip_prefix(". ")?;
    (digits > 0).then_some(("ol", rest))
}

/// Inline markup of one line: code spans first (their content is literal),
/// then links, bold and italic on the escaped rest.
fn inline(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(start) = rest.find('`') {
        let Some(len) = rest[start + 1..].find('`') else {
            break;
        };
        out.push_str(&emphasis(&rest[..start]));
        out.push_str(&format!(
            "<code>{}</code>",
            escape(&rest[start + 1..start + 1 + len])
        ));
        rest = &rest[start + 2 + len..];
    }
    out.push_str(&emphasis(rest));
    out
}

fn emphasis(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    // Links: [text](http(s)://… or a relative path). Anything else stays text.
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](").map(|m| open + m) else {
            break;
        };
        let Some(end) = rest[mid..].find(')').map(|e| mid + e) else {
            break;
        };
        let url = &rest[mid + 2..end];
        out.push_str(&stars(&rest[..open]));
        if safe_url(url) {
            out.push_str(&format!(
                "<a href=\"{}\">{}</a>",
                escape(url),
                stars(&rest[open + 1..mid])
            ));
        } else {
            out.push_str(&stars(&rest[open..=end]));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(&stars(rest));
    out
}

fn safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || (!lower.contains(':') && !url.is_empty())
}

/// `**bold**` and `*italic*` on escaped text.
fn stars(t: &str) -> String {
    let t = escape(t);
    let mut out = String::new();
    let mut rest = t.as_str();
    loop {
        let (marker, tag) = match (rest.find("**"), rest.find('*')) {
            (Some(b), Some(i)) if b == i => ("**", "strong"),
            (_, Some(_)) => ("*", "em"),
            _ => break,
        };
        let start = rest.find(marker).unwrap_or(0);
        let Some(len) = rest[start + marker.len()..].find(marker) else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + marker.len()..start + marker.len() + len];
        out.push_str(&format!("<{tag}>{inner}</{tag}>"));
        rest = &rest[start + 2 * marker.len() + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_lists_and_code() {
        let html = to_html(
            "# Title\n\nSome *text* and **bold**\ncontinued.\n\n- one `a<b`\n- two\n\n1. first\n\n```\n<raw>\n```\n",
        );
        assert_eq!(
            html,
            "<h1>Title</h1>\n\
             <p>Some <em>text</em> and <strong>bold</strong> continued.</p>\n\
             <ul>\n<li>one <code>a&lt;b</code></li>\n<li>two</li></ul>\n\
             <ol>\n<li>first</li></ol>\n\
             <pre><code>&lt;raw&gt;\n</code></pre>\n"
        );
    }

    #[test]
    fn nothing_from_the_text_becomes_markup() {
        let html = to_html(
            "<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) [ok](https://lore.kernel.org/)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(
            html.contains("<a href=\"https://lore.kernel.org/\">ok</a>"),
            "{html}"
        );
        let quote = to_html("[a](x\" onclick=\"y)");
        assert!(!quote.contains("\" onclick"), "{quote}");
    }

    #[test]
    fn unclosed_markers_stay_text() {
        assert_eq!(to_html("2 * 3 and `tick"), "<p>2 * 3 and `tick</p>\n");
        assert_eq!(to_html("```\nopen"), "<pre><code>open\n</code></pre>\n");
    }
}
