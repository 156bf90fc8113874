//! Benchmark (`cargo bench`): classify throughput at batch sizes 1 and 32 on a fixed set of statements
//! (data/test.jsonl), the encoder's achieved GFLOP/s against this machine's matrix-multiply peak measured
//! in the same run, the wall time of a one-statement `stance classify` process, and training time per epoch.
//! The model is `STANCE_BENCH_MODEL` or models/stance-small. Set `STANCE_BENCH_SKIP_TRAIN=1` to skip the
//! training epoch.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use candle_core::{DType, Device, Tensor};
use stance::Classifier;
use stance::data::{Labels, read_examples};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    // The execution model of `stance`: single-threaded kernels, one batch worker per core.
    // SAFETY: no other thread exists yet.
    unsafe { stance::workers::init_process() };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_dir = std::env::var_os("STANCE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/stance-small"));
    let clf = Classifier::load(&model_dir).expect("load the model");
    let cfg = clf.config();
    let workers = stance::workers::count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let test =
        read_examples(&root.join("data/test.jsonl"), Labels::Optional).expect("data/test.jsonl");
    let texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
    println!(
        "model          {} (hidden {}, layers {}, heads {}, intermediate {}, {:.1} MB)",
        model_dir.display(),
        cfg.hidden_size,
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        dir_mb(&model_dir)
    );
    println!(
        "machine        {cores} cores, {workers} batch workers, {} statements",
        texts.len()
    );

    let peak = matmul_peak(cores);
    println!(
        "matmul peak    {peak:.1} GFLOP/s (f32 1024x1024x1024, one single-threaded gemm per core)"
    );

    let flops: f64 = texts
        .iter()
        .map(|t| {
            stance::model::flops_per_statement(cfg, clf.tokenizer().ids(t).map_or(0, |v| v.len()))
        })
        .sum();
    clf.predict(&texts[..64], 32).expect("warm-up");
    let b32 = best_of(3, || {
        time(|| clf.predict(&texts, 32).map(|_| ()).expect("predict"))
    });
    let sub = &texts[..200];
    let b1 = best_of(2, || {
        time(|| clf.predict(sub, 1).map(|_| ()).expect("predict"))
    });
    let gflops = flops / b32 / 1e9;
    println!(
        "batch 32       {:.0} statements/s",
        texts.len() as f64 / b32
    );
    println!("batch 1        {:.0} statements/s", sub.len() as f64 / b1);
    println!(
        "encoder        {:.2} GFLOP/statement (mean), {gflops:.1} GFLOP/s at batch 32 = {:.0}% of peak",
        flops / texts.len() as f64 / 1e9,
        100.0 * gflops / peak
    );

    let exe = env!("CARGO_BIN_EXE_stance");
    let mut runs: Vec<f64> = (0..11)
        .map(|_| {
            time(|| {
                let out = std::process::Command::new(exe)
                    .args(["classify", "--format", "jsonl", "--model"])
                    .arg(&model_dir)
                    .arg("The ministry dismissed the report as pure fabrication.")
                    .output()
                    .expect("run stance");
                assert!(out.status.success());
            })
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    println!(
        "one statement  {:.0} ms per `stance classify` process (median of 11)",
        runs[5] * 1e3
    );

    if std::env::var_os("STANCE_BENCH_SKIP_TRAIN").is_none() {
        train_epoch(root, &model_dir);
    }
}

fn dir_mb(dir: &Path) -> f64 {
    ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn best_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// GFLOP/s of `cores` threads each multiplying two 1024×1024 f32 matrices 8 times.
fn matmul_peak(cores: usize) -> f64 {
    let n = 1024;
    let a = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu).expect("randn");
    let _ = a.matmul(&a).expect("warm-up");
    let reps = 8;
    let secs = time(|| {
        std::thread::scope(|s| {
            for _ in 0..cores {
                s.spawn(|| {
                    for _ in 0..reps {
                        let c = a.matmul(&a).expect("matmul");
                        assert_eq!(c.dtype(), DType::F32);
                    }
                });
            }
        })
    });
    (cores * reps) as f64 * 2.0 * (n as f64).powi(3) / secs / 1e9
}

/// One epoch of `stance train` on data/train.jsonl with the model's recorded options.
fn train_epoch(root: &Path, model_dir: &Path) {
    let log: serde_json::Value = std::fs::read(model_dir.join("training.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let a = &log["options"]["arch"];
    let get = |k: &str, d: u64| a[k].as_u64().unwrap_or(d).to_string();
    let out = std::env::temp_dir().join(format!("stance-bench-{}", std::process::id()));
    let train = root.join("data/train.jsonl");
    let dev = root.join("data/dev.jsonl");
    let pooling = a["pooling"].as_str().unwrap_or("cls").to_string();
    let args: Vec<String> = vec![
        "train".into(),
        "--train".into(),
        train.display().to_string(),
        "--dev".into(),
        dev.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--epochs".into(),
        "1".into(),
        "--hidden".into(),
        get("hidden", 128),
        "--layers".into(),
        get("layers", 2),
        "--heads".into(),
        get("heads", 4),
        "--intermediate".into(),
        get("intermediate", 512),
        "--max-len".into(),
        get("max_len", 128),
        "--pooling".into(),
        pooling,
        "-q".into(),
    ];
    let secs = time(|| {
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_stance"))
            .args(&args)
            .status()
            .expect("train");
        assert!(st.success());
    });
    let _ = std::fs::remove_dir_all(&out);
    println!(
        "train epoch    {secs:.1} s for {} statements (one epoch + dev evaluation, same architecture)",
        read_examples(&train, Labels::Optional).map_or(0, |v| v.len())
    );
}
