//! Every error a user can cause: one line naming the file (and line) and what is wrong, a non-zero exit,
//! never a panic.

mod common;
use common::{Dir, fixture, shared_model, train_tiny};

fn copy_model(dir: &Dir, name: &str) -> std::path::PathBuf {
    let to = dir.path(name);
    std::fs::create_dir_all(&to).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(shared_model().join(f), to.join(f)).unwrap();
    }
    to
}

fn eval_on(dir: &Dir, model: &std::path::Path, data: &std::path::Path) -> common::Run {
    dir.run(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
}

#[test]
fn missing_training_file() {
    let dir = Dir::new();
    let dev = fixture("dev.jsonl");
    let r = dir.run(&[
        "train",
        "--train",
        "nope.jsonl",
        "--dev",
        &dev,
        "--out",
        "m",
    ]);
    r.fails_with(&["nope.jsonl: no such file or directory"]);
    assert!(!dir.path("m").exists());
}

#[test]
fn malformed_json_line_names_file_and_line() {
    let dir = Dir::new();
    let data = dir.write(
        "d.jsonl",
        "{\"text\":\"A fine line.\",\"label\":\"denial\"}\n{\"text\": \"broken\n",
    );
    eval_on(&dir, shared_model(), &data).fails_with(&["d.jsonl:2: malformed JSON"]);
}

#[test]
fn malformed_csv_row_names_file_and_line() {
    let dir = Dir::new();
    let data = dir.write(
        "d.csv",
        "text,label\n\"ok\",denial\n\"unterminated,denial,extra\nmore,x,y\n",
    );
    eval_on(&dir, shared_model(), &data).fails_with(&["d.csv:", "fields"]);
}

#[test]
fn empty_text_is_rejected() {
    let dir = Dir::new();
    let data = dir.write("d.jsonl", "{\"text\":\"   \",\"label\":\"denial\"}\n");
    eval_on(&dir, shared_model(), &data).fails_with(&["d.jsonl:1: empty text"]);
    let model = shared_model().to_str().unwrap();
    dir.run(&["classify", "--model", model, "ok", " "])
        .fails_with(&["argument 2: empty statement"]);
}

#[test]
fn unknown_label_in_eval_data() {
    let dir = Dir::new();
    let data = dir.write(
        "d.jsonl",
        "{\"text\":\"Officials held talks.\",\"label\":\"neutral\"}\n{\"text\":\"They praised it.\",\"label\":\"praise\"}\n",
    );
    eval_on(&dir, shared_model(), &data)
        .fails_with(&["d.jsonl:2: label \"praise\" is not one of the model's labels"]);
}

#[test]
fn dev_label_unknown_to_training_data() {
    let dir = Dir::new();
    let dev = dir.write(
        "dev.jsonl",
        "{\"text\":\"They praised it.\",\"label\":\"praise\"}\n",
    );
    let r = train_tiny_with_dev(&dir, &dev);
    r.fails_with(&["dev.jsonl:1: label \"praise\" is not one of the model's labels"]);
}

fn train_tiny_with_dev(dir: &Dir, dev: &std::path::Path) -> common::Run {
    let train = fixture("train.jsonl");
    let mut args = vec![
        "train",
        "--train",
        &train,
        "--dev",
        dev.to_str().unwrap(),
        "--out",
        "m",
    ];
    args.extend_from_slice(common::TINY);
    dir.run(&args)
}

#[test]
fn invalid_utf8_in_data_and_on_stdin() {
    let dir = Dir::new();
    let data = dir.write("d.jsonl", b"{\"text\":\"fine\",\"label\":\"neutral\"}\n{\"text\":\"bad \xff\",\"label\":\"neutral\"}\n");
    eval_on(&dir, shared_model(), &data).fails_with(&["d.jsonl:2: invalid UTF-8"]);
    let model = shared_model().to_str().unwrap();
    dir.run_stdin(&["classify", "--model", model], Some(b"fine\n\xfe\xff\n"))
        .fails_with(&["<stdin>:2: invalid UTF-8"]);
}

#[test]
fn model_directory_problems() {
    let dir = Dir::new();
    let data = fixture("dev.jsonl");
    let run =
        |m: &std::path::Path| dir.run(&["eval", "--model", m.to_str().unwrap(), "--data", &data]);
    run(&dir.path("absent")).fails_with(&["absent: model directory not found"]);
    let model = shared_model().display().to_string();
    dir.run(&[
        "eval",
        "--model",
        &model,
        "--data",
        &data,
        "--compare",
        "gone",
    ])
    .fails_with(&["--compare gone", "gone: model directory not found"]);

    let m = copy_model(&dir, "no-weights");
    std::fs::remove_file(m.join("model.safetensors")).unwrap();
    run(&m).fails_with(&["no-weights: model directory has no model.safetensors"]);

    let m = copy_model(&dir, "truncated");
    let bytes = std::fs::read(m.join("model.safetensors")).unwrap();
    std::fs::write(m.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    run(&m).fails_with(&["truncated/model.safetensors: corrupt or truncated safetensors file"]);

    let m = copy_model(&dir, "garbage");
    std::fs::write(
        m.join("model.safetensors"),
        b"not a safetensors file at all",
    )
    .unwrap();
    run(&m).fails_with(&["garbage/model.safetensors: corrupt or truncated"]);

    let m = copy_model(&dir, "vocab");
    let cfg = std::fs::read_to_string(m.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let n = v["vocab_size"].as_u64().unwrap();
    v["vocab_size"] = (n + 7).into();
    std::fs::write(m.join("config.json"), v.to_string()).unwrap();
    run(&m).fails_with(&[
        "vocab/tokenizer.json: vocabulary has",
        "config.json says vocab_size",
    ]);

    let m = copy_model(&dir, "badconfig");
    std::fs::write(m.join("config.json"), "{\"vocab_size\": 10,").unwrap();
    run(&m).fails_with(&["badconfig/config.json:1: invalid config.json"]);

    let m = copy_model(&dir, "badtok");
    std::fs::write(m.join("tokenizer.json"), "[]").unwrap();
    run(&m).fails_with(&["badtok/tokenizer.json: invalid tokenizer.json"]);
}

#[test]
fn failed_training_leaves_the_previous_model_untouched() {
    let dir = Dir::new();
    train_tiny(&dir, "m", &["--epochs", "1"]).ok();
    let before = std::fs::read(dir.path("m/model.safetensors")).unwrap();
    let dev = dir.write("dev.jsonl", "{\"text\":\"x y z\",\"label\":\"praise\"}\n");
    train_tiny_with_dev(&dir, &dev).fails_with(&["praise"]);
    assert_eq!(
        std::fs::read(dir.path("m/model.safetensors")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    assert_eq!(dir.run(&["train", "--train", "x.jsonl"]).code(), 2);
    assert_eq!(dir.run(&["classify", "--format", "xml", "hi"]).code(), 2);
    assert_eq!(dir.run(&["frobnicate"]).code(), 2);
}

#[test]
fn unknown_data_format_and_bad_options() {
    let dir = Dir::new();
    let data = dir.write("d.xml", "<x/>");
    eval_on(&dir, shared_model(), &data).fails_with(&["d.xml: unknown data format"]);
    let train = fixture("train.jsonl");
    let dev = fixture("dev.jsonl");
    dir.run(&[
        "train", "--train", &train, "--dev", &dev, "--out", "m", "--hidden", "30", "--heads", "4",
    ])
    .fails_with(&["hidden size 30 is not divisible by 4 heads"]);
    dir.run(&[
        "train", "--train", &train, "--dev", &dev, "--out", "m", "--warmup", "1.5",
    ])
    .fails_with(&["--warmup"]);
}
