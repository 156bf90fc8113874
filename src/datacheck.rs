//! Checking labelled data sets (`stance data check`): counts per label, domain and file; length
//! percentiles; exact and near duplicates within and across files; the same text under two labels;
//! empty, over-long and malformed rows; record fields (id, domain, hard) and duplicate ids.
//! Near duplicates are pairs whose lower-cased, punctuation-stripped word trigrams have a Jaccard
//! similarity of at least 0.6.

use crate::data::{Example, Labels, read_lenient};
use crate::error::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// Jaccard similarity of word trigrams at or above which two statements are near duplicates.
pub const NEAR_DUPLICATE: f64 = 0.6;

/// The domains a record may name.
pub const DOMAINS: [&str; 9] = [
    "international",
    "domestic_politics",
    "business",
    "sports",
    "health",
    "labour",
    "technology",
    "courts_police",
    "climate_energy",
];

/// Settings of a check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Statements longer than this many words are reported.
    pub max_words: usize,
    /// Require the record fields id, domain (from [`DOMAINS`]) and hard (a boolean).
    pub strict_fields: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            max_words: 60,
            strict_fields: true,
        }
    }
}

/// Where a statement is: file and 1-based line.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What kind of problem a finding is.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Unreadable row: malformed JSON, invalid UTF-8, empty text, missing label.
    BadRow,
    /// A missing or invalid id, domain or hard field, or an id used twice.
    Field,
    /// More words than allowed.
    OverLong,
    /// The same (normalised) text twice with the same label.
    ExactDuplicate,
    /// Trigram Jaccard ≥ 0.6.
    NearDuplicate,
    /// The same text under two labels.
    LabelConflict,
}

/// One problem found.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub at: Place,
    /// The other statement of a pair.
    pub other: Option<Place>,
    /// Whether a pair spans two files.
    pub cross_file: bool,
    pub message: String,
}

/// Counts for one file (or all files together).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub statements: usize,
    pub hard: usize,
    pub labels: BTreeMap<String, usize>,
    pub domains: BTreeMap<String, usize>,
    /// Word-count percentiles: p5, p25, p50, p75, p95, max.
    pub words: BTreeMap<String, usize>,
}

/// The outcome of a check.
#[derive(Clone, Debug, Serialize)]
pub struct DataReport {
    pub files: BTreeMap<String, Counts>,
    pub total: Counts,
    pub findings: Vec<Finding>,
}

impl DataReport {
    /// Whether the data fail the check: any duplicate across files, any label conflict, or any bad row.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| {
            f.cross_file || matches!(f.kind, Kind::LabelConflict | Kind::BadRow | Kind::Field)
        })
    }

    /// Number of findings of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
}

struct Item {
    at: Place,
    text: String,
    label: Option<String>,
}

/// Checks the data files `paths`.
pub fn check(paths: &[PathBuf], opts: &CheckOptions) -> Result<DataReport> {
    let mut items = Vec::new();
    let mut findings = Vec::new();
    let mut files = BTreeMap::new();
    let mut total_examples = Vec::new();
    let mut ids: HashMap<String, Place> = HashMap::new();
    for path in paths {
        let (examples, bad) = read_lenient(path, Labels::Required)?;
        for e in bad {
            let (file, line) = match &e {
                crate::Error::Data { path, line, .. } => (path.clone(), *line),
                _ => (path.clone(), 0),
            };
            findings.push(Finding {
                kind: Kind::BadRow,
                at: Place { file, line },
                other: None,
                cross_file: false,
                message: e.to_string(),
            });
        }
        for e in &examples {
            let at = Place {
                file: path.clone(),
                line: e.line,
            };
            let words = e.text.split_whitespace().count();
            if words > opts.max_words {
                findings.push(single(
                    Kind::OverLong,
                    &at,
                    format!("{words} words (at most {})", opts.max_words),
                ));
            }
            if opts.strict_fields {
                check_fields(e, &at, &mut ids, &mut findings);
            }
            items.push(Item {
                at,
                text: e.text.clone(),
                label: e.label.clone(),
            });
        }
        files.insert(path.display().to_string(), counts(&examples));
        total_examples.extend(examples);
    }
    pairs(&items, &mut findings);
    findings.sort_by(|a, b| (a.kind, &a.at).cmp(&(b.kind, &b.at)));
    Ok(DataReport {
        files,
        total: counts(&total_examples),
        findings,
    })
}

