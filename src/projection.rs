//! Matching the teacher's pooled statement vectors (distillation with `match_pooled`): a linear
//! projection from the student's hidden size to the teacher's, trained alongside the student and
//! dropped when the student is saved, and the cosine distance between each projected student vector
//! and the teacher's. The teacher's vector carries far more of what it knows about a statement than its
//! five probabilities do.

use crate::dropout;
use crate::error::{Error, Result};
use crate::ops::Linear;
use crate::optim::Param;
use crate::train::Target;
use candle_core::{D, DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The trainable projection from student to teacher vectors.
pub struct Projection {
    linear: Linear,
    varmap: VarMap,
    dim: usize,
}

/// Added to the seed for the projection's starting weights, so the student's own stay as without it.
const SEED_OFFSET: u64 = 0x5052_4f4a;

impl Projection {
    /// A projection from `hidden` to `teacher_dim`, its weights drawn from normal(0, `range`) with a
    /// generator derived from `seed`, its bias zero.
    pub fn new(hidden: usize, teacher_dim: usize, range: f64, seed: u64) -> Result<Self> {
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let linear = Linear::load(hidden, teacher_dim, vb.pp("projection"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(SEED_OFFSET));
        let weight = dropout::normal(&mut rng, teacher_dim * hidden, range);
        varmap.set_one(
            "projection.weight",
            Tensor::from_vec(weight, (teacher_dim, hidden), &Device::Cpu)?,
        )?;
        varmap.set_one(
            "projection.bias",
            Tensor::zeros(teacher_dim, DType::F32, &Device::Cpu)?,
        )?;
        Ok(Self {
            linear,
            varmap,
            dim: teacher_dim,
        })
    }

    /// The projection's weight and bias, for the optimiser (full learning rate; decay on the weight).
    pub fn params(&self) -> Result<Vec<Param>> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::Invalid("poisoned variable map".into()))?;
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|name| Param {
                name: name.clone(),
                var: data[name].clone(),
                lr_scale: 1.0,
                decay: name.ends_with(".weight"),
            })
            .collect())
    }

    /// Mean over the `n` statements of `pooled` (n, hidden) of 1 − cos(projected student vector,
    /// teacher vector); statements without a teacher vector add nothing but still count in `n`.
    pub fn loss(&self, pooled: &Tensor, targets: &[&Target]) -> Result<Tensor> {
        let n = targets.len();
        let dim = self.dim;
        let mut goal = vec![0f32; n * dim];
        let mut weight = vec![0f32; n];
        for (i, t) in targets.iter().enumerate() {
            if let Some(v) = &t.pooled {
                if v.len() != dim {
                    return Err(Error::Invalid(format!(
                        "a teacher vector has {} values, expected {dim}",
                        v.len()
                    )));
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                for (g, x) in goal[i * dim..(i + 1) * dim].iter_mut().zip(v) {
                    *g = x / norm;
                }
                weight[i] = 1.0;
            }
        }
        let dev = pooled.device();
        let goal = Tensor::from_vec(goal, (n, dim), dev)?;
        let weight = Tensor::from_vec(weight, n, dev)?;
        let p = self.linear.forward_t(pooled, true)?;
        let norm = (p.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
        let cos = p.broadcast_div(&norm)?.mul(&goal)?.sum(D::Minus1)?;
        let distance = cos.affine(-1.0, 1.0)?;
        Ok(((distance * weight)?.sum_all()? / n.max(1) as f64)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pooled: Option<Vec<f32>>) -> Target {
        Target {
            gold: None,
            teacher: None,
            pooled,
        }
    }

    #[test]
    fn the_loss_is_the_mean_cosine_distance_and_its_gradient_reaches_the_projection() {
        let proj = Projection::new(2, 3, 0.5, 7).unwrap();
        let pooled = Tensor::new(&[[1.0f32, -2.0], [0.5, 0.25]], &Device::Cpu).unwrap();
        let p = proj
            .linear
            .forward_t(&pooled, false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let goal = vec![3.0f32, 0.0, -4.0];
        let cos = |a: &[f32], b: &[f32]| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (n(a) * n(b))
        };
        let targets = [target(Some(goal.clone())), target(None)];
        let refs: Vec<&Target> = targets.iter().collect();
        let loss = proj.loss(&pooled, &refs).unwrap();
        let expected = (1.0 - cos(&p[0], &goal)) / 2.0;
        assert!((loss.to_scalar::<f32>().unwrap() - expected).abs() < 1e-6);

        let grads = loss.backward().unwrap();
        for param in proj.params().unwrap() {
            let g = grads.get(param.var.as_tensor()).expect("a gradient");
            assert!(
                g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0
            );
        }
        let same = [target(Some(p[0].iter().map(|x| x * 5.0).collect()))];
        let refs: Vec<&Target> = same.iter().collect();
        let first = pooled.get(0).unwrap().unsqueeze(0).unwrap();
        let zero = proj
            .loss(&first, &refs)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(zero.abs() < 1e-6, "{zero}");
    }

    #[test]
    fn a_vector_of_the_wrong_size_is_an_error_and_the_start_is_seeded() {
        let proj = Projection::new(2, 3, 0.5, 7).unwrap();
        let pooled = Tensor::new(&[[1.0f32, -2.0]], &Device::Cpu).unwrap();
        let bad = [target(Some(vec![1.0, 2.0]))];
        let refs: Vec<&Target> = bad.iter().collect();
        assert!(proj.loss(&pooled, &refs).is_err());
        let w = |p: &Projection| {
            p.params().unwrap()[1]
                .var
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(w(&proj), w(&Projection::new(2, 3, 0.5, 7).unwrap()));
        assert_ne!(w(&proj), w(&Projection::new(2, 3, 0.5, 8).unwrap()));
    }
}
