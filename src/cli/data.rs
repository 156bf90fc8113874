//! `stance data check`: the health of labelled data files.

use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use stance::datacheck::{CheckOptions, Counts, DataReport, Kind, check};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Work with labelled data files.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    Check(CheckArgs),
}

/// Check labelled data: counts per label, domain and file; length percentiles; exact and near duplicates
/// (word-trigram Jaccard ≥ 0.6) within and across files; the same text with two labels; empty, over-long
/// and malformed rows; the id, domain and hard fields.
///
/// Exits non-zero when statements are duplicated across files, a text carries two labels, or rows are
/// malformed. Duplicates within one file are reported but allowed.
#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// Data files (.jsonl, .csv or .tsv).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Report statements longer than this many words.
    #[arg(long, default_value_t = 60)]
    max_words: usize,
    /// Do not require the id, domain and hard fields (for data from elsewhere).
    #[arg(long)]
    lenient_fields: bool,
    /// Show at most this many findings of each kind.
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let DataCommand::Check(a) = args.command;
    let opts = CheckOptions {
        max_words: a.max_words,
        strict_fields: !a.lenient_fields,
    };
    let report = check(&a.files, &opts)?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
        Format::Table => write_report(&mut out, &report, a.show)?,
    }
    out.flush()?;
    if report.failed() {
        let cross = report.findings.iter().filter(|f| f.cross_file).count();
        bail!(
            "data check failed: {cross} duplicate(s) across files, {} label conflict(s), {} bad row(s), {} field problem(s)",
            report.count(Kind::LabelConflict),
            report.count(Kind::BadRow),
            report.count(Kind::Field)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_counts(out: &mut impl Write, name: &str, c: &Counts) -> std::io::Result<()> {
    let pct = |n: usize| 100.0 * n as f64 / c.statements.max(1) as f64;
    writeln!(
        out,
        "{name}: {} statements, {} hard ({:.0}%)",
        c.statements,
        c.hard,
        pct(c.hard)
    )?;
    let labels: Vec<String> = c.labels.iter().map(|(l, n)| format!("{l} {n}")).collect();
    writeln!(out, "  labels   {}", labels.join(", "))?;
    let mut domains: Vec<(&String, &usize)> = c.domains.iter().collect();
    domains.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let domains: Vec<String> = domains
        .iter()
        .map(|(d, n)| format!("{d} {n} ({:.0}%)", pct(**n)))
        .collect();
    if !domains.is_empty() {
        writeln!(out, "  domains  {}", domains.join(", "))?;
    }
    let words: Vec<String> = ["p5", "p25", "p50", "p75", "p95", "max"]
        .iter()
        .filter_map(|k| c.words.get(*k).map(|v| format!("{k} {v}")))
        .collect();
    writeln!(out, "  words    {}", words.join(", "))
}

fn write_report(out: &mut impl Write, r: &DataReport, show: usize) -> std::io::Result<()> {
    for (name, c) in &r.files {
        write_counts(out, name, c)?;
    }
    if r.files.len() > 1 {
        write_counts(out, "all files", &r.total)?;
    }
    writeln!(out)?;
    let kinds = [
        (Kind::BadRow, "bad rows"),
        (Kind::Field, "field problems"),
        (Kind::OverLong, "over-long statements"),
        (Kind::LabelConflict, "label conflicts"),
        (Kind::ExactDuplicate, "exact duplicates"),
        (Kind::NearDuplicate, "near duplicates"),
    ];
    for (kind, name) in kinds {
        let found: Vec<_> = r.findings.iter().filter(|f| f.kind == kind).collect();
        let cross = found.iter().filter(|f| f.cross_file).count();
        writeln!(out, "{name}: {} ({cross} across files)", found.len())?;
        for f in found.iter().take(show) {
            match &f.other {
                Some(o) => writeln!(out, "  {} ~ {}: {}", f.at, o, f.message)?,
                None => writeln!(out, "  {}", f.message)?,
            }
        }
        if found.len() > show {
            writeln!(out, "  … {} more", found.len() - show)?;
        }
    }
    Ok(())
}
