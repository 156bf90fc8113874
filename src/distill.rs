//! Knowledge distillation: a teacher model labels statements with its probabilities, and a student is
//! trained on the teacher's temperature-softened distribution, mixed with the gold label where there is
//! one (see [`crate::train`]'s loss), over the labelled data, any unlabelled statements, and noisy
//! copies of both ([`crate::augment`]) that the teacher labels too. Several teachers act as one: the
//! student learns the mean of their log-probabilities ([`ensemble`]). With `match_pooled` (one teacher
//! only), the student also learns to match the teacher's pooled statement vectors (see [`crate::train`]).

use crate::augment::Augmenter;
use crate::classifier::Classifier;
use crate::data::Example;
use crate::error::{Error, Result};
use crate::teacher_cache::{TeacherCache, TeacherOutput};
use crate::train::{Item, Observer, Target, TrainOptions, Trained, fit, gold_indices, validate};
use std::path::Path;

/// The teacher's log-probabilities for `texts` (logits up to a per-statement constant, which the
/// temperature softmax ignores), and with `pooled` its pooled statement vectors.
pub fn teacher_outputs(
    teacher: &Classifier,
    texts: &[&str],
    batch_size: usize,
    pooled: bool,
) -> Result<Vec<TeacherOutput>> {
    // One pass gives both: the pooled vectors cost no extra computation, only a copy.
    Ok(teacher
        .predict_with_vectors(texts, batch_size)?
        .into_iter()
        .map(|(p, v)| TeacherOutput {
            logits: p.scores.into_iter().map(|s| s.max(1e-12).ln()).collect(),
            pooled: pooled.then_some(v),
        })
        .collect())
}

/// A teacher model and, optionally, the cache that keeps its labels between runs.
pub struct Teacher<'a> {
    pub model: &'a Classifier,
    pub cache: Option<&'a mut TeacherCache>,
}

