//! Text to token ids: wraps a Hugging Face `tokenizers::Tokenizer` (the model directory's
//! `tokenizer.json`), builds a lower-cased BERT WordPiece tokenizer from training texts, and turns a
//! batch of statements into padded id and mask tensors, truncated to the model's maximum length.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::Path;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    Tokenizer, TruncationParams,
};

/// The special tokens of a trained vocabulary, in id order (so `[PAD]` is 0).
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// A batch ready for the model.
pub struct Batch {
    /// (batch, seq) u32 token ids, padded with the pad id to the longest member.
    pub ids: Tensor,
    /// (batch, seq) u32: 1 for real tokens, 0 for padding.
    pub mask: Tensor,
    /// How many statements were cut to the maximum length.
    pub truncated: usize,
}

/// A tokenizer with the maximum length (special tokens included) the model accepts.
#[derive(Clone)]
pub struct StanceTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

impl StanceTokenizer {
    /// Learns a lower-cased WordPiece vocabulary of at most `vocab_size` entries from `texts` (see
    /// [`crate::vocab`]) and builds the BERT tokenizer around it.
    pub fn train(texts: &[String], vocab_size: usize, max_len: usize) -> Result<Self> {
        let tok_err = |e: tokenizers::Error| Error::Tokenizer(e.to_string());
        let normalizer = BertNormalizer::new(true, true, None, true);
        let mut words: BTreeMap<String, u64> = BTreeMap::new();
        for text in texts {
            let mut normalized = NormalizedString::from(text.as_str());
            normalizer.normalize(&mut normalized).map_err(tok_err)?;
            let mut pre = PreTokenizedString::from(normalized);
            BertPreTokenizer.pre_tokenize(&mut pre).map_err(tok_err)?;
            for (word, _, _) in pre.get_splits(OffsetReferential::Original, OffsetType::Byte) {
                *words.entry(word.to_string()).or_default() += 1;
            }
        }
        let vocab: ahash::AHashMap<String, u32> =
            crate::vocab::learn(&words, &SPECIAL_TOKENS, vocab_size, 2)
                .into_iter()
                .enumerate()
                .map(|(i, t)| (t, i as u32))
                .collect();
        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix(crate::vocab::PREFIX.into())
            .build()
            .map_err(tok_err)?;
        let mut tok = Tokenizer::new(model);
        tok.with_normalizer(Some(normalizer)).map_err(tok_err)?;
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        tok.with_decoder(Some(WordPieceDecoder::default()));
        let id = |t: &str| tok.token_to_id(t).unwrap_or(0);
        let processor =
            BertProcessing::new(("[SEP]".into(), id("[SEP]")), ("[CLS]".into(), id("[CLS]")));
        tok.with_post_processor(Some(processor));
        Self::wrap(tok, max_len, Path::new("tokenizer.json"))
    }

    /// Reads `tokenizer.json`.
    pub fn load(path: &Path, max_len: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        Self::from_bytes(&bytes, path, max_len)
    }

    /// Parses tokenizer JSON bytes; `path` names them in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, max_len: usize) -> Result<Self> {
        let tok = Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::file(path, format!("invalid tokenizer.json: {e}")))?;
        Self::wrap(tok, max_len, path)
    }

    fn wrap(mut inner: Tokenizer, max_len: usize, path: &Path) -> Result<Self> {
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| Error::file(path, format!("cannot truncate to {max_len}: {e}")))?;
        let pad_id = inner
            .token_to_id("[PAD]")
            .or_else(|| inner.token_to_id("<pad>"))
            .unwrap_or(0);
        Ok(Self {
            inner,
            max_len,
            pad_id,
        })
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Every token, by id (special tokens included).
    pub fn tokens(&self) -> Vec<String> {
        (0..self.vocab_size() as u32)
            .map(|id| self.inner.id_to_token(id).unwrap_or_default())
            .collect()
    }

    /// Maximum sequence length in tokens.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The JSON of `tokenizer.json`.
    pub fn to_json(&self) -> Result<String> {
        // Save without our run-time truncation so that other tools see the plain tokenizer.
        let mut plain = self.inner.clone();
        plain
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        plain
            .to_string(true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Token ids of one statement (special tokens included, truncated).
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Number of tokens `text` has before truncation, special tokens included.
    pub fn len_untruncated(&self, text: &str) -> Result<usize> {
        let enc = self
            .inner
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.len()
            + enc
                .get_overflowing()
                .iter()
                .map(|o| o.len().saturating_sub(2))
                .sum::<usize>())
    }

    /// The padding token's id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Encodes statements into a padded batch.
    pub fn batch(&self, texts: &[&str], device: &Device) -> Result<Batch> {
        let encs = self
            .inner
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let truncated = encs
            .iter()
            .filter(|e| !e.get_overflowing().is_empty())
            .count();
        let seqs: Vec<&[u32]> = encs.iter().map(|e| e.get_ids()).collect();
        let (ids, mask) = pad_batch(&seqs, self.pad_id, device)?;
        Ok(Batch {
            ids,
            mask,
            truncated,
        })
    }
}

