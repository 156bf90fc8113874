//! Scoring whole articles: reading them as a stream from text files, directories, JSONL files and stdin
//! ([`Articles`]), splitting them into statements ([`crate::segment`]), classifying the statements of
//! many articles together ([`Scorer`]) and summarizing each article ([`Summary`]).
//!
//! Memory stays bounded whatever the input size: files are read one article at a time, JSONL line by
//! line (a line is never held beyond a limit derived from the article size limit), and the scorer holds
//! only the articles of one batch. An input that cannot be read or parsed becomes a [`Failure`] in the
//! stream, in input order, and reading goes on with the next article.

use crate::classifier::{Classifier, Prediction};
use crate::error::{Error, Result};
use crate::segment::{Span, segment};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Default size limit of one article's text, in bytes (1 MiB).
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// Default number of statements the [`Scorer`] gathers (from as many articles as it takes) before it
/// runs the model. The model sorts them by length into forward passes, so a larger pool wastes less on
/// padding; 1024 statements cost a few MB.
pub const DEFAULT_BATCH_STATEMENTS: usize = 1024;

/// Default number of statements per forward pass when scoring: small length-sorted batches pad least
/// (16 measured about 5% faster than 32 and 12% faster than 64 with a 2-layer, 128-wide model).
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// The most articles the [`Scorer`] holds at once, whatever their statement count (bounds the latency
/// and memory of many tiny or empty articles).
const MAX_PENDING_ARTICLES: usize = 4096;

/// The most bytes of articles (text and meta) the [`Scorer`] holds at once, whatever their statement
/// count (bounds the memory of large articles with few statements).
const MAX_PENDING_BYTES: usize = 32 << 20;

/// The `doc` name of standard input.
pub const STDIN: &str = "-";

/// Where articles come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A path as given: a directory (every `.txt` file beneath it, recursively, in sorted order), a
    /// `.jsonl` file (one article per line), or any other file (one plain-text article).
    Path(PathBuf),
    /// Standard input, in the given format.
    Stdin(StdinFormat),
}

/// How standard input is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdinFormat {
    /// All of stdin is one plain-text article.
    Text,
    /// One article per line, as in a `.jsonl` file.
    Jsonl,
}

impl Source {
    /// `-` is standard input read as `stdin`; anything else is a path.
    pub fn parse(arg: &Path, stdin: StdinFormat) -> Self {
        if arg.as_os_str() == STDIN {
            Source::Stdin(stdin)
        } else {
            Source::Path(arg.to_path_buf())
        }
    }
}

/// One article to score.
#[derive(Clone, Debug, PartialEq)]
pub struct Article {
    /// The document id: the file path as given or found, the JSONL `"id"` field, or `PATH:LINE` for a
    /// JSONL line without one (`-` is standard input).
    pub doc: String,
    /// The article's text (UTF-8, at most the size limit).
    pub text: String,
    /// The other fields of a JSONL line (empty for text files).
    pub meta: Map<String, Value>,
}

/// An input that yielded no article, with the reason.
#[derive(Debug)]
pub struct Failure {
    /// The document id as far as it is known (the path, or `PATH:LINE` for a JSONL line).
    pub doc: String,
    /// What went wrong, naming the file (and line).
    pub error: Error,
}

/// One item of the input stream: an article, or an input that failed.
pub type Item = std::result::Result<Article, Failure>;

/// The articles of a list of sources, read lazily in order; see the module documentation.
pub struct Articles {
    sources: VecDeque<Source>,
    /// Directories being walked: the remaining sorted entries of each level.
    walk: Vec<std::vec::IntoIter<PathBuf>>,
    jsonl: Option<JsonlReader>,
    max_bytes: usize,
}

struct JsonlReader {
    reader: Box<dyn BufRead>,
    /// The path for error messages (`<stdin>` for standard input).
    path: PathBuf,
    /// The prefix of `PATH:LINE` document ids.
    doc: String,
    line: usize,
    buf: Vec<u8>,
}

impl Articles {
    /// Reads `sources` in order; articles over `max_bytes` bytes of text are failures.
    pub fn new(sources: impl IntoIterator<Item = Source>, max_bytes: usize) -> Self {
        Self {
            sources: sources.into_iter().collect(),
            walk: Vec::new(),
            jsonl: None,
            max_bytes,
        }
    }

