//! Hostile test plugin: `create` allocates and writes 1 MiB chunks forever.

use core::hint::black_box;
use provisio_plugin_sdk::{Config, Creation, IdentityCreator, Principal, Result};

struct HostileMemory;

const CHUNK: usize = 1 << 20;

#[inline(never)]
fn hoard_memory() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut fill = 1u8;
    loop {
        // A non-zero fill makes every page really written, not only reserved.
        chunks.push(vec![fill; CHUNK]);
        fill = fill.wrapping_add(1).max(1);
        black_box(&mut chunks);
    }
}

impl IdentityCreator for HostileMemory {
    fn create(_principal: Principal, _config: &Config) -> Result<Creation> {
        hoard_memory()
    }
}

provisio_plugin_sdk::export_identity_creator!(HostileMemory);
