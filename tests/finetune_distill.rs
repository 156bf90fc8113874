//! Fine-tuning from an existing model directory (`train --init`) and distillation (`distill`), end to
//! end on the toy task. The shared tiny model stands in for the pretrained encoder and for the teacher,
//! so these tests run without the fetched MiniLM.

mod common;

use candle_core::{Device, Tensor};
use common::{Dir, TINY, fixture, json, shared_model};
use std::collections::HashMap;
use std::path::Path;

fn weights(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
        .expect("read model.safetensors")
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn dev_macro_f1(dir: &Dir, model: &Path) -> f64 {
    common::eval_json(dir, model, &fixture("dev.jsonl"))["macro_f1"]
        .as_f64()
        .unwrap()
}

/// `stance train --init base` on the toy data into `dir/ft`, with `extra` flags.
fn fine_tune(dir: &Dir, base: &Path, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.path("ft");
    let (base, train, dev) = (
        base.display().to_string(),
        fixture("train.jsonl"),
        fixture("dev.jsonl"),
    );
    let out_s = out.display().to_string();
    let mut args = vec![
        "train",
        "--init",
        &base,
        "--train",
        &train,
        "--dev",
        &dev,
        "--out",
        &out_s,
        "--max-len",
        "24",
        "-q",
    ];
    args.extend_from_slice(extra);
    dir.run(&args).ok();
    out
}

/// `stance distill --teacher TEACHER --out OUT` on the toy data, with `extra` flags.
fn distill(dir: &Dir, teacher: &str, out: &Path, extra: &[&str]) -> common::Run {
    let (train, dev) = (fixture("train.jsonl"), fixture("dev.jsonl"));
    let out = out.display().to_string();
    let mut args = vec![
        "distill",
        "--teacher",
        teacher,
        "--train",
        &train,
        "--dev",
        &dev,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    dir.run(&args)
}

#[test]
fn fine_tuning_keeps_the_vocabulary_and_freezes_what_it_is_told() {
    let dir = Dir::new();
    let base = shared_model();
    let out = fine_tune(
        &dir,
        base,
        &[
            "--epochs",
            "2",
            "--lr",
            "1e-2",
            "--freeze-embeddings",
            "--freeze-layers",
            "1",
        ],
    );
    let vocab = |d: &Path| json(&d.join("tokenizer.json"))["model"]["vocab"].clone();
    assert_eq!(
        vocab(base),
        vocab(&out),
        "the tokenizer must come from --init"
    );
    let (before, after) = (weights(base), weights(&out));
    let mut frozen = 0;
    for (name, t) in &after {
        if name.contains("embeddings.") || name.contains("encoder.layer.0.") {
            assert_eq!(values(t), values(&before[name]), "{name} was frozen");
            frozen += 1;
        }
    }
    assert!(frozen >= 10, "only {frozen} frozen tensors checked");
    // The head is fresh and trained: it differs from the starting model's head.
    let head = "classifier.weight";
    assert_ne!(values(&after[head]), values(&before[head]));
    let log = json(&out.join("training.json"));
    assert_eq!(log["options"]["freeze_layers"], 1);
    assert!(log["options"]["init"].as_str().is_some());
}

#[test]
fn fine_tuning_a_trained_model_keeps_it_good() {
    let dir = Dir::new();
    let base = shared_model();
    let out = fine_tune(
        &dir,
        base,
        &["--epochs", "3", "--lr", "3e-3", "--pooling", "cls"],
    );
    // Pooling is the one asked for, recorded in config.json and used by eval.
    assert_eq!(json(&out.join("config.json"))["pooling"], "cls");
    let f1 = dev_macro_f1(&dir, &out);
    assert!(f1 > 0.8, "fine-tuned dev macro-F1 {f1}");
}

#[test]
fn a_student_learns_the_task_from_the_teacher() {
    let dir = Dir::new();
    let teacher = shared_model().display().to_string();
    // The training texts again, as unlabelled statements (any label in them is ignored).
    let unlabelled = dir.write(
        "unlabelled.jsonl",
        std::fs::read_to_string(fixture("train.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{}\n", serde_json::json!({"text": v["text"]}))
            })
            .collect::<String>(),
    );
    let out = dir.path("student");
    let mut flags = vec![
        "--unlabelled",
        unlabelled.to_str().unwrap(),
        "--epochs",
        "12",
        "--patience",
        "0",
        "--lr",
        "3e-3",
        "--temperature",
        "3",
        "--augment",
        "1",
    ];
    flags.extend_from_slice(TINY);
    distill(&dir, &teacher, &out, &flags).ok();
    let log = json(&out.join("training.json"));
    assert_eq!(log["data"]["unlabelled_statements"], 250);
    assert_eq!(log["data"]["train_statements"], 250);
    // One noisy copy per statement, less the few that came out identical to their original.
    let augmented = log["data"]["augmented_statements"].as_u64().unwrap();
    assert!((400..=500).contains(&augmented), "{augmented} copies");
    assert_eq!(log["options"]["temperature"], 3.0);
    let f1 = dev_macro_f1(&dir, &out);
    assert!(f1 > 0.8, "student dev macro-F1 {f1}");
}

#[test]
fn distill_errors_name_the_file() {
    let dir = Dir::new();
    let out = dir.path("s");
    distill(&dir, "no-such-teacher", &out, &[]).fails_with(&["no-such-teacher"]);
    let teacher = shared_model().display().to_string();
    let bad = dir.write("unlabelled.jsonl", "{\"text\": \"fine\"}\n{\"text\": \n");
    distill(
        &dir,
        &teacher,
        &out,
        &["--unlabelled", bad.to_str().unwrap()],
    )
    .fails_with(&["unlabelled.jsonl", "2"]);
    assert!(!out.exists(), "no model after a failure");
}

#[test]
fn a_teacher_cache_is_reused_and_changes_nothing() {
    let dir = Dir::new();
    let teacher = shared_model().display().to_string();
    let cache = dir.path("teacher.jsonl");
    let cache_s = cache.display().to_string();
    let mut flags = vec!["--epochs", "2", "--augment", "1"];
    // Not quiet: the notes about the cache are what this test reads.
    flags.extend(TINY.iter().filter(|f| **f != "-q"));
    let student = |name: &str, cached: bool| {
        let out = dir.path(name);
        let mut f = flags.clone();
        if cached {
            f.extend_from_slice(&["--teacher-cache", &cache_s]);
        }
        let run = distill(&dir, &teacher, &out, &f);
        run.ok();
        let stderr = run.stderr();
        (
            std::fs::read(out.join("model.safetensors")).unwrap(),
            stderr,
        )
    };
    let (plain, _) = student("plain", false);
    let (first, log) = student("first", true);
    assert!(
        log.contains("0 statements found in the teacher cache"),
        "{log}"
    );
    // Header plus one line per distinct statement.
    let lines = std::fs::read_to_string(&cache).unwrap().lines().count();
    assert!(lines > 250, "{lines} cache lines");
    let (second, log) = student("second", true);
    assert!(log.contains(", 0 to label"), "{log}");
    assert!(
        plain == first && first == second,
        "the cache changed the student"
    );

    // Another teacher's cache is set aside, not mixed in.
    let other = dir.write(
        "other.jsonl",
        "{\"stance_teacher_cache\":1,\"teacher\":\"0\",\"labels\":[\"x\"]}\n",
    );
    let out = dir.path("third");
    let mut f = flags.clone();
    f.extend_from_slice(&["--teacher-cache", other.to_str().unwrap()]);
    let run = distill(&dir, &teacher, &out, &f);
    run.ok();
    let log = run.stderr();
    assert!(log.contains("another teacher's labels"), "{log}");
    assert!(std::fs::read_to_string(&other).unwrap().lines().count() == lines);
}

#[test]
fn word_vectors_start_a_new_vocabulary_from_an_encoder() {
    let dir = Dir::new();
    let encoder = shared_model().display().to_string();
    let args = ["--word-vectors", encoder.as_str(), "--epochs", "2"];
    let plain = common::train_tiny(&dir, "plain", &["--epochs", "2"]);
    plain.ok();
    common::train_tiny(&dir, "wv", &args).ok();
    let log = json(&dir.path("wv").join("training.json"));
    assert_eq!(log["options"]["word_vectors"], encoder.as_str());
    // Everything but the word embeddings starts from the same seed; the word embeddings differ.
    let (a, b) = (weights(&dir.path("plain")), weights(&dir.path("wv")));
    let name = "bert.embeddings.word_embeddings.weight";
    assert_ne!(values(&a[name]), values(&b[name]));
    // Together with --init: a one-line error.
    common::train_tiny(&dir, "x", &["--init", &encoder, "--word-vectors", &encoder])
        .fails_with(&["--word-vectors"]);
}

#[test]
fn a_student_can_match_the_teachers_vectors_and_saves_without_the_projection() {
    let dir = Dir::new();
    let teacher = shared_model().display().to_string();
    let cache = dir.path("teacher.jsonl");
    let cache_s = cache.display().to_string();
    let mut flags = vec!["--epochs", "2"];
    flags.extend(TINY.iter().filter(|f| **f != "-q"));
    let student = |name: &str, extra: &[&str]| {
        let out = dir.path(name);
        let mut f = flags.clone();
        f.extend_from_slice(extra);
        let run = distill(&dir, &teacher, &out, &f);
        run.ok();
        (out, run.stderr())
    };
    let (plain, _) = student("plain", &[]);
    let matched = ["--match-pooled", "1", "--teacher-cache", &cache_s];
    let (first, _) = student("first", &matched);
    assert_eq!(
        json(&first.join("training.json"))["options"]["match_pooled"],
        1.0
    );
    // The cache keeps the teacher's vectors, of the teacher's hidden size.
    let hidden = json(&shared_model().join("config.json"))["hidden_size"]
        .as_u64()
        .unwrap() as usize;
    let text = std::fs::read_to_string(&cache).unwrap();
    let row: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(row["pooled"].as_array().unwrap().len(), hidden);
    // The projection is not saved: the same tensors as a plain student, with other values.
    let (a, b) = (weights(&plain), weights(&first));
    let mut names: Vec<&String> = a.keys().collect();
    let mut other: Vec<&String> = b.keys().collect();
    names.sort();
    other.sort();
    assert_eq!(names, other);
    let name = "classifier.weight";
    assert_ne!(values(&a[name]), values(&b[name]));
    // From the cache: nothing labelled again, the same model bit for bit.
    let (second, log) = student("second", &matched);
    assert!(log.contains(", 0 to label"), "{log}");
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(
        bytes(&first) == bytes(&second),
        "the student is not reproducible"
    );
    // A negative weight is a one-line error.
    let out = dir.path("bad");
    let mut f = flags.clone();
    f.push("--match-pooled=-1");
    distill(&dir, &teacher, &out, &f).fails_with(&["--match-pooled"]);
    assert!(!out.exists());
}

#[test]
fn several_teachers_act_as_their_mean() {
    let dir = Dir::new();
    let teacher = shared_model().display().to_string();
    common::train_tiny(&dir, "other", &["--epochs", "3", "--seed", "7"]).ok();
    let other = dir.path("other").display().to_string();
    let flags: Vec<&str> = ["--epochs", "2", "--augment", "1"]
        .iter()
        .chain(TINY)
        .copied()
        .collect();
    let student = |name: &str, teachers: &[&str]| {
        let out = dir.path(name);
        let mut f = flags.clone();
        for t in &teachers[1..] {
            f.extend_from_slice(&["--teacher", t]);
        }
        distill(&dir, teachers[0], &out, &f).ok();
        std::fs::read(out.join("model.safetensors")).unwrap()
    };
    let one = student("one", &[&teacher]);
    // The mean of a teacher and itself is that teacher, exactly: the same student, bit for bit.
    assert!(student("twice", &[&teacher, &teacher]) == one);
    // Another teacher in the mix changes what the student learns.
    assert!(student("pair", &[&teacher, &other]) != one);
    let log = json(&dir.path("pair").join("training.json"));
    assert_eq!(log["data"]["teachers"].as_array().unwrap().len(), 2);

    // One cache file per teacher, or a one-line error before any work.
    let out = dir.path("bad");
    let cache = dir.path("c.jsonl").display().to_string();
    let mut f = flags.clone();
    f.extend_from_slice(&["--teacher", &other, "--teacher-cache", &cache]);
    distill(&dir, &teacher, &out, &f).fails_with(&["--teacher-cache", "2 teachers"]);
    f.extend_from_slice(&["--teacher-cache", &cache]);
    distill(&dir, &teacher, &out, &f).fails_with(&["c.jsonl", "twice"]);
    // The statement vectors of one teacher cannot be matched against an ensemble.
    let mut f = flags.clone();
    f.extend_from_slice(&["--teacher", &other, "--match-pooled", "1"]);
    distill(&dir, &teacher, &out, &f).fails_with(&["--match-pooled"]);
    // Teachers with their labels in another order cannot be averaged: the error names the teacher.
    let swapped = dir.path("swapped");
    std::fs::create_dir(&swapped).unwrap();
    for name in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(shared_model().join(name), swapped.join(name)).unwrap();
    }
    let mut config = json(&shared_model().join("config.json"));
    let id2label = config["id2label"].as_object_mut().unwrap();
    let (a, b) = (id2label["0"].clone(), id2label["1"].clone());
    id2label.insert("0".into(), b);
    id2label.insert("1".into(), a);
    let label2id: serde_json::Map<String, serde_json::Value> = id2label
        .iter()
        .map(|(i, l)| {
            (
                l.as_str().unwrap().to_string(),
                i.parse::<u64>().unwrap().into(),
            )
        })
        .collect();
    config["label2id"] = label2id.into();
    std::fs::write(swapped.join("config.json"), config.to_string()).unwrap();
    let mut f = flags.clone();
    f.extend_from_slice(&["--teacher", swapped.to_str().unwrap()]);
    distill(&dir, &teacher, &out, &f).fails_with(&["swapped", "labels"]);
    assert!(!out.exists());
}
