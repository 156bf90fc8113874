//! `stance score`: split whole articles into statements and classify each one, streaming.

use super::model_arg;
use super::output::{RowFormat, clip, resolve, round6, truncation_note};
use anyhow::Result;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};
use stance::score::{
    Articles, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_STATEMENTS, DEFAULT_MAX_BYTES, Failure, Outcome,
    ScoreOptions, Scored, Scorer, Source, StdinFormat,
};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Score articles: split each into statements (sentences, headlines, captions, bullet lines) and
/// classify every statement.
///
/// Each PATH is a text file (one article), a directory (every .txt file beneath it, recursively, in
/// sorted order), a .jsonl file (one article per line: {"id", "text", ...}; other fields are passed
/// through under "meta"), or - for standard input. Prints one row per statement: the document, the
/// statement's index and byte offsets in the article, its text, label, confidence and the probability
/// of every label. An input that cannot be read (missing or unreadable file, invalid UTF-8, malformed
/// JSONL line, missing or empty "text", article over --max-bytes) gives an error row {"doc", "error"}
/// and a message on stderr, and scoring goes on; the exit status is then 3.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: model_arg::ModelArg,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    format: Option<RowFormat>,
    /// After each article's rows, print its summary: statements, count per label, and the index of the
    /// most confident statement of each label.
    #[arg(long)]
    summary: bool,
    /// How to read standard input (-): one plain-text article, or one JSON article per line.
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    stdin_format: StdinArg,
    /// Size limit of one article's text in bytes (suffixes K, M, G: powers of 1024); larger articles
    /// are input errors.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES, value_parser = parse_bytes)]
    max_bytes: usize,
    /// Statements per forward pass.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = positive)]
    batch_size: usize,
    /// Statements gathered from consecutive articles before the model runs.
    #[arg(long, default_value_t = DEFAULT_BATCH_STATEMENTS, hide = true, value_parser = positive)]
    batch_statements: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Articles: .txt files, directories, .jsonl files, or - for stdin.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StdinArg {
    Text,
    Jsonl,
}

/// Parses a count of at least 1.
fn positive(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?}: expected a whole number of at least 1")),
    }
}

