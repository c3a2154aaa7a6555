//! Structural bounds on a component, checked before wasmtime validates or
//! compiles it: wasmtime compiles every core module of a component with no
//! bound on time or memory, so a small upload can cost seconds of CPU and
//! gigabytes (many functions, many locals across many merge points, deep
//! nesting). One linear pass of wasmparser's reader over the bytes measures
//! what makes a compile expensive and refuses, naming the bound, what is
//! beyond [`Bounds`].

use serde::Serialize;
use wasmparser::{
    BinaryReader, ComponentImport, ComponentType, ComponentTypeSectionReader, Encoding, InstanceTypeDeclaration,
    Operator, OperatorsReader, OperatorsReaderAllocations, Parser, Payload,
};

use super::LoadError;

/// The structural bounds a component must stay within to be compiled. The
/// defaults are 5 times or more what the largest plugin we ship needs
/// (`python-allowlist`, 18 MB, built by componentize-py; the Rust plugins
/// of 50 to 90 KB need far less), so that a JavaScript engine of the same
/// order passes too:
///
/// | bound (`LoadError::TooComplex::bound`) | field | default | Python plugin | largest Rust plugin |
/// |---|---|---|---|---|
/// | `nesting` | `max_nesting` | 16 | 2 | 2 |
/// | `type-nesting` | `max_type_nesting` | 32 | 1 | 1 |
/// | `core-modules` | `max_core_modules` | 100 | 14 | 3 |
/// | `components` | `max_components` | 100 | 2 | 2 |
/// | `functions` | `max_functions` | 60,000 | 13,357 | 179 |
/// | `locals` | `max_locals` | 5,000 | 271 | 56 |
/// | `function-bytes` | `max_function_bytes` | 2 MiB | 426,843 | 11,024 |
/// | `block-depth` | `max_block_depth` | 5,000 | 781 | 43 |
/// | `merge-points` | `max_merge_points` | 20,000 | 3,112 | 263 |
/// | `locals-by-merge-points` | `max_locals_by_merge_points` | 1,000,000 | 67,479 | 11,480 |
/// | `total-locals-by-merge-points` | `max_total_locals_by_merge_points` | 10,000,000 | 1,413,380 | 16,905 |
/// | `types` | `max_types` | 10,000 | 1,233 | 69 |
/// | `code-bytes` | `max_code_bytes` | 48 MiB | 6,570,480 | 49,529 |
///
/// Nesting counts the component itself as 1, a component or module inside
/// it as 2, and so on (type nesting likewise, within one type definition);
/// core modules and components are counted per component; functions, types, code bytes and
/// the total of locals by merge points over the whole file; the others per
/// function. The product of a function's locals and its merge points is
/// what makes one function expensive (the compiler's SSA construction may
/// give every local a value at every merge point): 1,000 locals read after
/// 10,000 merge points, 86 KB, took 11 s and 760 MiB to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    /// How deep components and the modules inside them may nest.
    pub max_nesting: u64,
    /// How deep component and instance types may nest in one type
    /// definition (wasmtime's validator reads them recursively: 100,000
    /// levels in 300 KB overflow its stack and abort the process).
    pub max_type_nesting: u64,
    /// Core modules in one component.
    pub max_core_modules: u64,
    /// Components directly inside one component.
    pub max_components: u64,
    /// Functions defined by all core modules together.
    pub max_functions: u64,
    /// Locals of one function (parameters not counted).
    pub max_locals: u64,
    /// Size of one function's body in bytes.
    pub max_function_bytes: u64,
    /// How deep `block`, `loop`, `if` and `try` may nest in one function.
    pub max_block_depth: u64,
    /// Blocks, loops, ifs, elses and trys of one function: the points
    /// where the compiler merges control flow.
    pub max_merge_points: u64,
    /// A function's locals times its merge points: what the compiler's SSA
    /// construction costs in the worst case.
    pub max_locals_by_merge_points: u64,
    /// The sum over all functions of locals times merge points.
    pub max_total_locals_by_merge_points: u64,
    /// Type definitions of all core modules and components together.
    pub max_types: u64,
    /// Bytes of code (all code sections) of the whole file.
    pub max_code_bytes: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_nesting: 16,
            max_type_nesting: 32,
            max_core_modules: 100,
            max_components: 100,
            max_functions: 60_000,
            max_locals: 5_000,
            max_function_bytes: 2 << 20,
            max_block_depth: 5_000,
            max_merge_points: 20_000,
            max_locals_by_merge_points: 1_000_000,
            max_total_locals_by_merge_points: 10_000_000,
            max_types: 10_000,
            max_code_bytes: 48 << 20,
        }
    }
}

