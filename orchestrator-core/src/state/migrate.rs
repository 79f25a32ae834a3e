//! Schema versions and migrations of both SQL backends, run by `refinery`.
//!
//! Each backend has its own numbered SQL files (`migrations/<backend>/V<n>__<name>.sql`, embedded
//! at build time); both stop at the same [`SCHEMA_VERSION`]. The history lives in refinery's
//! `refinery_schema_history` table. A database whose schema is newer than this build knows is
//! refused with a clear message rather than used half-understood. SQLite goes through a small
//! adapter because refinery's own rusqlite driver pins an older rusqlite than ours.

use refinery_core::traits::sync::{Migrate, Query, Transaction};
use refinery_core::{Migration, Runner};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = 2;

const SQLITE: &[(&str, &str)] = &[
    (
        "V1__baseline",
        include_str!("migrations/sqlite/V1__baseline.sql"),
    ),
    (
        "V2__claims",
        include_str!("migrations/sqlite/V2__claims.sql"),
    ),
];

const POSTGRES: &[(&str, &str)] = &[
    (
        "V1__initial",
        include_str!("migrations/postgres/V1__initial.sql"),
    ),
    (
        "V2__claims",
        include_str!("migrations/postgres/V2__claims.sql"),
    ),
];

const HISTORY: &str = "refinery_schema_history";

fn runner(files: &[(&str, &str)]) -> Result<Runner> {
    let migrations = files
        .iter()
        .map(|(name, sql)| Migration::unapplied(name, sql))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::state(format!("embedded migration: {e}")))?;
    Ok(Runner::new(&migrations)
        .set_abort_divergent(true)
        .set_abort_missing(true))
}

fn too_new(where_: &str, version: i64) -> Error {
    Error::state(format!(
        "{where_}: schema version {version} is newer than this orchestrator understands ({SCHEMA_VERSION}); upgrade the orchestrator (every runner sharing this state must run a version that knows schema {version})"
    ))
}

/// Brings a SQLite database to [`SCHEMA_VERSION`]; `where_` names it in errors.
pub(crate) fn sqlite(conn: &mut Connection, where_: &str) -> Result<()> {
    let newest: Option<i64> = conn
        .query_row(
            &format!(
                "SELECT MAX(version) FROM {HISTORY} WHERE EXISTS
                 (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{HISTORY}')"
            ),
            [],
            |r| r.get(0),
        )
        .or_else(|_| Ok::<_, rusqlite::Error>(None))
        .map_err(|e| Error::state(format!("{where_}: {e}")))?;
    if let Some(v) = newest.filter(|v| *v > i64::from(SCHEMA_VERSION)) {
        return Err(too_new(where_, v));
    }
    let runner = runner(SQLITE)?;
    // Two processes opening a new database at once race on the first migration; the loser finds
    // it applied when it reads the history again.
    let mut last = None;
    for _ in 0..2 {
        match runner.run(&mut SqliteMigrations(conn)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::state(format!(
        "{where_}: migrating the state database: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Brings a PostgreSQL database to [`SCHEMA_VERSION`], one runner at a time (a session advisory
/// lock serialises runners that start together); `where_` names it in errors (no password).
pub(crate) async fn postgres(client: &mut tokio_postgres::Client, where_: &str) -> Result<()> {
    let fail = |e: tokio_postgres::Error| {
        Error::state(format!("{where_}: {}", super::postgres::pg_error(&e)))
    };
    client
        .execute(
            "SELECT pg_advisory_lock($1, 0)",
            &[&super::postgres::NS_MIGRATE],
        )
        .await
        .map_err(fail)?;
    let result = async {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY])
            .await
            .map_err(fail)?
            .get(0);
        if exists {
            let newest: Option<i32> = client
                .query_one(&format!("SELECT MAX(version) FROM {HISTORY}"), &[])
                .await
                .map_err(fail)?
                .get(0);
            if let Some(v) = newest.filter(|v| *v > SCHEMA_VERSION) {
                return Err(too_new(where_, i64::from(v)));
            }
        }
        runner(POSTGRES)?
            .run_async(client)
            .await
            .map(|_| ())
            .map_err(|e| Error::state(format!("{where_}: migrating the state database: {e}")))
    }
    .await;
    let unlock = client
        .execute(
            "SELECT pg_advisory_unlock($1, 0)",
            &[&super::postgres::NS_MIGRATE],
        )
        .await
        .map_err(fail);
    result.and(unlock.map(|_| ()))
}

/// refinery's driver traits over our rusqlite: each batch in one `BEGIN IMMEDIATE` transaction,
/// so a concurrent writer waits instead of interleaving.
struct SqliteMigrations<'a>(&'a mut Connection);

impl Transaction for SqliteMigrations<'_> {
    type Error = rusqlite::Error;

    fn execute<'a, T: Iterator<Item = &'a str>>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let tx = self
            .0
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut count = 0;
        for query in queries {
            tx.execute_batch(query)?;
            count += 1;
        }
        tx.commit()?;
        Ok(count)
    }
}

impl Query<Vec<Migration>> for SqliteMigrations<'_> {
    fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        use time::format_description::well_known::Rfc3339;
        let mut stmt = self.0.prepare(query)?;
        let rows = stmt.query_map([], |row| {
            let version: i32 = row.get(0)?;
            let name: String = row.get(1)?;
            let applied_on: String = row.get(2)?;
            let checksum: String = row.get(3)?;
            Ok((version, name, applied_on, checksum))
        })?;
        let mut applied = Vec::new();
        for row in rows {
            let (version, name, applied_on, checksum) = row?;
            let bad = |what: &str| {
                rusqlite::Error::InvalidColumnType(
                    0,
                    format!("{HISTORY} version {version}: {what}"),
                    rusqlite::types::Type::Text,
                )
            };
            let applied_on = time::OffsetDateTime::parse(&applied_on, &Rfc3339)
                .map_err(|_| bad("applied_on is not RFC 3339"))?;
            let checksum = checksum
                .parse::<u64>()
                .map_err(|_| bad("checksum is not a number"))?;
            applied.push(Migration::applied(version, name, applied_on, checksum));
        }
        Ok(applied)
    }
}

