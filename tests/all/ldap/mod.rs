//! Directory-backed domains against a real OpenLDAP `slapd`: each test that
//! needs one starts a private instance with `tests/ldap/start-slapd` (see
//! `tests/ldap/README.md` for its users and groups) and stops it by its pid
//! when done. A slapd that cannot start fails the test.

mod admin;
mod logins;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

/// The test directory's suffix.
pub(crate) const BASE: &str = "dc=acme,dc=example";
/// The service account the provider searches with.
pub(crate) const SERVICE_DN: &str = "cn=provisio,ou=services,dc=acme,dc=example";
pub(crate) const SERVICE_PASSWORD: &str = "service-secret";
const ROOT_DN: &str = "cn=admin,dc=acme,dc=example";
const ROOT_PASSWORD: &str = "admin-secret";

/// A running private slapd. Dropping it stops it.
pub(crate) struct Directory {
    /// `ldap://127.0.0.1:PORT` (plain and StartTLS).
    pub(crate) url: String,
    /// `ldaps://127.0.0.1:PORT`.
    pub(crate) ldaps_url: String,
    pid: Option<u32>,
    dir: tempfile::TempDir,
}

impl Directory {
    /// Starts one, loaded with `tests/ldap/directory.ldif`.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let script = crate::root().join("tests/ldap/start-slapd");
        let out = Command::new(&script)
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} (scripts/setup-ldap installs slapd)", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "slapd did not start ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let fields: Vec<&str> = stdout.split_whitespace().collect();
        let [url, ldaps_url, pid] = fields.as_slice() else {
            panic!("start-slapd printed {stdout:?}");
        };
        let pid = pid.parse().unwrap_or_else(|e| panic!("pid {pid:?}: {e}"));
        Self { url: (*url).to_owned(), ldaps_url: (*ldaps_url).to_owned(), pid: Some(pid), dir }
    }

    /// The test CA's certificate (PEM), which the server's is signed by.
    pub(crate) fn ca_pem(&self) -> String {
        let path = self.dir.path().join("tls/ca.pem");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// An `ldap` provider's settings for this directory (the defaults:
    /// `entryUUID`, `mail`, `memberOf`), with `extra`'s keys on top.
    pub(crate) fn provider_config(&self, extra: &Value) -> Value {
        let mut config = json!({
            "urls": [self.url],
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "base_dn": format!("ou=people,{BASE}"),
            "user_filter": "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))",
            "attributes": {"claims": ["title", "departmentNumber"]},
            "disabled": {"attribute": "pwdAccountLockedTime"},
            "timeout_ms": 10_000,
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            config[k] = v.clone();
        }
        config
    }

    /// Applies an LDIF change (`ldapmodify`) as the directory's root.
    pub(crate) fn modify(&self, ldif: &str) {
        use std::io::Write as _;
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .env("LDAPNOINIT", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("ldapmodify: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(ldif.as_bytes()).unwrap_or_else(|e| panic!("ldapmodify stdin: {e}"));
        }
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("ldapmodify: {e}"));
        assert!(out.status.success(), "ldapmodify failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the server (by its pid) and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let proc = PathBuf::from(format!("/proc/{pid}"));
        for _ in 0..600 {
            if !proc.exists() || zombie(&proc) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
}

/// A process that has exited but not been reaped (slapd daemonizes, so its
/// parent is not this process).
fn zombie(proc: &std::path::Path) -> bool {
    std::fs::read_to_string(proc.join("stat"))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.stop();
    }
}