/// What [`Bounds::check`] measured: the largest value of each bound's
/// quantity in the component (when it passed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Complexity {
    /// Deepest nesting.
    pub nesting: u64,
    /// Deepest nesting of component and instance types.
    pub type_nesting: u64,
    /// Most core modules in one component.
    pub core_modules: u64,
    /// Most components directly inside one component.
    pub components: u64,
    /// Functions of all modules.
    pub functions: u64,
    /// Most locals of one function.
    pub locals: u64,
    /// Largest function body in bytes.
    pub function_bytes: u64,
    /// Deepest block nesting of one function.
    pub block_depth: u64,
    /// Most merge points of one function.
    pub merge_points: u64,
    /// Largest locals times merge points of one function.
    pub locals_by_merge_points: u64,
    /// Locals times merge points summed over all functions.
    pub total_locals_by_merge_points: u64,
    /// Types of all modules and components.
    pub types: u64,
    /// Bytes of code of the whole file.
    pub code_bytes: u64,
}

impl Bounds {
    /// Walks the component's bytes once (linear in their size, without
    /// validating them) and refuses it at the first bound it goes beyond.
    pub fn check(&self, bytes: &[u8]) -> Result<Complexity, LoadError> {
        let mut walk = Walk { bounds: self, measure: Complexity::default(), allocations: Default::default() };
        walk.run(bytes)?;
        Ok(walk.measure)
    }
}

struct Walk<'b> {
    bounds: &'b Bounds,
    measure: Complexity,
    allocations: OperatorsReaderAllocations,
}

/// Refuses `value` when it is over `limit`, naming the bound.
fn within(bound: &'static str, value: u64, limit: u64) -> Result<(), LoadError> {
    match value > limit {
        true => Err(LoadError::TooComplex { bound, value, limit }),
        false => Ok(()),
    }
}

fn invalid(e: wasmparser::BinaryReaderError) -> LoadError {
    LoadError::Invalid(e.to_string())
}

/// The next byte, not consumed.
fn peek(reader: &BinaryReader<'_>) -> Result<u8, LoadError> {
    reader.clone().read_u8().map_err(invalid)
}

