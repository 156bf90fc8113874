//! Learning a WordPiece vocabulary, reproducibly. The tokenizers crate's trainer breaks ties between
//! equally frequent merges in hash-map order, which is seeded per process, so two runs on the same data
//! can keep different tokens; this learner runs the same byte-pair merging (continuation pieces carry the
//! `##` prefix) but breaks ties by symbol id, and ids are assigned in sorted order. Normalisation and
//! pre-tokenisation are the tokenizers crate's own BERT components, and the result is a
//! `tokenizers` WordPiece model.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

/// Continuation prefix of WordPiece pieces that do not start a word.
pub const PREFIX: &str = "##";

/// Learns up to `size` entries (specials first, then the alphabet, then merges in order) from word
/// counts; merges seen fewer than `min_frequency` times are not made.
pub fn learn(
    words: &BTreeMap<String, u64>,
    specials: &[&str],
    size: usize,
    min_frequency: u64,
) -> Vec<String> {
    let mut symbols: Vec<String> = specials.iter().map(|s| s.to_string()).collect();
    let alphabet: BTreeSet<String> = words
        .keys()
        .flat_map(|w| {
            w.chars().enumerate().map(|(i, c)| {
                if i == 0 {
                    c.to_string()
                } else {
                    format!("{PREFIX}{c}")
                }
            })
        })
        .collect();
    symbols.extend(alphabet);
    let mut id: HashMap<String, u32> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i as u32))
        .collect();
    // Each distinct word as a sequence of symbol ids, with its count.
    let mut seqs: Vec<(Vec<u32>, i64)> = words
        .iter()
        .map(|(w, &n)| {
            let ids = w
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    let s = if i == 0 {
                        c.to_string()
                    } else {
                        format!("{PREFIX}{c}")
                    };
                    id[&s]
                })
                .collect();
            (ids, n as i64)
        })
        .collect();
    let mut counts: HashMap<(u32, u32), i64> = HashMap::new();
    let mut located: HashMap<(u32, u32), BTreeSet<usize>> = HashMap::new();
    for (wi, (seq, n)) in seqs.iter().enumerate() {
        for p in seq.windows(2) {
            *counts.entry((p[0], p[1])).or_default() += n;
            located.entry((p[0], p[1])).or_default().insert(wi);
        }
    }
    let mut heap: BinaryHeap<(i64, Reverse<(u32, u32)>)> =
        counts.iter().map(|(&p, &c)| (c, Reverse(p))).collect();
    while symbols.len() < size {
        let Some((count, Reverse(pair))) = heap.pop() else {
            break;
        };
        let current = counts.get(&pair).copied().unwrap_or(0);
        if count != current {
            continue; // stale entry; the up-to-date one is in the heap too
        }
        if current < min_frequency.max(1) as i64 {
            break;
        }
        let merged = format!(
            "{}{}",
            symbols[pair.0 as usize],
            symbols[pair.1 as usize]
                .strip_prefix(PREFIX)
                .unwrap_or(&symbols[pair.1 as usize])
        );
        let new_id = match id.get(&merged) {
            Some(&i) => i,
            None => {
                let i = symbols.len() as u32;
                symbols.push(merged.clone());
                id.insert(merged, i);
                i
            }
        };
        let mut touched: BTreeSet<(u32, u32)> = BTreeSet::new();
        for wi in located.remove(&pair).unwrap_or_default() {
            let (seq, n) = &mut seqs[wi];
            let n = *n;
            for p in seq.windows(2) {
                *counts.entry((p[0], p[1])).or_default() -= n;
                touched.insert((p[0], p[1]));
            }
            let mut out = Vec::with_capacity(seq.len());
            let mut i = 0;
            while i < seq.len() {
                if i + 1 < seq.len() && (seq[i], seq[i + 1]) == pair {
                    out.push(new_id);
                    i += 2;
                } else {
                    out.push(seq[i]);
                    i += 1;
                }
            }
            *seq = out;
            for p in seq.windows(2) {
                *counts.entry((p[0], p[1])).or_default() += n;
                located.entry((p[0], p[1])).or_default().insert(wi);
                touched.insert((p[0], p[1]));
            }
        }
        counts.remove(&pair);
        for p in touched {
            if let Some(&c) = counts.get(&p).filter(|c| **c > 0) {
                heap.push((c, Reverse(p)));
            }
        }
    }
    symbols.truncate(size.max(specials.len()));
    symbols
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
        list.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    #[test]
    fn specials_then_alphabet_then_frequent_merges() {
        let w = words(&[("hug", 10), ("pug", 5), ("hugs", 5)]);
        let v = learn(&w, &["[PAD]", "[UNK]"], 100, 1);
        assert_eq!(&v[..2], &["[PAD]", "[UNK]"]);
        // alphabet, sorted: ##g ##s ##u h p
        assert_eq!(&v[2..7], &["##g", "##s", "##u", "h", "p"]);
        // ##u+##g occurs 20 times: the first merge
        assert_eq!(v[7], "##ug");
        assert!(v.contains(&"hug".to_string()));
        assert!(v.contains(&"hugs".to_string()));
    }

    #[test]
    fn ties_are_broken_the_same_way_every_time() {
        let w = words(&[("ab", 3), ("cd", 3), ("ef", 3), ("gh", 3)]);
        let first = learn(&w, &[], 10, 1);
        for _ in 0..20 {
            assert_eq!(learn(&w, &[], 10, 1), first);
        }
        assert_eq!(first.len(), 10);
    }

    #[test]
    fn min_frequency_stops_merging() {
        let w = words(&[("ab", 1), ("cd", 1)]);
        assert_eq!(learn(&w, &[], 100, 2).len(), 4);
    }
}
