//! Every name the notebook keeps something under in the browser's storage,
//! in one place. A saved notebook, a theme or a learner's answers outlive
//! the build that wrote them, so these formats change only with a way to
//! read the old ones.

/// localStorage: the notebook as last edited (JSON, the file format).
pub const NOTEBOOK: &str = "tsclab.notebook.current";

/// localStorage: the theme the user chose, `dark` or `light`.
pub const THEME: &str = "tsclab.theme";

/// sessionStorage: the lab server's token, kept for the tab's other pages.
pub const TOKEN: &str = "tsclab.token";

/// sessionStorage: this tab's anonymous id for the class's polls (random,
/// made once per tab: the server keeps one answer per id, the last).
pub const TAB: &str = "tsclab.tab";

/// localStorage: a cell's prediction answers (JSON, spec → answer), under
/// the cell's progress key (see [`notebook_cell`] and [`embedded_cell`]).
pub fn answers(progress: &str) -> String {
    format!("tsclab.progress.{progress}")
}

/// The progress key of cell `id` of the notebook titled `title`.
pub fn notebook_cell(title: &str, id: u32) -> String {
    format!("{title}#{id}")
}

/// The progress key of the `index`th live cell of the page at `path` (the book).
pub fn embedded_cell(path: &str, index: usize) -> String {
    format!("{path}#cell{index}")
}

#[cfg(test)]
mod tests {
    /// Saved answers are found again only under the same names.
    #[test]
    fn the_formats_stay_as_saved_by_earlier_builds() {
        assert_eq!(
            super::answers(&super::notebook_cell("My notebook", 3)),
            "tsclab.progress.My notebook#3"
        );
        assert_eq!(
            super::answers(&super::embedded_cell("/book/ch1.html", 0)),
            "tsclab.progress./book/ch1.html#cell0"
        );
    }
}
