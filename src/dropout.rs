//! Reproducible randomness for training: dropout masks and weight initialisation drawn from a seeded
//! ChaCha8 generator (candle's own CPU generator cannot be seeded), so the same seed gives the same model.

use candle_core::{Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::seed_from_u64(0));
}

/// Seeds the generator that dropout uses on this thread.
pub fn seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the rest by
/// `1/(1-p)`; at inference it is the identity.
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f32,
}

impl Dropout {
    /// Dropout with drop probability `p` in [0, 1).
    pub fn new(p: f32) -> Self {
        Self { p }
    }

    /// Applies dropout when `train` is true.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if !train || self.p <= 0.0 {
            return Ok(xs.clone());
        }
        let n = xs.elem_count();
        let scale = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = RNG.with(|r| {
            let mut r = r.borrow_mut();
            (0..n)
                .map(|_| {
                    if r.random::<f32>() < self.p {
                        0.0
                    } else {
                        scale
                    }
                })
                .collect()
        });
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs.mul(&mask)
    }
}

/// Values drawn from N(0, std²) with a seeded generator, in row-major order.
pub fn normal(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    let dist = Normal::new(0.0f32, std as f32).unwrap_or_else(|_| Normal::new(0.0, 0.02).unwrap());
    (0..n).map(|_| dist.sample(rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn same_seed_same_mask_and_expected_drop_rate() {
        let x = Tensor::ones((100, 100), candle_core::DType::F32, &Device::Cpu).unwrap();
        let d = Dropout::new(0.25);
        seed(7);
        let a: Vec<f32> = d
            .forward_t(&x, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        seed(7);
        let b: Vec<f32> = d
            .forward_t(&x, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, b);
        let zeros = a.iter().filter(|v| **v == 0.0).count() as f64 / a.len() as f64;
        assert!((zeros - 0.25).abs() < 0.03, "drop rate {zeros}");
        let kept: f32 = a.iter().copied().find(|v| *v != 0.0).unwrap();
        assert!((kept - 1.0 / 0.75).abs() < 1e-6);
    }

    #[test]
    fn identity_at_inference() {
        let x = Tensor::ones((3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let y = Dropout::new(0.5).forward_t(&x, false).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), x.to_vec2::<f32>().unwrap());
    }
}
