//! A private OpenLDAP `slapd` for the benchmarks: the tests' directory
//! (`tests/ldap/start-slapd`, see `tests/ldap/README.md`) with a numbered
//! population added, every one of them in the `Engineering` group.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::Bytes;
use crate::env::repo_root;

const ROOT_DN: &str = "cn=admin,dc=acme,dc=example";
const ROOT_PASSWORD: &str = "admin-secret";
/// The password of every benchmark person.
pub const PERSON_PASSWORD: &str = "bench-directory-pw";

/// A running slapd; stopped (by its pid) when dropped.
pub struct Directory {
    url: String,
    people: u64,
    pid: u32,
    _dir: tempfile::TempDir,
}

impl Directory {
    /// Starts one and adds `people` people, `bench-0000000` …, with mail
    /// `bench-N@<email_domain>` and [`PERSON_PASSWORD`].
    pub fn start(people: u64, email_domain: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("provisio-bench-ldap-").tempdir().unwrap();
        let script = repo_root().join("tests/ldap/start-slapd");
        let out = Command::new(&script)
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} (scripts/setup-ldap installs slapd)", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "slapd did not start: {}", String::from_utf8_lossy(&out.stderr));
        let fields: Vec<&str> = stdout.split_whitespace().collect();
        let (url, pid) = (fields[0].to_owned(), fields[2].parse().unwrap());
        let directory = Self { url, people, pid, _dir: dir };

        let hash = Command::new("/usr/sbin/slappasswd").args(["-h", "{SSHA}", "-s", PERSON_PASSWORD]).output();
        let hash = String::from_utf8(hash.unwrap().stdout).unwrap().trim().to_owned();
        let mut ldif = String::with_capacity(people as usize * 300);
        for n in 0..people {
            let uid = Self::login(n);
            ldif.push_str(&format!(
                "dn: uid={uid},ou=people,dc=acme,dc=example\nobjectClass: inetOrgPerson\nuid: {uid}\n\
                 cn: Bench {n}\ngivenName: Bench\nsn: {n}\nmail: {uid}@{email_domain}\nuserPassword: {hash}\n\n"
            ));
        }
        directory.ldap("ldapadd", &ldif);
        let mut group =
            String::from("dn: cn=Engineering,ou=groups,dc=acme,dc=example\nchangetype: modify\nadd: member\n");
        for n in 0..people {
            group.push_str(&format!("member: uid={},ou=people,dc=acme,dc=example\n", Self::login(n)));
        }
        directory.ldap("ldapmodify", &group);
        directory
    }

    /// Person `n`'s login name.
    pub fn login(n: u64) -> String {
        format!("bench-{n:07}")
    }

    /// How many people were added.
    pub fn people(&self) -> u64 {
        self.people
    }

    /// The `ldap` provider's settings for this directory.
    pub fn provider_config(&self) -> Value {
        json!({
            "urls": [self.url],
            "bind_dn": "cn=provisio,ou=services,dc=acme,dc=example",
            "bind_password": "service-secret",
            "base_dn": "ou=people,dc=acme,dc=example",
            "user_filter": "(&(objectClass=inetOrgPerson)(uid={login}))",
            "disabled": {"attribute": "pwdAccountLockedTime"},
        })
    }

    /// The body of person `n`'s `POST /v1/login` at `domain`.
    pub fn login_body(domain: &str, n: u64) -> Bytes {
        let body = json!({"domain": domain, "login": Self::login(n), "password": PERSON_PASSWORD});
        Bytes::from(body.to_string())
    }

    /// Runs `tool` (ldapadd, ldapmodify) as the directory's root on `ldif`.
    fn ldap(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .env("LDAPNOINIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}
