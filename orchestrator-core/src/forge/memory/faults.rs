//! Fault injection for [`InMemoryForge`]: scripted failures ([`FaultRule`]) and a reproducible
//! random failure rate, so retry, backoff and resume paths can be tested without a network. The
//! faults are the errors the GitHub adapter maps real failures to (5xx, rate limits, 401, 403).

use std::time::Duration;

use super::requests::ForgeOp;
use super::{InMemoryForge, State};
use crate::error::Error;
use crate::forge::types::RepoId;

/// An injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A 5xx or connection error.
    Transient,
    /// A rate limit with a reset delay.
    RateLimited {
        /// The advertised wait.
        retry_after: Duration,
    },
    /// A 401.
    Unauthenticated,
    /// A 403 that is not a rate limit.
    PermissionDenied,
}

impl Fault {
    fn to_error(&self, op: ForgeOp, repo: &RepoId) -> Error {
        let message = format!("injected fault on {op:?} for {repo}");
        match self {
            Fault::Transient => Error::Transient { message },
            Fault::RateLimited { retry_after } => Error::RateLimited {
                retry_after: Some(*retry_after),
                message,
            },
            Fault::Unauthenticated => Error::Unauthenticated { message },
            Fault::PermissionDenied => Error::PermissionDenied { message },
        }
    }
}

/// Fail the next `times` matching requests with `fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Only this operation (any when `None`).
    pub op: Option<ForgeOp>,
    /// Only this repository (any when `None`).
    pub repo: Option<RepoId>,
    /// How many requests to fail.
    pub times: u32,
    /// The failure.
    pub fault: Fault,
}

impl InMemoryForge {
    /// Fails matching future requests.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Fails this fraction of all requests with a transient error, reproducibly from `seed`.
    pub fn set_fault_rate(&self, rate: f64, seed: u64) {
        let mut state = self.lock();
        state.fault_rate = rate.clamp(0.0, 1.0);
        state.rng = seed | 1;
    }
}

impl State {
    /// The failure to answer this request with, if a rule matches (using up one of its `times`)
    /// or the random fault rate strikes.
    pub(super) fn injected_fault(&mut self, op: ForgeOp, repo: &RepoId) -> Option<Error> {
        if let Some(rule) = self.rules.iter_mut().find(|rule| {
            rule.times > 0
                && rule.op.is_none_or(|o| o == op)
                && rule.repo.as_ref().is_none_or(|r| r == repo)
        }) {
            rule.times -= 1;
            Some(rule.fault.to_error(op, repo))
        } else if self.fault_rate > 0.0 && self.next_random() < self.fault_rate {
            Some(Fault::Transient.to_error(op, repo))
        } else {
            None
        }
    }

    /// xorshift64*: enough for reproducible fault rates without a dependency.
    fn next_random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}
