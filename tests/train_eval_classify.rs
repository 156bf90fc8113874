//! End to end: train the tiny model on the toy fixtures, evaluate it, classify with it, and check that
//! training is reproducible and actually learns.

mod common;
use common::{Dir, fixture, shared_model, train_tiny};

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn trained_model_directory_is_in_transformers_format() {
    let m = shared_model();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "training.json",
    ] {
        assert!(m.join(f).is_file(), "missing {f}");
    }
    // Every file gets the same permissions (the weights are not left owner-only).
    let perms = |f: &str| std::fs::metadata(m.join(f)).unwrap().permissions();
    assert_eq!(perms("model.safetensors"), perms("config.json"));
    let cfg = common::json(&m.join("config.json"));
    assert_eq!(cfg["model_type"], "bert");
    assert_eq!(cfg["architectures"][0], "BertForSequenceClassification");
    assert_eq!(cfg["id2label"]["0"], "assurance");
    assert_eq!(cfg["label2id"]["threat"], 4);
    assert_eq!(cfg["hidden_size"], 32);
    let log = common::json(&m.join("training.json"));
    assert_eq!(log["history"].as_array().unwrap().len(), 12);
    assert!(log["best_dev"]["macro_f1"].as_f64().unwrap() > 0.0);
    assert_eq!(log["options"]["seed"], 42);
}

#[test]
fn a_learnable_toy_task_is_learned() {
    let dir = Dir::new();
    let r = common::eval_json(&dir, shared_model(), &fixture("dev.jsonl"));
    let f1 = r["macro_f1"].as_f64().unwrap();
    // Five balanced classes: chance is 0.2.
    assert!(f1 > 0.8, "dev macro-F1 {f1}");
    assert_eq!(r["n"], 60);
    assert_eq!(r["confusion"]["labels"].as_array().unwrap().len(), 5);
    let rows: u64 = r["confusion"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(rows, 60);
    assert!(r["ece"].as_f64().unwrap() >= 0.0);
    assert_eq!(r["per_class"]["denial"]["support"], 12);
    assert!(r["accuracy"].as_f64().unwrap() > 0.8);
}

#[test]
fn eval_table_and_most_confident_errors() {
    let dir = Dir::new();
    let model = shared_model().display().to_string();
    let data = dir.write(
        "d.jsonl",
        "{\"text\":\"The embassy slammed the treaty on Tuesday.\",\"label\":\"neutral\"}\n\
         {\"text\":\"Police denied any role in the blockade overnight.\",\"label\":\"denial\"}\n",
    );
    let out = dir
        .run(&[
            "eval",
            "--model",
            &model,
            "--data",
            data.to_str().unwrap(),
            "--errors",
            "5",
        ])
        .ok();
    assert!(out.contains("macro-F1"), "{out}");
    assert!(
        out.contains("confusion (rows gold, columns predicted)"),
        "{out}"
    );
    assert!(out.contains("most confident mistakes"), "{out}");
    assert!(out.contains("line     1  gold neutral"), "{out}");
}

#[test]
fn eval_intervals_and_paired_comparison() {
    let dir = Dir::new();
    let tiny = shared_model();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/stance-small");
    // The dev fixture with every fourth gold label moved to the next class, so no model is perfect.
    let labels = ["assurance", "condemnation", "denial", "neutral", "threat"];
    let mut noisy = String::new();
    for (i, line) in std::fs::read_to_string(fixture("dev.jsonl"))
        .unwrap()
        .lines()
        .enumerate()
    {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if i.is_multiple_of(4) {
            let at = labels.iter().position(|l| v["label"] == *l).unwrap();
            v["label"] = labels[(at + 1) % 5].into();
        }
        noisy.push_str(&format!("{v}\n"));
    }
    let dev = dir.write("noisy.jsonl", noisy).display().to_string();
    let r = common::eval_json(&dir, tiny, &dev);
    let f1 = r["macro_f1"].as_f64().unwrap();
    let ci = &r["ci"]["macro_f1"];
    let (lo, hi) = (ci["lo"].as_f64().unwrap(), ci["hi"].as_f64().unwrap());
    assert!(lo <= f1 && f1 <= hi && lo < hi, "{f1} outside {lo}..{hi}");
    assert_eq!(r["ci"]["resamples"], 1000);

    let args = |other: &std::path::Path, format: &'static str| -> Vec<String> {
        [
            "eval",
            "--model",
            &tiny.display().to_string(),
            "--data",
            &dev,
        ]
        .into_iter()
        .map(String::from)
        .chain(["--compare".into(), other.display().to_string()])
        .chain(["--format".into(), format.into()])
        .collect()
    };
    let run = |a: Vec<String>| dir.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let json = |out: String| -> serde_json::Value { serde_json::from_str(out.trim()).unwrap() };

    // Against itself: no difference in any resample.
    let same = json(run(args(tiny, "json")).ok());
    let d = &same["compare"]["difference"];
    assert_eq!(d["macro_f1_difference"], 0.0);
    assert_eq!(d["macro_f1_difference_ci"]["lo"], 0.0);
    assert_eq!(d["macro_f1_difference_ci"]["hi"], 0.0);
    assert_eq!(d["macro_f1_higher_share"], 0.0);

    // Against the shipped model: its figures are what eval gives it alone, and the difference is ours
    // minus theirs, inside its interval.
    let vs = json(run(args(&shipped, "json")).ok());
    let alone = common::eval_json(&dir, &shipped, &dev);
    assert_eq!(vs["compare"]["macro_f1"], alone["macro_f1"]);
    let d = &vs["compare"]["difference"];
    let diff = d["macro_f1_difference"].as_f64().unwrap();
    assert!((diff - (f1 - alone["macro_f1"].as_f64().unwrap())).abs() < 1e-12);
    let (lo, hi) = (
        d["macro_f1_difference_ci"]["lo"].as_f64().unwrap(),
        d["macro_f1_difference_ci"]["hi"].as_f64().unwrap(),
    );
    assert!(lo <= diff && diff <= hi, "{diff} outside {lo}..{hi}");
    let table = run(args(&shipped, "table")).ok();
    assert!(
        table.contains("macro-F1    ") && table.contains("(95% CI "),
        "{table}"
    );
    assert!(table.contains("paired resamples"), "{table}");

    // --gain-over: with the tiny model as teacher and the shipped one as baseline, the tiny model
    // keeps all of the gain and the shipped model none of it.
    assert!(
        f1 > alone["macro_f1"].as_f64().unwrap(),
        "the tiny model is better here"
    );
    let kept = |student: &std::path::Path| {
        let mut a = args(tiny, "json");
        a[2] = student.display().to_string();
        a.extend(["--gain-over".into(), shipped.display().to_string()]);
        let v = json(run(a).ok());
        assert_eq!(v["gain_over"]["macro_f1"], alone["macro_f1"]);
        v["gain_over"]["gain_kept"]["share"].as_f64().unwrap()
    };
    assert!((kept(tiny) - 1.0).abs() < 1e-12);
    assert_eq!(kept(&shipped), 0.0);

    // A model with other labels cannot be compared.
    let renamed = dir.path("renamed");
    std::fs::create_dir(&renamed).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny.join(f), renamed.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(tiny.join("config.json")).unwrap();
    assert!(cfg.contains("\"threat\""));
    std::fs::write(
        renamed.join("config.json"),
        cfg.replace("\"threat\"", "\"warning\""),
    )
    .unwrap();
    run(args(&renamed, "table")).fails_with(&["--compare", "renamed", "labels", "differ"]);
}