/// Several teachers' outputs for the same statements as one: per statement, the mean of their
/// log-probabilities (the normalised geometric mean of their probabilities, once softmaxed). One
/// teacher's outputs are returned unchanged. Pooled vectors are kept only from a single teacher.
pub fn ensemble(mut per_teacher: Vec<Vec<TeacherOutput>>) -> Vec<TeacherOutput> {
    if per_teacher.len() == 1 {
        return per_teacher.pop().unwrap_or_default();
    }
    let n = per_teacher.len() as f32;
    let statements = per_teacher.first().map_or(0, Vec::len);
    (0..statements)
        .map(|i| {
            let width = per_teacher[0][i].logits.len();
            let logits = (0..width)
                .map(|c| per_teacher.iter().map(|t| t[i].logits[c]).sum::<f32>() / n)
                .collect();
            TeacherOutput {
                logits,
                pooled: None,
            }
        })
        .collect()
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

/// Trains a student (architecture and schedule from `opts`) on the soft targets of `teachers` (at
/// least one; several must share their labels, in order, and are combined by [`ensemble`]). A teacher
/// with a cache does not label again the statements it holds, and saves its new labels to it (every
/// 8,192 statements and at the end, so an interrupted run keeps what the teacher did).
pub fn distill(
    teachers: &mut [Teacher],
    data: &DistillData,
    opts: &TrainOptions,
    obs: &mut dyn Observer,
) -> Result<Distilled> {
    if opts.init.is_some() {
        return Err(Error::Invalid(
            "a distilled student starts from scratch: drop --init".into(),
        ));
    }
    validate(opts)?;
    let Some(first) = teachers.first() else {
        return Err(Error::Invalid("distillation needs a teacher".into()));
    };
    let labels = first.model.labels().to_vec();
    if let Some(other) = teachers.iter().find(|t| t.model.labels() != labels) {
        return Err(Error::Invalid(format!(
            "the teachers disagree on their labels: {:?} and {:?}",
            labels,
            other.model.labels()
        )));
    }
    let pooled = opts.match_pooled > 0.0;
    if pooled && teachers.len() > 1 {
        return Err(Error::Invalid(
            "--match-pooled takes a single teacher".into(),
        ));
    }
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
    let count = teachers.len();
    let mut per_teacher = Vec::with_capacity(count);
    for (k, t) in teachers.iter_mut().enumerate() {
        if count > 1 {
            obs.note(&format!("teacher {} of {count}", k + 1));
        }
        per_teacher.push(label(t.model, &texts, pooled, t.cache.as_deref_mut(), obs)?);
    }
    let outputs = ensemble(per_teacher);
    let items: Vec<Item> = texts
        .iter()
        .zip(outputs)
        .enumerate()
        .map(|(i, (text, out))| Item {
            text: text.to_string(),
            target: Target {
                gold: gold.get(i).copied(),
                teacher: Some(out.logits),
                pooled: out.pooled,
            },
        })
        .collect();
    let trained = fit(&items, &labels, data.dev, &dev_gold, opts, obs)?;
    Ok(Distilled {
        trained,
        augmented: copies.len(),
    })
}

/// The teacher's outputs for every text (with `pooled`, pooled vectors included): from the cache where
/// it has them, the rest labelled in chunks of 1,024 in order (so an empty cache gives the same values
/// as none).
fn label(
    teacher: &Classifier,
    texts: &[&str],
    pooled: bool,
    mut cache: Option<&mut TeacherCache>,
    obs: &mut dyn Observer,
) -> Result<Vec<TeacherOutput>> {
    let missing: Vec<usize> = match cache.as_deref() {
        Some(c) => (0..texts.len())
            .filter(|&i| !c.has(texts[i], pooled))
            .collect(),
        None => (0..texts.len()).collect(),
    };
    if cache.is_some() {
        obs.note(&format!(
            "{} statements found in the teacher cache, {} to label",
            texts.len() - missing.len(),
            missing.len()
        ));
    }
    let started = std::time::Instant::now();
    let mut fresh: Vec<Option<TeacherOutput>> = vec![None; texts.len()];
    for (k, chunk) in missing.chunks(1024).enumerate() {
        let chunk_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        for (&i, out) in chunk
            .iter()
            .zip(teacher_outputs(teacher, &chunk_texts, 64, pooled)?)
        {
            if let Some(c) = cache.as_deref_mut() {
                c.insert(texts[i].to_string(), out.clone());
            }
            fresh[i] = Some(out);
        }
        if let Some(c) = cache.as_deref()
            && (k + 1) % 8 == 0
        {
            c.save()?;
        }
        obs.labelled(((k + 1) * 1024).min(missing.len()), missing.len());
    }
    if let Some(c) = cache.as_deref()
        && !missing.is_empty()
    {
        c.save()?;
    }
    obs.note(&format!(
        "teacher done in {:.1}s; training the student",
        started.elapsed().as_secs_f64()
    ));
    fresh
        .into_iter()
        .zip(texts)
        .map(|(out, text)| match out {
            Some(out) => Ok(out),
            None => cache
                .as_deref()
                .and_then(|c| c.get(text, pooled))
                .ok_or_else(|| Error::Invalid(format!("no teacher label for {text:?}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(logits: &[f32]) -> TeacherOutput {
        TeacherOutput {
            logits: logits.to_vec(),
            pooled: Some(vec![1.0]),
        }
    }

    #[test]
    fn an_ensemble_averages_log_probabilities_and_one_teacher_is_left_alone() {
        let a = vec![out(&[-0.1, -2.5]), out(&[-3.0, -0.05])];
        let b = vec![out(&[-0.3, -1.5]), out(&[-1.0, -0.45])];
        let mean = ensemble(vec![a.clone(), b]);
        assert_eq!(mean.len(), 2);
        assert_eq!(mean[0].logits, vec![-0.2, -2.0]);
        assert_eq!(mean[1].logits, vec![-2.0, -0.25]);
        assert!(mean.iter().all(|o| o.pooled.is_none()));
        assert_eq!(ensemble(vec![a.clone()]), a);
        assert!(ensemble(Vec::new()).is_empty());
    }
}
