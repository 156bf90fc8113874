//! Our encoder reproduces all-MiniLM-L6-v2's sentence embeddings (mean pooling, L2-normalised) to 1e-4,
//! against values computed by an independent numpy implementation (tests/reference/minilm_embeddings.py,
//! output in tests/reference/minilm_embeddings.json). Skipped, saying so, when the base model has not been
//! fetched with scripts/fetch-base-model.sh.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use stance::config::Pooling;
use stance::model::Encoder;
use std::path::Path;

#[test]
fn encoder_matches_independent_minilm_embeddings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = root.join("models/base/all-MiniLM-L6-v2");
    if !base.join("model.safetensors").is_file() {
        eprintln!(
            "SKIPPED: {} not fetched; run scripts/fetch-base-model.sh",
            base.display()
        );
        return;
    }
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/reference/minilm_embeddings.json")).unwrap(),
    )
    .unwrap();
    let files = stance::model_dir::read(&base).unwrap();
    let mut cfg = files.config;
    cfg.pooling = Pooling::Mean;
    // The sentence-transformers checkpoint names its tensors without the `bert.` prefix.
    let vb = VarBuilder::from_tensors(files.weights, DType::F32, &Device::Cpu);
    let encoder = Encoder::load(vb, &cfg).unwrap();
    let mut worst = 0f32;
    for row in reference["sentences"].as_array().unwrap() {
        let text = row["text"].as_str().unwrap();
        let want_ids: Vec<u32> = row["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let ids = files.tokenizer.ids(text).unwrap();
        assert_eq!(ids, want_ids, "token ids of {text:?}");
        let n = ids.len();
        let ids = Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap();
        let mask = Tensor::ones((1, n), DType::U32, &Device::Cpu).unwrap();
        let hidden = encoder.forward_t(&ids, &mask, false).unwrap();
        let pooled: Vec<f32> = encoder
            .pool(&hidden, &mask, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
        let want: Vec<f32> = row["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(pooled.len(), want.len());
        for (got, want) in pooled.iter().map(|v| v / norm).zip(&want) {
            worst = worst.max((got - want).abs());
        }
    }
    eprintln!("largest difference from the numpy reference: {worst:e}");
    assert!(worst < 1e-4, "largest difference {worst}");
}

/// `--word-vectors`: tokens that MiniLM reads alike get nearby vectors after the reduction.
#[test]
fn word_vectors_from_minilm_keep_meaning() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/base/all-MiniLM-L6-v2");
    if !base.join("model.safetensors").is_file() {
        eprintln!("SKIPPED: base model not fetched; run scripts/fetch-base-model.sh");
        return;
    }
    let words = [
        "condemned",
        "denounced",
        "deplored",
        "denied",
        "rejected",
        "refuted",
        "guaranteed",
        "assured",
        "promised",
        "threatened",
        "warned",
        "football",
        "tennis",
        "hospital",
        "clinic",
        "bank",
        "ministry",
        "tomato",
        "potato",
        "##ing",
        "[PAD]",
        "[UNK]",
    ];
    let tokens: Vec<String> = words.iter().map(|s| s.to_string()).collect();
    let table = stance::word_vectors::from_encoder(&base, &tokens, 16, 0.02).unwrap();
    let rows: Vec<Vec<f32>> = table.to_vec2().unwrap();
    let cos = |a: usize, b: usize| {
        let dot: f32 = rows[a].iter().zip(&rows[b]).map(|(x, y)| x * y).sum();
        let n = |v: &Vec<f32>| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (n(&rows[a]) * n(&rows[b]))
    };
    let at = |w: &str| words.iter().position(|x| *x == w).unwrap();
    for (word, near, far) in [
        ("condemned", "denounced", "potato"),
        ("football", "tennis", "refuted"),
        ("hospital", "clinic", "threatened"),
        ("tomato", "potato", "ministry"),
    ] {
        let (c_near, c_far) = (cos(at(word), at(near)), cos(at(word), at(far)));
        assert!(c_near > c_far, "{word}: {near} {c_near} vs {far} {c_far}");
    }
}
