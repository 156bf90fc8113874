//! Data augmentation for distillation (after Tang et al., 2019, "Distilling Task-Specific Knowledge
//! from BERT into Simple Neural Networks"): noisy copies of statements that the teacher labels, so the
//! student sees the teacher's function on many more inputs near the real ones. Each copy deletes some
//! words, replaces some with words drawn from the corpus, and sometimes keeps only a window of the
//! statement. The teacher's label of a copy may differ from the original's; that is the point.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How copies are made; probabilities are per word (deletion, replacement) or per copy (window).
#[derive(Clone, Debug)]
pub struct Augmenter {
    /// Probability that a word is deleted.
    pub delete: f64,
    /// Probability that a word is replaced by a random word of the corpus.
    pub replace: f64,
    /// Probability that the copy keeps only a contiguous window of the words.
    pub window: f64,
    /// Smallest share of the words a window keeps.
    pub min_window: f64,
}

impl Default for Augmenter {
    fn default() -> Self {
        Augmenter {
            delete: 0.1,
            replace: 0.1,
            window: 0.25,
            min_window: 0.5,
        }
    }
}

impl Augmenter {
    /// `copies` noisy copies of each text (in order: all copies of the first text, then the next),
    /// drawn from a generator seeded with `seed`, with replacement words from all of `texts`.
    /// Copies identical to their original, or empty, are skipped, so fewer may come back.
    pub fn copies(&self, texts: &[&str], copies: usize, seed: u64) -> Vec<String> {
        let corpus: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(texts.len() * copies);
        for text in texts {
            for _ in 0..copies {
                let copy = self.one(text, &corpus, &mut rng);
                if !copy.is_empty() && copy != *text {
                    out.push(copy);
                }
            }
        }
        out
    }

    /// One noisy copy of `text`, words re-joined with single spaces.
    fn one(&self, text: &str, corpus: &[&str], rng: &mut ChaCha8Rng) -> String {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        if words.len() > 3 && rng.random_bool(self.window) {
            let keep = ((words.len() as f64 * rng.random_range(self.min_window..1.0)).ceil()
                as usize)
                .clamp(1, words.len());
            let start = rng.random_range(0..=words.len() - keep);
            words = words[start..start + keep].to_vec();
        }
        let mut out: Vec<&str> = Vec::with_capacity(words.len());
        for w in words {
            let r: f64 = rng.random();
            if r < self.delete {
                continue;
            }
            if r < self.delete + self.replace && !corpus.is_empty() {
                out.push(corpus[rng.random_range(0..corpus.len())]);
            } else {
                out.push(w);
            }
        }
        out.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 3] = [
        "The ministry denied any role in the attack on the convoy near the border.",
        "Moscow warned it would respond with force if the drills went ahead.",
        "The talks resume on Monday.",
    ];

    #[test]
    fn same_seed_same_copies_other_seed_others() {
        let aug = Augmenter::default();
        let a = aug.copies(&TEXTS, 4, 7);
        assert_eq!(a, aug.copies(&TEXTS, 4, 7));
        assert_ne!(a, aug.copies(&TEXTS, 4, 8));
    }

    #[test]
    fn copies_differ_from_originals_and_use_only_corpus_words() {
        let aug = Augmenter::default();
        let copies = aug.copies(&TEXTS, 5, 1);
        assert!(copies.len() > 5, "most copies should differ: {copies:?}");
        let corpus: Vec<&str> = TEXTS.iter().flat_map(|t| t.split_whitespace()).collect();
        for c in &copies {
            assert!(!TEXTS.contains(&c.as_str()));
            assert!(c.split(' ').all(|w| corpus.contains(&w)), "{c}");
        }
    }

    #[test]
    fn no_noise_gives_no_copies() {
        let aug = Augmenter {
            delete: 0.0,
            replace: 0.0,
            window: 0.0,
            min_window: 0.5,
        };
        assert!(aug.copies(&TEXTS, 3, 1).is_empty());
    }

    #[test]
    fn windows_keep_a_contiguous_run() {
        let aug = Augmenter {
            delete: 0.0,
            replace: 0.0,
            window: 1.0,
            min_window: 0.5,
        };
        let text = "one two three four five six seven eight nine ten";
        for c in aug.copies(&[text], 20, 3) {
            assert!(text.contains(&c), "{c}");
            assert!(c.split(' ').count() >= 5, "{c}");
        }
    }
}