fn single(kind: Kind, at: &Place, message: String) -> Finding {
    Finding {
        kind,
        at: at.clone(),
        other: None,
        cross_file: false,
        message,
    }
}

fn check_fields(e: &Example, at: &Place, ids: &mut HashMap<String, Place>, out: &mut Vec<Finding>) {
    match e.extra.get("id").and_then(|v| v.as_str()) {
        None => out.push(single(Kind::Field, at, "missing string \"id\"".into())),
        Some(id) => {
            if let Some(first) = ids.get(id) {
                out.push(Finding {
                    kind: Kind::Field,
                    at: at.clone(),
                    other: Some(first.clone()),
                    cross_file: false,
                    message: format!("id {id:?} used before at {first}"),
                });
            } else {
                ids.insert(id.to_string(), at.clone());
            }
        }
    }
    match e.extra.get("domain").and_then(|v| v.as_str()) {
        Some(d) if DOMAINS.contains(&d) => {}
        Some(d) => out.push(single(Kind::Field, at, format!("unknown domain {d:?}"))),
        None => out.push(single(Kind::Field, at, "missing string \"domain\"".into())),
    }
    if !e.extra.get("hard").is_some_and(|v| v.is_boolean()) {
        out.push(single(
            Kind::Field,
            at,
            "\"hard\" must be true or false".into(),
        ));
    }
}

fn counts(examples: &[Example]) -> Counts {
    let mut c = Counts {
        statements: examples.len(),
        ..Counts::default()
    };
    for e in examples {
        *c.labels
            .entry(e.label.clone().unwrap_or_default())
            .or_default() += 1;
        if let Some(d) = e.extra.get("domain").and_then(|v| v.as_str()) {
            *c.domains.entry(d.to_string()).or_default() += 1;
        }
        if e.extra.get("hard").and_then(|v| v.as_bool()) == Some(true) {
            c.hard += 1;
        }
    }
    let mut lens: Vec<usize> = examples
        .iter()
        .map(|e| e.text.split_whitespace().count())
        .collect();
    lens.sort_unstable();
    if !lens.is_empty() {
        for (name, q) in [
            ("p5", 0.05),
            ("p25", 0.25),
            ("p50", 0.5),
            ("p75", 0.75),
            ("p95", 0.95),
            ("max", 1.0),
        ] {
            let i = ((lens.len() - 1) as f64 * q).round() as usize;
            c.words.insert(name.to_string(), lens[i]);
        }
    }
    c
}

/// Lower-cased words with punctuation removed.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c.is_whitespace() {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The set of word trigrams (a shorter text is one "trigram" of all its words).
pub fn trigrams(text: &str) -> HashSet<Vec<String>> {
    let w = words(text);
    if w.len() < 3 {
        return std::iter::once(w).collect();
    }
    w.windows(3).map(|t| t.to_vec()).collect()
}

