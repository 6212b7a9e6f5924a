//! The lexical helpers the parser and the checker share: a line's words and
//! their columns (counted in characters, 1-based). A leaf.

/// A whitespace-separated word and its 1-based character column.
#[derive(Clone, Copy)]
pub(crate) struct Tok<'a> {
    pub(crate) text: &'a str,
    pub(crate) col: u32,
}

/// The words of a line, with their columns.
pub(crate) fn tokens(code: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, u32)> = None;
    let mut col = 0u32;
    for (i, c) in code.char_indices() {
        col += 1;
        if c.is_whitespace() {
            if let Some((s, sc)) = start.take() {
                out.push(Tok {
                    text: &code[s..i],
                    col: sc,
                });
            }
        } else if start.is_none() {
            start = Some((i, col));
        }
    }
    if let Some((s, sc)) = start {
        out.push(Tok {
            text: &code[s..],
            col: sc,
        });
    }
    out
}

/// The column of the `n`-th word of a line (1 if there is none).
pub(crate) fn col_of_token(line: &str, n: usize) -> u32 {
    tokens(line).get(n).map_or(1, |t| t.col)
}
