//! Labelled statements on disk: JSONL with "text" and "label" fields (others kept in `extra`), or CSV/TSV
//! with a header row holding text and label columns. Every problem is reported as `file:line: what`.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// One statement from a data file.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    /// The gold label, when the file has one.
    pub label: Option<String>,
    /// 1-based line in the file.
    pub line: usize,
    /// Other JSONL fields (id, domain, hard, …); empty for CSV/TSV.
    pub extra: Map<String, Value>,
}

/// A data file's layout, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
    Tsv,
}

impl Format {
    /// The format for `path`'s extension (.jsonl/.json/.ndjson, .csv, .tsv/.tab).
    pub fn of(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("jsonl" | "json" | "ndjson") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            Some("tsv" | "tab") => Ok(Format::Tsv),
            _ => Err(Error::file(
                path,
                "unknown data format: use a .jsonl, .csv or .tsv file",
            )),
        }
    }
}

/// Whether rows must carry a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    Required,
    Optional,
}

/// Reads every statement of a data file; the first bad row is an error.
pub fn read_examples(path: &Path, labels: Labels) -> Result<Vec<Example>> {
    let examples = read_with(path, labels, &mut |e| Err(e))?;
    if examples.is_empty() {
        return Err(Error::file(path, "no statements in file"));
    }
    Ok(examples)
}

/// Reads every good row of a data file and collects the problems of the bad ones (for `stance data
/// check`); only an unreadable file or an unknown format is an error.
pub fn read_lenient(path: &Path, labels: Labels) -> Result<(Vec<Example>, Vec<Error>)> {
    let mut problems = Vec::new();
    let examples = read_with(path, labels, &mut |e| {
        problems.push(e);
        Ok(())
    })?;
    Ok((examples, problems))
}

/// What to do with a bad row: return the error to stop, or `Ok` to skip the row.
type OnBadRow<'a> = &'a mut dyn FnMut(Error) -> Result<()>;

fn read_with(path: &Path, labels: Labels, bad: OnBadRow) -> Result<Vec<Example>> {
    let format = Format::of(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    match format {
        Format::Jsonl => read_jsonl(BufReader::new(file), path, labels, bad),
        Format::Csv => read_delimited(file, b',', path, labels, bad),
        Format::Tsv => read_delimited(file, b'\t', path, labels, bad),
    }
}

fn read_jsonl(
    mut reader: impl BufRead,
    path: &Path,
    labels: Labels,
    bad: OnBadRow,
) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, &e))?;
        if n == 0 {
            break;
        }
        line += 1;
        match parse_jsonl_row(&buf, path, line, labels) {
            Ok(Some(example)) => out.push(example),
            Ok(None) => {}
            Err(e) => bad(e)?,
        }
    }
    Ok(out)
}

fn parse_jsonl_row(
    buf: &[u8],
    path: &Path,
    line: usize,
    labels: Labels,
) -> Result<Option<Example>> {
    let text = std::str::from_utf8(buf).map_err(|e| {
        Error::data(
            path,
            line,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::data(path, line, format!("malformed JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(Error::data(path, line, "expected a JSON object"));
    };
    let text = take_string(&mut obj, "text", path, line)?
        .ok_or_else(|| Error::data(path, line, "missing \"text\" field"))?;
    let label = take_string(&mut obj, "label", path, line)?;
    checked(text, label, line, obj, path, labels).map(Some)
}

fn take_string(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &Path,
    line: usize,
) -> Result<Option<String>> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::data(
            path,
            line,
            format!("\"{key}\" must be a string, found {other}"),
        )),
    }
}

fn checked(
    text: String,
    label: Option<String>,
    line: usize,
    extra: Map<String, Value>,
    path: &Path,
    labels: Labels,
) -> Result<Example> {
    if text.trim().is_empty() {
        return Err(Error::data(path, line, "empty text"));
    }
    let label = label.map(|l| l.trim().to_string());
    match (&label, labels) {
        (None, Labels::Required) => return Err(Error::data(path, line, "missing label")),
        (Some(l), _) if l.is_empty() => return Err(Error::data(path, line, "empty label")),
        _ => {}
    }
    Ok(Example {
        text,
        label,
        line,
        extra,
    })
}

fn read_delimited(
    reader: impl Read,
    delim: u8,
    path: &Path,
    labels: Labels,
    bad: OnBadRow,
) -> Result<Vec<Example>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(true)
        .from_reader(reader);
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
        let msg = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("expected {expected_len} fields, found {len}"),
            csv::ErrorKind::Io(io) => io.to_string(),
            _ => e.to_string(),
        };
        Error::data(path, line, msg)
    };
    let headers = rdr.byte_headers().map_err(csv_err)?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| String::from_utf8_lossy(h).trim().eq_ignore_ascii_case(name))
    };
    let text_col =
        find("text").ok_or_else(|| Error::data(path, 1, "header has no \"text\" column"))?;
    let label_col = find("label");
    if label_col.is_none() && labels == Labels::Required {
        return Err(Error::data(path, 1, "header has no \"label\" column"));
    }
    let mut out = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                let err = csv_err(e);
                if fatal {
                    return Err(err);
                }
                bad(err)?;
                continue;
            }
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let field = |i: usize| -> Result<String> {
            let raw = record.get(i).unwrap_or_default();
            std::str::from_utf8(raw)
                .map(str::to_string)
                .map_err(|_| Error::data(path, line, "invalid UTF-8"))
        };
        let row = field(text_col).and_then(|text| {
            let label = label_col.map(field).transpose()?;
            checked(text, label, line, Map::new(), path, labels)
        });
        match row {
            Ok(example) => out.push(example),
            Err(e) => bad(e)?,
        }
    }
    Ok(out)
}

