//! SQL storage: one [`SqlStore`] over SQLite or PostgreSQL, with the job
//! queue (apalis) in the same database so accepting a submission commits
//! the submission, its workflow and its job in one transaction.

mod backend;
mod drain;
mod durability;
mod errors;
mod exec;
#[cfg(feature = "postgres")]
mod postgres;
mod queue;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod worker;
mod write_path;

pub use backend::{Arg, Backend, JOB_MAX_ATTEMPTS, NewLead, UnitCall, UnitRows, WORKFLOW_QUEUE};
pub use exec::Sql;
#[cfg(feature = "postgres")]
pub use postgres::{PgBackend, PgStore};
pub use queue::ApalisQueue;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteBackend, SqliteDurability, SqliteStore, sqlite_path};
pub use store::SqlStore;
#[cfg(feature = "test-util")]
pub use store::plans;
#[cfg(feature = "postgres")]
pub use worker::run_postgres_workers;
#[cfg(feature = "sqlite")]
pub use worker::run_sqlite_workers;
pub use worker::{ApalisWorkerConfig, WORKER_RESTARTS_METRIC, WorkerError};
