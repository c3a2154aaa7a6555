//! What the in-process benchmarks of plugin calls (`hooks`, `plugin_calls`)
//! share: a series of timings, and the account a creator's decision makes.

use std::time::Duration;

use provisio::plugin::{Account, Creation};

use crate::load::percentile;

/// One mechanism's timings, each sample one round of the same work.
pub struct Series {
    /// What was timed.
    pub name: &'static str,
    /// The timings; [`Series::sort`] them before reading quantiles.
    pub samples: Vec<Duration>,
}

impl Series {
    /// An empty series with room for `n` samples.
    pub fn new(name: &'static str, n: usize) -> Self {
        Self { name, samples: Vec::with_capacity(n) }
    }

    /// Sorts the samples, for [`Series::p`].
    pub fn sort(&mut self) {
        self.samples.sort();
    }

    /// The `q` quantile of the sorted samples, in microseconds.
    pub fn p(&self, q: f64) -> f64 {
        us(percentile(&self.samples, q))
    }
}

/// A duration in microseconds.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The account a creator's decision makes, as the assignment hook sees it;
/// panics when the decision is a denial.
pub fn account_from(decision: &Creation) -> Account {
    let Creation::Create(new) = decision else { panic!("expected an account, got {decision:?}") };
    Account {
        id: "bench".into(),
        username: new.username_hint.clone().unwrap_or_default(),
        email: new.email.clone(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        newly_created: true,
    }
}
