//! Knowledge distillation: a teacher model labels statements with its probabilities, and a student is
//! trained on the teacher's temperature-softened distribution, mixed with the gold label where there is
//! one (see [`crate::train`]'s loss), over the labelled data, any unlabelled statements, and noisy
//! copies of both ([`crate::augment`]) that the teacher labels too.

use crate::augment::Augmenter;
use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::{Error, Result};
use crate::train::{Item, Observer, Target, TrainOptions, Trained, fit, gold_indices};
use std::path::Path;

/// The teacher's log-probabilities for `texts` (logits up to a per-statement constant, which the
/// temperature softmax ignores).
pub fn teacher_logits(
    teacher: &Classifier,
    texts: &[&str],
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    let preds = teacher.predict(texts, batch_size)?;
    Ok(preds
        .items
        .into_iter()
        .map(|p| p.scores.into_iter().map(|s| s.max(1e-12).ln()).collect())
        .collect())
}

/// Labelled and unlabelled statements with their paths, for error messages.
pub struct DistillData<'a> {
    pub train: &'a [Example],
    pub train_path: &'a Path,
    pub unlabelled: &'a [Example],
    pub dev: &'a [Example],
    pub dev_path: &'a Path,
    /// Noisy copies made of every labelled and unlabelled statement (0: none).
    pub augment: usize,
}

/// A trained student and how many augmented copies it saw.
pub struct Distilled {
    pub trained: Trained,
    pub augmented: usize,
}

/// Trains a student (architecture and schedule from `opts`) on `teacher`'s soft targets.
pub fn distill(
    teacher: &Classifier,
    data: &DistillData,
    opts: &TrainOptions,
    obs: &mut dyn Observer,
) -> Result<Distilled> {
    if opts.init.is_some() {
        return Err(Error::Invalid(
            "a distilled student starts from scratch: drop --init".into(),
        ));
    }
    let labels = teacher.labels().to_vec();
    let gold = gold_indices(data.train, &labels, data.train_path)?;
    let dev_gold = gold_indices(data.dev, &labels, data.dev_path)?;
    let mut texts: Vec<&str> = data
        .train
        .iter()
        .chain(data.unlabelled)
        .map(|e| e.text.as_str())
        .collect();
    let copies = Augmenter::default().copies(&texts, data.augment, opts.seed);
    texts.extend(copies.iter().map(String::as_str));
    obs.note(&format!(
        "teacher labels {} statements ({} labelled, {} unlabelled, {} augmented copies)",
        texts.len(),
        data.train.len(),
        data.unlabelled.len(),
        copies.len()
    ));
    let started = std::time::Instant::now();
    let mut logits = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(1024) {
        logits.extend(teacher_logits(teacher, chunk, 64)?);
        obs.labelled(logits.len(), texts.len());
    }
    obs.note(&format!(
        "teacher done in {:.1}s; training the student",
        started.elapsed().as_secs_f64()
    ));
    let items: Vec<Item> = texts
        .iter()
        .zip(logits)
        .enumerate()
        .map(|(i, (text, z))| Item {
            text: text.to_string(),
            target: Target {
                gold: gold.get(i).copied(),
                teacher: Some(z),
            },
        })
        .collect();
    let trained = fit(&items, &labels, data.dev, &dev_gold, opts, obs)?;
    Ok(Distilled {
        trained,
        augmented: copies.len(),
    })
}
