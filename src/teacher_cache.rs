//! The teacher's labels kept on disk between distillation runs, so that trying another student
//! architecture or schedule does not make the teacher label the same statements again.
//!
//! The file is JSON Lines. Line 1 names the teacher by the SHA-256 of its three model files and lists
//! its labels; every further line is one statement with the teacher's log-probabilities:
//! `{"text": "...", "logits": [..]}`, plus `"pooled": [..]`, the teacher's statement vector, when a
//! student learned to match it (`--match-pooled`). A cache written by another teacher is set aside
//! (started afresh), never mixed. Numbers round-trip exactly through JSON, so a cached value is the
//! value the teacher computed.

use crate::error::{Error, Result};
use crate::model_dir::{self, CONFIG, TOKENIZER, WEIGHTS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
struct Header {
    stance_teacher_cache: u32,
    teacher: String,
    labels: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Row {
    text: String,
    logits: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pooled: Option<Vec<f32>>,
}

/// What the teacher says about one statement.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherOutput {
    /// Log-probabilities, one per label.
    pub logits: Vec<f32>,
    /// The pooled statement vector the teacher's classifier head reads, when it was asked for.
    pub pooled: Option<Vec<f32>>,
}

const VERSION: u32 = 1;

/// How an opened cache relates to the teacher it was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// No file yet: it will be created.
    New,
    /// The file is this teacher's: its statements are reused.
    Reused,
    /// The file was written by another teacher (or another label set): it will be overwritten.
    Replaced,
}

/// Teacher outputs by statement text, backed by a file.
pub struct TeacherCache {
    path: PathBuf,
    header: Header,
    rows: Vec<Row>,
    index: HashMap<String, usize>,
    opened: Opened,
}

/// The SHA-256 (hex) of a model directory's config, weights and tokenizer, in that order.
pub fn fingerprint(dir: &Path) -> Result<String> {
    let mut hash = Sha256::new();
    for name in [CONFIG, WEIGHTS, TOKENIZER] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, &e))?;
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(format!("{:x}", hash.finalize()))
}

impl TeacherCache {
    /// Opens `path` for the teacher with fingerprint `teacher` and `labels`. A missing file gives an
    /// empty cache; a file of another teacher gives an empty cache that replaces it on [`save`](Self::save);
    /// a malformed file is an error naming its line.
    pub fn open(path: &Path, teacher: &str, labels: &[String]) -> Result<Self> {
        let header = Header {
            stance_teacher_cache: VERSION,
            teacher: teacher.to_string(),
            labels: labels.to_vec(),
        };
        let mut cache = TeacherCache {
            path: path.to_path_buf(),
            header,
            rows: Vec::new(),
            index: HashMap::new(),
            opened: Opened::New,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(Error::io(path, &e)),
        };
        let mut lines = BufReader::new(file).lines();
        let first = match lines.next() {
            None => return Ok(cache),
            Some(line) => line.map_err(|e| Error::io(path, &e))?,
        };
        let found: Header = serde_json::from_str(&first)
            .map_err(|e| Error::data(path, 1, format!("not a teacher cache header ({e})")))?;
        if found.stance_teacher_cache != VERSION
            || found.teacher != cache.header.teacher
            || found.labels != cache.header.labels
        {
            cache.opened = Opened::Replaced;
            return Ok(cache);
        }
        cache.opened = Opened::Reused;
        for (i, line) in lines.enumerate() {
            let n = i + 2;
            let line = line.map_err(|e| Error::io(path, &e))?;
            if line.trim().is_empty() {
                continue;
            }
            let row: Row = serde_json::from_str(&line)
                .map_err(|e| Error::data(path, n, format!("not a cached statement ({e})")))?;
            if row.logits.len() != labels.len() || row.logits.iter().any(|z| !z.is_finite()) {
                return Err(Error::data(
                    path,
                    n,
                    format!("expected {} finite log-probabilities", labels.len()),
                ));
            }
            if row.pooled.iter().flatten().any(|v| !v.is_finite()) {
                return Err(Error::data(path, n, "a pooled vector must be finite"));
            }
            let out = TeacherOutput {
                logits: row.logits,
                pooled: row.pooled,
            };
            cache.insert(row.text, out);
        }
        Ok(cache)
    }

    /// Whether the file was new, reused or replaced.
    pub fn opened(&self) -> Opened {
        self.opened
    }

    /// Number of statements held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no statement is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether `text` is cached; with `pooled`, with its pooled vector.
    pub fn has(&self, text: &str, pooled: bool) -> bool {
        self.row(text, pooled).is_some()
    }

