//! `stance distill`: train a small student on a teacher model's soft labels.

use super::progress::TrainProgress;
use super::train::Hyper;
use anyhow::Result;
use stance::Classifier;
use stance::data::{Labels, read_examples};
use stance::distill::{DistillData, Teacher, distill};
use stance::teacher_cache::{self, Opened, TeacherCache};
use stance::train::Observer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Distil a teacher model into a small student trained from scratch.
///
/// The teacher labels every training and unlabelled statement with its probabilities; the student learns
/// the teacher's temperature-softened distribution, mixed with the gold label where there is one
/// (alpha · gold loss + (1 − alpha) · T² · soft loss). Its vocabulary is learned from all the texts.
/// Several teachers act as one: the student learns the mean of their log-probabilities.
/// Architecture and optimisation flags are those of `stance train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Teacher model directory (for example a fine-tuned MiniLM). Repeat it to distil an ensemble:
    /// every teacher labels every statement, and the student learns the mean of their log-probabilities.
    #[arg(long, value_name = "DIR", required = true)]
    teacher: Vec<PathBuf>,
    /// Output model directory for the student (written atomically).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Labelled training data (.jsonl, .csv or .tsv).
    #[arg(long, value_name = "FILE")]
    train: PathBuf,
    /// Labelled development data for per-epoch evaluation and early stopping.
    #[arg(long, value_name = "FILE")]
    dev: PathBuf,
    /// Unlabelled statements (a "text" field or column; labels, if any, are ignored). Repeatable.
    #[arg(long, value_name = "FILE")]
    unlabelled: Vec<PathBuf>,
    /// Noisy copies of every labelled and unlabelled statement for the teacher to label (words deleted
    /// or replaced by corpus words, 10% each; a quarter keep only a window of the statement).
    #[arg(long, default_value_t = 0, value_name = "N")]
    augment: usize,
    /// Keep the teacher's labels in FILE (JSON Lines) and reuse them on later runs with the same
    /// teacher, so only statements it has not seen are labelled. A file written by another teacher
    /// is replaced. With several teachers, give one file per teacher, in the same order.
    #[arg(long, value_name = "FILE")]
    teacher_cache: Vec<PathBuf>,
    /// Softmax temperature for the teacher's and the student's soft distributions.
    #[arg(long, default_value_t = 2.0)]
    temperature: f64,
    /// Weight of the gold-label loss on labelled statements (the soft loss gets 1 − alpha).
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Also teach the student the teacher's pooled statement vectors: this weight times the cosine
    /// distance between them, through a projection to the teacher's size that is trained alongside and
    /// not saved. The teacher cache then keeps the vectors too (0: off).
    #[arg(long, default_value_t = 0.0, value_name = "WEIGHT")]
    match_pooled: f64,
    #[command(flatten)]
    hyper: Hyper,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut opts = args.hyper.options(None);
    opts.temperature = args.temperature;
    opts.alpha = args.alpha;
    opts.match_pooled = args.match_pooled;
    if !args.teacher_cache.is_empty() && args.teacher_cache.len() != args.teacher.len() {
        anyhow::bail!(
            "--teacher-cache: give one file per --teacher ({} teachers, {} cache files)",
            args.teacher.len(),
            args.teacher_cache.len()
        );
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = args.teacher_cache.iter().find(|p| !seen.insert(*p)) {
        anyhow::bail!(
            "--teacher-cache: {} is given twice; each teacher needs its own file",
            twice.display()
        );
    }
    let models = args
        .teacher
        .iter()
        .map(|dir| Classifier::load(dir))
        .collect::<stance::Result<Vec<_>>>()?;
    for (dir, model) in args.teacher.iter().zip(&models).skip(1) {
        if model.labels() != models[0].labels() {
            anyhow::bail!(
                "{}: labels {:?} differ from the first teacher's {:?}; teachers must share them, in order",
                dir.display(),
                model.labels(),
                models[0].labels()
            );
        }
    }
    let train = read_examples(&args.train, Labels::Required)?;
    let dev = read_examples(&args.dev, Labels::Required)?;
    let mut unlabelled = Vec::new();
    for path in &args.unlabelled {
        let mut rows = read_examples(path, Labels::Optional)?;
        rows.iter_mut().for_each(|r| r.label = None);
        unlabelled.extend(rows);
    }
    let mut progress = TrainProgress::new(args.quiet);
    let mut caches = Vec::with_capacity(args.teacher_cache.len());
    for ((path, dir), model) in args.teacher_cache.iter().zip(&args.teacher).zip(&models) {
        let print = teacher_cache::fingerprint(dir)?;
        let cache = TeacherCache::open(path, &print, model.labels())?;
        if cache.opened() == Opened::Replaced {
            progress.note(&format!(
                "{} holds another teacher's labels; starting it afresh",
                path.display()
            ));
        }
        caches.push(cache);
    }
    // Caches pair with teachers in order; without --teacher-cache every teacher has none.
    let caches = caches
        .iter_mut()
        .map(Some)
        .chain(std::iter::repeat_with(|| None));
    let mut teachers: Vec<Teacher> = models
        .iter()
        .zip(caches)
        .map(|(model, cache)| Teacher { model, cache })
        .collect();
    let data = DistillData {
        train: &train,
        train_path: &args.train,
        unlabelled: &unlabelled,
        dev: &dev,
        dev_path: &args.dev,
        augment: args.augment,
    };
    let trained = distill(&mut teachers, &data, &opts, &mut progress);
    progress.finish();
    let distilled = trained?;
    let trained = distilled.trained;
    let meta = serde_json::json!({
        "teachers": args.teacher, "train": args.train, "dev": args.dev, "unlabelled": args.unlabelled,
        "train_statements": train.len(), "unlabelled_statements": unlabelled.len(),
        "dev_statements": dev.len(), "augment": args.augment,
        "augmented_statements": distilled.augmented, "teacher_caches": args.teacher_cache,
    });
    super::train::save(&trained, &args.out, &opts, &meta)?;
    Ok(ExitCode::SUCCESS)
}
