//! How far evaluation figures can be trusted: bootstrap confidence intervals for accuracy and
//! macro-F1 (statements resampled with replacement), and the paired bootstrap for the difference
//! between two models on the same statements. Resampling is seeded, so the same predictions always
//! give the same intervals.

use crate::metrics::macro_f1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The seed `stance eval` resamples with.
pub const DEFAULT_SEED: u64 = 42;

/// A two-sided percentile interval.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Percentile intervals of one model's figures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Intervals {
    pub level: f64,
    pub resamples: usize,
    pub accuracy: Interval,
    pub macro_f1: Interval,
}

/// Model A against model B on the same statements: the observed differences (A minus B), their
/// paired-bootstrap intervals, and the share of resamples in which A's macro-F1 is strictly higher.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Comparison {
    pub level: f64,
    pub resamples: usize,
    pub accuracy_difference: f64,
    pub macro_f1_difference: f64,
    pub accuracy_difference_ci: Interval,
    pub macro_f1_difference_ci: Interval,
    pub macro_f1_higher_share: f64,
}

/// How much of a teacher's macro-F1 gain over a baseline a student keeps:
/// (student − baseline) / (teacher − baseline), observed and over shared resamples.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GainKept {
    pub level: f64,
    /// Resamples in which the teacher beat the baseline (the share is undefined in the others).
    pub resamples: usize,
    pub share: f64,
    pub ci: Interval,
}

/// Resampling settings.
#[derive(Clone, Copy, Debug)]
pub struct Bootstrap {
    /// Number of resamples; with 0 only the observed figures are meaningful (intervals 0–0).
    pub resamples: usize,
    /// Coverage of the intervals, in (0, 1), e.g. 0.95.
    pub level: f64,
    pub seed: u64,
}

impl Bootstrap {
    /// 95% intervals from `resamples` resamples with the default seed.
    pub fn new(resamples: usize) -> Self {
        Self {
            resamples,
            level: 0.95,
            seed: DEFAULT_SEED,
        }
    }

    /// Intervals for accuracy and macro-F1 of predictions `pred` against `gold`, class indices in
    /// `0..classes`. Both slices have the same length.
    pub fn intervals(&self, classes: usize, gold: &[usize], pred: &[usize]) -> Intervals {
        assert_eq!(gold.len(), pred.len(), "one prediction per gold label");
        let figures = self.resample(gold.len(), |sample| {
            let m = confusion(classes, gold, pred, sample);
            [accuracy(&m), macro_f1(&m)]
        });
        Intervals {
            level: self.level,
            resamples: self.resamples,
            accuracy: self.interval(column(&figures, 0)),
            macro_f1: self.interval(column(&figures, 1)),
        }
    }

    /// Model `a` against model `b` on the same statements, each resample shared by both.
    pub fn compare(&self, classes: usize, gold: &[usize], a: &[usize], b: &[usize]) -> Comparison {
        assert!(
            gold.len() == a.len() && gold.len() == b.len(),
            "one prediction per gold label"
        );
        let all: Vec<usize> = (0..gold.len()).collect();
        let figures = |sample: &[usize]| {
            let ma = confusion(classes, gold, a, sample);
            let mb = confusion(classes, gold, b, sample);
            [accuracy(&ma) - accuracy(&mb), macro_f1(&ma) - macro_f1(&mb)]
        };
        let [acc_diff, f1_diff] = figures(&all);
        let resampled = self.resample(gold.len(), figures);
        let (acc, f1) = (column(&resampled, 0), column(&resampled, 1));
        let higher = f1.iter().filter(|&&d| d > 0.0).count();
        Comparison {
            level: self.level,
            resamples: self.resamples,
            accuracy_difference: acc_diff,
            macro_f1_difference: f1_diff,
            macro_f1_higher_share: higher as f64 / f1.len().max(1) as f64,
            accuracy_difference_ci: self.interval(acc),
            macro_f1_difference_ci: self.interval(f1),
        }
    }

    /// The share of `teacher`'s macro-F1 gain over `baseline` that `student` keeps, all three
    /// scored on the same statements and the same resamples. The observed share is 0 when the
    /// teacher does not beat the baseline.
    pub fn gain_kept(
        &self,
        classes: usize,
        gold: &[usize],
        student: &[usize],
        teacher: &[usize],
        baseline: &[usize],
    ) -> GainKept {
        let n = gold.len();
        assert!(
            student.len() == n && teacher.len() == n && baseline.len() == n,
            "one prediction per gold label"
        );
        let all: Vec<usize> = (0..n).collect();
        let gains = |sample: &[usize]| {
            let base = macro_f1(&confusion(classes, gold, baseline, sample));
            [
                macro_f1(&confusion(classes, gold, student, sample)) - base,
                macro_f1(&confusion(classes, gold, teacher, sample)) - base,
            ]
        };
        let share = |[s, t]: [f64; 2]| (t > 0.0).then(|| s / t);
        let shares: Vec<f64> = self
            .resample(n, gains)
            .into_iter()
            .filter_map(share)
            .collect();
        GainKept {
            level: self.level,
            resamples: shares.len(),
            share: share(gains(&all)).unwrap_or(0.0),
            ci: self.interval(shares),
        }
    }

