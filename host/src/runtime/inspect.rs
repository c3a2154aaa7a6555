//! What a component is before it may run: WebAssembly at all, a component
//! rather than a core module, which of the contract's worlds it implements,
//! and whether it imports only what the sandbox offers.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;

/// The export names of the contract's interfaces.
pub(super) const CREATOR_EXPORT: &str = "provisio:plugin/identity-creator@0.1.0";
pub(super) const ASSIGNER_EXPORT: &str = "provisio:plugin/assignment-provider@0.1.0";

/// Import packages a plugin may use, with the version line each must be on.
/// The WASI packages are linked deny-by-default: no preopened directories, no
/// environment or arguments, no network; clocks and random work.
const ALLOWED_IMPORTS: &[(&str, &str)] = &[
    ("provisio:plugin", "0.1."),
    ("wasi:cli", "0.2."),
    ("wasi:clocks", "0.2."),
    ("wasi:filesystem", "0.2."),
    ("wasi:io", "0.2."),
    ("wasi:random", "0.2."),
    ("wasi:sockets", "0.2."),
];

/// The contract's worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Exports `identity-creator` only.
    IdentityCreatorPlugin,
    /// Exports `assignment-provider` only.
    AssignmentProviderPlugin,
    /// Exports both.
    Provisioner,
}

impl World {
    /// Every world of the contract.
    pub const ALL: [Self; 3] = [Self::IdentityCreatorPlugin, Self::AssignmentProviderPlugin, Self::Provisioner];

    /// The world's name in the WIT package.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityCreatorPlugin => "identity-creator-plugin",
            Self::AssignmentProviderPlugin => "assignment-provider-plugin",
            Self::Provisioner => "provisioner",
        }
    }

    /// The world with this name, as [`World::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == name)
    }

    /// Whether plugins of this world can create identities.
    pub fn creates(self) -> bool {
        matches!(self, Self::IdentityCreatorPlugin | Self::Provisioner)
    }

    /// Whether plugins of this world can assign memberships.
    pub fn assigns(self) -> bool {
        matches!(self, Self::AssignmentProviderPlugin | Self::Provisioner)
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refuses bytes that are not a WebAssembly component, before compiling.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(LoadError::CoreModule),
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', ..]) => Err(LoadError::Invalid("unsupported WebAssembly binary version".into())),
        _ => Err(LoadError::NotWasm),
    }
}

/// What a compiled component exposes.
pub(super) struct Surface {
    pub(super) world: World,
    pub(super) imports: Vec<String>,
}

/// Finds the component's world and checks its imports against the allow-list.
pub(super) fn surface(engine: &Engine, component: &Component) -> Result<Surface, LoadError> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let creates = exports.contains(&CREATOR_EXPORT);
    let assigns = exports.contains(&ASSIGNER_EXPORT);
    let world = match (creates, assigns) {
        (true, true) => World::Provisioner,
        (true, false) => World::IdentityCreatorPlugin,
        (false, true) => World::AssignmentProviderPlugin,
        (false, false) => {
            let list = if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") };
            return Err(LoadError::WrongWorld { exports: list });
        }
    };
    let mut imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    imports.sort();
    if let Some(bad) = imports.iter().find(|name| !import_allowed(name)) {
        return Err(LoadError::ForbiddenImport { import: bad.clone() });
    }
    Ok(Surface { world, imports })
}

/// Whether an import name (`package/interface@version`) is on the allow-list.
fn import_allowed(name: &str) -> bool {
    let Some((path, version)) = name.split_once('@') else {
        return false;
    };
    let Some((package, _interface)) = path.split_once('/') else {
        return false;
    };
    ALLOWED_IMPORTS.iter().any(|(p, line)| *p == package && version.starts_with(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_allow_list() {
        for (name, allowed) in [
            ("provisio:plugin/host@0.1.0", true),
            ("wasi:random/random@0.2.12", true),
            ("wasi:sockets/tcp@0.2.0", true),
            ("wasi:http/outgoing-handler@0.2.0", false),
            ("wasi:random/random@0.3.0", false),
            ("attacker:exfil/send@0.1.0", false),
            ("bare-function", false),
        ] {
            assert_eq!(import_allowed(name), allowed, "{name}");
        }
    }

    #[test]
    fn headers() {
        assert_eq!(check_header(b"\0asm\x01\0\0\0rest"), Err(LoadError::CoreModule));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0rest"), Ok(()));
        assert_eq!(check_header(b"hello world"), Err(LoadError::NotWasm));
        assert_eq!(check_header(b""), Err(LoadError::NotWasm));
    }
}
