//! `DatabaseUrl`: where the store lives, with the password kept out of logs.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A database URL: `sqlite://PATH?mode=rwc`, `sqlite:PATH`, or
/// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Its `Debug` and `Display`
/// show the password as `***` (in the user-info part and in a `password=`
/// parameter), so it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL. Whether it can be used is checked by `Store::open`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL of an SQLite file, created when missing.
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}?mode=rwc", path.display()))
    }

    /// The full URL, password included: for connecting, or for handing to
    /// a child process. Never log it; log the `Display` form instead.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.0.as_str();
        let mut out = String::with_capacity(url.len());
        let (before_query, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        match before_query.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                out.push_str(scheme);
                out.push_str("://");
                match authority.rsplit_once('@') {
                    Some((userinfo, host)) => {
                        match userinfo.split_once(':') {
                            Some((user, _)) => {
                                out.push_str(user);
                                out.push_str(":***");
                            }
                            None => out.push_str(userinfo),
                        }
                        out.push('@');
                        out.push_str(host);
                    }
                    None => out.push_str(authority),
                }
                out.push_str(path);
            }
            None => out.push_str(before_query),
        }
        if let Some(query) = query {
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        out
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        for (url, shown) in [
            ("postgres://app:s3cret@db:5432/provisio", "postgres://app:***@db:5432/provisio"),
            ("postgres://app:s3cret@db/provisio?sslmode=disable", "postgres://app:***@db/provisio?sslmode=disable"),
            ("postgres://app@db/provisio?password=s3cret&x=1", "postgres://app@db/provisio?password=***&x=1"),
            ("postgres://db/provisio", "postgres://db/provisio"),
            ("sqlite://data/provisio.db?mode=rwc", "sqlite://data/provisio.db?mode=rwc"),
            ("sqlite:provisio.db", "sqlite:provisio.db"),
        ] {
            let url = DatabaseUrl::new(url);
            assert_eq!(url.to_string(), shown);
            assert_eq!(format!("{url:?}"), format!("DatabaseUrl({shown:?})"));
        }
    }
}
