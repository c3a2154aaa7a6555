//! The one file that knows there are two databases. Everything else in the
//! store writes its SQL once (both backends accept `$1` placeholders) and
//! runs it through [`Conn`], whose variants bind the host's own argument
//! values ([`Arg`]) and wrap the rows ([`Row`]) for the backend at hand.
//!
//! Transactions differ on purpose:
//!
//! - **SQLite** allows one writer at a time. A transaction starts with
//!   `BEGIN IMMEDIATE`, which takes the write lock at once, so a transaction
//!   that reads and then writes never meets `SQLITE_BUSY` half-way (a
//!   deferred transaction would, and the busy timeout cannot help it then).
//!   Writers of one process first queue on an in-process semaphore of one
//!   permit, in arrival order, so they wait without polling; the busy timeout
//!   (set on every connection) covers writers from other processes. Readers
//!   never wait: the file is in WAL mode.
//! - **PostgreSQL** runs transactions at READ COMMITTED. Concurrent inserts of
//!   the same unique value wait for each other and all but one fail with a
//!   unique violation, which the store reports as `Conflict`. Each statement
//!   that may conflict runs inside a savepoint, so the transaction stays
//!   usable after a `Conflict` on both backends.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{
    AssertSqlSafe, Connection, Database as SqlxDatabase, Decode, Encode, Postgres, Row as _, SqlSafeStr, SqlStr,
    Sqlite, Type,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::from_sqlx;
use super::{BackendKind, DatabaseUrl, StoreError, StoreOptions};

/// The migrations of each backend, embedded in the binary. A test checks
/// that these lists match the files under `host/migrations/`.
pub(crate) const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "identity store", include_str!("../../migrations/sqlite/0001_identity_store.sql")),
    (2, "api tokens", include_str!("../../migrations/sqlite/0002_api_tokens.sql")),
    (3, "tenant boundary", include_str!("../../migrations/sqlite/0003_tenant_boundary.sql")),
    (4, "login attempts", include_str!("../../migrations/sqlite/0004_login_attempts.sql")),
    (5, "scim", include_str!("../../migrations/sqlite/0005_scim.sql")),
    (6, "directory providers", include_str!("../../migrations/sqlite/0006_directory_providers.sql")),
    (7, "canary", include_str!("../../migrations/sqlite/0007_canary.sql")),
    (8, "shadow", include_str!("../../migrations/sqlite/0008_shadow.sql")),
];
pub(crate) const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "identity store", include_str!("../../migrations/postgres/0001_identity_store.sql")),
    (2, "api tokens", include_str!("../../migrations/postgres/0002_api_tokens.sql")),
    (3, "tenant boundary", include_str!("../../migrations/postgres/0003_tenant_boundary.sql")),
    (4, "login attempts", include_str!("../../migrations/postgres/0004_login_attempts.sql")),
    (5, "scim", include_str!("../../migrations/postgres/0005_scim.sql")),
    (6, "directory providers", include_str!("../../migrations/postgres/0006_directory_providers.sql")),
    (7, "canary", include_str!("../../migrations/postgres/0007_canary.sql")),
    (8, "shadow", include_str!("../../migrations/postgres/0008_shadow.sql")),
];

/// sqlx's migrator over embedded migrations: what `sqlx::migrate!` builds,
/// without the proc-macro crate (same checksums, same `_sqlx_migrations`
/// table). A migration whose first line is `-- no-transaction` runs outside
/// sqlx's transaction (it opens its own), as sqlx's own directive says.
fn migrator(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                let no_tx = sql.starts_with("-- no-transaction");
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), no_tx)
            })
            .collect(),
    )
}

/// A connection pool to one of the backends. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Database {
    Sqlite { pool: sqlx::SqlitePool, writers: Arc<Semaphore>, wait: Duration },
    Postgres(sqlx::PgPool),
}