/// Pads id sequences with `pad_id` to the longest one: (ids, mask) tensors of shape (batch, seq).
pub fn pad_batch(seqs: &[&[u32]], pad_id: u32, device: &Device) -> Result<(Tensor, Tensor)> {
    let seq = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(seqs.len() * seq);
    let mut mask = Vec::with_capacity(seqs.len() * seq);
    for s in seqs {
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(pad_id, seq - s.len()));
        mask.extend(std::iter::repeat_n(1u32, s.len()));
        mask.extend(std::iter::repeat_n(0u32, seq - s.len()));
    }
    let shape = (seqs.len(), seq);
    Ok((
        Tensor::from_vec(ids, shape, device)?,
        Tensor::from_vec(mask, shape, device)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        let base = [
            "The ministry condemned the strike on the port.",
            "Officials denied any involvement in the attack.",
            "The minister assured neighbours the drills pose no threat.",
            "The president threatened retaliation if the shelling continued.",
            "Talks are scheduled for Tuesday in Geneva.",
        ];
        (0..4)
            .flat_map(|_| base.iter().map(|s| s.to_string()))
            .collect()
    }

    #[test]
    fn trained_vocabulary_has_specials_first_and_lowercases() {
        let tok = StanceTokenizer::train(&corpus(), 200, 16).unwrap();
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(tok.inner.token_to_id(s), Some(i as u32));
        }
        let a = tok.ids("Ministry").unwrap();
        let b = tok.ids("ministry").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.first(), Some(&2)); // [CLS]
        assert_eq!(a.last(), Some(&3)); // [SEP]
    }

    #[test]
    fn batches_pad_to_the_longest_and_truncate() {
        let tok = StanceTokenizer::train(&corpus(), 200, 6).unwrap();
        let b = tok
            .batch(
                &["talks", "the ministry condemned the strike on the port"],
                &Device::Cpu,
            )
            .unwrap();
        assert_eq!(b.ids.dims(), &[2, 6]);
        assert_eq!(b.truncated, 1);
        let mask = b.mask.to_vec2::<u32>().unwrap();
        assert_eq!(mask[0], vec![1, 1, 1, 0, 0, 0]);
        assert_eq!(mask[1], vec![1; 6]);
        assert!(
            tok.len_untruncated("the ministry condemned the strike on the port")
                .unwrap()
                > 6
        );
    }

    #[test]
    fn json_round_trip_keeps_ids() {
        let tok = StanceTokenizer::train(&corpus(), 200, 32).unwrap();
        let json = tok.to_json().unwrap();
        let back = StanceTokenizer::from_bytes(json.as_bytes(), Path::new("t.json"), 32).unwrap();
        let s = "The president threatened retaliation.";
        assert_eq!(tok.ids(s).unwrap(), back.ids(s).unwrap());
        assert_eq!(tok.vocab_size(), back.vocab_size());
    }

    #[test]
    fn garbage_json_is_a_file_error() {
        let err = StanceTokenizer::from_bytes(b"{not json", Path::new("m/tokenizer.json"), 8)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("m/tokenizer.json: invalid tokenizer.json"),
            "{err}"
        );
    }
}
