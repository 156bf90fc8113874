//! `stance classify`: label statements given as arguments or one per line on stdin.

use super::model_arg;
use super::output::{RowFormat, clip, resolve, round6, truncation_note};
use anyhow::{Result, bail};
use stance::Classifier;
use std::io::{BufRead, Write};
use std::process::ExitCode;

/// Statements read from stdin are classified in chunks of this many lines, so input of any size streams.
const CHUNK: usize = 4096;

/// Classify statements: give them as arguments, or one per line on stdin when there are none.
///
/// Prints, in input order, each statement's label, the confidence and the probability of every label.
/// Blank stdin lines are skipped.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: model_arg::ModelArg,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    format: Option<RowFormat>,
    /// Statements per forward pass.
    #[arg(long, default_value_t = stance::classifier::DEFAULT_BATCH)]
    batch_size: usize,
    /// Statements to classify (none: read stdin).
    #[arg(value_name = "TEXT")]
    texts: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let format = resolve(args.format, RowFormat::Jsonl);
    if let Some(i) = args.texts.iter().position(|t| t.trim().is_empty()) {
        bail!("argument {}: empty statement", i + 1);
    }
    let clf = args.model.load()?;
    let mut out = std::io::stdout().lock();
    let mut printer = Printer::new(format, &clf);
    let mut truncated = 0;
    if !args.texts.is_empty() {
        let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
        truncated += printer.classify(&mut out, &clf, &texts, args.batch_size)?;
    } else {
        let mut stdin = std::io::stdin().lock();
        let mut chunk: Vec<String> = Vec::new();
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            let n = stdin.read_until(b'\n', &mut buf)?;
            if n > 0 {
                line += 1;
                let Ok(text) = std::str::from_utf8(&buf) else {
                    bail!("<stdin>:{line}: invalid UTF-8");
                };
                if !text.trim().is_empty() {
                    chunk.push(text.trim_end_matches(['\n', '\r']).to_string());
                }
            }
            if (n == 0 && !chunk.is_empty()) || chunk.len() >= CHUNK {
                let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
                truncated += printer.classify(&mut out, &clf, &texts, args.batch_size)?;
                chunk.clear();
            }
            if n == 0 {
                break;
            }
        }
    }
    out.flush()?;
    truncation_note(truncated, clf.tokenizer().max_len());
    Ok(ExitCode::SUCCESS)
}

/// Writes rows in the chosen format (a header first for table and csv).
struct Printer {
    format: RowFormat,
    started: bool,
    labels: Vec<String>,
}

impl Printer {
    fn new(format: RowFormat, clf: &Classifier) -> Self {
        Self {
            format,
            started: false,
            labels: clf.labels().to_vec(),
        }
    }

    fn classify(
        &mut self,
        out: &mut impl Write,
        clf: &Classifier,
        texts: &[&str],
        batch: usize,
    ) -> Result<usize> {
        let preds = clf.predict(texts, batch)?;
        if !self.started {
            self.started = true;
            match self.format {
                RowFormat::Table => writeln!(out, "{:<13} {:>6}  text", "label", "conf")?,
                RowFormat::Csv => writeln!(out, "text,label,confidence,{}", self.labels.join(","))?,
                RowFormat::Jsonl => {}
            }
        }
        for (text, p) in texts.iter().zip(&preds.items) {
            let label = &self.labels[p.index];
            match self.format {
                RowFormat::Jsonl => {
                    let scores: serde_json::Map<String, serde_json::Value> = self
                        .labels
                        .iter()
                        .zip(&p.scores)
                        .map(|(l, s)| (l.clone(), round6(*s).into()))
                        .collect();
                    let row = serde_json::json!({"text": text, "label": label,
                        "confidence": round6(p.confidence), "scores": scores});
                    writeln!(out, "{row}")?;
                }
                RowFormat::Table => writeln!(
                    out,
                    "{label:<13} {:>6.3}  {}",
                    p.confidence,
                    clip(text, 100)
                )?,
                RowFormat::Csv => {
                    let mut w = csv::Writer::from_writer(Vec::new());
                    let mut rec = vec![
                        text.to_string(),
                        label.clone(),
                        round6(p.confidence).to_string(),
                    ];
                    rec.extend(p.scores.iter().map(|s| round6(*s).to_string()));
                    w.write_record(&rec)?;
                    out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
                }
            }
        }
        Ok(preds.truncated)
    }
}
