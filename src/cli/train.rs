//! `stance train`: fit a model on labelled statements and write a model directory.

use super::progress::TrainProgress;
use anyhow::{Context, Result};
use stance::config::{Architecture, Pooling};
use stance::data::{Labels, read_examples};
use stance::train::{Observer, TrainOptions, Trained, train};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Train a classifier on labelled statements (JSONL with "text" and "label", or CSV/TSV with those
/// columns), evaluating on --dev after every epoch and keeping the best epoch.
///
/// From scratch, a WordPiece vocabulary is trained on the training texts. With --init DIR, the encoder and
/// tokenizer of a BERT model directory are fine-tuned under a fresh classification head. The output is a
/// Hugging Face model directory with config.json, model.safetensors, tokenizer.json and training.json,
/// written atomically.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training data (.jsonl, .csv or .tsv).
    #[arg(long, value_name = "FILE")]
    train: PathBuf,
    /// Development data for per-epoch evaluation, early stopping and choosing the best epoch.
    #[arg(long, value_name = "FILE")]
    dev: PathBuf,
    /// Output model directory (replaced atomically when training succeeds).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Start from this BERT model directory (encoder and tokenizer); the architecture options are then
    /// taken from its config.json.
    #[arg(long, value_name = "DIR")]
    init: Option<PathBuf>,
    #[command(flatten)]
    hyper: Hyper,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

/// Architecture and optimisation flags shared by `train` and `distill`.
#[derive(clap::Args, Debug)]
pub struct Hyper {
    /// Hidden size.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Number of encoder layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Attention heads (must divide --hidden).
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Feed-forward size.
    #[arg(long, default_value_t = 512)]
    intermediate: usize,
    /// Maximum statement length in tokens; longer ones are truncated [default: 128, or 64 with --init].
    #[arg(long)]
    max_len: Option<usize>,
    /// Vocabulary size of the trained WordPiece tokenizer (ignored with --init).
    #[arg(long, default_value_t = 8000)]
    vocab_size: usize,
    /// Dropout probability (hidden states and attention).
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Statement vector: the mean of the token vectors, or the [CLS] token through the pooler.
    #[arg(long, default_value = "mean")]
    pooling: Pooling,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Statements per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate [default: 1e-3, or 5e-5 with --init].
    #[arg(long)]
    lr: Option<f64>,
    /// Fraction of all steps for the linear warm-up.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    /// AdamW weight decay (not applied to biases and LayerNorm).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Clip the global gradient norm to this value (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Random seed: the same seed and data give the same model, bit for bit.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Stop after this many epochs without a better dev macro-F1 (0: never stop early).
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Do not update the embeddings.
    #[arg(long)]
    freeze_embeddings: bool,
    /// Do not update the lowest N encoder layers.
    #[arg(long, default_value_t = 0)]
    freeze_layers: usize,
    /// Layer-wise learning-rate decay: each layer below the top gets this factor more (1: off).
    #[arg(long, default_value_t = 1.0)]
    layer_lr_decay: f64,
    /// Start the word embeddings of a new vocabulary from a pretrained encoder (a model directory such
    /// as models/base/all-MiniLM-L6-v2): each token read alone by it, reduced to --hidden by principal
    /// components. Not with --init, which brings its own embeddings.
    #[arg(long, value_name = "DIR")]
    word_vectors: Option<PathBuf>,
    /// Keep an exponential moving average of the weights with this decay (for example 0.999: about the
    /// last 1,000 steps) and evaluate and save it instead of the raw weights (0: off).
    #[arg(long, default_value_t = 0.0, value_name = "DECAY")]
    ema: f64,
    /// Fill batches in plain random order. By default statements of similar length share a batch (the
    /// batches themselves in random order), which cuts padding and so training time.
    #[arg(long)]
    no_length_grouping: bool,
}

impl Args {
    /// The library's options from the flags.
    pub fn options(&self) -> TrainOptions {
        self.hyper.options(self.init.clone())
    }
}

impl Hyper {
    /// The library's options; `init` is the starting model, if any.
    pub fn options(&self, init: Option<PathBuf>) -> TrainOptions {
        let fine_tune = init.is_some();
        TrainOptions {
            arch: Architecture {
                hidden: self.hidden,
                layers: self.layers,
                heads: self.heads,
                intermediate: self.intermediate,
                max_len: self.max_len.unwrap_or(if fine_tune { 64 } else { 128 }),
                dropout: self.dropout,
                pooling: self.pooling,
            },
            vocab_size: self.vocab_size,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr.unwrap_or(if fine_tune { 5e-5 } else { 1e-3 }),
            warmup: self.warmup,
            weight_decay: self.weight_decay,
            max_grad_norm: self.max_grad_norm,
            seed: self.seed,
            patience: self.patience,
            init,
            freeze_embeddings: self.freeze_embeddings,
            freeze_layers: self.freeze_layers,
            layer_lr_decay: self.layer_lr_decay,
            group_by_length: !self.no_length_grouping,
            word_vectors: self.word_vectors.clone(),
            ema: self.ema,
            ..TrainOptions::default()
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = args.options();
    let train_set = read_examples(&args.train, Labels::Required)?;
    let dev_set = read_examples(&args.dev, Labels::Required)?;
    let mut progress = TrainProgress::new(args.quiet);
    if let Some(init) = &opts.init {
        progress.note(&format!("fine-tuning {}", init.display()));
    }
    let trained = train(
        &train_set,
        &args.train,
        &dev_set,
        &args.dev,
        &opts,
        &mut progress,
    );
    progress.finish();
    let trained = trained?;
    let data = serde_json::json!({
        "train": args.train, "dev": args.dev,
        "train_statements": train_set.len(), "dev_statements": dev_set.len(),
    });
    save(&trained, &args.out, &opts, &data)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the trained model directory (atomically) and says on stderr where, with its best dev figures.
pub fn save(
    trained: &Trained,
    out: &Path,
    opts: &TrainOptions,
    data: &serde_json::Value,
) -> Result<()> {
    trained
        .save(out, opts, data)
        .with_context(|| format!("writing the model to {}", out.display()))?;
    eprintln!(
        "stance: best epoch {} (dev macro-F1 {:.4}, accuracy {:.4}); model written to {} in {:.1}s",
        trained.best_epoch,
        trained.best.macro_f1,
        trained.best.accuracy,
        out.display(),
        trained.seconds
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn defaults_depend_on_init() {
        let t = T::parse_from(["t", "--train", "a.jsonl", "--dev", "b.jsonl", "--out", "m"]);
        let o = t.a.options();
        assert_eq!((o.arch.max_len, o.lr), (128, 1e-3));
        assert_eq!(o.arch.pooling, Pooling::Mean);
        let t = T::parse_from([
            "t", "--train", "a", "--dev", "b", "--out", "m", "--init", "base",
        ]);
        let o = t.a.options();
        assert_eq!((o.arch.max_len, o.lr), (64, 5e-5));
    }

    #[test]
    fn pooling_flag_parses() {
        let t = T::parse_from([
            "t",
            "--train",
            "a",
            "--dev",
            "b",
            "--out",
            "m",
            "--pooling",
            "cls",
        ]);
        assert_eq!(t.a.options().arch.pooling, Pooling::Cls);
        assert!(
            T::try_parse_from([
                "t",
                "--train",
                "a",
                "--dev",
                "b",
                "--out",
                "m",
                "--pooling",
                "max"
            ])
            .is_err()
        );
    }
}
