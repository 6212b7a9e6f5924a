//! # lab-web — the TSC Lab notebook
//!
//! A Yew application compiled to WebAssembly. The kernel models of the
//! `scenarios` crate run in the page; real KVM streams from `lab-server`
//! when one is reachable. Everything that is not drawing — what a run shows
//! at write k, divergences, predictions, exports, share links, markdown, an
//! imported trace's cell and words, what a live poll asks and says, the names
//! kept in the browser's storage
//! — lives in plain modules with native tests; `ui` holds the components and
//! the hooks that drive them (the `ui` feature, on by default; without it
//! the crate is that plain logic alone, as `lab-server notebook` uses it).

pub mod analysis;
pub mod charts;
pub mod export;
pub mod imported;
pub mod ipynb;
pub mod keys;
pub mod markdown;
pub mod notebook;
pub mod poll;
pub mod share;
#[cfg(feature = "ui")]
pub mod ui;