#[test]
fn classify_keeps_input_order_from_arguments_and_stdin() {
    let dir = Dir::new();
    let model = shared_model().display().to_string();
    let texts = [
        "The ministry denounced the port on Monday after a long and heated session of parliament.",
        "Police denied any role in the blockade.",
        "Officials held talks on the treaty.",
    ];
    let mut args = vec!["classify", "--model", &model, "--format", "jsonl"];
    args.extend(texts);
    let rows = json_lines(&dir.run(&args).ok());
    assert_eq!(rows.len(), 3);
    for (row, text) in rows.iter().zip(texts) {
        assert_eq!(row["text"], text);
        let scores = row["scores"].as_object().unwrap();
        assert_eq!(scores.len(), 5);
        let sum: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        let label = row["label"].as_str().unwrap();
        assert_eq!(row["confidence"], scores[label]);
    }
    assert_eq!(rows[1]["label"], "denial");
    // stdin, blank lines skipped, same answers; no --format on a pipe means jsonl
    let stdin = format!("{}\n\n{}\r\n{}", texts[0], texts[1], texts[2]);
    let piped = json_lines(
        &dir.run_stdin(&["classify", "--model", &model], Some(stdin.as_bytes()))
            .ok(),
    );
    assert_eq!(piped, rows);
    let csv = dir
        .run(&["classify", "--model", &model, "--format", "csv", texts[1]])
        .ok();
    assert!(
        csv.starts_with("text,label,confidence,assurance,condemnation,denial,neutral,threat\n"),
        "{csv}"
    );
    let table = dir
        .run(&["classify", "--model", &model, "--format", "table", texts[1]])
        .ok();
    assert!(
        table.lines().nth(1).unwrap().starts_with("denial"),
        "{table}"
    );
}

