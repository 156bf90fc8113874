//! The BERT encoder and its classification head, built from a [`Config`] with weight names that mirror
//! Hugging Face's `BertForSequenceClassification` (`bert.embeddings.…`, `bert.encoder.layer.N.…`,
//! `bert.pooler.dense`, `classifier`). Dropout is real in training through `forward_t(…, train)`.

use crate::config::{Activation, Config, Pooling};
use crate::dropout::Dropout;
use crate::gelu::gelu_erf_t;
use crate::ops::{LayerNorm, Linear, repeat_rows, softmax_t};
use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder, embedding};

/// Word, position and token-type embeddings, summed and normalised.
pub struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    layer_norm: LayerNorm,
    dropout: Dropout,
}

impl Embeddings {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            word: embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position: embedding(cfg.max_position_embeddings, h, vb.pp("position_embeddings"))?,
            token_type: embedding(cfg.type_vocab_size, h, vb.pp("token_type_embeddings"))?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32),
        })
    }

    /// `ids` is (batch, seq) u32; returns (batch, seq, hidden). Token types are all 0.
    pub fn forward_t(&self, ids: &Tensor, train: bool) -> Result<Tensor> {
        let (b, seq) = ids.dims2()?;
        let h = self.word.hidden_size();
        let positions = Tensor::arange(0u32, seq as u32, ids.device())?;
        let position =
            repeat_rows(&self.position.forward(&positions)?, b, train)?.reshape((b, seq, h))?;
        let token_type = repeat_rows(&self.token_type.embeddings().get(0)?, b * seq, train)?
            .reshape((b, seq, h))?;
        let xs = ((self.word.forward(ids)? + position)? + token_type)?;
        let xs = self.layer_norm.forward_t(&xs, train)?;
        self.dropout.forward_t(&xs, train)
    }
}

/// Multi-head self-attention with its output projection and residual LayerNorm (`attention.self`,
/// `attention.output`).
pub struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    layer_norm: LayerNorm,
    heads: usize,
    head_dim: usize,
    probs_dropout: Dropout,
    dropout: Dropout,
}

impl Attention {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let h = cfg.hidden_size;
        let sv = vb.pp("self");
        let ov = vb.pp("output");
        Ok(Self {
            query: Linear::load(h, h, sv.pp("query"))?,
            key: Linear::load(h, h, sv.pp("key"))?,
            value: Linear::load(h, h, sv.pp("value"))?,
            output: Linear::load(h, h, ov.pp("dense"))?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, ov.pp("LayerNorm"))?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            probs_dropout: Dropout::new(cfg.attention_probs_dropout_prob as f32),
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32),
        })
    }

    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, s, _) = xs.dims3()?;
        xs.reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `xs` is (batch, seq, hidden); `mask_bias` is (batch, 1, 1, seq), 0 for tokens and a large negative
    /// number for padding.
    pub fn forward_t(&self, xs: &Tensor, mask_bias: &Tensor, train: bool) -> Result<Tensor> {
        let (b, s, h) = xs.dims3()?;
        let q = self.split_heads(&self.query.forward_t(xs, train)?)?;
        let k = self.split_heads(&self.key.forward_t(xs, train)?)?;
        let v = self.split_heads(&self.value.forward_t(xs, train)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask_bias)?;
        let probs = softmax_t(&scores, train)?;
        let probs = self.probs_dropout.forward_t(&probs, train)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, s, h))?;
        let out = self
            .dropout
            .forward_t(&self.output.forward_t(&ctx, train)?, train)?;
        self.layer_norm.forward_t(&(out + xs)?, train)
    }
}

/// One encoder layer: attention, then the feed-forward block (`intermediate.dense`, `output.dense`,
/// `output.LayerNorm`).
pub struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    layer_norm: LayerNorm,
    activation: Activation,
    dropout: Dropout,
}

