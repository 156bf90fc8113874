//! The GELU activation (the exact, erf form) of the encoder's feed-forward layers. Inference and
//! training take different paths to the same function:
//! - at inference, a vectorised approximation of erf replaces candle's scalar one, which dominated
//!   small models' run time;
//! - in training, one fused operation gives candle's own `gelu_erf` values and gradient bit for bit,
//!   but keeps the forward pass's erf for the backward pass and computes the gradient in one loop,
//!   where candle evaluates erf again and makes eleven passes over the tensor.

use std::f32::consts::FRAC_1_SQRT_2;
use std::sync::{Mutex, PoisonError};

use candle_core::cpu::erf::erf_f32;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, bail};

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

/// Exact (erf) GELU of `xs`. With `train` it is differentiable, with candle's `gelu_erf` values and
/// gradient bit for bit; without, it uses [`fast_erf`] (within about 1e-7 of it).
pub fn gelu_erf_t(xs: &Tensor, train: bool) -> Result<Tensor> {
    if xs.dtype() != DType::F32 {
        return xs.gelu_erf();
    }
    if train {
        return xs.contiguous()?.apply_op1(TrainGelu::default());
    }
    let v: Vec<f32> = xs.flatten_all()?.to_vec1()?;
    let out: Vec<f32> = v
        .iter()
        .map(|&x| 0.5 * x * (1.0 + fast_erf(x * FRAC_1_SQRT_2)))
        .collect();
    Tensor::from_vec(out, xs.shape(), xs.device())
}

/// The slice of a contiguous f32 CPU tensor.
fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => bail!("gelu: the tensor is not contiguous"),
    }
}

/// The training GELU. Its forward pass stores erf(x/√2) of every element for the backward pass.
#[derive(Default)]
struct TrainGelu {
    erf: Mutex<Option<Vec<f32>>>,
}

impl CustomOp1 for TrainGelu {
    fn name(&self) -> &'static str {
        "gelu-erf-train"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let xs = f32_slice(storage, layout)?;
        let (mut erf, mut out) = (Vec::with_capacity(xs.len()), Vec::with_capacity(xs.len()));
        for &x in xs {
            let e = erf_f32(x * FRAC_1_SQRT_2);
            erf.push(e);
            // candle's GeluErf::f32.
            out.push((e + 1.) * 0.5 * x);
        }
        *self.erf.lock().unwrap_or_else(PoisonError::into_inner) = Some(erf);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // A second backward pass over the same graph finds the stored erf taken and recomputes it.
        let erf = self
            .erf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let grad = grad.contiguous()?;
        Ok(Some(grad.apply_op2_no_bwd(arg, &GeluGrad { erf })?))
    }
}

/// `grad · gelu'(arg)`, computed with the same f32 operations in the same order as candle's backward
/// pass for `gelu_erf` (candle-core 0.11 backprop.rs), so the result is identical.
struct GeluGrad {
    erf: Option<Vec<f32>>,
}

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "gelu-erf-train-grad"
    }

    fn cpu_fwd(
        &self,
        grad: &CpuStorage,
        grad_layout: &Layout,
        arg: &CpuStorage,
        arg_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (grad, xs) = (f32_slice(grad, grad_layout)?, f32_slice(arg, arg_layout)?);
        // candle's affine(mul, add) is `v * mul + add` with both cast to f32; `+ 0.0` is kept because
        // it turns -0.0 into 0.0 there.
        let (half, coef, zero) = (0.5f32, 0.398942f64 as f32, 0.0f32);
        let scale = (1.0 / 2f64.sqrt()) as f32;
        let recomputed: Vec<f32>;
        let erf = match &self.erf {
            Some(e) => e.as_slice(),
            None => {
                recomputed = xs.iter().map(|&x| erf_f32(x * scale + zero)).collect();
                &recomputed
            }
        };
        if grad.len() != xs.len() || erf.len() != xs.len() {
            bail!("gelu: gradient and input sizes differ");
        }
        let out = xs
            .iter()
            .zip(erf)
            .zip(grad)
            .map(|((&x, &erf), &g)| {
                let neg_half_square = -(x * x) * half + zero;
                let scaled_exp_arg = (neg_half_square.exp() * coef + zero) * x;
                let erf_scaled_sqrt = erf * half + zero;
                let gelu_grad = (scaled_exp_arg * 1.0 + 0.5) + erf_scaled_sqrt;
                g * gelu_grad
            })
            .collect();
        Ok((CpuStorage::F32(out), arg_layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

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

    fn bits(t: &Tensor) -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    /// Inputs over GELU's whole range, with the signed zeros and values beyond erf's saturation.
    fn inputs() -> Vec<f32> {
        let mut v: Vec<f32> = (-3000..3000).map(|i| i as f32 * 0.00337).collect();
        v.extend([0.0, -0.0, 1e-30, -1e-30, 9.5, -9.5, 40.0, -40.0]);
        v
    }

    #[test]
    fn the_fused_training_gelu_is_candles_bit_for_bit() {
        let dev = Device::Cpu;
        let v = inputs();
        let n = v.len();
        // A gradient that differs per element, so that a swapped index would show.
        let w: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect();
        let w = Tensor::from_vec(w, n, &dev).unwrap();
        let run = |fused: bool| {
            let x =
                Var::from_tensor(&Tensor::from_vec(v.clone(), (n / 8, 8), &dev).unwrap()).unwrap();
            let y = if fused {
                gelu_erf_t(x.as_tensor(), true).unwrap()
            } else {
                x.as_tensor().gelu_erf().unwrap()
            };
            let loss = (y.flatten_all().unwrap() * &w).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            (bits(&y), bits(grads.get(x.as_tensor()).unwrap()))
        };
        let (y_fused, g_fused) = run(true);
        let (y_candle, g_candle) = run(false);
        assert_eq!(y_fused, y_candle, "forward values differ");
        assert_eq!(g_fused, g_candle, "gradients differ");
        // The gradient is GELU's derivative, Φ(x) + x φ(x), times the per-element weight.
        for (i, (&x, &b)) in v.iter().zip(&g_fused).enumerate() {
            let x = x as f64;
            let phi = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let want =
                (0.5 * (1.0 + erf64(x / 2f64.sqrt())) + x * phi) * (1.0 + (i % 7) as f64 * 0.25);
            let got = f32::from_bits(b) as f64;
            assert!(
                (got - want).abs() < 1e-5,
                "x {x}: gradient {got}, expected {want}"
            );
        }
    }

    #[test]
    fn the_gradient_without_the_stored_erf_is_the_same() {
        let dev = Device::Cpu;
        let v = inputs();
        let n = v.len();
        let x = Tensor::from_vec(v.clone(), n, &dev).unwrap();
        let grad = Tensor::from_vec(
            (0..n).map(|i| (i % 5) as f32 - 2.0).collect::<Vec<f32>>(),
            n,
            &dev,
        )
        .unwrap();
        let stored: Vec<f32> = v.iter().map(|&x| erf_f32(x * FRAC_1_SQRT_2)).collect();
        let a = grad
            .apply_op2_no_bwd(&x, &GeluGrad { erf: Some(stored) })
            .unwrap();
        let b = grad.apply_op2_no_bwd(&x, &GeluGrad { erf: None }).unwrap();
        assert_eq!(bits(&a), bits(&b));
        assert_eq!((1.0 / 2f64.sqrt()) as f32, FRAC_1_SQRT_2);
        let short = GeluGrad {
            erf: Some(vec![0.0; 3]),
        };
        assert!(grad.apply_op2_no_bwd(&x, &short).is_err());
    }
}
