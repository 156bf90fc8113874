//! Word vectors for a new model's vocabulary from a pretrained encoder: each token of the new
//! vocabulary, read alone by the encoder (its own tokenizer, mean-pooled as sentence-transformers do),
//! then reduced to the new model's width by principal components. A small model trained from scratch
//! then starts knowing which of its words mean alike ("slammed" near "denounced"), which its few
//! thousand training statements cannot all teach it.

use crate::config::Pooling;
use crate::error::{Error, Result};
use crate::model::{Encoder, mean_pool};
use crate::model_dir;
use crate::tokenizer::pad_batch;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use nalgebra::{DMatrix, SymmetricEigen};
use std::path::Path;

/// A (tokens.len(), width) f32 table: row i is the encoder's vector for `tokens[i]` (a `##` prefix
/// dropped), projected on the `width` leading principal components of all the rows and scaled to a
/// root-mean-square of `rms`. `width` must not exceed the encoder's hidden size.
pub fn from_encoder(dir: &Path, tokens: &[String], width: usize, rms: f64) -> Result<Tensor> {
    let files = model_dir::read(dir)?;
    let mut cfg = files.config;
    cfg.pooling = Pooling::Mean;
    let dim = cfg.hidden_size;
    if width > dim || tokens.len() < 2 {
        return Err(Error::file(
            dir,
            format!(
                "cannot give {} tokens vectors of width {width} from an encoder of hidden size {dim}",
                tokens.len()
            ),
        ));
    }
    let prefixed = files
        .weights
        .contains_key("bert.embeddings.word_embeddings.weight");
    let vb = VarBuilder::from_tensors(files.weights, DType::F32, &Device::Cpu);
    let encoder = Encoder::load(if prefixed { vb.pp("bert") } else { vb }, &cfg)?;

    let mut rows: Vec<f32> = Vec::with_capacity(tokens.len() * dim);
    for chunk in tokens.chunks(256) {
        let seqs = chunk
            .iter()
            .map(|t| files.tokenizer.ids(t.strip_prefix("##").unwrap_or(t)))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let (ids, mask) = pad_batch(&refs, files.tokenizer.pad_id(), &Device::Cpu)?;
        let hidden = encoder.forward_t(&ids, &mask, false)?;
        rows.extend(mean_pool(&hidden, &mask)?.flatten_all()?.to_vec1::<f32>()?);
    }
    let x = DMatrix::from_row_iterator(tokens.len(), dim, rows.iter().map(|&v| v as f64));
    let mean = x.row_mean();
    let centred = DMatrix::from_fn(tokens.len(), dim, |i, j| x[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / tokens.len() as f64;
    let eig = SymmetricEigen::try_new(cov, 1e-12, 100_000)
        .ok_or_else(|| Error::file(dir, "principal components did not converge"))?;
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let basis = DMatrix::from_fn(dim, width, |i, k| {
        let v = eig.eigenvectors.column(order[k]);
        // Fix each component's sign (largest entry positive), so the table does not depend on it.
        let imax = v.iamax();
        v[i] * v[imax].signum()
    });
    let projected = centred * basis;
    let norm = (projected.norm_squared() / projected.len() as f64).sqrt();
    let scale = if norm > 0.0 { rms / norm } else { 0.0 };
    // nalgebra stores by column: the transpose's storage is the rows in order.
    let values: Vec<f32> = projected
        .transpose()
        .iter()
        .map(|v| (v * scale) as f32)
        .collect();
    Ok(Tensor::from_vec(
        values,
        (tokens.len(), width),
        &Device::Cpu,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_asked_shape_and_scale() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/stance-small");
        let tokens: Vec<String> = ["condemned", "denounced", "##ing", "denied", "the", "[PAD]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = from_encoder(&dir, &tokens, 4, 0.02).unwrap();
        assert_eq!(t.dims(), &[6, 4]);
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        let rms = (v.iter().map(|x| (x * x) as f64).sum::<f64>() / v.len() as f64).sqrt();
        assert!((rms - 0.02).abs() < 1e-6, "rms {rms}");
        // Same input, same table.
        let again = from_encoder(&dir, &tokens, 4, 0.02).unwrap();
        let w: Vec<f32> = again.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, w);
        let err = from_encoder(&dir, &tokens, 4096, 0.02).err().unwrap();
        assert!(err.to_string().contains("hidden size 128"), "{err}");
    }
}
