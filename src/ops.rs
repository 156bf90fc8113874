//! Layers whose training path must differ from candle's inference path: candle's fused LayerNorm and
//! softmax have no backward pass, and its gradient of a broadcast over leading dimensions is a slow
//! strided sum. Here inference uses the fused kernels, and training uses differentiable compositions in
//! which every broadcast of a parameter over rows is a rank-1 matmul (so its gradient is a gemm).

use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

/// `v` (any shape, `k` elements) repeated as `n` rows: (n, k). In training this is `ones(n,1) · v`, whose
/// gradient with respect to `v` is a matrix product rather than candle's strided reduction.
pub fn repeat_rows(v: &Tensor, n: usize, train: bool) -> Result<Tensor> {
    let k = v.elem_count();
    let flat = v.reshape((1, k))?;
    if train {
        Tensor::ones((n, 1), v.dtype(), v.device())?.matmul(&flat)
    } else {
        flat.broadcast_as((n, k))
    }
}

/// `xs` (…, k) combined element-wise with `v` (k) broadcast over all leading dimensions.
fn rowwise(xs: &Tensor, v: &Tensor, train: bool, mul: bool) -> Result<Tensor> {
    if !train {
        return if mul {
            xs.broadcast_mul(v)
        } else {
            xs.broadcast_add(v)
        };
    }
    let k = v.elem_count();
    let n = xs.elem_count() / k.max(1);
    let rows = repeat_rows(v, n, true)?.reshape(xs.shape())?;
    if mul { xs.mul(&rows) } else { xs.add(&rows) }
}

/// A linear layer (`weight` (out, in), `bias` (out)) in Hugging Face's layout.
#[derive(Clone, Debug)]
pub struct Linear {
    inner: candle_nn::Linear,
}

impl Linear {
    /// Loads `weight` and `bias` under `vb`.
    pub fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            inner: candle_nn::linear(in_dim, out_dim, vb)?,
        })
    }

    /// `xs` (…, in) to (…, out).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (train, self.inner.bias()) {
            (true, Some(bias)) => {
                let no_bias = candle_nn::Linear::new(self.inner.weight().clone(), None);
                rowwise(&no_bias.forward(xs)?, bias, true, false)
            }
            _ => self.inner.forward(xs),
        }
    }
}

/// Layer normalisation over the last dimension, loaded from `weight`/`bias` (or the old `gamma`/`beta`).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads a LayerNorm of width `size`; missing weights start at one and zero.
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let ln = candle_nn::layer_norm(size, eps, vb)?;
        let bias = match ln.bias() {
            Some(b) => b.clone(),
            None => Tensor::zeros(size, DType::F32, ln.weight().device())?,
        };
        Ok(Self {
            weight: ln.weight().clone(),
            bias,
            eps,
        })
    }

    /// Normalises `xs`; differentiable when `train` is true.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if !train && xs.is_contiguous() {
            return candle_nn::ops::layer_norm(xs, &self.weight, &self.bias, self.eps as f32);
        }
        let mean = xs.mean_keepdim(D::Minus1)?;
        let centred = xs.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let scaled = rowwise(&normed, &self.weight, true, true)?;
        rowwise(&scaled, &self.bias, true, false)
    }
}

/// Softmax over the last dimension; differentiable when `train` is true.
pub fn softmax_t(xs: &Tensor, train: bool) -> Result<Tensor> {
    if train {
        candle_nn::ops::softmax(xs, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(&xs.contiguous()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn train_and_inference_paths_agree() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[1.0f32, 2.0, 4.0, -1.0], [0.5, 0.5, 0.0, 3.0]], &dev).unwrap();
        let vm = candle_nn::VarMap::new();
        let ln = LayerNorm::load(4, 1e-12, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
        let a = ln.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
        let b = ln.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap();
        for (ra, rb) in a.iter().zip(&b) {
            for (va, vb) in ra.iter().zip(rb) {
                assert!((va - vb).abs() < 1e-5, "{va} vs {vb}");
            }
        }
        let lin =
            Linear::load(4, 3, VarBuilder::from_varmap(&vm, DType::F32, &dev).pp("l")).unwrap();
        let x3 = x.unsqueeze(0).unwrap();
        let la = lin
            .forward_t(&x3, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let lb = lin
            .forward_t(&x3, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (va, vb) in la.iter().zip(&lb) {
            assert!((va - vb).abs() < 1e-5, "{va} vs {vb}");
        }
        let sa = softmax_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
        let sb = softmax_t(&x, false).unwrap().to_vec2::<f32>().unwrap();
        assert!((sa[0][2] - sb[0][2]).abs() < 1e-6);
        assert!((sa[1].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn training_path_carries_gradients_to_the_input() {
        let dev = Device::Cpu;
        let x = Var::new(&[[1.0f32, 2.0, 4.0]], &dev).unwrap();
        let vm = candle_nn::VarMap::new();
        let ln = LayerNorm::load(3, 1e-5, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
        let y = ln.forward_t(x.as_tensor(), true).unwrap();
        let w = Tensor::new(&[[1.0f32, 0.0, 0.0]], &dev).unwrap();
        let loss = softmax_t(&(y * w).unwrap(), true)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = (loss.sqr().unwrap()).backward().unwrap();
        assert!(grads.get(x.as_tensor()).is_some());
    }
}
