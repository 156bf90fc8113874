//! The model configuration: Hugging Face's `config.json` for `BertForSequenceClassification`, plus the
//! pooling choice. Reading validates it, so every later shape is consistent.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How a statement's vector is taken from the encoder's output.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The `[CLS]` token through the tanh pooler (what `BertForSequenceClassification` does).
    #[default]
    Cls,
    /// The mean of the token vectors under the attention mask (no pooler).
    Mean,
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            _ => Err(format!("unknown pooling {s:?} (expected cls or mean)")),
        }
    }
}

/// The feed-forward activation.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU with erf (Hugging Face's "gelu").
    #[default]
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(alias = "gelu_pytorch_tanh")]
    GeluNew,
    Relu,
}

/// `config.json` of a BERT sequence classifier in Hugging Face's format.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Config {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    #[serde(default)]
    pub architectures: Vec<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default)]
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    /// Class index (as a string, as transformers writes it) to label.
    #[serde(default)]
    pub id2label: BTreeMap<String, String>,
    #[serde(default)]
    pub label2id: BTreeMap<String, usize>,
    #[serde(default = "default_problem_type", skip_deserializing)]
    pub problem_type: String,
    /// `stance`'s own field: how statements are pooled (transformers ignores it; see README).
    #[serde(default)]
    pub pooling: Pooling,
}

fn default_model_type() -> String {
    "bert".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}
fn default_init_range() -> f64 {
    0.02
}
fn default_problem_type() -> String {
    "single_label_classification".into()
}

/// The architecture knobs `stance train` exposes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Architecture {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_len: usize,
    pub dropout: f64,
    pub pooling: Pooling,
}

impl Config {
    /// A fresh configuration for a model trained from scratch.
    pub fn new(arch: &Architecture, vocab_size: usize, labels: &[String]) -> Result<Self> {
        let mut cfg = Config {
            model_type: default_model_type(),
            architectures: vec![],
            vocab_size,
            hidden_size: arch.hidden,
            num_hidden_layers: arch.layers,
            num_attention_heads: arch.heads,
            intermediate_size: arch.intermediate,
            hidden_act: Activation::Gelu,
            max_position_embeddings: arch.max_len,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: arch.dropout,
            attention_probs_dropout_prob: arch.dropout,
            initializer_range: 0.02,
            pad_token_id: 0,
            id2label: BTreeMap::new(),
            label2id: BTreeMap::new(),
            problem_type: default_problem_type(),
            pooling: arch.pooling,
        };
        cfg.set_labels(labels);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Replaces the label set (class `i` is `labels[i]`) and marks the config as a sequence classifier.
    pub fn set_labels(&mut self, labels: &[String]) {
        self.id2label = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.clone()))
            .collect();
        self.label2id = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect();
        self.architectures = vec!["BertForSequenceClassification".into()];
    }

    /// Labels in class order.
    pub fn labels(&self) -> Vec<String> {
        (0..self.id2label.len())
            .map(|i| {
                self.id2label
                    .get(&i.to_string())
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Checks that the numbers fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.hidden_size == 0 || self.num_attention_heads == 0 || self.num_hidden_layers == 0 {
            return bad("hidden size, heads and layers must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden size {} is not divisible by {} heads",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.intermediate_size == 0 || self.max_position_embeddings < 3 || self.vocab_size < 6 {
            return bad("intermediate size, max length and vocabulary size are too small".into());
        }
        if !(0.0..1.0).contains(&self.hidden_dropout_prob)
            || !(0.0..1.0).contains(&self.attention_probs_dropout_prob)
        {
            return bad("dropout must be in [0, 1)".into());
        }
        for i in 0..self.id2label.len() {
            if !self.id2label.contains_key(&i.to_string()) {
                return bad(format!("id2label has no entry for class {i}"));
            }
        }
        Ok(())
    }

    /// Reads and validates `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        Self::from_slice(&text, path)
    }

    /// Parses and validates config JSON bytes; `path` names them in errors.
    pub fn from_slice(bytes: &[u8], path: &Path) -> Result<Self> {
        let cfg: Config = serde_json::from_slice(bytes)
            .map_err(|e| Error::data(path, e.line(), format!("invalid config.json: {e}")))?;
        if cfg.model_type != "bert" {
            return Err(Error::file(
                path,
                format!(
                    "model_type {:?} is not supported (only \"bert\")",
                    cfg.model_type
                ),
            ));
        }
        cfg.validate()
            .map_err(|e| Error::file(path, e.to_string()))?;
        Ok(cfg)
    }

    /// Pretty JSON as written to `config.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arch() -> Architecture {
        Architecture {
            hidden: 32,
            layers: 2,
            heads: 4,
            intermediate: 64,
            max_len: 64,
            dropout: 0.1,
            pooling: Pooling::Cls,
        }
    }

    #[test]
    fn labels_round_trip_through_json() {
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let cfg = Config::new(&arch(), 100, &labels).unwrap();
        let back = Config::from_slice(cfg.to_json().as_bytes(), Path::new("c.json")).unwrap();
        assert_eq!(back.labels(), labels);
        assert_eq!(back.label2id["c"], 2);
        assert_eq!(back, cfg);
    }

    #[test]
    fn rejects_heads_that_do_not_divide_hidden() {
        let mut a = arch();
        a.heads = 5;
        let err = Config::new(&a, 100, &[]).unwrap_err().to_string();
        assert!(err.contains("not divisible"), "{err}");
    }

    #[test]
    fn reads_a_transformers_config_without_stance_fields() {
        let json = r#"{"model_type":"bert","vocab_size":30522,"hidden_size":384,"num_hidden_layers":6,
            "num_attention_heads":12,"intermediate_size":1536,"max_position_embeddings":512,
            "hidden_act":"gelu","type_vocab_size":2,"layer_norm_eps":1e-12}"#;
        let cfg = Config::from_slice(json.as_bytes(), Path::new("config.json")).unwrap();
        assert_eq!(cfg.pooling, Pooling::Cls);
        assert_eq!(cfg.head_dim(), 32);
        assert!(cfg.labels().is_empty());
    }
}
