//! Fine-tuning from an existing model directory (`train --init`) and distillation (`distill`), end to
//! end on the toy task. The shared tiny model stands in for the pretrained encoder and for the teacher,
//! so these tests run without the fetched MiniLM.

mod common;

use candle_core::{Device, Tensor};
use common::{Dir, TINY, fixture, shared_model};
use std::collections::HashMap;
use std::path::Path;

fn weights(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
        .expect("read model.safetensors")
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("parse json")
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