/// The sorted distinct labels of `examples`.
pub fn label_set(examples: &[Example]) -> Vec<String> {
    let mut labels: Vec<String> = examples.iter().filter_map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(name: &str, body: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(body)
            .unwrap();
        (dir, path)
    }

    #[test]
    fn jsonl_keeps_extra_fields_and_line_numbers() {
        let (_d, p) = write(
            "a.jsonl",
            b"{\"text\":\"A\",\"label\":\"x\",\"id\":\"1\"}\n\n{\"text\":\"B\",\"label\":\"y\"}\n",
        );
        let ex = read_examples(&p, Labels::Required).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].extra["id"], "1");
        assert_eq!(ex[1].line, 3);
        assert_eq!(label_set(&ex), vec!["x", "y"]);
    }

    #[test]
    fn jsonl_errors_name_file_and_line() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"{\"text\":\"A\",\"label\":\"x\"}\n{\"text\":",
                ":2: malformed JSON",
            ),
            (b"{\"text\":\"  \",\"label\":\"x\"}\n", ":1: empty text"),
            (b"{\"text\":\"A\"}\n", ":1: missing label"),
            (
                b"{\"text\":\"A\",\"label\":\"x\"}\n{\"text\":\"\xff\",\"label\":\"x\"}\n",
                ":2: invalid UTF-8",
            ),
            (b"[1,2]\n", ":1: expected a JSON object"),
        ];
        for (body, want) in cases {
            let (_d, p) = write("a.jsonl", body);
            let err = read_examples(&p, Labels::Required).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
            assert!(err.contains("a.jsonl"), "{err}");
        }
    }

    #[test]
    fn csv_and_tsv_with_header() {
        let (_d, p) = write("a.csv", b"id,Text,label\n1,\"Hello, world\",x\n2,Bye,y\n");
        let ex = read_examples(&p, Labels::Required).unwrap();
        assert_eq!(ex[0].text, "Hello, world");
        assert_eq!(ex[1].label.as_deref(), Some("y"));
        assert_eq!(ex[1].line, 3);
        let (_d, p) = write("a.tsv", b"text\tlabel\nHello\tx\n");
        assert_eq!(read_examples(&p, Labels::Required).unwrap().len(), 1);
    }

    #[test]
    fn csv_errors_name_file_and_line() {
        let (_d, p) = write("a.csv", b"text,label\nA,x\nB,x,extra\n");
        let err = read_examples(&p, Labels::Required).unwrap_err().to_string();
        assert!(err.contains("a.csv:3: expected 2 fields, found 3"), "{err}");
        let (_d, p) = write("a.csv", b"body,label\nA,x\n");
        let err = read_examples(&p, Labels::Required).unwrap_err().to_string();
        assert!(
            err.contains("a.csv:1: header has no \"text\" column"),
            "{err}"
        );
    }

    #[test]
    fn lenient_reading_collects_bad_rows() {
        let (_d, p) = write(
            "a.jsonl",
            b"{\"text\":\"A\",\"label\":\"x\"}\n{bad\n{\"text\":\"\",\"label\":\"x\"}\n{\"text\":\"B\"}\n",
        );
        let (ok, bad) = read_lenient(&p, Labels::Optional).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].to_string().contains(":2: malformed JSON"));
        assert!(bad[1].to_string().contains(":3: empty text"));
    }

    #[test]
    fn missing_file_and_unknown_extension() {
        let err = read_examples(Path::new("/nonexistent/x.jsonl"), Labels::Required)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "/nonexistent/x.jsonl: no such file or directory");
        let (_d, p) = write("a.txt", b"hello");
        assert!(
            read_examples(&p, Labels::Optional)
                .unwrap_err()
                .to_string()
                .contains("unknown data format")
        );
    }
}
