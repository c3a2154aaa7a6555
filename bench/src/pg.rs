//! Fresh PostgreSQL databases for the benchmarks.

use std::time::Duration;

use crate::env::random_hex;

/// The PostgreSQL server used by default: user `postgres`, database `test`.
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `url` with its database name replaced by `database`.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let scheme_end = main.find("://").map_or(0, |i| i + 3);
    let host_end = main[scheme_end..].find('/').map_or(main.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &main[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh PostgreSQL database `provisio_bench_<random hex>`, created over
/// an admin connection and dropped by [`PgDatabase::drop_database`] (or,
/// when a panic unwinds past it, when it is dropped).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

async fn pg_execute(admin_url: &str, sql: String) -> Result<(), String> {
    use sqlx::Connection as _;
    let connect = sqlx::PgConnection::connect(admin_url);
    let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("no answer from {admin_url} within 5 s"))?
        .map_err(|e| format!("{e}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.map_err(|e| format!("{e}"))?;
    conn.close().await.map_err(|e| format!("{e}"))
}

impl PgDatabase {
    /// Creates a fresh database on the server of `admin_url`; the error
    /// says why when the server cannot be reached.
    pub async fn create(admin_url: &str) -> Result<Self, String> {
        let name = format!("provisio_bench_{}", random_hex(6));
        pg_execute(admin_url, format!("CREATE DATABASE \"{name}\"")).await?;
        Ok(Self { admin_url: admin_url.to_owned(), url: url_with_database(admin_url, &name), name, dropped: false })
    }

    /// Its URL (the admin URL with this database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn drop_sql(&self) -> String {
        format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
    }

    /// Drops it (after the servers using it have stopped).
    pub async fn drop_database(mut self) {
        self.dropped = true;
        if let Err(e) = pg_execute(&self.admin_url, self.drop_sql()).await {
            eprintln!("warning: could not drop database {}: {e}", self.name);
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Not dropped explicitly (a panic is unwinding): drop it from a
        // runtime of its own, since this may run inside another one.
        let (admin_url, sql) = (self.admin_url.clone(), self.drop_sql());
        let dropping = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(pg_execute(&admin_url, sql)).ok()
        });
        if dropping.join().ok().flatten().is_none() {
            eprintln!("warning: could not drop database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        for (url, expected) in [
            ("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/b"),
            ("postgres://h/test?sslmode=disable", "postgres://h/b?sslmode=disable"),
            ("postgres://h", "postgres://h/b"),
        ] {
            assert_eq!(url_with_database(url, "b"), expected, "{url}");
        }
    }
}
