//! Hostile test plugin: `create` recurses without bound until the stack runs out.

use core::hint::black_box;
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

struct HostileRecursion;

/// Never returns: each call keeps a frame alive (the addition after the
/// recursive call prevents a tail call, `black_box` prevents turning it into a loop).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    let below = recurse(black_box(depth + 1));
    black_box(below.wrapping_add(frame[(depth % 8) as usize]))
}

impl IdentityCreator for HostileRecursion {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        let depth = recurse(black_box(0));
        Err(format!("recursion returned at depth {depth}").into())
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileRecursion);