    /// Opens `source`: returns an item for a single-article source, or sets up a walk or a JSONL
    /// reader and returns `None`.
    fn open(&mut self, source: Source) -> Option<Item> {
        match source {
            Source::Stdin(StdinFormat::Text) => Some(
                read_text(
                    std::io::stdin().lock(),
                    self.max_bytes,
                    Path::new("<stdin>"),
                )
                .map(|text| Article {
                    doc: STDIN.to_string(),
                    text,
                    meta: Map::new(),
                })
                .map_err(|error| Failure {
                    doc: STDIN.to_string(),
                    error,
                }),
            ),
            Source::Stdin(StdinFormat::Jsonl) => {
                self.jsonl = Some(JsonlReader::new(
                    Box::new(std::io::stdin().lock()),
                    PathBuf::from("<stdin>"),
                    STDIN.to_string(),
                ));
                None
            }
            Source::Path(path) => {
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) => return Some(fail(&path, Error::io(&path, &e))),
                };
                if meta.is_dir() {
                    match sorted_entries(&path) {
                        Ok(entries) => self.walk.push(entries.into_iter()),
                        Err(error) => return Some(fail(&path, error)),
                    }
                    None
                } else if is_jsonl(&path) {
                    match File::open(&path) {
                        Ok(f) => {
                            let doc = path.display().to_string();
                            self.jsonl = Some(JsonlReader::new(
                                Box::new(BufReader::with_capacity(1 << 16, f)),
                                path,
                                doc,
                            ));
                            None
                        }
                        Err(e) => Some(fail(&path, Error::io(&path, &e))),
                    }
                } else {
                    Some(self.text_file(&path))
                }
            }
        }
    }

    /// The next item of the directory walk, if one is under way.
    fn walk_next(&mut self) -> Option<Item> {
        while let Some(level) = self.walk.last_mut() {
            let Some(path) = level.next() else {
                self.walk.pop();
                continue;
            };
            // Entries were classified when listed: directories are walked, other paths are .txt files.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => match sorted_entries(&path) {
                    Ok(entries) => self.walk.push(entries.into_iter()),
                    Err(error) => return Some(fail(&path, error)),
                },
                Ok(_) => return Some(self.text_file(&path)),
                Err(e) => return Some(fail(&path, Error::io(&path, &e))),
            }
        }
        None
    }

    fn text_file(&self, path: &Path) -> Item {
        let text = File::open(path)
            .map_err(|e| Error::io(path, &e))
            .and_then(|f| read_text(f, self.max_bytes, path));
        match text {
            Ok(text) => Ok(Article {
                doc: path.display().to_string(),
                text,
                meta: Map::new(),
            }),
            Err(error) => Err(fail_doc(path, error)),
        }
    }
}

impl Iterator for Articles {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.walk_next() {
                return Some(item);
            }
            if let Some(reader) = &mut self.jsonl {
                match reader.next(self.max_bytes) {
                    Some(item) => return Some(item),
                    None => self.jsonl = None,
                }
            }
            let source = self.sources.pop_front()?;
            if let Some(item) = self.open(source) {
                return Some(item);
            }
        }
    }
}

fn fail(path: &Path, error: Error) -> Item {
    Err(fail_doc(path, error))
}

fn fail_doc(path: &Path, error: Error) -> Failure {
    Failure {
        doc: path.display().to_string(),
        error,
    }
}

fn is_jsonl(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
}

/// The subdirectories and `.txt` files of `dir`, sorted by path. Symbolic links to directories are not
/// followed (so a walk cannot loop); links to files are read.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, &e))? {
        let entry = entry.map_err(|e| Error::io(dir, &e))?;
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let is_txt = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
        if is_dir || (is_txt && std::fs::metadata(&path).is_ok_and(|m| m.is_file())) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a whole plain-text article, failing beyond `max_bytes` (without reading further) or on invalid
/// UTF-8.
fn read_text(reader: impl Read, max_bytes: usize, path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() > max_bytes {
        return Err(Error::file(path, over_limit(max_bytes)));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::file(
            path,
            format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        )
    })
}

fn over_limit(max_bytes: usize) -> String {
    format!("article longer than the size limit of {max_bytes} bytes")
}