#[test]
fn stance_model_environment_variable_selects_the_model() {
    let dir = Dir::new();
    let model = shared_model().display().to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stance"));
    let out = cmd
        .args([
            "classify",
            "--format",
            "jsonl",
            "Police denied any role in the blockade.",
        ])
        .env("STANCE_MODEL", &model)
        .current_dir(dir.tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"label\":\"denial\""));
}

#[test]
fn long_statements_are_truncated_with_one_note() {
    let dir = Dir::new();
    let model = shared_model().display().to_string();
    let long = "the ministry slammed the port ".repeat(10);
    let run = dir.run(&[
        "classify", "--model", &model, "--format", "jsonl", &long, &long,
    ]);
    assert_eq!(run.ok().lines().count(), 2);
    let err = run.stderr();
    assert_eq!(err.matches("truncated").count(), 1, "{err}");
    assert!(
        err.contains("2 statement(s) longer than 24 tokens"),
        "{err}"
    );
}

#[test]
fn same_seed_same_bits_other_seed_other_bits() {
    let dir = Dir::new();
    let flags = ["--epochs", "2"];
    train_tiny(&dir, "a", &flags).ok();
    train_tiny(&dir, "b", &flags).ok();
    train_tiny(&dir, "c", &["--epochs", "2", "--seed", "7"]).ok();
    let read = |n: &str| std::fs::read(dir.path(n).join("model.safetensors")).unwrap();
    assert!(read("a") == read("b"), "same seed gave different weights");
    assert!(read("a") != read("c"), "another seed gave the same weights");
    let tok = |n: &str| std::fs::read(dir.path(n).join("tokenizer.json")).unwrap();
    assert!(tok("a") == tok("b"));
}

#[test]
fn csv_and_tsv_data_train_and_evaluate() {
    let dir = Dir::new();
    let out = dir.path("m").display().to_string();
    let (train_csv, dev_tsv) = (fixture("train.csv"), fixture("dev.tsv"));
    let mut args = vec![
        "train", "--train", &train_csv, "--dev", &dev_tsv, "--out", &out, "--epochs", "1",
    ];
    args.extend_from_slice(common::TINY);
    dir.run(&args).ok();
    let r = dir
        .run(&[
            "eval", "--model", &out, "--data", &dev_tsv, "--format", "json",
        ])
        .ok();
    assert!(r.contains("\"n\":60"), "{r}");
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let dir = Dir::new();
    // The toy task is learned within a few epochs, after which dev macro-F1 stops rising.
    train_tiny(&dir, "m", &["--epochs", "40", "--patience", "2"]).ok();
    let log = common::json(&dir.path("m").join("training.json"));
    let history = log["history"].as_array().unwrap();
    assert!(history.len() < 30, "did not stop early");
    let best = log["best_epoch"].as_u64().unwrap() as usize;
    let best_f1 = history[best - 1]["dev_macro_f1"].as_f64().unwrap();
    for h in history {
        assert!(h["dev_macro_f1"].as_f64().unwrap() <= best_f1);
    }
    assert_eq!(history.len(), best + 2);
}

#[test]
fn the_weight_average_is_what_is_evaluated_and_saved() {
    let dir = Dir::new();
    train_tiny(
        &dir,
        "ema",
        &["--epochs", "12", "--patience", "0", "--ema", "0.95"],
    )
    .ok();
    let model = dir.path("ema");
    let log = common::json(&model.join("training.json"));
    assert_eq!(log["options"]["ema"], 0.95);
    // The saved weights are the ones the best epoch was chosen on: eval reproduces its dev figures.
    let r = common::eval_json(&dir, &model, &fixture("dev.jsonl"));
    assert_eq!(r["macro_f1"], log["best_dev"]["macro_f1"]);
    assert!(r["macro_f1"].as_f64().unwrap() > 0.8, "{r}");
    // Same flags without the average (the shared model) give other weights.
    let read = |p: &std::path::Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert!(read(&model) != read(shared_model()));
    train_tiny(&dir, "bad", &["--ema", "1"]).fails_with(&["--ema"]);
}
