//! Evaluation figures: a [`Meter`] collects (gold, predicted, confidence) triples and derives accuracy,
//! per-class precision/recall/F1, macro-F1, the confusion matrix and expected calibration error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Number of equal-width confidence bins for the expected calibration error.
pub const ECE_BINS: usize = 15;

/// Precision, recall, F1 and support of one class.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Confusion counts: rows are gold labels, columns predictions, both in `labels` order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<usize>>,
}

/// Everything `stance eval` reports.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub ece: f64,
    pub per_class: BTreeMap<String, ClassMetrics>,
    pub confusion: Confusion,
}

/// Accumulates predictions against gold labels.
#[derive(Clone, Debug)]
pub struct Meter {
    labels: Vec<String>,
    matrix: Vec<Vec<usize>>,
    confidences: Vec<(f32, bool)>,
}

impl Meter {
    /// A meter over classes `labels` (indices refer to this order).
    pub fn new(labels: &[String]) -> Self {
        Self {
            labels: labels.to_vec(),
            matrix: vec![vec![0; labels.len()]; labels.len()],
            confidences: Vec::new(),
        }
    }

    /// Records one prediction: gold class, predicted class, confidence of the prediction.
    pub fn add(&mut self, gold: usize, predicted: usize, confidence: f32) {
        self.matrix[gold][predicted] += 1;
        self.confidences.push((confidence, gold == predicted));
    }

    /// The figures so far.
    pub fn report(&self) -> Report {
        let k = self.labels.len();
        let n: usize = self.matrix.iter().flatten().sum();
        let correct: usize = (0..k).map(|i| self.matrix[i][i]).sum();
        let mut per_class = BTreeMap::new();
        for i in 0..k {
            per_class.insert(self.labels[i].clone(), class_metrics(&self.matrix, i));
        }
        Report {
            n,
            accuracy: ratio(correct as f64, n as f64),
            macro_f1: macro_f1(&self.matrix),
            ece: expected_calibration_error(&self.confidences, ECE_BINS),
            per_class,
            confusion: Confusion {
                labels: self.labels.clone(),
                matrix: self.matrix.clone(),
            },
        }
    }
}

/// Precision, recall, F1 and support of class `i` in a square confusion matrix (rows gold).
fn class_metrics(matrix: &[Vec<usize>], i: usize) -> ClassMetrics {
    let tp = matrix[i][i] as f64;
    let support: usize = matrix[i].iter().sum();
    let predicted: usize = matrix.iter().map(|row| row[i]).sum();
    let precision = ratio(tp, predicted as f64);
    let recall = ratio(tp, support as f64);
    ClassMetrics {
        precision,
        recall,
        f1: ratio(2.0 * precision * recall, precision + recall),
        support,
    }
}

/// Unweighted mean of the per-class F1 of a square confusion matrix (rows gold, columns predicted);
/// a class never predicted and never gold counts as F1 0, as in [`Meter::report`].
pub fn macro_f1(matrix: &[Vec<usize>]) -> f64 {
    let k = matrix.len();
    let sum: f64 = (0..k).map(|i| class_metrics(matrix, i).f1).sum();
    ratio(sum, k as f64)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// ECE: the support-weighted mean over `bins` equal-width confidence bins of |accuracy − mean confidence|.
pub fn expected_calibration_error(items: &[(f32, bool)], bins: usize) -> f64 {
    if items.is_empty() || bins == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut hits = vec![0f64; bins];
    for &(c, ok) in items {
        let c = c.clamp(0.0, 1.0) as f64;
        // Bins are (lo, hi]; a confidence of exactly 0 falls in the first.
        let b = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf[b] += c;
        hits[b] += ok as u8 as f64;
    }
    let n = items.len() as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (count[b] as f64 / n) * ((hits[b] - conf[b]) / count[b] as f64).abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn hand_computed_figures() {
        let mut m = Meter::new(&labels());
        // gold a: a, a, b ; gold b: b ; gold c: a
        for (g, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 0)] {
            m.add(g, p, 0.9);
        }
        let r = m.report();
        assert_eq!(r.n, 5);
        assert!((r.accuracy - 0.6).abs() < 1e-12);
        let a = &r.per_class["a"];
        assert!((a.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.support, 3);
        let b = &r.per_class["b"];
        assert!((b.precision - 0.5).abs() < 1e-12 && (b.recall - 1.0).abs() < 1e-12);
        assert_eq!(r.per_class["c"].f1, 0.0);
        let macro_f1 = (2.0 / 3.0 + 2.0 / 3.0 + 0.0) / 3.0;
        assert!((r.macro_f1 - macro_f1).abs() < 1e-12);
        assert_eq!(
            r.confusion.matrix,
            vec![vec![2, 1, 0], vec![0, 1, 0], vec![1, 0, 0]]
        );
        // One bin: accuracy 0.6, confidence 0.9.
        assert!((r.ece - 0.3).abs() < 1e-6);
    }

    #[test]
    fn calibration_error_is_zero_when_calibrated() {
        let items = [(1.0, true), (1.0, true), (0.5, true), (0.5, false)];
        assert!(expected_calibration_error(&items, 15) < 1e-12);
        assert_eq!(expected_calibration_error(&[], 15), 0.0);
        let worst = [(1.0, false)];
        assert!((expected_calibration_error(&worst, 15) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let mut m = Meter::new(&labels());
        m.add(1, 1, 0.7);
        let v = serde_json::to_value(m.report()).unwrap();
        for key in ["n", "accuracy", "macro_f1", "ece", "per_class", "confusion"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["confusion"]["labels"][2], "c");
        assert_eq!(v["per_class"]["b"]["support"], 1);
    }
}
