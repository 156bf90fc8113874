//! Inference: a tokenizer, an encoder and the label set loaded from a model directory (or from the model
//! embedded in the binary), classifying statements in length-sorted batches while keeping input order.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::SequenceClassifier;
use crate::model_dir::{self, ModelFiles};
use crate::tokenizer::{Batch, StanceTokenizer};
use crate::workers;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default number of statements per forward pass.
pub const DEFAULT_BATCH: usize = 32;

/// One statement's classification.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Index of the predicted class in [`Classifier::labels`].
    pub index: usize,
    /// Probability of the predicted class.
    pub confidence: f32,
    /// Probability of every class, in label order.
    pub scores: Vec<f32>,
}

/// Predictions for a list of statements, in input order.
pub struct Predictions {
    pub items: Vec<Prediction>,
    /// How many statements were longer than the model's maximum length and cut.
    pub truncated: usize,
}

/// A loaded model ready to classify.
pub struct Classifier {
    config: Config,
    tokenizer: StanceTokenizer,
    model: SequenceClassifier,
    labels: Vec<String>,
    source: PathBuf,
}

impl Classifier {
    /// Loads the model directory `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::from_files(model_dir::read(dir)?, dir)
    }

    /// Builds a classifier from the three files' bytes; `origin` names them in errors.
    pub fn from_bytes(
        config: &[u8],
        weights: &[u8],
        tokenizer: &[u8],
        origin: &Path,
    ) -> Result<Self> {
        Self::from_files(
            model_dir::from_bytes(config, weights, tokenizer, origin)?,
            origin,
        )
    }

    fn from_files(files: ModelFiles, origin: &Path) -> Result<Self> {
        let ModelFiles {
            config,
            weights,
            tokenizer,
        } = files;
        if config.id2label.is_empty() {
            return Err(Error::file(
                origin.join(model_dir::CONFIG),
                "config.json has no id2label: this is not a classifier",
            ));
        }
        let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
        let model = SequenceClassifier::load(vb, &config).map_err(|e| {
            Error::file(
                origin.join(model_dir::WEIGHTS),
                format!("does not fit config.json: {e}"),
            )
        })?;
        Ok(Self {
            labels: config.labels(),
            config,
            tokenizer,
            model,
            source: origin.to_path_buf(),
        })
    }

    /// Where the model came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Class labels in index order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tokenizer(&self) -> &StanceTokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &SequenceClassifier {
        &self.model
    }

    /// Classifies `texts`, `batch_size` statements per forward pass.
    pub fn predict(&self, texts: &[&str], batch_size: usize) -> Result<Predictions> {
        predict(&self.model, &self.tokenizer, texts, batch_size)
    }

    /// As [`predict`](Self::predict), each prediction with the statement's pooled vector.
    pub fn predict_with_vectors(
        &self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<(Prediction, Vec<f32>)>> {
        predict_with_vectors(&self.model, &self.tokenizer, texts, batch_size)
    }
}

/// Runs `model` over `texts` in batches of similar length; results come back in input order. Batches are
/// shared among [`workers::count`] workers, each running whole forward passes.
pub fn predict(
    model: &SequenceClassifier,
    tokenizer: &StanceTokenizer,
    texts: &[&str],
    batch_size: usize,
) -> Result<Predictions> {
    let (items, truncated) = per_statement(tokenizer, texts, batch_size, |batch| {
        let logits = model.forward_t(&batch.ids, &batch.mask, false)?;
        Ok(predictions(&logits)?)
    })?;
    Ok(Predictions { items, truncated })
}

/// As [`predict`], each prediction with the statement's pooled vector (what the classifier head reads).
pub fn predict_with_vectors(
    model: &SequenceClassifier,
    tokenizer: &StanceTokenizer,
    texts: &[&str],
    batch_size: usize,
) -> Result<Vec<(Prediction, Vec<f32>)>> {
    let (items, _) = per_statement(tokenizer, texts, batch_size, |batch| {
        let (pooled, logits) = model.forward_pooled_t(&batch.ids, &batch.mask, false)?;
        Ok(predictions(&logits)?
            .into_iter()
            .zip(pooled.to_vec2::<f32>()?)
            .collect())
    })?;
    Ok(items)
}

fn predictions(logits: &Tensor) -> candle_core::Result<Vec<Prediction>> {
    let probs = candle_nn::ops::softmax_last_dim(logits)?.to_vec2::<f32>()?;
    Ok(probs
        .into_iter()
        .map(|scores| {
            let (index, confidence) = argmax(&scores);
            Prediction {
                index,
                confidence,
                scores,
            }
        })
        .collect())
}

/// `run` over `texts` in batches of similar length, shared among the workers: one result per statement,
/// in input order, and how many statements were cut to the maximum length.
fn per_statement<T: Send>(
    tokenizer: &StanceTokenizer,
    texts: &[&str],
    batch_size: usize,
    run: impl Fn(&Batch) -> Result<Vec<T>> + Sync,
) -> Result<(Vec<T>, usize)> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let chunks: Vec<&[usize]> = order.chunks(batch_size.max(1)).collect();
    let next = AtomicUsize::new(0);
    let work = || -> Result<Vec<(usize, Vec<T>, usize)>> {
        let mut done = Vec::new();
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = chunks.get(c) else {
                return Ok(done);
            };
            let batch_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let batch = tokenizer.batch(&batch_texts, &Device::Cpu)?;
            done.push((c, run(&batch)?, batch.truncated));
        }
    };
    let n = workers::count().min(chunks.len()).max(1);
    let results = workers::run(n, |_| work())?;
    let mut items: Vec<Option<T>> = std::iter::repeat_with(|| None).take(texts.len()).collect();
    let mut truncated = 0;
    for r in results {
        for (c, outs, t) in r? {
            truncated += t;
            for (&i, out) in chunks[c].iter().zip(outs) {
                items[i] = Some(out);
            }
        }
    }
    Ok((items.into_iter().flatten().collect(), truncated))
}

/// Index and value of the largest score (the first on ties).
pub fn argmax(scores: &[f32]) -> (usize, f32) {
    scores
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, s)| {
            if s > best.1 { (i, s) } else { best }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_first_of_ties() {
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), (1, 0.5));
        assert_eq!(argmax(&[1.0]), (0, 1.0));
    }
}