/// Parses a byte count such as `1048576`, `512K` or `1M`.
fn parse_bytes(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "{s:?}: expected a number of bytes such as 500000, 512K or 1M"
            ));
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a number of bytes such as 500000, 512K or 1M"))?;
    match n.checked_mul(1 << shift) {
        Some(0) => Err("the size limit must be at least 1 byte".into()),
        Some(n) => Ok(n),
        None => Err(format!("{s:?}: too large")),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let format = resolve(args.format, RowFormat::Jsonl);
    let clf = args.model.load()?;
    let stdin = match args.stdin_format {
        StdinArg::Text => StdinFormat::Text,
        StdinArg::Jsonl => StdinFormat::Jsonl,
    };
    let sources: Vec<Source> = args.paths.iter().map(|p| Source::parse(p, stdin)).collect();
    let opts = ScoreOptions {
        batch_statements: args.batch_statements,
        batch_size: args.batch_size,
    };
    let mut scorer = Scorer::new(&clf, Articles::new(sources, args.max_bytes), opts);
    let mut progress = Progress::new(args.quiet);
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let printer = Printer {
        format,
        summary: args.summary,
        labels: clf.labels().to_vec(),
    };
    let failed = print_all(&mut scorer, &printer, &mut out, &mut progress);
    progress.finish();
    let failed = failed?;
    truncation_note(scorer.truncated(), clf.tokenizer().max_len());
    Ok(if failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints every outcome of `scorer` as it comes, flushing at least every half second; returns how
/// many inputs failed.
fn print_all<I: Iterator<Item = stance::score::Item>>(
    scorer: &mut Scorer<'_, I>,
    printer: &Printer,
    out: &mut impl Write,
    progress: &mut Progress,
) -> Result<usize> {
    printer.header(out)?;
    let mut failed = 0;
    for outcome in scorer {
        match outcome? {
            Outcome::Scored(s) => {
                printer.scored(out, &s)?;
                progress.article(s.statements.len());
            }
            Outcome::Failed(f) => {
                failed += 1;
                printer.failed(out, &f)?;
                progress.message(&format!("stance: {}", f.error));
                progress.article(0);
            }
        }
        if progress.flush_due() {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(failed)
}

/// The progress bar on stderr (articles, statements, statements/s); drawn only when stderr is a
/// terminal and --quiet is not given.
struct Progress {
    bar: ProgressBar,
    statements: u64,
    start: Instant,
    last_flush: Instant,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} articles  {msg}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        if !bar.is_hidden() {
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        let now = Instant::now();
        Self {
            bar,
            statements: 0,
            start: now,
            last_flush: now,
        }
    }

    fn article(&mut self, statements: usize) {
        self.statements += statements as u64;
        let total = self.statements;
        if !self.bar.is_hidden() {
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            self.bar.set_message(format!(
                "{total} statements  {:.0} statements/s",
                total as f64 / secs
            ));
        }
        self.bar.inc(1);
    }

    /// A one-line message on stderr that does not garble the bar.
    fn message(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Whether buffered rows should be flushed now (every half second), so that output streams.
    fn flush_due(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.last_flush).as_millis() >= 500 {
            self.last_flush = now;
            true
        } else {
            false
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Writes rows, error rows and summaries in the chosen format.
struct Printer {
    format: RowFormat,
    summary: bool,
    labels: Vec<String>,
}

impl Printer {
    fn header(&self, out: &mut impl Write) -> Result<()> {
        match self.format {
            RowFormat::Csv => {
                let mut rec: Vec<&str> = vec![
                    "doc",
                    "index",
                    "start",
                    "end",
                    "text",
                    "label",
                    "confidence",
                ];
                rec.extend(self.labels.iter().map(String::as_str));
                rec.push("error");
                csv_row(out, &rec)?;
            }
            RowFormat::Table | RowFormat::Jsonl => {}
        }
        Ok(())
    }

    fn scored(&self, out: &mut impl Write, s: &Scored) -> Result<()> {
        let doc = &s.article.doc;
        if self.format == RowFormat::Table {
            writeln!(out, "== {doc}")?;
        }
        for (i, st) in s.statements.iter().enumerate() {
            let p = &st.prediction;
            let label = self.labels.get(p.index).map_or("?", String::as_str);
            let text = st.span.text(&s.article.text);
            match self.format {
                RowFormat::Jsonl => {
                    let scores: Map<String, Value> = self
                        .labels
                        .iter()
                        .zip(&p.scores)
                        .map(|(l, x)| (l.clone(), round6(*x).into()))
                        .collect();
                    let mut row = json!({"doc": doc, "index": i, "start": st.span.start,
                        "end": st.span.end, "text": text, "label": label,
                        "confidence": round6(p.confidence), "scores": scores});
                    if !s.article.meta.is_empty() {
                        row["meta"] = Value::Object(s.article.meta.clone());
                    }
                    writeln!(out, "{row}")?;
                }
                RowFormat::Csv => {
                    let mut rec = vec![
                        doc.clone(),
                        i.to_string(),
                        st.span.start.to_string(),
                        st.span.end.to_string(),
                        text.to_string(),
                        label.to_string(),
                        round6(p.confidence).to_string(),
                    ];
                    rec.extend(p.scores.iter().map(|x| round6(*x).to_string()));
                    rec.push(String::new());
                    csv_row(out, &rec)?;
                }
                RowFormat::Table => writeln!(
                    out,
                    "{i:>4}  {label:<13} {:>6.3}  {}",
                    p.confidence,
                    clip(text, 100)
                )?,
            }
        }
        if self.summary {
            self.write_summary(out, s)?;
        }
        Ok(())
    }

    fn write_summary(&self, out: &mut impl Write, s: &Scored) -> Result<()> {
        let sum = s.summary(self.labels.len());
        match self.format {
            RowFormat::Jsonl => {
                let counts: Map<String, Value> = self
                    .labels
                    .iter()
                    .zip(&sum.counts)
                    .map(|(l, n)| (l.clone(), (*n).into()))
                    .collect();
                let top: Map<String, Value> = self
                    .labels
                    .iter()
                    .zip(&sum.top)
                    .map(|(l, t)| (l.clone(), t.map_or(Value::Null, Value::from)))
                    .collect();
                let row = json!({"doc": s.article.doc, "summary":
                    {"statements": sum.statements, "counts": counts, "top": top}});
                writeln!(out, "{row}")?;
            }
            RowFormat::Csv => {
                // A summary row: label "summary", and each label column holds that label's count.
                let mut rec = vec![
                    s.article.doc.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    "summary".to_string(),
                    String::new(),
                ];
                rec.extend(sum.counts.iter().map(usize::to_string));
                rec.push(String::new());
                csv_row(out, &rec)?;
            }
            RowFormat::Table => {
                let counts: Vec<String> = self
                    .labels
                    .iter()
                    .zip(&sum.counts)
                    .map(|(l, n)| format!("{l} {n}"))
                    .collect();
                let top: Vec<String> = self
                    .labels
                    .iter()
                    .zip(&sum.top)
                    .filter_map(|(l, t)| t.map(|i| format!("{l} #{i}")))
                    .collect();
                writeln!(
                    out,
                    "      summary: {} statements; {}",
                    sum.statements,
                    counts.join(", ")
                )?;
                if !top.is_empty() {
                    writeln!(out, "      most confident: {}", top.join(", "))?;
                }
            }
        }
        Ok(())
    }

    fn failed(&self, out: &mut impl Write, f: &Failure) -> Result<()> {
        let msg = f.error.to_string();
        match self.format {
            RowFormat::Jsonl => writeln!(out, "{}", json!({"doc": f.doc, "error": msg}))?,
            RowFormat::Csv => {
                let mut rec = vec![f.doc.clone()];
                rec.extend(std::iter::repeat_n(String::new(), 6 + self.labels.len()));
                rec.push(msg);
                csv_row(out, &rec)?;
            }
            RowFormat::Table => writeln!(out, "== {}\n      error: {msg}", f.doc)?,
        }
        Ok(())
    }
}

/// Writes one CSV record (quoted as needed).
fn csv_row<S: AsRef<[u8]>>(out: &mut impl Write, rec: &[S]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(rec)?;
    out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("512K"), Ok(512 << 10));
        assert_eq!(parse_bytes("1M"), Ok(1 << 20));
        assert_eq!(parse_bytes("2gb"), Ok(2 << 30));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("1.5M").is_err());
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("").is_err());
    }
}