impl JsonlReader {
    fn new(reader: Box<dyn BufRead>, path: PathBuf, doc: String) -> Self {
        Self {
            reader,
            path,
            doc,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next article or failure, skipping blank lines; `None` at the end (or after a read error,
    /// which is returned first).
    fn next(&mut self, max_bytes: usize) -> Option<Item> {
        // JSON escapes take at most 6 bytes per byte of text, plus room for the other fields.
        let limit = max_bytes.saturating_mul(6).saturating_add(1 << 16);
        loop {
            self.buf.clear();
            let read = read_line_limited(&mut self.reader, &mut self.buf, limit);
            let doc = || format!("{}:{}", self.doc, self.line + 1);
            let complete = match read {
                Ok(None) => return None,
                Ok(Some(complete)) => complete,
                Err(e) => {
                    let failure = Failure {
                        doc: doc(),
                        error: Error::data(&self.path, self.line + 1, e.to_string()),
                    };
                    // A read error ends this input: clear the reader by swapping in an empty one.
                    self.reader = Box::new(std::io::empty());
                    return Some(Err(failure));
                }
            };
            self.line += 1;
            let doc = format!("{}:{}", self.doc, self.line);
            let error = |msg: String| {
                Some(Err(Failure {
                    doc: doc.clone(),
                    error: Error::data(&self.path, self.line, msg),
                }))
            };
            if !complete {
                return error(format!(
                    "line longer than {limit} bytes: {}",
                    over_limit(max_bytes)
                ));
            }
            let line = match std::str::from_utf8(&self.buf) {
                Ok(s) => s,
                Err(e) => return error(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
            };
            if line.trim().is_empty() {
                continue;
            }
            let mut obj = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(obj)) => obj,
                Ok(_) => return error("expected a JSON object".into()),
                Err(e) => return error(format!("malformed JSON: {e}")),
            };
            let doc = match obj.remove("id") {
                None | Some(Value::Null) => doc.clone(),
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return error(format!(
                        "\"id\" must be a string or a number, found {other}"
                    ));
                }
            };
            let fail = |msg: String| {
                Some(Err(Failure {
                    doc: doc.clone(),
                    error: Error::data(&self.path, self.line, msg),
                }))
            };
            let text = match obj.remove("text") {
                None | Some(Value::Null) => return fail("missing \"text\" field".into()),
                Some(Value::String(s)) => s,
                Some(other) => return fail(format!("\"text\" must be a string, found {other}")),
            };
            if text.trim().is_empty() {
                return fail("empty text".into());
            }
            if text.len() > max_bytes {
                return fail(over_limit(max_bytes));
            }
            return Some(Ok(Article {
                doc,
                text,
                meta: obj,
            }));
        }
    }
}

/// Reads one line (without its `\n` or `\r\n`) into `buf`, keeping at most `limit` bytes and skipping
/// the rest of a longer line. Returns `None` at the end of input, else whether the line was complete.
fn read_line_limited(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<bool>> {
    let mut seen = false;
    let mut complete = true;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        seen = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = limit.saturating_sub(buf.len());
        if take > room {
            complete = false;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !seen {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(complete))
}

/// One classified statement of an article.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// Where it is in the article's text.
    pub span: Span,
    /// The model's label and probabilities.
    pub prediction: Prediction,
}

/// An article with its classified statements, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub article: Article,
    pub statements: Vec<Statement>,
}

/// What the [`Scorer`] yields: a scored article or a failed input, in input order.
#[derive(Debug)]
pub enum Outcome {
    Scored(Scored),
    Failed(Failure),
}

/// Per-article figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Number of statements.
    pub statements: usize,
    /// Statements per label, in label order.
    pub counts: Vec<usize>,
    /// Per label, the index of the statement with that label and the highest confidence (the first on
    /// ties), or `None` when no statement has it.
    pub top: Vec<Option<usize>>,
}

impl Scored {
    /// Counts and most confident statements for a model with `labels` classes.
    pub fn summary(&self, labels: usize) -> Summary {
        let mut counts = vec![0; labels];
        let mut top: Vec<Option<(usize, f32)>> = vec![None; labels];
        for (i, s) in self.statements.iter().enumerate() {
            let (label, conf) = (s.prediction.index, s.prediction.confidence);
            if label >= labels {
                continue;
            }
            counts[label] += 1;
            if top[label].is_none_or(|(_, best)| conf > best) {
                top[label] = Some((i, conf));
            }
        }
        Summary {
            statements: self.statements.len(),
            counts,
            top: top.into_iter().map(|t| t.map(|(i, _)| i)).collect(),
        }
    }
}

/// How the [`Scorer`] batches work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreOptions {
    /// Statements gathered from consecutive articles before the model runs.
    pub batch_statements: usize,
    /// Statements per forward pass.
    pub batch_size: usize,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            batch_statements: DEFAULT_BATCH_STATEMENTS,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// The model reads at most its maximum length in tokens, and a token stands for far fewer bytes than