    /// `N` figures on each of `resamples` samples of `n` indices drawn with replacement.
    fn resample<const N: usize>(
        &self,
        n: usize,
        figures: impl Fn(&[usize]) -> [f64; N],
    ) -> Vec<[f64; N]> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut sample = vec![0usize; n];
        (0..self.resamples)
            .map(|_| {
                for s in sample.iter_mut() {
                    *s = rng.random_range(0..n);
                }
                figures(&sample)
            })
            .collect()
    }

    /// The percentile interval of `values` at this level (nearest rank); 0–0 when there are none.
    fn interval(&self, mut values: Vec<f64>) -> Interval {
        if values.is_empty() {
            return Interval { lo: 0.0, hi: 0.0 };
        }
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - self.level) / 2.0;
        let at = |q: f64| {
            values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)]
        };
        Interval {
            lo: at(tail),
            hi: at(1.0 - tail),
        }
    }
}

fn column<const N: usize>(rows: &[[f64; N]], i: usize) -> Vec<f64> {
    rows.iter().map(|r| r[i]).collect()
}

/// The confusion matrix (rows gold) of the statements at `sample`.
fn confusion(classes: usize, gold: &[usize], pred: &[usize], sample: &[usize]) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; classes]; classes];
    for &i in sample {
        m[gold[i]][pred[i]] += 1;
    }
    m
}

fn accuracy(m: &[Vec<usize>]) -> f64 {
    let n: usize = m.iter().flatten().sum();
    let correct: usize = (0..m.len()).map(|i| m[i][i]).sum();
    if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Meter;

    /// 400 statements over 4 classes; `wrong` of them mispredicted (every 400/wrong-th).
    fn predictions(wrong: usize, offset: usize) -> (Vec<usize>, Vec<usize>) {
        let gold: Vec<usize> = (0..400).map(|i| i % 4).collect();
        let pred = gold
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                if wrong > 0 && (i + offset).is_multiple_of(400 / wrong) {
                    (g + 1) % 4
                } else {
                    g
                }
            })
            .collect();
        (gold, pred)
    }

    #[test]
    fn perfect_predictions_have_a_point_interval() {
        let (gold, pred) = predictions(0, 0);
        let ci = Bootstrap::new(200).intervals(4, &gold, &pred);
        assert_eq!(ci.accuracy, Interval { lo: 1.0, hi: 1.0 });
        assert_eq!(ci.macro_f1, Interval { lo: 1.0, hi: 1.0 });
    }

    #[test]
    fn intervals_hold_the_estimate_and_are_reproducible() {
        let (gold, pred) = predictions(40, 0);
        let labels: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let mut meter = Meter::new(&labels);
        for (&g, &p) in gold.iter().zip(&pred) {
            meter.add(g, p, 1.0);
        }
        let report = meter.report();
        let b = Bootstrap::new(500);
        let ci = b.intervals(4, &gold, &pred);
        assert!(ci.accuracy.lo < report.accuracy && report.accuracy < ci.accuracy.hi);
        assert!(ci.macro_f1.lo < report.macro_f1 && report.macro_f1 < ci.macro_f1.hi);
        // 90% accuracy on 400 statements: the standard error is 1.5 points, so a 95% interval
        // spans about 6 points.
        let width = ci.accuracy.hi - ci.accuracy.lo;
        assert!((0.04..0.08).contains(&width), "{width}");
        assert_eq!(b.intervals(4, &gold, &pred), ci);
        let other = Bootstrap { seed: 7, ..b }.intervals(4, &gold, &pred);
        assert_ne!(other, ci);
        let narrower = Bootstrap { level: 0.5, ..b }.intervals(4, &gold, &pred);
        assert!(narrower.accuracy.hi - narrower.accuracy.lo < width);
    }

    #[test]
    fn paired_comparison() {
        let (gold, a) = predictions(8, 0);
        let same = Bootstrap::new(300).compare(4, &gold, &a, &a);
        assert_eq!(same.macro_f1_difference, 0.0);
        assert_eq!(same.macro_f1_difference_ci, Interval { lo: 0.0, hi: 0.0 });
        assert_eq!(same.macro_f1_higher_share, 0.0);
        // b makes 40 mistakes, none on a's 8 statements: a is clearly better.
        let (_, b) = predictions(40, 1);
        let c = Bootstrap::new(300).compare(4, &gold, &a, &b);
        assert!((c.accuracy_difference - 0.08).abs() < 1e-12);
        assert!(c.macro_f1_difference > 0.0);
        assert!(c.macro_f1_difference_ci.lo > 0.0);
        assert!(c.accuracy_difference_ci.lo <= c.accuracy_difference);
        assert!(c.accuracy_difference <= c.accuracy_difference_ci.hi);
        assert_eq!(c.macro_f1_higher_share, 1.0);
        // A student with 20 of b's 40 mistakes (b the baseline, a with 8 the teacher) keeps about
        // (40 − 20) / (40 − 8) of the gain; the teacher itself keeps all of it in every resample.
        let (_, half) = predictions(20, 1);
        let kept = Bootstrap::new(300).gain_kept(4, &gold, &half, &a, &b);
        assert!((kept.share - 0.625).abs() < 0.02, "{}", kept.share);
        assert!(kept.ci.lo < kept.share && kept.share < kept.ci.hi);
        assert_eq!(kept.resamples, 300);
        let all = Bootstrap::new(300).gain_kept(4, &gold, &a, &a, &b);
        assert_eq!((all.share, all.ci), (1.0, Interval { lo: 1.0, hi: 1.0 }));
        let reverse = Bootstrap::new(300).compare(4, &gold, &b, &a);
        assert_eq!(reverse.macro_f1_higher_share, 0.0);
        assert!((reverse.macro_f1_difference + c.macro_f1_difference).abs() < 1e-12);
    }
}
