//! Exponential moving average of the trainable weights (as timm's `ModelEmaV2`): a smoothed copy
//! that is updated after every optimiser step and swapped in for dev evaluation and the saved model.
//! It evens out the step-to-step noise of small-batch training, so the epoch picked on dev is less a
//! matter of luck.

use candle_core::{Result, Tensor, Var};

/// A shadow copy of some variables, moving towards them by `1 − decay` per update.
pub struct Ema {
    decay: f64,
    updates: usize,
    shadow: Vec<Tensor>,
}

impl Ema {
    /// Starts the shadow at the variables' current values. `decay` is in (0, 1). The shadow is kept
    /// out of autograd: a tracked copy would chain every update to the last and hold them all.
    pub fn new(vars: &[Var], decay: f64) -> Result<Self> {
        let shadow = vars
            .iter()
            .map(|v| v.as_tensor().detach().copy())
            .collect::<Result<_>>()?;
        Ok(Self {
            decay,
            updates: 0,
            shadow,
        })
    }

    /// The decay of the next update: `min(decay, (1 + n) / (10 + n))` after n updates, so the early
    /// shadow follows the fast-moving weights instead of remembering their random start.
    pub fn current_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// `shadow ← d · shadow + (1 − d) · var` for every variable (the same order as in [`Ema::new`]).
    pub fn update(&mut self, vars: &[Var]) -> Result<()> {
        let d = self.current_decay();
        for (s, v) in self.shadow.iter_mut().zip(vars) {
            *s = ((&*s * d)? + (v.as_tensor().detach() * (1.0 - d))?)?;
        }
        self.updates += 1;
        Ok(())
    }

    /// Exchanges the variables' values with the shadow's. Call it twice to restore.
    pub fn swap(&mut self, vars: &[Var]) -> Result<()> {
        for (s, v) in self.shadow.iter_mut().zip(vars) {
            let live = v.as_tensor().detach().copy()?;
            v.set(s)?;
            *s = live;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn values(v: &Var) -> Vec<f32> {
        v.as_tensor().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn shadow_moves_towards_the_weights_and_swaps_back() {
        let v = Var::from_vec(vec![0f32, 0.0], 2, &Device::Cpu).unwrap();
        let vars = [v.clone()];
        let mut ema = Ema::new(&vars, 0.9).unwrap();
        // First update: decay min(0.9, 1/10) = 0.1.
        v.set(&Tensor::new(&[10f32, -10.0], &Device::Cpu).unwrap())
            .unwrap();
        ema.update(&vars).unwrap();
        ema.swap(&vars).unwrap();
        let shadow = values(&v);
        assert!((shadow[0] - 9.0).abs() < 1e-5 && (shadow[1] + 9.0).abs() < 1e-5);
        ema.swap(&vars).unwrap();
        assert_eq!(values(&v), vec![10.0, -10.0]);
        // Untracked, so updates do not keep the previous shadows alive.
        assert!(ema.shadow.iter().all(|s| !s.track_op()));
    }

    #[test]
    fn decay_warms_up_to_its_bound() {
        let v = Var::from_vec(vec![1f32], 1, &Device::Cpu).unwrap();
        let vars = [v];
        let mut ema = Ema::new(&vars, 0.999).unwrap();
        let mut last = 0.0;
        for _ in 0..10_000 {
            let d = ema.current_decay();
            assert!(d >= last && d <= 0.999);
            last = d;
            ema.update(&vars).unwrap();
        }
        assert_eq!(ema.current_decay(), 0.999);
    }
}