impl Database {
    /// Connects and applies the migrations.
    pub(crate) async fn open(url: &DatabaseUrl, options: &StoreOptions) -> Result<Self, StoreError> {
        let text = url.expose();
        if text.starts_with("sqlite:") {
            if options.schema.is_some() {
                return Err(StoreError::Config("a schema can only be chosen on PostgreSQL".into()));
            }
            Self::open_sqlite(text, options).await
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::open_postgres(text, options).await
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {url}: expected sqlite:PATH, sqlite://PATH or postgres://…"
            )))
        }
    }

    async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(e.to_string()))?
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL never corrupts and survives a process crash;
            // a power loss may undo the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        if !url.contains("mode=") {
            connect = connect.create_if_missing(true);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| from_sqlx(e, None))?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await.map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self::Sqlite { pool, writers: Arc::new(Semaphore::new(1)), wait: options.busy_timeout })
    }

    async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            let mut conn = PgConnection::connect_with(&connect).await.map_err(|e| from_sqlx(e, None))?;
            let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
            sqlx::raw_sql(AssertSqlSafe(create)).execute(&mut conn).await.map_err(|e| from_sqlx(e, None))?;
            conn.close().await.map_err(|e| from_sqlx(e, None))?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| from_sqlx(e, None))?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await.map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self::Postgres(pool))
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Self::Sqlite { .. } => BackendKind::Sqlite,
            Self::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// A connection from the pool, for reads and single statements.
    pub(crate) async fn acquire(&self) -> Result<Pooled, StoreError> {
        match self {
            Self::Sqlite { pool, .. } => pool.acquire().await.map(Pooled::Sqlite),
            Self::Postgres(pool) => pool.acquire().await.map(Pooled::Postgres),
        }
        .map_err(|e| from_sqlx(e, None))
    }

    /// Starts a transaction (see the module documentation for how each
    /// backend serialises writers).
    pub(crate) async fn begin(&self) -> Result<Transaction, StoreError> {
        match self {
            Self::Sqlite { pool, writers, wait } => {
                let permit = tokio::time::timeout(*wait, Arc::clone(writers).acquire_owned())
                    .await
                    .map_err(|_| StoreError::Busy(format!("no write turn within {} ms", wait.as_millis())))?
                    .map_err(|_| StoreError::Database("the store is closed".into()))?;
                let tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| from_sqlx(e, None))?;
                Ok(Transaction { inner: TxInner::Sqlite(tx), _writer: Some(permit) })
            }
            Self::Postgres(pool) => {
                let tx = pool.begin().await.map_err(|e| from_sqlx(e, None))?;
                Ok(Transaction { inner: TxInner::Postgres(tx), _writer: None })
            }
        }
    }

    /// Drops the PostgreSQL schema the store was opened in, and closes it.
    pub(crate) async fn drop_schema(self, schema: &str) -> Result<(), StoreError> {
        let Self::Postgres(pool) = self else {
            return Err(StoreError::Config("only a PostgreSQL store has a schema".into()));
        };
        check_schema_name(schema)?;
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        let result = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&pool).await.map_err(|e| from_sqlx(e, None));
        pool.close().await;
        result.map(|_| ())
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite { pool, writers, .. } => {
                writers.close();
                pool.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A schema name is spliced into SQL, so it must be a plain identifier.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match valid {
        true => Ok(()),
        false => Err(StoreError::Invalid {
            what: "schema name",
            reason: "use 1 to 63 of a-z, 0-9 and _, not starting with a digit".into(),
        }),
    }
}

/// A pooled connection, returned to the pool when dropped.
pub(crate) enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(c) => Conn::Sqlite(c),
            Self::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// An open transaction; rolled back when dropped without `commit`.
pub(crate) struct Transaction {
    // Dropped first: the rollback is queued before the write turn passes on.
    inner: TxInner,
    _writer: Option<OwnedSemaphorePermit>,
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Transaction {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => Conn::Sqlite(tx),
            TxInner::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
        .map_err(|e| from_sqlx(e, None))
    }
}

/// A value bound to a `$n` placeholder.
pub(crate) enum Arg {
    Text(Option<String>),
    Int(i64),
    Bool(Option<bool>),
    Bytes(Vec<u8>),
}

/// One SQL statement with its arguments.
pub(crate) struct Query {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
    refers_to: Option<&'static str>,
}

/// A statement written once for both backends.
pub(crate) fn query(sql: &'static str) -> Query {
    Query { sql: Cow::Borrowed(sql), args: Vec::new(), refers_to: None }
}

/// A statement assembled at run time from fixed fragments only: never from
/// input, which always goes through placeholders.
pub(crate) fn assembled(sql: String) -> Query {
    Query { sql: Cow::Owned(sql), args: Vec::new(), refers_to: None }
}

impl Query {
    pub(crate) fn text(mut self, value: &str) -> Self {
        self.args.push(Arg::Text(Some(value.to_owned())));
        self
    }

    pub(crate) fn opt_text(mut self, value: Option<&str>) -> Self {
        self.args.push(Arg::Text(value.map(str::to_owned)));
        self
    }

