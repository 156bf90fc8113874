//! End-to-end tests of `stance score` with the real binary: the gold articles of data/articles (boundary
//! and stance accuracy), input kinds and output formats, bad inputs (error rows, exit 3, the rest still
//! scored), usage errors, and bounded memory on a large stream.

mod common;
use common::{Dir, Run, fixture, shared_model};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LABELS: [&str; 5] = ["assurance", "condemnation", "denial", "neutral", "threat"];

fn model() -> String {
    shared_model().display().to_string()
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Runs `stance score --model M ARGS`.
fn score(dir: &Dir, args: &[&str]) -> Run {
    let m = model();
    let mut all = vec!["score", "--model", m.as_str()];
    all.extend_from_slice(args);
    dir.run(&all)
}

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Every statement row: keys in order, a known label, scores summing to 1, offsets that select the
/// text in `article`.
fn check_row(row: &Value, article: &str) {
    let keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..8],
        [
            "doc",
            "index",
            "start",
            "end",
            "text",
            "label",
            "confidence",
            "scores"
        ]
    );
    let label = row["label"].as_str().unwrap();
    assert!(LABELS.contains(&label), "unknown label {label}");
    let scores = row["scores"].as_object().unwrap();
    assert_eq!(
        scores.keys().map(String::as_str).collect::<Vec<_>>(),
        LABELS
    );
    let sum: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "scores sum to {sum}");
    assert_eq!(row["confidence"], scores[label]);
    let (start, end) = (
        row["start"].as_u64().unwrap() as usize,
        row["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&article[start..end], row["text"].as_str().unwrap());
}

/// The gold statements of data/articles/NAME.gold.jsonl: (text, label).
fn gold(path: &Path) -> Vec<(String, String)> {
    json_lines(&std::fs::read_to_string(path).unwrap())
        .iter()
        .map(|v| {
            (
                v["text"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Pairs of (gold index, row index) of gold statements reproduced exactly, in order (an LCS).
fn aligned(gold: &[(String, String)], got: &[&Value]) -> Vec<(usize, usize)> {
    let (n, m) = (gold.len(), got.len());
    let mut dp = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            dp[i][j] = if got[j]["text"] == gold[i].0.as_str() {
                dp[i + 1][j + 1] + 1
            } else {
                dp[i + 1][j].max(dp[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if got[j]["text"] == gold[i].0.as_str() {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if dp[i + 1][j] >= dp[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Scores the gold articles and prints, per article, the sentence-boundary accuracy (gold statements
/// reproduced exactly) and the stance accuracy (correct labels among all gold statements). Boundary
/// accuracy must be at least 0.95 overall; stance accuracy (at least 0.6) is asserted only with the
/// shipped model (models/stance-small, when present), since the test model is a toy.
#[test]
fn gold_articles_boundaries_and_stance() {
    let dir = Dir::new();
    let shipped = manifest("models/stance-small");
    let use_shipped = shipped.join("model.safetensors").is_file();
    let model = if use_shipped {
        shipped.display().to_string()
    } else {
        model()
    };
    let articles = manifest("data/articles");
    let r = dir.run(&[
        "score",
        "--model",
        &model,
        "--summary",
        "--format",
        "jsonl",
        articles.to_str().unwrap(),
    ]);
    let rows = json_lines(&r.ok());
    let mut names: Vec<PathBuf> = std::fs::read_dir(&articles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    let docs: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("summary").is_some())
        .map(|r| r["doc"].as_str().unwrap())
        .collect();
    let want: Vec<String> = names.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(docs, want, "one summary per article, in sorted order");
    println!(
        "model: {}",
        if use_shipped {
            "models/stance-small"
        } else {
            "tiny test model (stance accuracy not asserted)"
        }
    );
    let (mut hit, mut right, mut total) = (0, 0, 0);
    for path in &names {
        let doc = path.display().to_string();
        let article = std::fs::read_to_string(path).unwrap();
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|r| r["doc"] == doc.as_str() && r.get("summary").is_none())
            .collect();
        for (i, row) in mine.iter().enumerate() {
            assert_eq!(row["index"], i);
            check_row(row, &article);
        }
        let summary = rows
            .iter()
            .find(|r| r["doc"] == doc.as_str() && r.get("summary").is_some())
            .unwrap();
        assert_eq!(summary["summary"]["statements"], mine.len());
        let counted: u64 = summary["summary"]["counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(counted as usize, mine.len());
        let gold = gold(&path.with_extension("gold.jsonl"));
        let pairs = aligned(&gold, &mine);
        let correct = pairs
            .iter()
            .filter(|&&(g, j)| mine[j]["label"] == gold[g].1.as_str())
            .count();
        println!(
            "{:<36} boundaries {:>2}/{:<2} = {:.3}   stance {:>2}/{:<2} = {:.3}",
            path.file_name().unwrap().to_string_lossy(),
            pairs.len(),
            gold.len(),
            pairs.len() as f64 / gold.len() as f64,
            correct,
            gold.len(),
            correct as f64 / gold.len() as f64
        );
        hit += pairs.len();
        right += correct;
        total += gold.len();
    }
    let boundary = hit as f64 / total as f64;
    let stance = right as f64 / total as f64;
    println!(
        "overall: boundaries {hit}/{total} = {boundary:.4}   stance {right}/{total} = {stance:.4}"
    );
    assert!(boundary >= 0.95, "boundary accuracy {boundary:.4} < 0.95");
    if use_shipped {
        assert!(
            stance >= 0.6,
            "stance accuracy {stance:.4} with the shipped model"
        );
    }
}

#[test]
fn directories_are_walked_in_sorted_order_with_summaries() {
    let dir = Dir::new();
    let tree = fixture("score/tree");
    let rows = json_lines(&score(&dir, &["--summary", &tree]).ok());
    let summaries: Vec<&Value> = rows.iter().filter(|r| r.get("summary").is_some()).collect();
    let docs: Vec<String> = summaries
        .iter()
        .map(|r| r["doc"].as_str().unwrap().replace(&tree, "T"))
        .collect();
    assert_eq!(
        docs,
        ["T/a/c.txt", "T/a/deeper/d.txt", "T/b.txt", "T/empty.txt"]
    );
    // Rows come before their article's summary; the empty article has zero counts and no top.
    let c: Vec<&Value> = rows
        .iter()
        .take_while(|r| r.get("summary").is_none())
        .collect();
    let texts: Vec<&str> = c.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "Ministry rejects report",
            "The ministry dismissed the report as “pure fabrication.”",
            "Officials said talks would resume."
        ]
    );
    let empty = summaries[3];
    assert_eq!(empty["summary"]["statements"], 0);
    for l in LABELS {
        assert_eq!(empty["summary"]["counts"][l], 0);
        assert_eq!(empty["summary"]["top"][l], Value::Null);
    }
    let b = summaries[2]["summary"].clone();
    assert_eq!(b["statements"], 3);
    // `top` points at a statement of that label.
    let b_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["doc"] == summaries[2]["doc"] && r.get("summary").is_none())
        .collect();
    for l in LABELS {
        if let Some(i) = b["top"][l].as_u64() {
            assert_eq!(b_rows[i as usize]["label"], l);
        } else {
            assert_eq!(b["counts"][l], 0);
        }
    }
}

#[test]
fn jsonl_ids_meta_and_stdin() {
    let dir = Dir::new();
    let file = fixture("score/articles.jsonl");
    let rows = json_lines(&score(&dir, &[&file]).ok());
    let docs: Vec<&str> = rows.iter().map(|r| r["doc"].as_str().unwrap()).collect();
    let line3 = format!("{file}:3");
    assert_eq!(
        docs,
        ["wire-001", "wire-001", "wire-001", "42", line3.as_str()]
    );
    assert_eq!(rows[0]["text"], "Minister slams port deal");
    assert_eq!(rows[2]["text"], "\"We will block it,\" she said.");
    assert_eq!(
        rows[0]["meta"],
        serde_json::json!({"source": "wire", "published": "2025-03-03"})
    );
    assert!(rows[3].get("meta").is_none());

    // The same file on stdin, read as JSONL.
    let body = std::fs::read(&file).unwrap();
    let r = dir.run_stdin(
        &["score", "--model", &model(), "--stdin-format", "jsonl", "-"],
        Some(&body),
    );
    let stdin_rows = json_lines(&r.ok());
    assert_eq!(stdin_rows.len(), 5);
    assert_eq!(stdin_rows[4]["doc"], "-:3");
    assert_eq!(stdin_rows[0]["scores"], rows[0]["scores"]);

    // Plain text on stdin is one article named "-".
    let text = "Headline without a stop\nPolice denied any role. Talks resume Monday.\n";
    let r = dir.run_stdin(&["score", "--model", &model(), "-"], Some(text.as_bytes()));
    let rows = json_lines(&r.ok());
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row["doc"], "-");
        check_row(row, text);
    }
}

#[test]
fn csv_and_table_formats() {
    let dir = Dir::new();
    let file = fixture("score/tree/b.txt");
    let out = score(&dir, &["--format", "csv", "--summary", &file]).ok();
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let mut want = vec![
        "doc",
        "index",
        "start",
        "end",
        "text",
        "label",
        "confidence",
    ];
    want.extend(LABELS);
    want.push("error");
    assert_eq!(header, want);
    let recs: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 4, "three statements and a summary row");
    assert_eq!(&recs[2][4], "The port operator denied cutting pay.");
    assert_eq!(&recs[3][5], "summary");
    let counts: usize = (7..12).map(|i| recs[3][i].parse::<usize>().unwrap()).sum();
    assert_eq!(counts, 3);

    let table = score(&dir, &["--format", "table", "--summary", &file]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], format!("== {file}"));
    assert!(lines[1].trim_start().starts_with("0  "), "{table}");
    assert!(lines[4].contains("summary: 3 statements"), "{table}");

    // Not a terminal: jsonl by default.
    let out = score(&dir, &[&file]).ok();
    assert!(out.starts_with('{'), "{out}");
}

#[test]
fn model_from_the_environment() {
    let dir = Dir::new();
    let out = Command::new(env!("CARGO_BIN_EXE_stance"))
        .args(["score", &fixture("score/tree/a/deeper/d.txt")])
        .env("STANCE_MODEL", model())
        .current_dir(dir.tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
}

/// Every kind of bad input gives an error row and one stderr line, the other articles are still scored
/// in order, and the exit status is 3.
#[test]
fn bad_inputs_give_error_rows_and_exit_3() {
    let dir = Dir::new();
    let good = fixture("score/tree/a/deeper/d.txt");
    dir.write("latin1.txt", b"Caf\xe9 owners protested.\n");
    dir.write("big.txt", "Officials met again. ".repeat(20));
    let mixed: Vec<u8> = [
        &b"{\"id\":\"ok1\",\"text\":\"Police denied any role.\"}\n"[..],
        b"{\"id\":\"broken\",\"text\":\n",
        b"{\"id\":\"no-text\"}\n",
        b"{\"id\":\"blank\",\"text\":\"  \"}\n",
        b"{\"id\":\"num\",\"text\":5}\n",
        b"\xff\xfe\n",
        b"{\"id\":\"ok2\",\"text\":\"The army promised to help.\"}\n",
    ]
    .concat();
    dir.write("mixed.jsonl", mixed);
    let r = score(
        &dir,
        &[
            "--max-bytes",
            "300",
            "--summary",
            "missing.txt",
            "latin1.txt",
            &good,
            "big.txt",
            "mixed.jsonl",
            "missing-dir/",
        ],
    );
    assert_eq!(r.code(), 3, "stderr:\n{}", r.stderr());
    let err = r.stderr();
    assert!(!err.contains("panicked"), "{err}");
    let rows = json_lines(&r.stdout());
    let errors: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.get("error").is_some())
        .map(|r| {
            let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["doc", "error"]);
            (
                r["doc"].as_str().unwrap().to_string(),
                r["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let docs: Vec<&str> = errors.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        docs,
        [
            "missing.txt",
            "latin1.txt",
            "big.txt",
            "mixed.jsonl:2",
            "no-text",
            "blank",
            "num",
            "mixed.jsonl:6",
            "missing-dir/"
        ]
    );
    let msgs: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(msgs[0], "missing.txt: no such file or directory");
    assert_eq!(msgs[1], "latin1.txt: invalid UTF-8 at byte 3");
    assert!(msgs[2].contains("size limit of 300 bytes"), "{}", msgs[2]);
    assert!(
        msgs[3].starts_with("mixed.jsonl:2: malformed JSON"),
        "{}",
        msgs[3]
    );
    assert_eq!(msgs[4], "mixed.jsonl:3: missing \"text\" field");
    assert_eq!(msgs[5], "mixed.jsonl:4: empty text");
    assert!(msgs[6].starts_with("mixed.jsonl:5: \"text\" must be a string"));
    assert_eq!(msgs[7], "mixed.jsonl:6: invalid UTF-8 at byte 0");
    // One stderr line per failure, naming it.
    let err_lines: Vec<&str> = err.lines().filter(|l| !l.contains("note:")).collect();
    assert_eq!(err_lines.len(), errors.len(), "{err}");
    for ((_, m), line) in errors.iter().zip(&err_lines) {
        assert_eq!(*line, format!("stance: {m}"));
    }
    // The good articles are scored, in input order among the failures.
    let order: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("text").is_none())
        .map(|r| r["doc"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "missing.txt",
            "latin1.txt",
            good.as_str(),
            "big.txt",
            "ok1",
            "mixed.jsonl:2",
            "no-text",
            "blank",
            "num",
            "mixed.jsonl:6",
            "ok2",
            "missing-dir/"
        ]
    );
    let scored: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("text").is_some())
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        scored,
        [
            "The army said the drills were purely defensive and aimed at no one.",
            "Police denied any role.",
            "The army promised to help."
        ]
    );
}

#[test]
fn all_good_inputs_exit_0_and_usage_errors_exit_2() {
    let dir = Dir::new();
    let good = fixture("score/tree/b.txt");
    assert_eq!(score(&dir, &[&good]).code(), 0);
    for bad in [
        vec![],
        vec!["--max-bytes", "0", good.as_str()],
        vec!["--max-bytes", "lots", good.as_str()],
        vec!["--format", "xml", good.as_str()],
        vec!["--batch-size", "0", good.as_str()],
        vec!["--stdin-format", "csv", "-"],
    ] {
        let r = score(&dir, &bad);
        assert_eq!(r.code(), 2, "{bad:?}: {}", r.stderr());
    }
    // A broken model is a plain error (1), not an input failure.
    std::fs::create_dir_all(dir.path("m")).unwrap();
    dir.write("m/config.json", "{}");
    let r = dir.run(&["score", "--model", "m", &good]);
    assert_eq!(r.code(), 1);
    assert!(!r.stderr().contains("panicked"));
}

/// Peak resident memory of a child process: from /usr/bin/time -v when present, else by polling
/// VmHWM in /proc/PID/status.
fn peak_rss_mib(
    args: &[&str],
    stdin_bytes: impl FnOnce(&mut dyn Write) + Send,
) -> (f64, usize, i32) {
    let time = Path::new("/usr/bin/time");
    let dir = Dir::new();
    let report = dir.path("time.txt");
    let mut cmd = if time.is_file() {
        let mut c = Command::new(time);
        c.arg("-v")
            .arg("-o")
            .arg(&report)
            .arg(env!("CARGO_BIN_EXE_stance"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_stance"))
    };
    let mut child = cmd
        .args(args)
        .env_remove("STANCE_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut polled = 0u64;
    let rows = std::thread::scope(|s| {
        s.spawn(move || {
            stdin_bytes(&mut stdin);
        });
        let counter = s.spawn(move || BufReader::new(stdout).lines().count());
        while !counter.is_finished() {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                polled = polled.max(kb);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        counter.join().unwrap()
    });
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let kb = std::fs::read_to_string(&report)
        .ok()
        .and_then(|r| {
            r.lines()
                .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(polled);
    (kb as f64 / 1024.0, rows, code)
}

/// A JSONL stream of about 100 MB on stdin is scored in bounded memory: mostly long single-statement
/// articles (cheap for the model), with ordinary articles in between.
#[test]
fn a_large_stream_is_scored_in_bounded_memory() {
    const LONG: usize = 600;
    const LONG_BYTES: usize = 160_000;
    let model = model();
    let filler = "officials and residents waited near the border crossing ".repeat(LONG_BYTES / 57);
    let (mib, rows, code) = peak_rss_mib(
        &[
            "score",
            "--model",
            &model,
            "--stdin-format",
            "jsonl",
            "--format",
            "jsonl",
            "-q",
            "-",
        ],
        |w| {
            let mut w = std::io::BufWriter::new(w);
            for i in 0..LONG {
                let long = serde_json::json!({"id": format!("long-{i}"),
                    "text": format!("Headline {i}\n\n{filler}\n\nPolice denied any role. Talks resume Monday.")});
                let short = serde_json::json!({"id": format!("short-{i}"),
                    "text": "The ministry dismissed the report. \"We will act,\" he said."});
                if writeln!(w, "{long}\n{short}").is_err() {
                    return;
                }
            }
            let _ = w.flush();
        },
    );
    let input_mb = (LONG * LONG_BYTES) as f64 / 1e6;
    println!("input ≈ {input_mb:.0} MB, {rows} rows, peak RSS {mib:.1} MiB");
    assert_eq!(code, 0);
    assert_eq!(rows, LONG * 6, "4 statements per long article, 2 per short");
    assert!(input_mb >= 90.0);
    assert!(mib < 300.0, "peak RSS {mib:.1} MiB");
}
