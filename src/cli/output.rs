//! Output helpers shared by subcommands: output format choice, terminal detection, number formatting.

use clap::ValueEnum;
use std::io::IsTerminal;

/// How per-statement results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RowFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// `chosen`, or table on a terminal and `fallback` otherwise.
pub fn resolve(chosen: Option<RowFormat>, fallback: RowFormat) -> RowFormat {
    chosen.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            RowFormat::Table
        } else {
            fallback
        }
    })
}

/// `text` cut to at most `width` characters with an ellipsis.
pub fn clip(text: &str, width: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let mut s: String = flat.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A note on stderr about statements cut to the maximum length.
pub fn truncation_note(count: usize, max_len: usize) {
    if count > 0 {
        eprintln!("stance: note: {count} statement(s) longer than {max_len} tokens were truncated");
    }
}

/// Rounds probabilities for output (6 decimals).
pub fn round6(x: f32) -> f64 {
    (x as f64 * 1e6).round() / 1e6
}
