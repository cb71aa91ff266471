//! The `pg` backend: PostgreSQL through `tokio-postgres`. Each workspace's state is a row of
//! `<schema_name>.brick_states` (`name`, `data` bytea, `version` counter: compare-and-swap is
//! `UPDATE … WHERE version = $expected`); the lock is a session advisory lock keyed by two
//! numbers, `hashtext(schema_name)` and `hashtext(workspace)`, so two schemas of one database
//! never share a lock (terraform #33217 keyed by one number and collided). The session holds
//! it: a crashed holder's connection closes and PostgreSQL frees the lock. Who holds it is
//! recorded in `<schema_name>.brick_locks` beside it.
//!
//! A session creates the schema and the tables if missing, unless `skip_schema_creation` or
//! `skip_table_creation` (Terraform's arguments) say an administrator made them: then brick
//! needs no CREATE privilege on the database. `conn_str` may come from `PG_CONN_STR`.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_postgres::{Client, NoTls};

use crate::{Backend, BackendError, HeldLock, LockInfo, Snapshot, rt};

pub(crate) struct Pg {
    conn: String,
    schema: String,
    /// What a new session creates if missing (`skip_schema_creation`, `skip_table_creation`
    /// leave out the schema, the tables).
    ddl: String,
    /// `conn_str` without its password, for messages.
    shown: String,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn db_err(action: &'static str, what: &str) -> impl Fn(tokio_postgres::Error) -> BackendError {
    let what = what.to_string();
    move |e| BackendError::Store {
        action,
        what: what.clone(),
        detail: e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string()),
    }
}

impl Pg {
    pub(crate) fn new(s: &BTreeMap<String, String>) -> Result<Pg, BackendError> {
        crate::only(
            "pg",
            s,
            &[
                "conn_str",
                "schema_name",
                "skip_schema_creation",
                "skip_table_creation",
            ],
        )?;
        // As Terraform's: the connection string may come from PG_CONN_STR instead, so that
        // its password stays out of the configuration.
        let conn = s
            .get("conn_str")
            .cloned()
            .or_else(|| std::env::var("PG_CONN_STR").ok().filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                BackendError::Config(
                    "the pg backend needs \"conn_str\" (or PG_CONN_STR in the environment)".into(),
                )
            })?;
        let flag = |k: &str| match s.get(k).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(BackendError::Config(format!(
                "{k} is true or false, not {v:?}"
            ))),
        };
        let (skip_schema, skip_tables) =
            (flag("skip_schema_creation")?, flag("skip_table_creation")?);
        let parsed: tokio_postgres::Config = conn
            .parse()
            .map_err(|e| BackendError::Config(format!("conn_str: {e}")))?;
        let shown = format!(
            "postgres://{}@{}/{}",
            parsed.get_user().unwrap_or(""),
            parsed
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default(),
            parsed.get_dbname().unwrap_or("")
        );
        let schema = s
            .get("schema_name")
            .cloned()
            .unwrap_or_else(|| "terraform_remote_state".into());
        let q = quote(&schema);
        let mut ddl = String::new();
        if !skip_schema {
            ddl.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {q};\n"));
        }
        if !skip_tables {
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {q}.brick_states (name text PRIMARY KEY, data bytea NOT NULL, version bigint NOT NULL);
                 CREATE TABLE IF NOT EXISTS {q}.brick_locks (name text PRIMARY KEY, info text NOT NULL);"
            ));
        }
        Ok(Pg {
            conn,
            schema,
            ddl,
            shown,
        })
    }

    fn what(&self) -> String {
        format!("{} schema {}", self.shown, self.schema)
    }

    /// A new session with the schema and tables in place.
    async fn connect(conn: String, ddl: String, what: String) -> Result<Client, BackendError> {
        let (client, connection) = tokio_postgres::connect(&conn, NoTls)
            .await
            .map_err(db_err("connect to", &what))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Two first connections at once may race creating the same table: the loser's
        // error (a unique violation in the catalog) means it exists now.
        for attempt in 0..3 {
            if ddl.is_empty() {
                break;
            }
            match client.batch_execute(&ddl).await {
                Ok(()) => break,
                Err(_) if attempt < 2 => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await
                }
                Err(e) => return Err(db_err("create the tables of", &what)(e)),
            }
        }
        Ok(client)
    }

    fn run<T: Send + 'static, F>(
        &self,
        f: impl FnOnce(Arc<Client>, String, String) -> F + Send + 'static,
    ) -> Result<T, BackendError>
    where
        F: std::future::Future<Output = Result<T, BackendError>> + Send,
    {
        let (conn, schema, what) = (self.conn.clone(), self.schema.clone(), self.what());
        let ddl = self.ddl.clone();
        rt::run(async move {
            let client = Arc::new(Pg::connect(conn, ddl, what.clone()).await?);
            f(client, quote(&schema), what).await
        })
    }

    /// The session holding the workspace's advisory lock, if any.
    async fn lock_session(
        client: &Client,
        schema: &str,
        workspace: &str,
        what: &str,
    ) -> Result<Option<i32>, BackendError> {
        let row = client
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                   AND classid::int = hashtext($1) AND objid::int = hashtext($2) LIMIT 1",
                &[&schema, &workspace],
            )
            .await
            .map_err(db_err("read the lock of", what))?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn holder_of(
        client: &Client,
        q: &str,
        schema: &str,
        workspace: &str,
        what: &str,
    ) -> Result<Option<LockInfo>, BackendError> {
        let session = Pg::lock_session(client, schema, workspace, what).await?;
        let row = client
            .query_opt(
                &format!("SELECT info FROM {q}.brick_locks WHERE name = $1"),
                &[&workspace],
            )
            .await
            .map_err(db_err("read the lock of", what))?;
        Ok(Some(match row {
            // Held, or left behind by a holder that crashed.
            Some(r) => crate::parse_lock(r.get::<_, &str>(0).as_bytes(), what)?,
            None if session.is_none() => return Ok(None),
            // Taken a moment ago; its holder's record is not written yet.
            None => LockInfo {
                id: "unknown".into(),
                operation: "unknown".into(),
                user: "unknown".into(),
                host: "unknown".into(),
                pid: 0,
                pid_start: None,
                created: String::new(),
                brick_version: String::new(),
                path: what.to_string(),
            },
        }))
    }
}