impl Migrate for SqliteMigrations<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state.db exactly as the code before versioning made it, with a run in it.
    fn legacy_db(path: &std::path::Path) {
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(include_str!("migrations/sqlite/V1__baseline.sql"))
            .expect("old schema");
        conn.execute(
            "INSERT INTO runs (kind, key, status, params, started_at_ms, finished_at_ms)
             VALUES ('release', '1.0.0', 'failed', '{\"version\":\"1.0.0\"}', 1, 2)",
            [],
        )
        .expect("run");
        conn.execute(
            "INSERT INTO journal (run_id, seq, at_ms, entry) VALUES (1, 1, 1, '{\"event\":\"step_started\",\"step\":\"tag:a\"}')",
            [],
        )
        .expect("journal");
    }

    #[test]
    fn a_database_made_before_versioning_is_adopted_and_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        legacy_db(&path);
        let mut conn = Connection::open(&path).expect("open");
        sqlite(&mut conn, "state.db").expect("migrate");
        let version: i32 = conn
            .query_row(&format!("SELECT MAX(version) FROM {HISTORY}"), [], |r| {
                r.get(0)
            })
            .expect("history");
        assert_eq!(version, SCHEMA_VERSION);
        let kept: String = conn
            .query_row("SELECT params FROM runs WHERE id = 1", [], |r| r.get(0))
            .expect("the old run is kept");
        assert!(kept.contains("1.0.0"));
        let claims: i64 = conn
            .query_row("SELECT count(*) FROM claims", [], |r| r.get(0))
            .expect("the new table exists");
        assert_eq!(claims, 0);
        // Opening again applies nothing and fails nothing.
        sqlite(&mut conn, "state.db").expect("idempotent");
    }

    #[test]
    fn a_database_from_a_newer_orchestrator_is_refused_naming_the_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("state.db")).expect("open");
        sqlite(&mut conn, "state.db").expect("migrate");
        conn.execute(
            &format!(
                "INSERT INTO {HISTORY} (version, name, applied_on, checksum)
                 VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')"
            ),
            [],
        )
        .expect("future");
        let err = sqlite(&mut conn, "state.db").expect_err("too new");
        let message = err.to_string();
        assert!(message.contains("schema version 99"), "{message}");
        assert!(
            message.contains(&format!("({SCHEMA_VERSION})")),
            "{message}"
        );
    }
}
