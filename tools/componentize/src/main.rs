//! `componentize IN.wasm OUT.wasm`
//!
//! Turns a core WebAssembly module into a WebAssembly component. The module
//! must carry the component-type custom section that wit-bindgen emits, so
//! no WIT files are needed here. Used by `scripts/build-plugins-fallback`,
//! the guest build route for machines where the `wasm32-wasip2` target (which
//! makes components directly) cannot be installed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wit_component::ComponentEncoder;

fn componentize(input: &Path, output: &Path) -> Result<usize> {
    let module = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    if module.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        bail!("{} is not a core WebAssembly module", input.display());
    }
    let component = ComponentEncoder::default()
        .module(&module)
        .with_context(|| format!("decoding the component-type section of {}", input.display()))?
        .validate(true)
        .encode()
        .with_context(|| format!("encoding {} as a component", input.display()))?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(output, &component).with_context(|| format!("writing {}", output.display()))?;
    Ok(component.len())
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: componentize IN.wasm OUT.wasm");
        return ExitCode::from(2);
    };
    match componentize(Path::new(input), Path::new(output)) {
        Ok(len) => {
            println!(
                "componentize: {} -> {} ({len} bytes)",
                Path::new(input).display(),
                Path::new(output).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("componentize: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