impl Walk<'_> {
    fn run(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        let bounds = self.bounds;
        // One entry per open component or module: a component's count of
        // core modules and of components, or `None` for a module.
        let mut open: Vec<Option<(u64, u64)>> = Vec::new();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(invalid)? {
                Payload::Version { encoding, .. } => {
                    open.push(matches!(encoding, Encoding::Component).then_some((0, 0)));
                    let depth = open.len() as u64;
                    self.measure.nesting = self.measure.nesting.max(depth);
                    within("nesting", depth, bounds.max_nesting)?;
                }
                Payload::End(_) => {
                    open.pop();
                }
                Payload::ModuleSection { .. } => {
                    if let Some(Some((modules, _))) = open.last_mut() {
                        *modules += 1;
                        self.measure.core_modules = self.measure.core_modules.max(*modules);
                        within("core-modules", *modules, bounds.max_core_modules)?;
                    }
                }
                Payload::ComponentSection { .. } => {
                    if let Some(Some((_, components))) = open.last_mut() {
                        *components += 1;
                        self.measure.components = self.measure.components.max(*components);
                        within("components", *components, bounds.max_components)?;
                    }
                }
                Payload::TypeSection(types) => {
                    for group in types {
                        self.types(group.map_err(invalid)?.types().len() as u64)?;
                    }
                }
                // Counted, not read: their declarations nest, and reading
                // them is the validator's business once the bounds hold.
                Payload::CoreTypeSection(types) => self.types(u64::from(types.count()))?,
                Payload::ComponentTypeSection(types) => {
                    self.types(u64::from(types.count()))?;
                    self.type_nesting(bytes, &types)?;
                }
                Payload::FunctionSection(functions) => {
                    self.measure.functions = self.measure.functions.saturating_add(u64::from(functions.count()));
                    within("functions", self.measure.functions, bounds.max_functions)?;
                }
                Payload::CodeSectionStart { size, .. } => {
                    self.measure.code_bytes = self.measure.code_bytes.saturating_add(u64::from(size));
                    within("code-bytes", self.measure.code_bytes, bounds.max_code_bytes)?;
                }
                Payload::CodeSectionEntry(body) => self.function(&body)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The nesting of the component and instance types of one section, read
    /// with a stack of its own rather than wasmparser's recursive readers:
    /// each nested type is entered, every other item is read whole (none of
    /// them holds a type inline).
    fn type_nesting(&mut self, bytes: &[u8], types: &ComponentTypeSectionReader<'_>) -> Result<(), LoadError> {
        let range = types.range();
        let section =
            bytes.get(range.clone()).ok_or_else(|| LoadError::Invalid("a type section out of bounds".into()))?;
        let mut reader = BinaryReader::new(section, range.start);
        let mut top_level = reader.read_var_u32().map_err(invalid)?;
        // The declarations left in each open type, and whether it is a
        // component type (which may also declare imports).
        let mut open: Vec<(u32, bool)> = Vec::new();
        loop {
            let next = match open.last_mut() {
                None if top_level == 0 => break,
                None => {
                    top_level -= 1;
                    None
                }
                Some((0, _)) => {
                    open.pop();
                    continue;
                }
                Some((left, component)) => {
                    *left -= 1;
                    Some(*component)
                }
            };
            let is_type = match next {
                None => true,
                Some(component) => match peek(&reader)? {
                    0x01 => {
                        reader.read_u8().map_err(invalid)?;
                        true
                    }
                    0x03 if component => {
                        reader.read_u8().map_err(invalid)?;
                        reader.read::<ComponentImport<'_>>().map_err(invalid)?;
                        false
                    }
                    _ => {
                        reader.read::<InstanceTypeDeclaration<'_>>().map_err(invalid)?;
                        false
                    }
                },
            };
            if !is_type {
                continue;
            }
            match peek(&reader)? {
                marker @ (0x41 | 0x42) => {
                    reader.read_u8().map_err(invalid)?;
                    let declarations = reader.read_var_u32().map_err(invalid)?;
                    open.push((declarations, marker == 0x41));
                    let depth = open.len() as u64;
                    self.measure.type_nesting = self.measure.type_nesting.max(depth);
                    within("type-nesting", depth, self.bounds.max_type_nesting)?;
                }
                _ => {
                    reader.read::<ComponentType<'_>>().map_err(invalid)?;
                }
            }
        }
        Ok(())
    }

    fn types(&mut self, count: u64) -> Result<(), LoadError> {
        self.measure.types = self.measure.types.saturating_add(count);
        within("types", self.measure.types, self.bounds.max_types)
    }

    /// One function body: its size, its locals, then its operators once.
    fn function(&mut self, body: &wasmparser::FunctionBody<'_>) -> Result<(), LoadError> {
        let bounds = self.bounds;
        let size = body.range().len() as u64;
        self.measure.function_bytes = self.measure.function_bytes.max(size);
        within("function-bytes", size, bounds.max_function_bytes)?;

        let mut locals = 0u64;
        for declaration in body.get_locals_reader().map_err(invalid)? {
            let (count, _) = declaration.map_err(invalid)?;
            locals = locals.saturating_add(u64::from(count));
            within("locals", locals, bounds.max_locals)?;
        }
        self.measure.locals = self.measure.locals.max(locals);

        let reader = body.get_binary_reader_for_operators().map_err(invalid)?;
        let mut operators = OperatorsReader::new_with_allocs(reader, std::mem::take(&mut self.allocations));
        let (mut depth, mut merges) = (0u64, 0u64);
        while !operators.eof() {
            match operators.read().map_err(invalid)? {
                Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Try { .. }
                | Operator::TryTable { .. } => {
                    depth += 1;
                    merges += 1;
                    self.measure.block_depth = self.measure.block_depth.max(depth);
                    within("block-depth", depth, bounds.max_block_depth)?;
                }
                Operator::Else | Operator::Catch { .. } | Operator::CatchAll => merges += 1,
                Operator::End | Operator::Delegate { .. } => depth = depth.saturating_sub(1),
                _ => continue,
            }
            within("merge-points", merges, bounds.max_merge_points)?;
            within("locals-by-merge-points", locals.saturating_mul(merges), bounds.max_locals_by_merge_points)?;
        }
        self.allocations = operators.into_allocations();
        self.measure.merge_points = self.measure.merge_points.max(merges);
        let cost = locals.saturating_mul(merges);
        self.measure.locals_by_merge_points = self.measure.locals_by_merge_points.max(cost);
        let total = self.measure.total_locals_by_merge_points.saturating_add(cost);
        self.measure.total_locals_by_merge_points = total;
        within("total-locals-by-merge-points", total, bounds.max_total_locals_by_merge_points)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: empty, within every bound.
    #[test]
    fn an_empty_component_passes() {
        let empty = [0, b'a', b's', b'm', 0x0d, 0, 1, 0];
        assert_eq!(Bounds::default().check(&empty).map(|c| c.nesting), Ok(1));
    }

    #[test]
    fn garbage_is_invalid_not_too_complex() {
        let truncated = [0, b'a', b's', b'm', 0x0d, 0, 1, 0, 1];
        assert!(matches!(Bounds::default().check(&truncated), Err(LoadError::Invalid(_))));
    }
}
