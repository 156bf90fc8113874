//! Training: builds a model (from scratch with a freshly trained WordPiece vocabulary, or from a
//! pretrained `--init` directory with a new classification head), then runs AdamW with warm-up and
//! decay, dropout, gradient clipping and per-epoch dev evaluation with early stopping on macro-F1,
//! keeping the best epoch. Targets may be gold labels, soft teacher distributions, or both
//! (distillation). Same seed, same data, same machine: the same weights, bit for bit.

use crate::classifier;
use crate::config::{Architecture, Config};
use crate::data::{Example, label_set};
use crate::dropout;
use crate::ema::Ema;
use crate::error::{Error, Result};
use crate::metrics::{Meter, Report};
use crate::model::SequenceClassifier;
use crate::model_dir::{self, Weights};
use crate::optim::{GroupedAdamW, Param, Schedule, clip_grad_norm};
use crate::projection::Projection;
use crate::tokenizer::{StanceTokenizer, pad_batch};
use crate::{word_vectors, workers};
use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Every setting of a training run (saved in `training.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainOptions {
    pub arch: Architecture,
    /// Target WordPiece vocabulary size when training a tokenizer.
    pub vocab_size: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Fraction of all steps spent warming up.
    pub warmup: f64,
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub seed: u64,
    /// Epochs without a better dev macro-F1 before stopping (0: never stop early).
    pub patience: usize,
    /// A model directory to start from (its encoder and tokenizer).
    pub init: Option<PathBuf>,
    pub freeze_embeddings: bool,
    /// Freeze the lowest N encoder layers.
    pub freeze_layers: usize,
    /// Layer-wise learning-rate decay: layer l of L gets `lr · decay^(L+1−l)` (1: off).
    pub layer_lr_decay: f64,
    /// Distillation: softmax temperature of teacher and student soft targets.
    pub temperature: f64,
    /// Distillation: weight of the gold-label loss (the soft loss gets `1 − alpha`).
    pub alpha: f64,
    /// Batch statements of similar length together (less padding, faster epochs).
    #[serde(default)]
    pub group_by_length: bool,
    /// A pretrained encoder whose view of each token starts a new vocabulary's word embeddings
    /// ([`crate::word_vectors`]).
    #[serde(default)]
    pub word_vectors: Option<PathBuf>,
    /// Decay of the moving average of the weights that is evaluated and saved ([`crate::ema`]; 0: off,
    /// the raw weights).
    #[serde(default)]
    pub ema: f64,
    /// Distillation: weight of the loss that matches the student's pooled vectors, through a projection
    /// trained alongside and then dropped, to the teacher's ([`crate::projection`]; 0: off).
    #[serde(default)]
    pub match_pooled: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            arch: Architecture {
                hidden: 128,
                layers: 2,
                heads: 4,
                intermediate: 512,
                max_len: 128,
                dropout: 0.1,
                pooling: crate::config::Pooling::Mean,
            },
            vocab_size: 8000,
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            warmup: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 42,
            patience: 3,
            init: None,
            freeze_embeddings: false,
            freeze_layers: 0,
            layer_lr_decay: 1.0,
            temperature: 2.0,
            alpha: 0.5,
            group_by_length: true,
            word_vectors: None,
            ema: 0.0,
            match_pooled: 0.0,
        }
    }
}

/// What a training statement is supervised with.
#[derive(Clone, Debug)]
pub struct Target {
    /// Gold class.
    pub gold: Option<usize>,
    /// Teacher logits (distillation).
    pub teacher: Option<Vec<f32>>,
    /// The teacher's pooled statement vector (distillation with `match_pooled`).
    pub pooled: Option<Vec<f32>>,
}

/// A statement with its target.
#[derive(Clone, Debug)]
pub struct Item {
    pub text: String,
    pub target: Target,
}

/// Dev figures after one epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub dev_ece: f64,
    pub seconds: f64,
    pub examples_per_second: f64,
}

/// Receives progress while training runs (the CLI draws a progress bar).
pub trait Observer {
    fn start(&mut self, _epochs: usize, _steps_per_epoch: usize) {}
    fn step(&mut self, _epoch: usize, _step: usize, _loss: f64, _examples_per_second: f64) {}
    fn epoch(&mut self, _record: &Epoch, _improved: bool) {}
    fn note(&mut self, _message: &str) {}
    /// Distillation: the teacher has labelled `done` of `total` statements.
    fn labelled(&mut self, _done: usize, _total: usize) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// The outcome of training.
pub struct Trained {
    pub config: Config,
    pub weights: Weights,
    pub tokenizer: StanceTokenizer,
    pub history: Vec<Epoch>,
    pub best_epoch: usize,
    pub best: Report,
    pub seconds: f64,
}

impl Trained {
    /// `training.json`: the options, the data, the history and the best dev figures.
    pub fn log_json(&self, opts: &TrainOptions, data: &serde_json::Value) -> String {
        let v = serde_json::json!({
            "data": data,
            "options": opts,
            "labels": self.config.labels(),
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_dev": self.best,
            "seconds": self.seconds,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    /// Writes the model directory (atomically) with `training.json`.
    pub fn save(&self, dir: &Path, opts: &TrainOptions, data: &serde_json::Value) -> Result<()> {
        let log = self.log_json(opts, data);
        model_dir::write(
            dir,
            &self.config,
            &self.weights,
            &self.tokenizer,
            &[(model_dir::TRAINING, log)],
        )
    }
}

/// Gold class indices of `examples` under `labels`; an unknown label is an error at its line.
pub fn gold_indices(examples: &[Example], labels: &[String], path: &Path) -> Result<Vec<usize>> {
    examples
        .iter()
        .map(|e| {
            let l = e.label.as_deref().unwrap_or_default();
            labels.iter().position(|x| x == l).ok_or_else(|| {
                Error::data(
                    path,
                    e.line,
                    format!(
                        "label {l:?} is not one of the model's labels ({})",
                        labels.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Trains on labelled `train` examples with `dev` for model selection.
pub fn train(
    train: &[Example],
    train_path: &Path,
    dev: &[Example],
    dev_path: &Path,
    opts: &TrainOptions,
    obs: &mut dyn Observer,
) -> Result<Trained> {
    let labels = label_set(train);
    if labels.len() < 2 {
        return Err(Error::file(
            train_path,
            "training data needs at least two labels",
        ));
    }
    let gold = gold_indices(train, &labels, train_path)?;
    let items: Vec<Item> = train
        .iter()
        .zip(gold)
        .map(|(e, g)| Item {
            text: e.text.clone(),
            target: Target {
                gold: Some(g),
                teacher: None,
                pooled: None,
            },
        })
        .collect();
    let dev_gold = gold_indices(dev, &labels, dev_path)?;
    fit(&items, &labels, dev, &dev_gold, opts, obs)
}

/// Trains on `items` (gold and/or teacher targets over `labels`), selecting on `dev`.
pub fn fit(
    items: &[Item],
    labels: &[String],
    dev: &[Example],
    dev_gold: &[usize],
    opts: &TrainOptions,
    obs: &mut dyn Observer,
) -> Result<Trained> {
    validate(opts)?;
    let started = Instant::now();
    let dev_texts: Vec<&str> = dev.iter().map(|e| e.text.as_str()).collect();
    let (config, tokenizer, mut init_weights) = build_setup(items, labels, opts)?;
    if let Some(dir) = &opts.word_vectors {
        obs.note(&format!("word embeddings from {}", dir.display()));
        let table = word_vectors::from_encoder(
            dir,
            &tokenizer.tokens(),
            config.hidden_size,
            config.initializer_range,
        )?;
        init_weights
            .get_or_insert_with(HashMap::new)
            .insert("bert.embeddings.word_embeddings.weight".into(), table);
    }
    let (model, varmap, fresh) = build_model(&config, init_weights.as_ref(), opts.seed)?;
    if opts.init.is_some() && !fresh.is_empty() {
        obs.note(&format!("initialised fresh: {}", fresh.join(", ")));
    }
    let params = trainable(&varmap, &config, opts);
    let model = if params.len() < varmap.all_vars().len() {
        freeze(&varmap, &params, &config)?
    } else {
        model
    };
    let projection = projection_for(items, &config, opts)?;
    let mut params = params;
    if let Some(p) = &projection {
        params.extend(p.params()?);
    }
    let mut opt = GroupedAdamW::new(params, opts.weight_decay)?;
    let mut ema = if opts.ema > 0.0 {
        Some(Ema::new(opt.vars(), opts.ema)?)
    } else {
        None
    };

    let encoded: Vec<Vec<u32>> = items
        .iter()
        .map(|it| tokenizer.ids(&it.text))
        .collect::<Result<_>>()?;
    let lengths: Vec<usize> = encoded.iter().map(Vec::len).collect();
    let steps_per_epoch = items.len().div_ceil(opts.batch_size);
    let total = steps_per_epoch * opts.epochs;
    let schedule = Schedule {
        peak: opts.lr,
        warmup: ((total as f64 * opts.warmup).round() as usize).max(1),
        total,
    };
    let n_workers = workers::count();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    obs.start(opts.epochs, steps_per_epoch);

    let mut history = Vec::new();
    let mut best: Option<(usize, Report, Weights)> = None;
    let mut step = 0;
    for epoch in 1..=opts.epochs {
        let t0 = Instant::now();
        let mut loss_sum = 0.0;
        let batches = batches(&lengths, opts.batch_size, opts.group_by_length, &mut rng);
        for (i, batch) in batches.iter().enumerate() {
            let shares: Vec<&[usize]> = batch.chunks(batch.len().div_ceil(n_workers)).collect();
            let share_seed = |w: usize| {
                opts.seed
                    .wrapping_add(1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(((step as u64) << 8) | w as u64)
            };
            // Each worker computes the loss and gradients of its share, weighted by the share's part of
            // the batch; the shares' gradients are then summed in worker order (deterministic).
            let outcomes = workers::run(shares.len(), |w| -> Result<(f64, GradStore)> {
                let share = shares[w];
                dropout::seed(share_seed(w));
                let seqs: Vec<&[u32]> = share.iter().map(|&j| encoded[j].as_slice()).collect();
                let (ids, mask) = pad_batch(&seqs, tokenizer.pad_id(), &Device::Cpu)?;
                let (pooled, logits) = model.forward_pooled_t(&ids, &mask, true)?;
                let targets: Vec<&Target> = share.iter().map(|&j| &items[j].target).collect();
                let weight = share.len() as f64 / batch.len() as f64;
                let mut loss = loss(&logits, &targets, labels.len(), opts)?;
                if let Some(p) = &projection {
                    loss = (loss + (p.loss(&pooled, &targets)? * opts.match_pooled)?)?;
                }
                let loss = (loss * weight)?;
                Ok((loss.to_scalar::<f32>()? as f64, loss.backward()?))
            })?;
            let mut outcomes = outcomes.into_iter();
            let (mut l, mut grads) = outcomes
                .next()
                .ok_or_else(|| Error::Invalid("empty batch".into()))??;
            for outcome in outcomes {
                let (share_loss, share_grads) = outcome?;
                l += share_loss;
                grads = add_grads(grads, &share_grads, opt.vars())?;
            }
            clip_grad_norm(&mut grads, opt.vars(), opts.max_grad_norm)?;
            opt.step(&grads, schedule.lr(step))?;
            if let Some(ema) = ema.as_mut() {
                ema.update(opt.vars())?;
            }
            step += 1;
            loss_sum += l;
            let seen = (i + 1) * opts.batch_size;
            obs.step(
                epoch,
                i + 1,
                l,
                seen as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            );
        }
        let seconds = t0.elapsed().as_secs_f64();
        // With an average, it is what is evaluated and kept: swapped in here, back after the snapshot.
        if let Some(ema) = ema.as_mut() {
            ema.swap(opt.vars())?;
        }
        let report = evaluate(&model, &tokenizer, &dev_texts, dev_gold, labels)?;
        let record = Epoch {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            dev_accuracy: report.accuracy,
            dev_macro_f1: report.macro_f1,
            dev_ece: report.ece,
            seconds,
            examples_per_second: items.len() as f64 / seconds.max(1e-9),
        };
        let improved = best
            .as_ref()
            .is_none_or(|(_, b, _)| report.macro_f1 > b.macro_f1);
        obs.epoch(&record, improved);
        history.push(record);
        if improved {
            best = Some((epoch, report, snapshot(&varmap)?));
        }
        if let Some(ema) = ema.as_mut() {
            ema.swap(opt.vars())?;
        }
        if !improved
            && opts.patience > 0
            && epoch - best.as_ref().map_or(0, |b| b.0) >= opts.patience
        {
            obs.note(&format!(
                "early stop: no better dev macro-F1 for {} epochs",
                opts.patience
            ));
            break;
        }
    }
    let (best_epoch, best, weights) = best.ok_or_else(|| Error::Invalid("no epoch ran".into()))?;
    Ok(Trained {
        config,
        weights,
        tokenizer,
        history,
        best_epoch,
        best,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// With `match_pooled`, the projection from the student's hidden size to the size of the teacher's
/// vectors, which every item must carry.
fn projection_for(
    items: &[Item],
    config: &Config,
    opts: &TrainOptions,
) -> Result<Option<Projection>> {
    if opts.match_pooled == 0.0 {
        return Ok(None);
    }
    let dim_of = |it: &Item| it.target.pooled.as_ref().map(Vec::len);
    let dim = items.first().and_then(dim_of);
    match dim {
        Some(d) if d > 0 && items.iter().all(|it| dim_of(it) == dim) => Ok(Some(Projection::new(
            config.hidden_size,
            d,
            config.initializer_range,
            opts.seed,
        )?)),
        _ => Err(Error::Invalid(
            "--match-pooled needs the teacher's vector of the same size for every statement".into(),
        )),
    }
}

/// One epoch's batches of indices into `lengths`. Shuffled; with `group`, statements of similar token
/// length share a batch (less padding, as transformers' `group_by_length`): the shuffled order is cut
/// into runs of 50 batches, each run is sorted by length and cut into batches, and the batches are
/// shuffled.
fn batches(lengths: &[usize], size: usize, group: bool, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(rng);
    if !group {
        return order.chunks(size).map(<[usize]>::to_vec).collect();
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    for run in order.chunks(size * 50) {
        let mut run = run.to_vec();
        run.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        out.extend(run.chunks(size).map(<[usize]>::to_vec));
    }
    out.shuffle(rng);
    out
}

/// `sum` plus `more`, variable by variable.
fn add_grads(mut sum: GradStore, more: &GradStore, vars: &[Var]) -> Result<GradStore> {
    for v in vars {
        let t = v.as_tensor();
        if let Some(g) = more.get(t) {
            let total = match sum.get(t) {
                Some(s) => (s + g)?,
                None => g.clone(),
            };
            sum.insert(t, total);
        }
    }
    Ok(sum)
}

/// The model rebuilt so that the variables not in `params` are constants: backpropagation then skips
/// them (and everything below them that has no trainable input), instead of computing gradients that
/// would be thrown away. The tensors share storage with `varmap`, so optimiser updates are seen.
fn freeze(varmap: &VarMap, params: &[Param], config: &Config) -> Result<SequenceClassifier> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Invalid("poisoned variable map".into()))?;
    let tensors: HashMap<String, Tensor> = data
        .iter()
        .map(|(name, var)| {
            let t = if params.iter().any(|p| &p.name == name) {
                var.as_tensor().clone()
            } else {
                var.as_tensor().detach()
            };
            (name.clone(), t)
        })
        .collect();
    Ok(SequenceClassifier::load(
        VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
        config,
    )?)
}

/// Checks the options, before any work: a one-line error naming the flag at fault.
pub fn validate(opts: &TrainOptions) -> Result<()> {
    let bad = |m: &str| Err(Error::Invalid(m.into()));
    if opts.epochs == 0 || opts.batch_size == 0 {
        return bad("--epochs and --batch-size must be positive");
    }
    if !(opts.lr > 0.0 && opts.lr.is_finite()) {
        return bad("--lr must be a positive number");
    }
    if !(0.0..1.0).contains(&opts.warmup) {
        return bad("--warmup is a fraction of all steps, in [0, 1)");
    }
    if !(0.0..=1.0).contains(&opts.alpha) || opts.temperature <= 0.0 {
        return bad("--alpha must be in [0, 1] and --temperature positive");
    }
    if opts.layer_lr_decay <= 0.0 || opts.layer_lr_decay > 1.0 {
        return bad("--layer-lr-decay must be in (0, 1]");
    }
    if !(0.0..1.0).contains(&opts.ema) {
        return bad("--ema is a decay in [0, 1) (0: off)");
    }
    if !(opts.match_pooled >= 0.0 && opts.match_pooled.is_finite()) {
        return bad("--match-pooled is a loss weight, 0 or more (0: off)");
    }
    if opts.init.is_some() && opts.word_vectors.is_some() {
        return bad("--word-vectors is for a new vocabulary: drop it or --init");
    }
    Ok(())
}

/// The config, tokenizer and (for `--init`) starting weights.
fn build_setup(
    items: &[Item],
    labels: &[String],
    opts: &TrainOptions,
) -> Result<(Config, StanceTokenizer, Option<Weights>)> {
    match &opts.init {
        Some(dir) => {
            let files = model_dir::read(dir)?;
            let mut config = files.config;
            if opts.arch.max_len > config.max_position_embeddings {
                return Err(Error::Invalid(format!(
                    "--max-len {} exceeds the initial model's {} positions",
                    opts.arch.max_len, config.max_position_embeddings
                )));
            }
            config.set_labels(labels);
            config.pooling = opts.arch.pooling;
            config.hidden_dropout_prob = opts.arch.dropout;
            config.attention_probs_dropout_prob = opts.arch.dropout;
            let tokenizer = StanceTokenizer::from_bytes(
                files.tokenizer.to_json()?.as_bytes(),
                dir,
                opts.arch.max_len,
            )?;
            Ok((config, tokenizer, Some(files.weights)))
        }
        None => {
            let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
            let tokenizer = StanceTokenizer::train(&texts, opts.vocab_size, opts.arch.max_len)?;
            let config = Config::new(&opts.arch, tokenizer.vocab_size(), labels)?;
            Ok((config, tokenizer, None))
        }
    }
}

/// Builds the model over a fresh `VarMap`, initialised from a seeded generator (normal(0, range) for
/// matrices, ones for LayerNorm weights, zeros for biases) and then overwritten by `init` where a tensor
/// of the same name and shape exists (with or without the `bert.` prefix). Returns the names that
/// `init` did not provide.
pub fn build_model(
    config: &Config,
    init: Option<&Weights>,
    seed: u64,
) -> Result<(SequenceClassifier, VarMap, Vec<String>)> {
    let mut varmap = VarMap::new();
    let model = SequenceClassifier::load(
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        config,
    )?;
    let mut shapes: Vec<(String, Vec<usize>)> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Invalid("poisoned variable map".into()))?
        .iter()
        .map(|(k, v)| (k.clone(), v.dims().to_vec()))
        .collect();
    shapes.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fresh = Vec::new();
    for (name, dims) in shapes {
        let from_init = init
            .and_then(|w| lookup(w, &name))
            .filter(|t| t.dims() == dims.as_slice());
        let value = match from_init {
            Some(t) => t.to_dtype(DType::F32)?,
            None => {
                fresh.push(name.clone());
                init_tensor(&name, &dims, config.initializer_range, &mut rng)?
            }
        };
        varmap.set_one(&name, value)?;
    }
    Ok((model, varmap, fresh))
}

fn lookup<'a>(w: &'a Weights, name: &str) -> Option<&'a Tensor> {
    let bare = name.strip_prefix("bert.").unwrap_or(name);
    let old = |n: &str| {
        n.replace("LayerNorm.weight", "LayerNorm.gamma")
            .replace("LayerNorm.bias", "LayerNorm.beta")
    };
    w.get(name)
        .or_else(|| w.get(bare))
        .or_else(|| w.get(&old(name)))
        .or_else(|| w.get(&old(bare)))
}

fn init_tensor(name: &str, dims: &[usize], range: f64, rng: &mut ChaCha8Rng) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let values = if name.ends_with("LayerNorm.weight") {
        vec![1.0f32; n]
    } else if name.ends_with(".bias") {
        vec![0.0f32; n]
    } else {
        dropout::normal(rng, n, range)
    };
    Ok(Tensor::from_vec(values, dims, &Device::Cpu)?)
}

/// The parameters to train, with their learning-rate scale and decay flag; frozen ones are left out.
fn trainable(varmap: &VarMap, config: &Config, opts: &TrainOptions) -> Vec<Param> {
    let layers = config.num_hidden_layers;
    let data = match varmap.data().lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let depth = depth_of(name, layers);
            let frozen = (depth == 0 && opts.freeze_embeddings)
                || (depth >= 1 && depth <= layers && depth <= opts.freeze_layers);
            if frozen {
                return None;
            }
            let decay = !(name.ends_with(".bias") || name.contains("LayerNorm"));
            Some(Param {
                name: name.clone(),
                var: data[name].clone(),
                lr_scale: opts.layer_lr_decay.powi((layers + 1 - depth) as i32),
                decay,
            })
        })
        .collect()
}

/// 0 for embeddings, l+1 for encoder layer l, layers+1 for the pooler and classifier.
fn depth_of(name: &str, layers: usize) -> usize {
    if name.contains(".embeddings.") {
        return 0;
    }
    if let Some(rest) = name.split("encoder.layer.").nth(1)
        && let Some(Ok(l)) = rest.split('.').next().map(str::parse::<usize>)
    {
        return l + 1;
    }
    layers + 1
}

/// Cross-entropy against gold labels, mixed (for distillation) with the temperature-scaled soft loss
/// against teacher logits: `alpha · CE(gold) + (1 − alpha) · T² · CE(softmax(teacher/T), student/T)`.
fn loss(logits: &Tensor, targets: &[&Target], k: usize, opts: &TrainOptions) -> Result<Tensor> {
    let n = targets.len();
    let t = opts.temperature;
    let has_teacher = targets.iter().any(|x| x.teacher.is_some());
    let mut hard = vec![0f32; n * k];
    let mut soft = vec![0f32; n * k];
    let (mut w_hard, mut w_soft) = (vec![0f32; n], vec![0f32; n]);
    for (i, tg) in targets.iter().enumerate() {
        if let Some(g) = tg.gold {
            hard[i * k + g] = 1.0;
            w_hard[i] = if has_teacher && tg.teacher.is_some() {
                opts.alpha as f32
            } else {
                1.0
            };
        }
        if let Some(tl) = &tg.teacher {
            let p = softmax_scaled(tl, t);
            soft[i * k..(i + 1) * k].copy_from_slice(&p);
            w_soft[i] = if tg.gold.is_some() {
                1.0 - opts.alpha as f32
            } else {
                1.0
            };
        }
    }
    let dev = logits.device();
    let ce = |dist: Vec<f32>, weights: Vec<f32>, z: &Tensor| -> Result<Tensor> {
        let dist = Tensor::from_vec(dist, (n, k), dev)?;
        let w = Tensor::from_vec(weights, n, dev)?;
        let logp = candle_nn::ops::log_softmax(z, D::Minus1)?;
        let per = (dist * logp)?.sum(1)?.neg()?;
        Ok((per * w)?.sum_all()?)
    };
    let mut total = ce(hard, w_hard, logits)?;
    if has_teacher {
        let scaled = (logits / t)?;
        total = (total + (ce(soft, w_soft, &scaled)? * (t * t))?)?;
    }
    Ok((total / n as f64)?)
}

fn softmax_scaled(logits: &[f32], t: f64) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits
        .iter()
        .map(|z| (((z - m) as f64) / t).exp() as f32)
        .collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Dev figures of `model` on `texts` with gold classes `gold`.
pub fn evaluate(
    model: &SequenceClassifier,
    tokenizer: &StanceTokenizer,
    texts: &[&str],
    gold: &[usize],
    labels: &[String],
) -> Result<Report> {
    let preds = classifier::predict(model, tokenizer, texts, 64)?;
    let mut meter = Meter::new(labels);
    for (p, &g) in preds.items.iter().zip(gold) {
        meter.add(g, p.index, p.confidence);
    }
    Ok(meter.report())
}

fn snapshot(varmap: &VarMap) -> Result<Weights> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Invalid("poisoned variable map".into()))?;
    let mut out = HashMap::new();
    for (k, v) in data.iter() {
        out.insert(k.clone(), v.as_tensor().copy()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_orders_embeddings_layers_and_head() {
        assert_eq!(depth_of("bert.embeddings.word_embeddings.weight", 4), 0);
        assert_eq!(
            depth_of("bert.encoder.layer.0.attention.self.query.weight", 4),
            1
        );
        assert_eq!(depth_of("bert.encoder.layer.3.output.dense.bias", 4), 4);
        assert_eq!(depth_of("classifier.weight", 4), 5);
        assert_eq!(depth_of("bert.pooler.dense.weight", 4), 5);
    }

    #[test]
    fn hard_loss_is_cross_entropy() {
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[2.0f32, 0.0], [0.0, 1.0]], &dev).unwrap();
        let t = [
            Target {
                gold: Some(0),
                teacher: None,
                pooled: None,
            },
            Target {
                gold: Some(0),
                teacher: None,
                pooled: None,
            },
        ];
        let refs: Vec<&Target> = t.iter().collect();
        let l = loss(&logits, &refs, 2, &TrainOptions::default())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let want = candle_nn::loss::cross_entropy(&logits, &Tensor::new(&[0u32, 0], &dev).unwrap())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }

    #[test]
    fn soft_loss_is_smallest_when_student_matches_teacher() {
        let dev = Device::Cpu;
        let opts = TrainOptions {
            alpha: 0.0,
            ..TrainOptions::default()
        };
        let teacher = vec![1.0f32, -1.0, 0.5];
        let t = [Target {
            gold: None,
            teacher: Some(teacher.clone()),
            pooled: None,
        }];
        let refs: Vec<&Target> = t.iter().collect();
        let at = |z: Vec<f32>| {
            let logits = Tensor::from_vec(z, (1, 3), &dev).unwrap();
            loss(&logits, &refs, 3, &opts)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        let matched = at(teacher.clone());
        assert!(matched < at(vec![0.0, 0.0, 0.0]));
        assert!(matched < at(vec![-1.0, 1.0, 0.5]));
    }
}
