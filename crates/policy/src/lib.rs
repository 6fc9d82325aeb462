//! `bale-policy`: every rule of the image framework as a pure function of
//! facts already established (by file descriptor, by the kernel, by SLURM).
//! Each returns `Ok` or a [`Refusal`] that names the rule and says why in one
//! line. Nothing here touches the system, so every rule is unit-tested
//! without root; `docs/security.md` explains why each rule exists.

mod refusal;
mod rules;

pub use refusal::Refusal;
pub use rules::*;