impl Backend for Pg {
    fn kind(&self) -> &'static str {
        "pg"
    }

    fn describe(&self, workspace: &str) -> String {
        format!("{} workspace {workspace}", self.what())
    }

    fn read(&self, workspace: &str) -> Result<Option<Snapshot>, BackendError> {
        let ws = workspace.to_string();
        self.run(move |c, q, what| async move {
            let row = c
                .query_opt(
                    &format!("SELECT data, version FROM {q}.brick_states WHERE name = $1"),
                    &[&ws],
                )
                .await
                .map_err(db_err("read the state of", &what))?;
            Ok(row.map(|r| Snapshot {
                bytes: r.get(0),
                version: r.get::<_, i64>(1).to_string(),
            }))
        })
    }

    fn write(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<String, BackendError> {
        let ws = workspace.to_string();
        let expected = match expected {
            None => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| BackendError::Conflict {
                what: self.describe(workspace),
            })?),
        };
        let conflict = self.describe(workspace);
        self.run(move |c, q, what| async move {
            let n = match expected {
                None => {
                    c.execute(
                        &format!("INSERT INTO {q}.brick_states (name, data, version) VALUES ($1, $2, 1) ON CONFLICT (name) DO NOTHING"),
                        &[&ws, &bytes],
                    )
                    .await
                }
                Some(v) => {
                    c.execute(
                        &format!("UPDATE {q}.brick_states SET data = $2, version = version + 1 WHERE name = $1 AND version = $3"),
                        &[&ws, &bytes, &v],
                    )
                    .await
                }
            }
            .map_err(db_err("write the state of", &what))?;
            if n != 1 {
                return Err(BackendError::Conflict { what: conflict });
            }
            Ok((expected.unwrap_or(0) + 1).to_string())
        })
    }

    fn lock(&self, workspace: &str, info: &LockInfo) -> Result<Box<dyn HeldLock>, BackendError> {
        let (conn, schema, what) = (
            self.conn.clone(),
            self.schema.clone(),
            self.describe(workspace),
        );
        let ddl = self.ddl.clone();
        let ws = workspace.to_string();
        let json = String::from_utf8(crate::lock_json(info)).expect("JSON is UTF-8");
        let id = info.id.clone();
        let path = info.path.clone();
        let client = rt::run(async move {
            let client = Pg::connect(conn, ddl, what.clone()).await?;
            let q = quote(&schema);
            let got: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                    &[&schema, &ws],
                )
                .await
                .map_err(db_err("take the lock of", &what))?
                .get(0);
            if !got {
                let holder = Pg::holder_of(&client, &q, &schema, &ws, &what).await?;
                return Err(match holder {
                    Some(h) => BackendError::Locked {
                        what,
                        holder: Box::new(h),
                    },
                    None => BackendError::Store {
                        action: "take the lock of",
                        what,
                        detail: "the lock was released while brick looked; try again".into(),
                    },
                });
            }
            // A clean release removes the holder's record: one left behind is a holder that
            // crashed (its session, and so its advisory lock, ended with it). Only a brick in
            // the same working copy, where the crashed run's journal is, continues by itself.
            let left = client
                .query_opt(
                    &format!("SELECT info FROM {q}.brick_locks WHERE name = $1"),
                    &[&ws],
                )
                .await
                .map_err(db_err("read the lock of", &what))?;
            if let Some(row) = left {
                let crashed = crate::parse_lock(row.get::<_, &str>(0).as_bytes(), &what)?;
                if crashed.path != path {
                    let _ = client
                        .query_one(
                            "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
                            &[&schema, &ws],
                        )
                        .await;
                    return Err(BackendError::Locked {
                        what,
                        holder: Box::new(crashed),
                    });
                }
            }
            client
                .execute(
                    &format!("INSERT INTO {q}.brick_locks (name, info) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET info = EXCLUDED.info"),
                    &[&ws, &json],
                )
                .await
                .map_err(db_err("record the holder of", &what))?;
            Ok(Arc::new(client))
        })?;
        Ok(Box::new(PgLock {
            client,
            schema: self.schema.clone(),
            workspace: workspace.to_string(),
            id,
            what: self.describe(workspace),
        }))
    }

    fn holder(&self, workspace: &str) -> Result<Option<LockInfo>, BackendError> {
        let (schema, ws) = (self.schema.clone(), workspace.to_string());
        self.run(move |c, q, what| async move { Pg::holder_of(&c, &q, &schema, &ws, &what).await })
    }

    fn force_unlock(&self, workspace: &str, id: &str) -> Result<LockInfo, BackendError> {
        let (schema, ws, id) = (self.schema.clone(), workspace.to_string(), id.to_string());
        let desc = self.describe(workspace);
        self.run(move |c, q, what| async move {
            let Some(holder) = Pg::holder_of(&c, &q, &schema, &ws, &what).await? else {
                return Err(BackendError::NotLocked { what: desc });
            };
            if holder.id != id {
                return Err(BackendError::LockIdMismatch {
                    what: desc,
                    given: id,
                    actual: holder.id,
                });
            }
            // Only its session can release an advisory lock: end that session.
            if let Some(pid) = Pg::lock_session(&c, &schema, &ws, &what).await? {
                c.execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .map_err(db_err("end the session holding the lock of", &what))?;
            }
            c.execute(
                &format!("DELETE FROM {q}.brick_locks WHERE name = $1"),
                &[&ws],
            )
            .await
            .map_err(db_err("remove the lock of", &what))?;
            Ok(holder)
        })
    }

    fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        self.run(move |c, q, what| async move {
            let rows = c
                .query(&format!("SELECT name FROM {q}.brick_states"), &[])
                .await
                .map_err(db_err("list the workspaces of", &what))?;
            let mut names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            names.push("default".into());
            names.sort();
            names.dedup();
            Ok(names)
        })
    }

    fn delete_workspace(&self, workspace: &str) -> Result<(), BackendError> {
        let ws = workspace.to_string();
        self.run(move |c, q, what| async move {
            c.execute(
                &format!("DELETE FROM {q}.brick_states WHERE name = $1"),
                &[&ws],
            )
            .await
            .map_err(db_err("delete the workspace of", &what))?;
            Ok(())
        })
    }

    fn prove(&self) -> Result<String, BackendError> {
        let (conn, schema, ddl) = (self.conn.clone(), self.schema.clone(), self.ddl.clone());
        let what = self.what();
        rt::run(async move {
            let a = Pg::connect(conn.clone(), ddl.clone(), what.clone()).await?;
            let b = Pg::connect(conn, ddl, what.clone()).await?;
            let probe = format!("brick-probe-{}", uuid::Uuid::new_v4());
            let take = "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))";
            let first: bool = a
                .query_one(take, &[&schema, &probe])
                .await
                .map_err(db_err("take a probe lock in", &what))?
                .get(0);
            let second: bool = b
                .query_one(take, &[&schema, &probe])
                .await
                .map_err(db_err("take a probe lock in", &what))?
                .get(0);
            if !first || second {
                return Err(BackendError::NoConditionalWrites {
                    store: what,
                    detail: "a second session took an advisory lock the first one held".into(),
                });
            }
            Ok(format!(
                "{what}: an advisory lock held by one session was refused to another"
            ))
        })
    }
}

struct PgLock {
    client: Arc<Client>,
    schema: String,
    workspace: String,
    id: String,
    what: String,
}

impl HeldLock for PgLock {
    fn release(self: Box<Self>) -> Result<(), BackendError> {
        let PgLock {
            client,
            schema,
            workspace,
            id,
            what,
        } = *self;
        rt::run(async move {
            let q = quote(&schema);
            client
                .execute(
                    &format!(
                        "DELETE FROM {q}.brick_locks WHERE name = $1 AND info::json->>'id' = $2"
                    ),
                    &[&workspace, &id],
                )
                .await
                .map_err(db_err("remove the lock of", &what))?;
            client
                .query_one(
                    "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
                    &[&schema, &workspace],
                )
                .await
                .map_err(db_err("release the lock of", &what))?;
            Ok(())
        })
    }
}
