//! The optimiser: AdamW over parameter groups (weight decay off for biases and LayerNorm, per-layer
//! learning-rate scales for layer-wise decay, frozen parameters left out), a linear warm-up then linear
//! decay schedule, and gradient-norm clipping.

use candle_core::backprop::GradStore;
use candle_core::{Result, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::collections::BTreeMap;

/// Linear warm-up over `warmup` steps to `peak`, then linear decay to zero at `total`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
}

impl Schedule {
    /// Learning rate for 0-based `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            self.peak * (step + 1) as f64 / self.warmup as f64
        } else if self.total <= self.warmup {
            self.peak
        } else {
            let left = self.total.saturating_sub(step) as f64;
            self.peak * (left / (self.total - self.warmup) as f64).max(0.0)
        }
    }
}

/// One trainable parameter and how to treat it.
pub struct Param {
    pub name: String,
    pub var: Var,
    /// Multiplier on the scheduled learning rate (layer-wise decay).
    pub lr_scale: f64,
    /// Whether weight decay applies.
    pub decay: bool,
}

/// AdamW over groups of parameters that share a learning-rate scale and a weight-decay setting.
pub struct GroupedAdamW {
    groups: Vec<(f64, AdamW)>,
    vars: Vec<Var>,
}

impl GroupedAdamW {
    /// Groups `params` and builds one AdamW per group.
    pub fn new(params: Vec<Param>, weight_decay: f64) -> Result<Self> {
        let mut by_key: BTreeMap<(u64, bool), Vec<Var>> = BTreeMap::new();
        let mut vars = Vec::new();
        for p in params {
            vars.push(p.var.clone());
            by_key
                .entry((p.lr_scale.to_bits(), p.decay))
                .or_default()
                .push(p.var);
        }
        let groups = by_key
            .into_iter()
            .map(|((scale, decay), vars)| {
                let params = ParamsAdamW {
                    lr: 0.0,
                    weight_decay: if decay { weight_decay } else { 0.0 },
                    ..ParamsAdamW::default()
                };
                Ok((f64::from_bits(scale), AdamW::new(vars, params)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { groups, vars })
    }

    /// Every trainable variable.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Applies one update with base learning rate `lr`.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        for (scale, opt) in &mut self.groups {
            opt.set_learning_rate(lr * *scale);
            opt.step(grads)?;
        }
        Ok(())
    }
}

/// Scales the gradients of `vars` so that their global L2 norm is at most `max_norm`; returns the norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for v in vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                let scaled = (g * scale)?;
                grads.insert(v.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let s = Schedule {
            peak: 1.0,
            warmup: 4,
            total: 12,
        };
        assert_eq!(s.lr(0), 0.25);
        assert_eq!(s.lr(3), 1.0);
        assert_eq!(s.lr(4), 1.0);
        assert_eq!(s.lr(8), 0.5);
        assert_eq!(s.lr(12), 0.0);
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let dev = Device::Cpu;
        let a = Var::new(&[3.0f32], &dev).unwrap();
        let b = Var::new(&[4.0f32], &dev).unwrap();
        // d/dx of x² is 2x: gradients 6 and 8, norm 10.
        let loss = (a.as_tensor().sqr().unwrap() + b.as_tensor().sqr().unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let mut grads = loss.backward().unwrap();
        let vars = vec![a.clone(), b.clone()];
        let norm = clip_grad_norm(&mut grads, &vars, 5.0).unwrap();
        assert!((norm - 10.0).abs() < 1e-5);
        let ga = grads.get(a.as_tensor()).unwrap().to_vec1::<f32>().unwrap()[0];
        assert!((ga - 3.0).abs() < 1e-3, "{ga}");
    }

    #[test]
    fn weight_decay_only_in_its_group() {
        let dev = Device::Cpu;
        let w = Var::new(&[1.0f32], &dev).unwrap();
        let b = Var::new(&[1.0f32], &dev).unwrap();
        let params = vec![
            Param {
                name: "w".into(),
                var: w.clone(),
                lr_scale: 1.0,
                decay: true,
            },
            Param {
                name: "b".into(),
                var: b.clone(),
                lr_scale: 1.0,
                decay: false,
            },
        ];
        let mut opt = GroupedAdamW::new(params, 0.5).unwrap();
        // Both gradients are 1, so Adam's first step moves each by lr = 0.1; decay takes 5% more off w.
        let loss = (w.as_tensor() + b.as_tensor()).unwrap().sum_all().unwrap();
        opt.step(&loss.backward().unwrap(), 0.1).unwrap();
        let wv = w.as_tensor().to_vec1::<f32>().unwrap()[0];
        let bv = b.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((wv - 0.85).abs() < 1e-5, "decayed weight {wv}");
        assert!((bv - 0.9).abs() < 1e-5, "undecayed bias {bv}");
    }
}
