//! `stance eval`: accuracy, macro-F1, per-class figures, confusion matrix and calibration on labelled
//! data, with bootstrap intervals and an optional paired comparison against a second model.

use super::model_arg;
use super::output::{clip, truncation_note};
use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use stance::Classifier;
use stance::bootstrap::{Bootstrap, Comparison, GainKept, Intervals};
use stance::data::{Labels, read_examples};
use stance::metrics::{Meter, Report};
use stance::train::gold_indices;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Evaluate a model on labelled statements: accuracy, macro-F1, per-class precision/recall/F1/support,
/// the confusion matrix (rows gold, columns predicted) and expected calibration error (15 bins).
///
/// Accuracy and macro-F1 come with 95% bootstrap confidence intervals (statements resampled with
/// replacement, seeded, so every run prints the same intervals). With --compare, a second model is
/// evaluated on the same statements and the difference between the two is tested by the paired
/// bootstrap: if its interval excludes 0, the difference is unlikely to be luck of the sample.
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
    /// Resamples for the 95% bootstrap intervals of accuracy, macro-F1 and --compare's differences
    /// (0: no intervals).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    bootstrap: usize,
    /// Also evaluate the model in DIR on the same statements and report this model minus that one
    /// (accuracy, macro-F1) with paired-bootstrap intervals. Both models need the same labels.
    #[arg(long, value_name = "DIR")]
    compare: Option<PathBuf>,
    /// With --compare TEACHER: how much of TEACHER's macro-F1 gain over the model in DIR this model
    /// keeps, (this − DIR) / (TEACHER − DIR), with its bootstrap interval. For judging a distilled
    /// student against its teacher and a model trained without one.
    #[arg(long, value_name = "DIR", requires = "compare")]
    gain_over: Option<PathBuf>,
}

/// A model given to --compare or --gain-over, and its predictions as indices into the evaluated
/// model's labels.
struct Other {
    dir: PathBuf,
    predicted: Vec<usize>,
    report: Report,
}