impl Layer {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            attention: Attention::load(vb.pp("attention"), cfg)?,
            intermediate: Linear::load(h, i, vb.pp("intermediate").pp("dense"))?,
            output: Linear::load(i, h, vb.pp("output").pp("dense"))?,
            layer_norm: LayerNorm::load(h, cfg.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
            activation: cfg.hidden_act,
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32),
        })
    }

    pub fn forward_t(&self, xs: &Tensor, mask_bias: &Tensor, train: bool) -> Result<Tensor> {
        let xs = self.attention.forward_t(xs, mask_bias, train)?;
        let inner = self.intermediate.forward_t(&xs, train)?;
        let inner = match self.activation {
            Activation::Gelu => gelu_erf_t(&inner, train)?,
            Activation::GeluNew => inner.gelu()?,
            Activation::Relu => inner.relu()?,
        };
        let out = self
            .dropout
            .forward_t(&self.output.forward_t(&inner, train)?, train)?;
        self.layer_norm.forward_t(&(out + xs)?, train)
    }
}

/// The encoder (`bert.embeddings`, `bert.encoder.layer.N`, optionally `bert.pooler`).
pub struct Encoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    pooler: Option<Linear>,
}

impl Encoder {
    /// Loads the encoder under `vb` (usually `bert`); the pooler only when `cfg.pooling` is CLS.
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(vb.pp("encoder").pp(format!("layer.{i}")), cfg))
            .collect::<Result<Vec<_>>>()?;
        let pooler = match cfg.pooling {
            Pooling::Cls => Some(Linear::load(
                cfg.hidden_size,
                cfg.hidden_size,
                vb.pp("pooler").pp("dense"),
            )?),
            Pooling::Mean => None,
        };
        Ok(Self {
            embeddings: Embeddings::load(vb.pp("embeddings"), cfg)?,
            layers,
            pooler,
        })
    }

    /// Token vectors (batch, seq, hidden) for `ids` under `mask` (batch, seq; 1 for tokens, 0 for padding).
    pub fn forward_t(&self, ids: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let mask_bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((b, 1, 1, s))?;
        let mut xs = self.embeddings.forward_t(ids, train)?;
        for layer in &self.layers {
            xs = layer.forward_t(&xs, &mask_bias, train)?;
        }
        Ok(xs)
    }

    /// One vector per statement (batch, hidden): the tanh pooler over `[CLS]`, or the masked mean.
    pub fn pool(&self, hidden: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        match &self.pooler {
            Some(dense) => dense.forward_t(&hidden.get_on_dim(1, 0)?, train)?.tanh(),
            None => mean_pool(hidden, mask),
        }
    }
}

/// The mean of `hidden` (batch, seq, h) over positions where `mask` (batch, seq) is 1.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    sum.broadcast_div(&count)
}

/// `BertForSequenceClassification`: encoder, pooling, dropout and a linear classifier.
pub struct SequenceClassifier {
    encoder: Encoder,
    classifier: Linear,
    dropout: Dropout,
    num_labels: usize,
}

impl SequenceClassifier {
    /// Loads the classifier; `vb` is the root (weights named `bert.…` and `classifier.…`).
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let num_labels = cfg.id2label.len().max(1);
        Ok(Self {
            encoder: Encoder::load(vb.pp("bert"), cfg)?,
            classifier: Linear::load(cfg.hidden_size, num_labels, vb.pp("classifier"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob as f32),
            num_labels,
        })
    }

    /// Number of classes.
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// The pooled statement vectors (batch, hidden), before the classifier.
    pub fn embed(&self, ids: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        let hidden = self.encoder.forward_t(ids, mask, train)?;
        self.encoder.pool(&hidden, mask, train)
    }

    /// Logits (batch, labels).
    pub fn forward_t(&self, ids: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_pooled_t(ids, mask, train)?.1)
    }

    /// The pooled statement vectors (batch, hidden) and the logits (batch, labels) of one pass.
    pub fn forward_pooled_t(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let pooled = self.embed(ids, mask, train)?;
        let dropped = self.dropout.forward_t(&pooled, train)?;
        let logits = self.classifier.forward_t(&dropped, train)?;
        Ok((pooled, logits))
    }
}