/// this on any real text; so the model is given at most `max_len * MODEL_BYTES_PER_TOKEN` bytes of a
/// statement, which changes no prediction but spares tokenizing (and holding the overflow of) a huge
/// unpunctuated line in full.
const MODEL_BYTES_PER_TOKEN: usize = 32;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Roughly how many bytes `v` takes in memory.
fn size(v: &Value) -> usize {
    32 + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(size).sum(),
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + size(v)).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// An input item after segmentation, waiting for the model.
enum Pending {
    Article(Article, Vec<Span>),
    Failed(Failure),
}

/// Segments and classifies the articles of `input`, yielding one [`Outcome`] per input item in input
/// order. Statements of consecutive articles are classified together, [`ScoreOptions::batch_statements`]
/// at a time, so only one batch of articles is held in memory. An `Err` is a model failure (not a bad
/// input) and ends the stream.
pub struct Scorer<'c, I> {
    clf: &'c Classifier,
    input: I,
    opts: ScoreOptions,
    ready: VecDeque<Outcome>,
    truncated: usize,
    done: bool,
}

impl<'c, I: Iterator<Item = Item>> Scorer<'c, I> {
    pub fn new(clf: &'c Classifier, input: I, opts: ScoreOptions) -> Self {
        Self {
            clf,
            input,
            opts,
            ready: VecDeque::new(),
            truncated: 0,
            done: false,
        }
    }

    /// How many statements so far were longer than the model's maximum length and cut.
    pub fn truncated(&self) -> usize {
        self.truncated
    }

    /// Reads, segments and classifies the next batch of articles into `ready`.
    fn fill(&mut self) -> Result<()> {
        let mut pending = Vec::new();
        let mut statements = 0;
        let mut bytes = 0;
        while statements < self.opts.batch_statements.max(1)
            && pending.len() < MAX_PENDING_ARTICLES
            && bytes < MAX_PENDING_BYTES
        {
            match self.input.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Ok(article)) => {
                    bytes += article.text.len()
                        + article
                            .meta
                            .iter()
                            .map(|(k, v)| k.len() + size(v))
                            .sum::<usize>();
                    let spans = segment(&article.text);
                    statements += spans.len();
                    pending.push(Pending::Article(article, spans));
                }
                Some(Err(failure)) => pending.push(Pending::Failed(failure)),
            }
        }
        let texts: Vec<&str> = pending
            .iter()
            .flat_map(|p| match p {
                Pending::Article(a, spans) => self.texts(a, spans),
                Pending::Failed(_) => Vec::new(),
            })
            .collect();
        let preds = match self.classify(&texts) {
            Ok(preds) => preds,
            // Some statement cannot be tokenized: find its article by classifying one article at a
            // time, and report that article as failed.
            Err(Error::Tokenizer(_)) => {
                drop(texts);
                for p in pending {
                    let outcome = match p {
                        Pending::Failed(f) => Outcome::Failed(f),
                        Pending::Article(article, spans) => {
                            match self.classify(&self.texts(&article, &spans)) {
                                Ok(preds) => scored(article, spans, &mut preds.into_iter()),
                                Err(Error::Tokenizer(msg)) => Outcome::Failed(Failure {
                                    error: Error::file(&article.doc, format!("tokenizer: {msg}")),
                                    doc: article.doc,
                                }),
                                Err(e) => return Err(e),
                            }
                        }
                    };
                    self.ready.push_back(outcome);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        drop(texts);
        let mut preds = preds.into_iter();
        for p in pending {
            self.ready.push_back(match p {
                Pending::Failed(f) => Outcome::Failed(f),
                Pending::Article(article, spans) => scored(article, spans, &mut preds),
            });
        }
        Ok(())
    }

    /// What the model is given of each statement of `article`: its text, cut to what the model can read
    /// (see [`MODEL_BYTES_PER_TOKEN`]).
    fn texts<'a>(&self, article: &'a Article, spans: &[Span]) -> Vec<&'a str> {
        let cap = self
            .clf
            .tokenizer()
            .max_len()
            .saturating_mul(MODEL_BYTES_PER_TOKEN);
        spans
            .iter()
            .map(|s| prefix(s.text(&article.text), cap))
            .collect()
    }

    /// Runs the model over `texts`: one prediction per text, in order.
    fn classify(&mut self, texts: &[&str]) -> Result<Vec<Prediction>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.clf.predict(texts, self.opts.batch_size.max(1))?;
        if out.items.len() != texts.len() {
            return Err(Error::Invalid(format!(
                "the model returned {} predictions for {} statements",
                out.items.len(),
                texts.len()
            )));
        }
        self.truncated += out.truncated;
        Ok(out.items)
    }
}

