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

/// erf(x) for f32 by a rational approximation on [-4, 4] (Eigen's `generic_fast_erf_float`; largest
/// error about 1e-7), written so that the compiler vectorises it.
#[inline(always)]
pub fn fast_erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906e-4;
    p = x2 * p + -2.954_600_1e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_3e-3;
    q = x2 * q + -1.426_474e-2;
    x * p / q
}

/// Exact (erf) GELU; at inference a vectorised approximation of erf replaces candle's scalar one, which
/// dominated small models' run time.
pub fn gelu_erf_t(xs: &Tensor, train: bool) -> Result<Tensor> {
    if train || xs.dtype() != DType::F32 {
        return xs.gelu_erf();
    }
    let v: Vec<f32> = xs.flatten_all()?.to_vec1()?;
    let out: Vec<f32> = v
        .iter()
        .map(|&x| 0.5 * x * (1.0 + fast_erf(x * std::f32::consts::FRAC_1_SQRT_2)))
        .collect();
    Tensor::from_vec(out, xs.shape(), xs.device())
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
    fn fast_erf_matches_libm() {
        let mut worst = 0f64;
        for i in -8000..=8000 {
            let x = i as f32 / 1000.0;
            let exact = erf64(x as f64);
            worst = worst.max((fast_erf(x) as f64 - exact).abs());
        }
        assert!(worst < 1e-6, "largest erf error {worst}");
        let x = Tensor::new(&[-3.0f32, -0.5, 0.0, 0.7, 2.5], &Device::Cpu).unwrap();
        let a = gelu_erf_t(&x, false).unwrap().to_vec1::<f32>().unwrap();
        let b = x.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-6, "{p} vs {q}");
        }
    }

    /// erf in f64 by its Taylor series (|x| < 3) or asymptotic continued fraction, for the test only.
    fn erf64(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc by Lentz's continued fraction
            let z = x.abs();
            let mut f = z;
            for k in (1..60).rev() {
                f = z + (k as f64 / 2.0) / f;
            }
            let erfc = (-z * z).exp() / (f * std::f64::consts::PI.sqrt());
            x.signum() * (1.0 - erfc)
        }
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