    pub(crate) fn int(mut self, value: i64) -> Self {
        self.args.push(Arg::Int(value));
        self
    }

    pub(crate) fn bool(mut self, value: bool) -> Self {
        self.args.push(Arg::Bool(Some(value)));
        self
    }

    pub(crate) fn opt_bool(mut self, value: Option<bool>) -> Self {
        self.args.push(Arg::Bool(value));
        self
    }

    pub(crate) fn bytes(mut self, value: Vec<u8>) -> Self {
        self.args.push(Arg::Bytes(value));
        self
    }

    /// What the statement refers to: a failing foreign key is reported as
    /// this being `NotFound`.
    pub(crate) fn refers_to(mut self, what: &'static str) -> Self {
        self.refers_to = Some(what);
        self
    }

    /// The last guard before the database: no text value holds a NUL (which
    /// PostgreSQL cannot store and SQLite would), whichever path it came by.
    fn check(&self) -> Result<(), StoreError> {
        let nul = self.args.iter().any(|a| matches!(a, Arg::Text(Some(t)) if t.contains('\0')));
        match nul {
            true => Err(StoreError::Invalid { what: "text", reason: "contains a NUL character".into() }),
            false => Ok(()),
        }
    }

    fn into_parts<DB>(self) -> (sqlx::query::Query<'static, DB, DB::Arguments>, Option<&'static str>)
    where
        DB: SqlxDatabase,
        for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
        for<'t> i64: Encode<'t, DB> + Type<DB>,
        for<'t> Option<bool>: Encode<'t, DB> + Type<DB>,
        for<'t> Vec<u8>: Encode<'t, DB> + Type<DB>,
    {
        let sql: SqlStr = match self.sql {
            Cow::Borrowed(s) => s.into_sql_str(),
            Cow::Owned(s) => AssertSqlSafe(s).into_sql_str(),
        };
        let mut q = sqlx::query::<DB>(sql);
        for arg in self.args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
            };
        }
        (q, self.refers_to)
    }
}

