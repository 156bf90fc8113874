//! `stance eval`: accuracy, macro-F1, per-class figures, confusion matrix and calibration on labelled data.

use super::model_arg;
use super::output::{clip, truncation_note};
use anyhow::{Result, bail};
use clap::ValueEnum;
use stance::data::{Labels, read_examples};
use stance::metrics::{Meter, Report};
use stance::train::gold_indices;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Evaluate a model on labelled statements: accuracy, macro-F1, per-class precision/recall/F1/support,
/// the confusion matrix (rows gold, columns predicted) and expected calibration error (15 bins).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: model_arg::ModelArg,
    /// Labelled data (.jsonl, .csv or .tsv).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Evaluate only the statements marked "hard": true (JSONL data).
    #[arg(long)]
    hard: bool,
    /// Also list the N most confident mistakes.
    #[arg(long, value_name = "N", default_value_t = 0)]
    errors: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// A wrong prediction.
struct Mistake<'a> {
    line: usize,
    text: &'a str,
    gold: &'a str,
    predicted: &'a str,
    confidence: f32,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let clf = args.model.load()?;
    let mut examples = read_examples(&args.data, Labels::Required)?;
    if args.hard {
        examples.retain(|e| e.extra.get("hard").and_then(|v| v.as_bool()) == Some(true));
        if examples.is_empty() {
            bail!(
                "{}: no statements marked \"hard\": true",
                args.data.display()
            );
        }
    }
    let labels = clf.labels().to_vec();
    let gold = gold_indices(&examples, &labels, &args.data)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let preds = clf.predict(&texts, 64)?;
    truncation_note(preds.truncated, clf.tokenizer().max_len());
    let mut meter = Meter::new(&labels);
    let mut mistakes = Vec::new();
    for ((p, &g), e) in preds.items.iter().zip(&gold).zip(&examples) {
        meter.add(g, p.index, p.confidence);
        if p.index != g {
            mistakes.push(Mistake {
                line: e.line,
                text: &e.text,
                gold: &labels[g],
                predicted: &labels[p.index],
                confidence: p.confidence,
            });
        }
    }
    mistakes.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.line.cmp(&b.line))
    });
    mistakes.truncate(args.errors);
    let report = meter.report();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if args.errors > 0 {
                v["errors"] = mistakes
                    .iter()
                    .map(|m| {
                        serde_json::json!({"line": m.line, "text": m.text, "gold": m.gold,
                            "predicted": m.predicted, "confidence": m.confidence})
                    })
                    .collect();
            }
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        }
        Format::Table => write_table(&mut out, &report, &mistakes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, r: &Report, mistakes: &[Mistake]) -> std::io::Result<()> {
    writeln!(out, "statements  {}", r.n)?;
    writeln!(out, "accuracy    {:.4}", r.accuracy)?;
    writeln!(out, "macro-F1    {:.4}", r.macro_f1)?;
    writeln!(out, "ECE         {:.4}", r.ece)?;
    writeln!(out)?;
    let w = r
        .confusion
        .labels
        .iter()
        .map(|l| l.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(out, "{:w$}  precision  recall      F1  support", "class")?;
    for label in &r.confusion.labels {
        let c = &r.per_class[label];
        writeln!(
            out,
            "{label:w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            c.precision, c.recall, c.f1, c.support
        )?;
    }
    writeln!(out)?;
    writeln!(out, "confusion (rows gold, columns predicted)")?;
    write!(out, "{:w$}", "")?;
    for l in &r.confusion.labels {
        write!(out, " {:>7}", clip(l, 7))?;
    }
    writeln!(out)?;
    for (label, row) in r.confusion.labels.iter().zip(&r.confusion.matrix) {
        write!(out, "{label:w$}")?;
        for n in row {
            write!(out, " {n:>7}")?;
        }
        writeln!(out)?;
    }
    if !mistakes.is_empty() {
        writeln!(out)?;
        writeln!(out, "most confident mistakes")?;
        for m in mistakes {
            writeln!(
                out,
                "line {:>5}  gold {:<12} predicted {:<12} {:.3}  {}",
                m.line,
                m.gold,
                m.predicted,
                m.confidence,
                clip(m.text, 80)
            )?;
        }
    }
    Ok(())
}