/// `article` with its statements, taking one prediction per span from `preds`.
fn scored(
    article: Article,
    spans: Vec<Span>,
    preds: &mut impl Iterator<Item = Prediction>,
) -> Outcome {
    Outcome::Scored(Scored {
        statements: spans
            .into_iter()
            .zip(preds)
            .map(|(span, prediction)| Statement { span, prediction })
            .collect(),
        article,
    })
}

impl<I: Iterator<Item = Item>> Iterator for Scorer<'_, I> {
    type Item = Result<Outcome>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(input: &str, limit: usize) -> Vec<(String, bool)> {
        let mut r = Cursor::new(input.as_bytes().to_vec());
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(complete) = read_line_limited(&mut r, &mut buf, limit).unwrap() {
            out.push((String::from_utf8(buf.clone()).unwrap(), complete));
            buf.clear();
        }
        out
    }

    #[test]
    fn lines_are_cut_at_the_limit() {
        assert_eq!(
            lines("ab\r\ncdefgh\n\nij", 4),
            [
                ("ab".to_string(), true),
                ("cdef".to_string(), false),
                (String::new(), true),
                ("ij".to_string(), true)
            ]
        );
        assert!(lines("", 4).is_empty());
    }

    fn jsonl(input: &str, max_bytes: usize) -> Vec<Item> {
        let mut r = JsonlReader::new(
            Box::new(Cursor::new(input.as_bytes().to_vec())),
            PathBuf::from("in.jsonl"),
            "in.jsonl".into(),
        );
        std::iter::from_fn(|| r.next(max_bytes)).collect()
    }

    #[test]
    fn jsonl_articles_and_failures() {
        let items = jsonl(
            "{\"id\":\"a\",\"text\":\"One. Two.\",\"src\":\"x\"}\n\n{\"text\":\"No id.\"}\n{bad\n{\"id\":7}\n{\"id\":8,\"text\":\" \"}\n{\"text\":\"0123456789\"}\n[1]\n",
            9,
        );
        let docs: Vec<String> = items
            .iter()
            .map(|i| match i {
                Ok(a) => a.doc.clone(),
                Err(f) => format!("{} ! {}", f.doc, f.error),
            })
            .collect();
        assert_eq!(docs[0], "a");
        assert_eq!(docs[1], "in.jsonl:3");
        assert!(docs[2].starts_with("in.jsonl:4 ! in.jsonl:4: malformed JSON"));
        assert_eq!(docs[3], "7 ! in.jsonl:5: missing \"text\" field");
        assert_eq!(docs[4], "8 ! in.jsonl:6: empty text");
        assert!(docs[5].contains("size limit of 9 bytes"), "{}", docs[5]);
        assert_eq!(docs[6], "in.jsonl:8 ! in.jsonl:8: expected a JSON object");
        let Ok(first) = &items[0] else { panic!() };
        assert_eq!(first.meta.get("src"), Some(&Value::String("x".into())));
    }

    #[test]
    fn summary_counts_and_tops() {
        let st = |index, confidence| Statement {
            span: Span { start: 0, end: 0 },
            prediction: Prediction {
                index,
                confidence,
                scores: vec![],
            },
        };
        let s = Scored {
            article: Article {
                doc: "d".into(),
                text: String::new(),
                meta: Map::new(),
            },
            statements: vec![st(1, 0.5), st(0, 0.4), st(1, 0.9), st(1, 0.9)],
        };
        let sum = s.summary(3);
        assert_eq!(sum.statements, 4);
        assert_eq!(sum.counts, [1, 3, 0]);
        assert_eq!(sum.top, [Some(1), Some(2), None]);
    }

    #[test]
    fn prefixes_end_on_char_boundaries() {
        assert_eq!(prefix("abc", 5), "abc");
        assert_eq!(prefix("abc", 2), "ab");
        assert_eq!(prefix("aé", 2), "a");
        assert_eq!(prefix("é", 0), "");
    }

    #[test]
    fn text_limit_and_utf8() {
        assert_eq!(read_text(&b"abc"[..], 3, Path::new("f")).unwrap(), "abc");
        let e = read_text(&b"abcd"[..], 3, Path::new("f")).unwrap_err();
        assert!(e.to_string().contains("size limit"));
        let e = read_text(&b"ab\xffc"[..], 9, Path::new("f")).unwrap_err();
        assert_eq!(e.to_string(), "f: invalid UTF-8 at byte 2");
    }
}
