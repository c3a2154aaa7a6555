//! Compiling a component in a child process under hard limits: CPU time and
//! address space (`setrlimit`), and wall time (the parent kills it). A
//! component within every structural bound may still take long to compile;
//! in a child, such a compile costs its own budget and never the server's
//! memory, and the server goes on serving meanwhile.
//!
//! The child is the `provisio` binary itself (`provisio __compile`): it reads
//! the component's bytes on stdin, compiles them with an engine configured
//! exactly as the parent's for code generation (only the instance allocator
//! differs, which does not affect compiled code), and writes the precompiled
//! artifact on stdout. The parent stores it in its artifact cache, under its
//! own MAC, and loads it from there like any artifact it wrote.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{LoadError, RuntimeConfig};

/// The largest artifact read back from a child (a component's artifact is a
/// few times its code; the upload limit is far below this).
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// Most bytes of a child's error output kept for the refusal's message.
const MAX_STDERR: usize = 2048;

/// How compiles run in a child process, and their budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerProcess {
    /// The program to run: the `provisio` binary.
    pub program: PathBuf,
    /// CPU time a compile may use, all its threads together (default 120 s;
    /// the 18 MB Python example takes about 35 s here).
    pub cpu_time: Duration,
    /// Address space the compiling process may map (default 4 GiB).
    pub address_space_bytes: u64,
    /// Wall time a compile may take (default 180 s).
    pub wall_time: Duration,
}

impl CompilerProcess {
    /// Compiles with `program` (the `provisio` binary) and the default budget.
    pub fn new(program: PathBuf) -> Self {
        Self {
            program,
            cpu_time: Duration::from_secs(120),
            address_space_bytes: 4 << 30,
            wall_time: Duration::from_secs(180),
        }
    }
}

/// Compiles `bytes` in a child process; the precompiled artifact.
pub(super) async fn compile(
    process: &CompilerProcess,
    config: &RuntimeConfig,
    bytes: &[u8],
) -> Result<Vec<u8>, LoadError> {
    let failed = |e: std::io::Error| LoadError::Invalid(format!("the compiler process failed: {e}"));
    let mut child = tokio::process::Command::new(&process.program)
        .arg("__compile")
        .args(["--max-memory-bytes", &config.max_memory_bytes.to_string()])
        .args(["--max-wasm-stack-bytes", &config.max_wasm_stack_bytes.to_string()])
        .args(["--cpu-seconds", &process.cpu_time.as_secs().max(1).to_string()])
        .args(["--address-space-bytes", &process.address_space_bytes.to_string()])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(failed)?;
    let (mut stdin, stdout, mut stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
        (Some(i), Some(o), Some(e)) => (i, o, e),
        _ => return Err(LoadError::Invalid("the compiler process has no pipes".into())),
    };
    let input = bytes.to_vec();
    let feed = async move {
        // A child that dies early closes its stdin: its status tells why.
        let _ = stdin.write_all(&input).await;
        drop(stdin);
    };
    let mut artifact = Vec::new();
    let read = async {
        let mut limited = stdout.take(MAX_ARTIFACT_BYTES + 1);
        limited.read_to_end(&mut artifact).await
    };
    let mut errors = Vec::new();
    let read_errors = async {
        let mut limited = (&mut stderr).take(MAX_STDERR as u64);
        limited.read_to_end(&mut errors).await
    };
    let run = async {
        let ((), read, _) = tokio::join!(feed, read, read_errors);
        let status = child.wait().await;
        (read, status)
    };
    let (read, status) = match tokio::time::timeout(process.wall_time, run).await {
        Ok(done) => done,
        Err(_) => {
            return Err(LoadError::CompileBudget { budget: "wall-time", limit: format!("{:?}", process.wall_time) });
        }
    };
    let status = status.map_err(failed)?;
    read.map_err(failed)?;
    if status.success() && (artifact.len() as u64) <= MAX_ARTIFACT_BYTES {
        return Ok(artifact);
    }
    Err(refusal(process, status, &String::from_utf8_lossy(&errors)))
}

/// Why a child's compile failed, from its exit status and error output.
fn refusal(process: &CompilerProcess, status: std::process::ExitStatus, errors: &str) -> LoadError {
    use std::os::unix::process::ExitStatusExt as _;
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    let cpu = || LoadError::CompileBudget { budget: "cpu-time", limit: format!("{:?}", process.cpu_time) };
    let memory = || LoadError::CompileBudget {
        budget: "address-space",
        limit: format!("{} MiB", process.address_space_bytes >> 20),
    };
    match status.signal() {
        // The kernel sends SIGXCPU at the soft CPU limit, SIGKILL at the hard one.
        Some(SIGXCPU | SIGKILL) => cpu(),
        Some(_) if errors.contains("memory allocation") => memory(),
        Some(signal) => LoadError::Invalid(format!("the compiler process was killed by signal {signal}")),
        None if errors.contains("memory allocation") || errors.contains("Cannot allocate memory") => memory(),
        None => LoadError::Invalid(errors.trim().chars().take(MAX_STDERR).collect()),
    }
}

/// `provisio __compile`: sets its own limits, reads a component on stdin,
/// writes its precompiled artifact on stdout. The exit status is 0 on
/// success; the error, if any, is on stderr.
pub fn run_child(config: &RuntimeConfig, cpu_seconds: u64, address_space_bytes: u64) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let cpu = Rlimit { current: Some(cpu_seconds), maximum: Some(cpu_seconds.saturating_add(1)) };
    setrlimit(Resource::Cpu, cpu).map_err(|e| format!("cannot limit CPU time: {e}"))?;
    let space = Rlimit { current: Some(address_space_bytes), maximum: Some(address_space_bytes) };
    setrlimit(Resource::As, space).map_err(|e| format!("cannot limit the address space: {e}"))?;
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("cannot read the component: {e}"))?;
    let engine = super::engine::build_for_compiling(config).map_err(|e| format!("{e:#}"))?;
    let artifact = engine.precompile_component(&bytes).map_err(|e| format!("{e:#}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&artifact).and_then(|()| out.flush()).map_err(|e| format!("cannot write the artifact: {e}"))
}