/// Finds exact duplicates, near duplicates and label conflicts among all items.
fn pairs(items: &[Item], out: &mut Vec<Finding>) {
    let grams: Vec<HashSet<Vec<String>>> = items.iter().map(|i| trigrams(&i.text)).collect();
    let mut index: HashMap<&Vec<String>, Vec<usize>> = HashMap::new();
    for (i, g) in grams.iter().enumerate() {
        for t in g {
            index.entry(t).or_default().push(i);
        }
    }
    for (i, g) in grams.iter().enumerate() {
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for t in g {
            for &j in &index[t] {
                if j > i {
                    *shared.entry(j).or_default() += 1;
                }
            }
        }
        let mut js: Vec<(usize, usize)> = shared.into_iter().collect();
        js.sort_unstable();
        for (j, inter) in js {
            let jaccard = inter as f64 / (g.len() + grams[j].len() - inter) as f64;
            if jaccard < NEAR_DUPLICATE {
                continue;
            }
            let (a, b) = (&items[i], &items[j]);
            let same_text = words(&a.text) == words(&b.text);
            let kind = if same_text && a.label != b.label {
                Kind::LabelConflict
            } else if same_text {
                Kind::ExactDuplicate
            } else {
                Kind::NearDuplicate
            };
            let message = match kind {
                Kind::LabelConflict => format!(
                    "same text labelled {} and {}",
                    a.label.as_deref().unwrap_or("?"),
                    b.label.as_deref().unwrap_or("?")
                ),
                Kind::ExactDuplicate => "same text".to_string(),
                _ => format!("near duplicate (trigram Jaccard {jaccard:.2})"),
            };
            out.push(Finding {
                kind,
                at: b.at.clone(),
                other: Some(a.at.clone()),
                cross_file: a.at.file != b.at.file,
                message,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, rows: &[(&str, &str)]) -> PathBuf {
        let p = dir.path().join(name);
        let body: String = rows
            .iter()
            .enumerate()
            .map(|(i, (t, l))| {
                serde_json::json!({"id": format!("{name}-{i}"), "text": t, "label": l,
                    "domain": "international", "hard": false})
                .to_string()
                    + "\n"
            })
            .collect();
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn trigram_similarity_ignores_case_and_punctuation() {
        assert_eq!(
            trigrams("The Minister, said: no!"),
            trigrams("the minister said no")
        );
        assert_eq!(trigrams("Hi there").len(), 1);
    }

    #[test]
    fn finds_duplicates_conflicts_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(
            &dir,
            "a.jsonl",
            &[
                (
                    "The ministry rejected the report as baseless on Monday.",
                    "denial",
                ),
                (
                    "Troops massed near the border overnight, officials said.",
                    "neutral",
                ),
                (
                    "A completely different sentence about the harbour strike.",
                    "neutral",
                ),
            ],
        );
        let b = file(
            &dir,
            "b.jsonl",
            &[
                (
                    "The ministry rejected the report as baseless on Monday!",
                    "threat",
                ),
                (
                    "Troops massed near the border overnight, officials said on Friday.",
                    "neutral",
                ),
            ],
        );
        let r = check(&[a, b], &CheckOptions::default()).unwrap();
        assert_eq!(r.count(Kind::LabelConflict), 1);
        assert_eq!(r.count(Kind::NearDuplicate), 1);
        assert!(r.failed());
        assert_eq!(r.total.statements, 5);
        assert_eq!(r.total.labels["neutral"], 3);
        assert_eq!(r.files.len(), 2);
        let conflict = r
            .findings
            .iter()
            .find(|f| f.kind == Kind::LabelConflict)
            .unwrap();
        assert!(conflict.cross_file);
        assert!(
            conflict.at.to_string().ends_with("b.jsonl:1"),
            "{}",
            conflict.at
        );
    }

    #[test]
    fn clean_data_passes_and_within_file_duplicates_only_warn() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(
            &dir,
            "a.jsonl",
            &[
                (
                    "Officials met in Geneva to discuss the ceasefire terms.",
                    "neutral",
                ),
                (
                    "Officials met in Geneva to discuss the ceasefire terms.",
                    "neutral",
                ),
            ],
        );
        let r = check(&[a], &CheckOptions::default()).unwrap();
        assert_eq!(r.count(Kind::ExactDuplicate), 1);
        assert!(!r.failed());
    }

    #[test]
    fn fields_and_lengths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        let long = "word ".repeat(70);
        std::fs::write(
            &p,
            format!(
                "{{\"id\":\"1\",\"text\":\"ok fine\",\"label\":\"neutral\",\"domain\":\"space\",\"hard\":false}}\n\
                 {{\"id\":\"1\",\"text\":\"{long}\",\"label\":\"neutral\",\"domain\":\"sports\",\"hard\":\"no\"}}\n\
                 {{\"text\":\"\",\"label\":\"neutral\"}}\n"
            ),
        )
        .unwrap();
        let r = check(&[p], &CheckOptions::default()).unwrap();
        assert_eq!(r.count(Kind::OverLong), 1);
        assert_eq!(r.count(Kind::BadRow), 1);
        let fields: Vec<&str> = r
            .findings
            .iter()
            .filter(|f| f.kind == Kind::Field)
            .map(|f| f.message.as_str())
            .collect();
        assert!(
            fields
                .iter()
                .any(|m| m.contains("unknown domain \"space\"")),
            "{fields:?}"
        );
        assert!(
            fields.iter().any(|m| m.contains("id \"1\" used before")),
            "{fields:?}"
        );
        assert!(
            fields.iter().any(|m| m.contains("\"hard\" must be")),
            "{fields:?}"
        );
        assert!(r.failed());
    }
}