    /// The teacher's output for `text`, if cached; with `pooled`, only if its pooled vector is too.
    pub fn get(&self, text: &str, pooled: bool) -> Option<TeacherOutput> {
        self.row(text, pooled).map(|row| TeacherOutput {
            logits: row.logits.clone(),
            pooled: row.pooled.clone(),
        })
    }

    fn row(&self, text: &str, pooled: bool) -> Option<&Row> {
        let row = &self.rows[*self.index.get(text)?];
        (!pooled || row.pooled.is_some()).then_some(row)
    }

    /// Records the teacher's output for `text`. The first value for a text is kept, except that an
    /// output with a pooled vector replaces one without.
    pub fn insert(&mut self, text: String, out: TeacherOutput) {
        match self.index.get(&text) {
            Some(&i) => {
                if self.rows[i].pooled.is_none() && out.pooled.is_some() {
                    self.rows[i].logits = out.logits;
                    self.rows[i].pooled = out.pooled;
                }
            }
            None => {
                self.index.insert(text.clone(), self.rows.len());
                self.rows.push(Row {
                    text,
                    logits: out.logits,
                    pooled: out.pooled,
                });
            }
        }
    }

    /// Writes the whole cache to its file atomically.
    pub fn save(&self) -> Result<()> {
        let encode = |e: serde_json::Error| Error::file(&self.path, e.to_string());
        let mut out = serde_json::to_vec(&self.header).map_err(encode)?;
        out.push(b'\n');
        for row in &self.rows {
            serde_json::to_writer(&mut out, row).map_err(encode)?;
            out.push(b'\n');
        }
        model_dir::write_file_atomic(&self.path, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    }

    fn out(logits: &[f32], pooled: Option<&[f32]>) -> TeacherOutput {
        TeacherOutput {
            logits: logits.to_vec(),
            pooled: pooled.map(<[f32]>::to_vec),
        }
    }

    #[test]
    fn values_round_trip_exactly_and_other_teachers_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let mut cache = TeacherCache::open(&path, "t1", &labels()).unwrap();
        assert_eq!(cache.opened(), Opened::New);
        let z = [-0.123_456_79_f32, -2.718_281_7e-5];
        let v = [0.333_333_34_f32, -1.5e-7, 12.0];
        cache.insert("one".into(), out(&z, Some(&v)));
        cache.insert("one".into(), out(&[0.0, 0.0], None));
        cache.insert("two \"quoted\"\nline".into(), out(&[-1.0, -0.5], None));
        cache.save().unwrap();

        let again = TeacherCache::open(&path, "t1", &labels()).unwrap();
        assert_eq!(again.opened(), Opened::Reused);
        assert_eq!(again.len(), 2);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let one = again.get("one", true).unwrap();
        assert_eq!(bits(&one.logits), bits(&z));
        assert_eq!(bits(&one.pooled.unwrap()), bits(&v));
        assert!(again.get("two \"quoted\"\nline", false).is_some());
        assert!(again.get("three", false).is_none());

        let other = TeacherCache::open(&path, "t2", &labels()).unwrap();
        assert_eq!(other.opened(), Opened::Replaced);
        assert!(other.is_empty());
    }

    #[test]
    fn a_statement_without_a_pooled_vector_is_missing_when_one_is_needed_and_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let mut cache = TeacherCache::open(&path, "t", &labels()).unwrap();
        cache.insert("x".into(), out(&[-1.0, -2.0], None));
        assert!(cache.get("x", false).is_some() && cache.has("x", false));
        assert!(cache.get("x", true).is_none() && !cache.has("x", true));
        cache.insert("x".into(), out(&[-3.0, -4.0], Some(&[1.0, 2.0])));
        assert_eq!(
            cache.get("x", true),
            Some(out(&[-3.0, -4.0], Some(&[1.0, 2.0])))
        );
        assert_eq!(cache.len(), 1);
        let saved = {
            cache.save().unwrap();
            std::fs::read_to_string(&path).unwrap()
        };
        assert!(
            saved
                .lines()
                .nth(1)
                .unwrap()
                .contains("\"pooled\":[1.0,2.0]")
        );
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let header = r#"{"stance_teacher_cache":1,"teacher":"t","labels":["a","b"]}"#;
        let body = format!(
            "{header}\n{{\"text\":\"x\",\"logits\":[-1.0,-2.0]}}\n{{\"text\":\"y\",\"logits\":[-1.0]}}\n"
        );
        std::fs::write(&path, body).unwrap();
        let err = TeacherCache::open(&path, "t", &labels())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cache.jsonl:3:"), "{err}");
        std::fs::write(&path, "not json\n").unwrap();
        let err = TeacherCache::open(&path, "t", &labels())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cache.jsonl:1:"), "{err}");
    }
}
