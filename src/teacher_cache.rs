//! The teacher's labels kept on disk between distillation runs, so that trying another student
//! architecture or schedule does not make the teacher label the same statements again.
//!
//! The file is JSON Lines. Line 1 names the teacher by the SHA-256 of its three model files and lists
//! its labels; every further line is one statement with the teacher's log-probabilities:
//! `{"text": "...", "logits": [..]}`. A cache written by another teacher is set aside (started afresh),
//! never mixed. Numbers round-trip exactly through JSON, so a cached value is the value the teacher
//! computed.

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

/// Teacher log-probabilities by statement text, backed by a file.
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
            cache.insert(row.text, row.logits);
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

    /// The teacher's log-probabilities for `text`, if cached.
    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.index
            .get(text)
            .map(|&i| self.rows[i].logits.as_slice())
    }

    /// Records the teacher's log-probabilities for `text` (the first value for a text is kept).
    pub fn insert(&mut self, text: String, logits: Vec<f32>) {
        if !self.index.contains_key(&text) {
            self.index.insert(text.clone(), self.rows.len());
            self.rows.push(Row { text, logits });
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

    #[test]
    fn values_round_trip_exactly_and_other_teachers_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let mut cache = TeacherCache::open(&path, "t1", &labels()).unwrap();
        assert_eq!(cache.opened(), Opened::New);
        let z = vec![-0.123_456_79_f32, -2.718_281_7e-5];
        cache.insert("one".into(), z.clone());
        cache.insert("one".into(), vec![0.0, 0.0]);
        cache.insert("two \"quoted\"\nline".into(), vec![-1.0, -0.5]);
        cache.save().unwrap();

        let again = TeacherCache::open(&path, "t1", &labels()).unwrap();
        assert_eq!(again.opened(), Opened::Reused);
        assert_eq!(again.len(), 2);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(again.get("one").unwrap()), bits(&z));
        assert!(again.get("two \"quoted\"\nline").is_some());
        assert!(again.get("three").is_none());

        let other = TeacherCache::open(&path, "t2", &labels()).unwrap();
        assert_eq!(other.opened(), Opened::Replaced);
        assert!(other.is_empty());
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