/// A connection or transaction of either backend.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(&mut self, q: Query) -> Result<u64, StoreError> {
        q.check()?;
        match self {
            Self::Sqlite(c) => {
                let (q, refers_to) = q.into_parts::<Sqlite>();
                q.execute(&mut **c).await.map(|r| r.rows_affected()).map_err(|e| from_sqlx(e, refers_to))
            }
            Self::Postgres(c) => {
                let (q, refers_to) = q.into_parts::<Postgres>();
                q.execute(&mut **c).await.map(|r| r.rows_affected()).map_err(|e| from_sqlx(e, refers_to))
            }
        }
    }

    /// Every row of a query.
    pub(crate) async fn fetch_all(&mut self, q: Query) -> Result<Vec<Row>, StoreError> {
        q.check()?;
        match self {
            Self::Sqlite(c) => {
                let (q, refers_to) = q.into_parts::<Sqlite>();
                let rows = q.fetch_all(&mut **c).await.map_err(|e| from_sqlx(e, refers_to))?;
                Ok(rows.into_iter().map(Row::Sqlite).collect())
            }
            Self::Postgres(c) => {
                let (q, refers_to) = q.into_parts::<Postgres>();
                let rows = q.fetch_all(&mut **c).await.map_err(|e| from_sqlx(e, refers_to))?;
                Ok(rows.into_iter().map(Row::Postgres).collect())
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) async fn fetch_optional(&mut self, q: Query) -> Result<Option<Row>, StoreError> {
        q.check()?;
        match self {
            Self::Sqlite(c) => {
                let (q, refers_to) = q.into_parts::<Sqlite>();
                q.fetch_optional(&mut **c).await.map(|r| r.map(Row::Sqlite)).map_err(|e| from_sqlx(e, refers_to))
            }
            Self::Postgres(c) => {
                let (q, refers_to) = q.into_parts::<Postgres>();
                q.fetch_optional(&mut **c).await.map(|r| r.map(Row::Postgres)).map_err(|e| from_sqlx(e, refers_to))
            }
        }
    }

    /// Runs a statement that may break a constraint inside a savepoint, so
    /// that a failure leaves the surrounding transaction usable (PostgreSQL
    /// otherwise aborts the whole transaction at the first error).
    pub(crate) async fn execute_guarded(&mut self, q: Query) -> Result<u64, StoreError> {
        self.execute(query("SAVEPOINT provisio_guard")).await?;
        match self.execute(q).await {
            Ok(n) => {
                self.execute(query("RELEASE SAVEPOINT provisio_guard")).await?;
                Ok(n)
            }
            Err(e) => {
                self.execute(query("ROLLBACK TO SAVEPOINT provisio_guard")).await?;
                self.execute(query("RELEASE SAVEPOINT provisio_guard")).await?;
                Err(e)
            }
        }
    }
}

/// A value a column can be read as, on both backends.
pub(crate) trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

/// A result row of either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// The value of the column at `index` (columns count from 0).
    pub(crate) fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(index),
            Self::Postgres(r) => r.try_get(index),
        }
        .map_err(|e| StoreError::Database(format!("cannot read column {index}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration file is embedded, in order, and nothing else is.
    #[test]
    fn embedded_migrations_match_the_files() -> std::io::Result<()> {
        for (dir, embedded) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&path)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                let version: Option<i64> = name.split('_').next().and_then(|v| v.parse().ok());
                assert!(version.is_some() && name.ends_with(".sql"), "{dir}/{name}: not NNNN_name.sql");
                files.push((version.unwrap_or_default(), std::fs::read_to_string(path.join(&name))?));
            }
            files.sort();
            let embedded: Vec<(i64, String)> = embedded.iter().map(|&(v, _, sql)| (v, sql.to_owned())).collect();
            assert_eq!(files, embedded, "host/migrations/{dir} and db.rs disagree");
        }
        Ok(())
    }

    /// Migration 6 rebuilds SQLite's `providers` table (its CHECK gains
    /// `ldap`): the rows of a database at version 5 survive, and so does
    /// everything that refers to them (links, bindings), with the foreign
    /// keys enforced again afterwards.
    #[tokio::test]
    async fn rebuilding_providers_keeps_what_refers_to_them() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.path().join("v5.db").display()))?
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        migrator(&SQLITE_MIGRATIONS[..5]).run(&pool).await?;
        for statement in [
            "INSERT INTO organizations VALUES ('o1', 'acme', 0)",
            "INSERT INTO domains (id, org_id, name, jit, created_at) VALUES ('d1', 'o1', 'acme', 1, 0)",
            "INSERT INTO providers VALUES ('p1', 'd1', 'okta', 0, 'oidc', '{}', 0)",
            "INSERT INTO accounts VALUES ('a1', 'jane@acme.example', 'jane', NULL, NULL, 'active', NULL, '[]', 0)",
            "INSERT INTO links VALUES ('p1', 'sub-jane', 'a1', 0)",
            "INSERT INTO bindings (domain_id, provider_id, config, limits, failure_policy, sync_mode, updated_at) \
             VALUES ('d1', 'p1', '{}', '{}', 'fail-closed', 'on-create', 0)",
        ] {
            sqlx::query(statement).execute(&pool).await?;
        }
        let ldap = "INSERT INTO providers VALUES ('p2', 'd1', 'corp', 1, 'ldap', '{}', 0)";
        assert!(sqlx::query(ldap).execute(&pool).await.is_err(), "version 5 knows no ldap providers");

        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        sqlx::query(ldap).execute(&pool).await?;
        for (query, rows) in [
            ("SELECT count(*) FROM providers", 2),
            ("SELECT count(*) FROM links", 1),
            ("SELECT count(*) FROM bindings", 1),
        ] {
            let count: i64 = sqlx::query_scalar(query).fetch_one(&pool).await?;
            assert_eq!(count, rows, "{query}");
        }
        let broken: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&pool).await?;
        assert!(broken.is_empty(), "{broken:?}");
        let enforced: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&pool).await?;
        assert_eq!(enforced, 1, "foreign keys are on again");
        let orphan = "INSERT INTO links VALUES ('nope', 's', 'a1', 0)";
        assert!(sqlx::query(orphan).execute(&pool).await.is_err(), "a link to no provider is refused");
        sqlx::query("DELETE FROM providers WHERE id = 'p1'").execute(&pool).await?;
        let links: i64 = sqlx::query_scalar("SELECT count(*) FROM links").fetch_one(&pool).await?;
        assert_eq!(links, 0, "removing a provider still removes its links");
        let bad = "INSERT INTO providers VALUES ('p3', 'd1', 'x', 2, 'kerberos', '{}', 0)";
        assert!(sqlx::query(bad).execute(&pool).await.is_err(), "the CHECK still holds");
        pool.close().await;
        Ok(())
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("t_0123abc").is_ok());
        for bad in ["", "1abc", "a-b", "A", "x\"; DROP", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