/// What --compare and --gain-over found (without intervals when --bootstrap is 0).
struct Comparisons {
    compared: Other,
    difference: Comparison,
    gain: Option<(Other, GainKept)>,
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
    // The other models are loaded and their labels checked before any work.
    let load = |flag: &str, dir: &Option<PathBuf>| -> Result<Option<(PathBuf, Classifier)>> {
        let Some(dir) = dir else { return Ok(None) };
        let other = Classifier::load(dir).with_context(|| format!("{flag} {}", dir.display()))?;
        let sorted = |l: &[String]| {
            let mut l = l.to_vec();
            l.sort();
            l
        };
        if sorted(other.labels()) != sorted(clf.labels()) {
            bail!(
                "{flag} {}: its labels ({}) differ from the evaluated model's ({})",
                dir.display(),
                other.labels().join(", "),
                clf.labels().join(", ")
            );
        }
        Ok(Some((dir.clone(), other)))
    };
    let compared = load("--compare", &args.compare)?;
    let gain_over = load("--gain-over", &args.gain_over)?;
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
    let predicted: Vec<usize> = preds.items.iter().map(|p| p.index).collect();
    let boot = Bootstrap::new(args.bootstrap);
    let with_ci = args.bootstrap > 0;
    let intervals = with_ci.then(|| boot.intervals(labels.len(), &gold, &predicted));
    let max_len = clf.tokenizer().max_len();
    let score = |(dir, model): (PathBuf, Classifier)| -> Result<Other> {
        let predicted = predict_as(&model, &labels, &texts, max_len)?;
        let mut m = Meter::new(&labels);
        for (&p, &g) in predicted.iter().zip(&gold) {
            m.add(g, p, 1.0);
        }
        Ok(Other {
            dir,
            predicted,
            report: m.report(),
        })
    };
    let comparisons = match compared.map(score).transpose()? {
        Some(compared) => {
            let k = labels.len();
            let difference = boot.compare(k, &gold, &predicted, &compared.predicted);
            let gain = gain_over.map(score).transpose()?.map(|base| {
                let kept =
                    boot.gain_kept(k, &gold, &predicted, &compared.predicted, &base.predicted);
                (base, kept)
            });
            Some(Comparisons {
                compared,
                difference,
                gain,
            })
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let Some(ci) = &intervals {
                v["ci"] = serde_json::to_value(ci)?;
            }
            if let Some(c) = &comparisons {
                let figures = |o: &Other| {
                    serde_json::json!({
                        "model": o.dir.display().to_string(),
                        "accuracy": o.report.accuracy,
                        "macro_f1": o.report.macro_f1,
                        "per_class": o.report.per_class,
                    })
                };
                v["compare"] = figures(&c.compared);
                if with_ci {
                    v["compare"]["difference"] = serde_json::to_value(&c.difference)?;
                }
                if let Some((base, kept)) = &c.gain {
                    v["gain_over"] = figures(base);
                    if with_ci {
                        v["gain_over"]["gain_kept"] = serde_json::to_value(kept)?;
                    }
                }
            }
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
        Format::Table => {
            write_table(&mut out, &report, intervals.as_ref(), &mistakes)?;
            if let Some(c) = &comparisons {
                write_comparisons(&mut out, &report, c)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `other`'s predictions for `texts` as indices into `labels` (the evaluated model's label order).
fn predict_as(
    other: &Classifier,
    labels: &[String],
    texts: &[&str],
    max_len: usize,
) -> Result<Vec<usize>> {
    let preds = other.predict(texts, 64)?;
    if other.tokenizer().max_len() != max_len {
        truncation_note(preds.truncated, other.tokenizer().max_len());
    }
    // The labels are the same set (checked on loading); only their order may differ.
    Ok(preds
        .items
        .iter()
        .map(|p| {
            let name = &other.labels()[p.index];
            labels.iter().position(|l| l == name).unwrap_or(p.index)
        })
        .collect())
}

/// "0.9551  (95% CI 0.9436–0.9660)", or the figure alone without intervals.
fn with_interval(x: f64, ci: Option<(f64, f64, f64)>) -> String {
    match ci {
        Some((level, lo, hi)) => format!("{x:.4}  ({:.0}% CI {lo:.4}–{hi:.4})", level * 100.0),
        None => format!("{x:.4}"),
    }
}

fn write_table(
    out: &mut impl Write,
    r: &Report,
    ci: Option<&Intervals>,
    mistakes: &[Mistake],
) -> std::io::Result<()> {
    let acc = ci.map(|c| (c.level, c.accuracy.lo, c.accuracy.hi));
    let f1 = ci.map(|c| (c.level, c.macro_f1.lo, c.macro_f1.hi));
    writeln!(out, "statements  {}", r.n)?;
    writeln!(out, "accuracy    {}", with_interval(r.accuracy, acc))?;
    writeln!(out, "macro-F1    {}", with_interval(r.macro_f1, f1))?;
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

fn write_comparisons(out: &mut impl Write, mine: &Report, c: &Comparisons) -> std::io::Result<()> {
    let (b, d) = (&c.compared, &c.difference);
    let with_ci = d.resamples > 0;
    writeln!(out)?;
    writeln!(
        out,
        "compared with {}: accuracy {:.4}, macro-F1 {:.4}",
        b.dir.display(),
        b.report.accuracy,
        b.report.macro_f1
    )?;
    if with_ci {
        let pct = d.level * 100.0;
        let (a, f) = (d.accuracy_difference_ci, d.macro_f1_difference_ci);
        writeln!(
            out,
            "difference  accuracy {:+.4} ({pct:.0}% CI {:+.4} to {:+.4}), macro-F1 {:+.4} ({pct:.0}% CI {:+.4} to {:+.4})",
            d.accuracy_difference, a.lo, a.hi, d.macro_f1_difference, f.lo, f.hi
        )?;
        writeln!(
            out,
            "this model's macro-F1 is higher in {:.1}% of {} paired resamples",
            d.macro_f1_higher_share * 100.0,
            d.resamples
        )?;
    } else {
        writeln!(
            out,
            "difference  accuracy {:+.4}, macro-F1 {:+.4}",
            d.accuracy_difference, d.macro_f1_difference
        )?;
    }
    if let Some((base, k)) = &c.gain {
        writeln!(
            out,
            "gain over {}: macro-F1 {:.4}; the compared model gains {:+.4}, this model {:+.4}",
            base.dir.display(),
            base.report.macro_f1,
            b.report.macro_f1 - base.report.macro_f1,
            mine.macro_f1 - base.report.macro_f1
        )?;
        write!(
            out,
            "this model keeps {:.1}% of the compared model's gain",
            k.share * 100.0
        )?;
        if with_ci {
            write!(
                out,
                " ({:.0}% CI {:.1}% to {:.1}%, {} resamples with a gain)",
                k.level * 100.0,
                k.ci.lo * 100.0,
                k.ci.hi * 100.0,
                k.resamples
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}