/// Multiply-adds × 2 the encoder spends on one statement of `seq` tokens (embeddings excluded): the
/// projections and feed-forward (per token) plus the attention products (quadratic in `seq`).
pub fn flops_per_statement(cfg: &Config, seq: usize) -> f64 {
    let (h, i, s) = (
        cfg.hidden_size as f64,
        cfg.intermediate_size as f64,
        seq as f64,
    );
    let per_token = 2.0 * (4.0 * h * h + 2.0 * h * i);
    let attention = 2.0 * 2.0 * s * s * h;
    cfg.num_hidden_layers as f64 * (per_token * s + attention)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Architecture;
    use candle_core::Device;
    use candle_nn::VarMap;

    fn tiny(pooling: Pooling) -> (Config, VarMap, SequenceClassifier) {
        let arch = Architecture {
            hidden: 16,
            layers: 2,
            heads: 2,
            intermediate: 32,
            max_len: 16,
            dropout: 0.1,
            pooling,
        };
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let cfg = Config::new(&arch, 50, &labels).unwrap();
        let vm = VarMap::new();
        let m =
            SequenceClassifier::load(VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu), &cfg)
                .unwrap();
        (cfg, vm, m)
    }

    #[test]
    fn weight_names_follow_transformers() {
        let (_, vm, _) = tiny(Pooling::Cls);
        let names: Vec<String> = vm.data().lock().unwrap().keys().cloned().collect();
        for want in [
            "bert.embeddings.word_embeddings.weight",
            "bert.embeddings.LayerNorm.weight",
            "bert.encoder.layer.1.attention.self.query.weight",
            "bert.encoder.layer.0.attention.output.LayerNorm.bias",
            "bert.encoder.layer.0.intermediate.dense.weight",
            "bert.encoder.layer.0.output.dense.bias",
            "bert.pooler.dense.weight",
            "classifier.weight",
        ] {
            assert!(names.iter().any(|n| n == want), "missing {want}");
        }
        let (_, vm, _) = tiny(Pooling::Mean);
        assert!(
            !vm.data()
                .lock()
                .unwrap()
                .contains_key("bert.pooler.dense.weight")
        );
    }

    #[test]
    fn padding_does_not_change_a_statement_logits() {
        for pooling in [Pooling::Cls, Pooling::Mean] {
            let (_, _, m) = tiny(pooling);
            let dev = Device::Cpu;
            let ids = Tensor::new(&[[2u32, 7, 9, 3]], &dev).unwrap();
            let mask = Tensor::new(&[[1u32, 1, 1, 1]], &dev).unwrap();
            let padded = Tensor::new(&[[2u32, 7, 9, 3, 0, 0]], &dev).unwrap();
            let pmask = Tensor::new(&[[1u32, 1, 1, 1, 0, 0]], &dev).unwrap();
            let a = m
                .forward_t(&ids, &mask, false)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let b = m
                .forward_t(&padded, &pmask, false)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            for (x, y) in a[0].iter().zip(&b[0]) {
                assert!((x - y).abs() < 1e-5, "{pooling:?}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn dropout_only_in_training() {
        let (_, _, m) = tiny(Pooling::Cls);
        let dev = Device::Cpu;
        let ids = Tensor::new(&[[2u32, 7, 9, 3]], &dev).unwrap();
        let mask = Tensor::ones((1, 4), DType::U32, &dev).unwrap();
        let e1 = m
            .forward_t(&ids, &mask, false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let e2 = m
            .forward_t(&ids, &mask, false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(e1, e2);
        crate::dropout::seed(1);
        let t1 = m
            .forward_t(&ids, &mask, true)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        crate::dropout::seed(2);
        let t2 = m
            .forward_t(&ids, &mask, true)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_ne!(t1, t2);
    }

    #[test]
    fn flop_count_grows_with_length() {
        let (cfg, _, _) = tiny(Pooling::Cls);
        let f = flops_per_statement(&cfg, 10);
        // 2 layers × (2·(4·16² + 2·16·32)·10 + 4·10²·16)
        assert_eq!(
            f,
            2.0 * (2.0 * (4.0 * 256.0 + 1024.0) * 10.0 + 4.0 * 100.0 * 16.0)
        );
    }
}
