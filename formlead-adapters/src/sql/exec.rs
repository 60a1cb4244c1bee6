//! The seam between the generic store and sqlx: binding values, running
//! statements and reading columns, for any [`Backend`]. What sqlx needs of a
//! backend to do that is said once, here (the `where` clause of the blanket
//! [`Sql`] impl); everything else asks only for `B: Sql`.

use futures_util::future::BoxFuture;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::backend::{Arg, Backend};

/// A statement of backend `B`, with its arguments.
pub type Query<'q, B> =
    sqlx::query::Query<'q, <B as Backend>::Db, <<B as Backend>::Db as Database>::Arguments>;
/// A row of backend `B`.
pub type DbRow<B> = <<B as Backend>::Db as Database>::Row;
/// A connection of backend `B` (inside a transaction: `&mut *tx`).
pub type Conn<B> = <<B as Backend>::Db as Database>::Connection;

/// What the store does with sqlx, for any backend sqlx can run it on.
pub trait Sql: Backend {
    /// Binds `arg` to the next placeholder of `q`.
    fn bind<'q>(q: Query<'q, Self>, arg: Arg) -> Query<'q, Self>;

    /// `q`, not kept prepared: planned with its arguments each time it runs
    /// (a kept PostgreSQL statement switches to a generic plan after a few
    /// runs).
    fn unprepared<'q>(q: Query<'q, Self>) -> Query<'q, Self>;

    /// Runs `q` on `pool`: its first row, if any.
    fn fetch_optional<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<Option<DbRow<Self>>, sqlx::Error>>;
    /// Runs `q` on `pool`: all its rows.
    fn fetch_all<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<Vec<DbRow<Self>>, sqlx::Error>>;
    /// Runs `q` on `pool` for its effect.
    fn execute<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Runs `q` on `conn` (a transaction): its first row, if any.
    fn fetch_optional_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<Option<DbRow<Self>>, sqlx::Error>>;
    /// Runs `q` on `conn`: all its rows.
    fn fetch_all_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<Vec<DbRow<Self>>, sqlx::Error>>;
    /// Runs `q` on `conn` for its effect.
    fn execute_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Column `col` as text.
    fn read_text(row: &DbRow<Self>, col: &str) -> Result<Option<String>, sqlx::Error>;
    /// Column `col` as an integer.
    fn read_int(row: &DbRow<Self>, col: &str) -> Result<Option<i64>, sqlx::Error>;
    /// Column `col` as a stored id.
    fn read_id(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Id>, sqlx::Error>;
    /// Column `col` as a stored timestamp.
    fn read_time(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Time>, sqlx::Error>;
    /// Column `col` as stored JSON.
    fn read_json(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Json>, sqlx::Error>;
}

// Both SQLite and PostgreSQL satisfy these: they bind and read text and
// integers, and run statements on a pool or a connection.
impl<B: Backend> Sql for B
where
    <B::Db as Database>::Arguments: IntoArguments<B::Db>,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'e> String: Encode<'e, B::Db> + Decode<'e, B::Db> + Type<B::Db>,
    for<'e> i64: Encode<'e, B::Db> + Decode<'e, B::Db> + Type<B::Db>,
    for<'e> Option<String>: Encode<'e, B::Db>,
    for<'e> Option<i64>: Encode<'e, B::Db>,
    for<'e> Option<B::Id>: Encode<'e, B::Db>,
    for<'e> Option<B::Time>: Encode<'e, B::Db>,
    for<'e> Option<B::Json>: Encode<'e, B::Db>,
    for<'a> &'a str: ColumnIndex<<B::Db as Database>::Row>,
    B::Db: sqlx::database::HasStatementCache,
{
    fn unprepared<'q>(q: Query<'q, Self>) -> Query<'q, Self> {
        q.persistent(false)
    }

    fn bind<'q>(q: Query<'q, Self>, arg: Arg) -> Query<'q, Self> {
        match arg {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::Id(v) => q.bind(v.map(B::id)),
            Arg::Time(v) => q.bind(v.map(B::time)),
            Arg::Json(v) => q.bind(v.as_ref().map(B::json)),
        }
    }

    fn fetch_optional<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<Option<DbRow<Self>>, sqlx::Error>> {
        Box::pin(q.fetch_optional(pool))
    }

    fn fetch_all<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<Vec<DbRow<Self>>, sqlx::Error>> {
        Box::pin(q.fetch_all(pool))
    }

    fn execute<'a>(
        q: Query<'a, Self>,
        pool: &'a Pool<Self::Db>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { q.execute(pool).await.map(|_| ()) })
    }

    fn fetch_optional_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<Option<DbRow<Self>>, sqlx::Error>> {
        Box::pin(q.fetch_optional(conn))
    }

    fn fetch_all_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<Vec<DbRow<Self>>, sqlx::Error>> {
        Box::pin(q.fetch_all(conn))
    }

    fn execute_in<'a>(
        q: Query<'a, Self>,
        conn: &'a mut Conn<Self>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { q.execute(conn).await.map(|_| ()) })
    }

    fn read_text(row: &DbRow<Self>, col: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(col)
    }

    fn read_int(row: &DbRow<Self>, col: &str) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(col)
    }

    fn read_id(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Id>, sqlx::Error> {
        row.try_get(col)
    }

    fn read_time(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Time>, sqlx::Error> {
        row.try_get(col)
    }

    fn read_json(row: &DbRow<Self>, col: &str) -> Result<Option<Self::Json>, sqlx::Error> {
        row.try_get(col)
    }
}

/// A statement being built: `stmt::<B>(SQL).arg(a).arg(b)`.
pub(crate) struct Stmt<'q, B: Backend>(pub Query<'q, B>);

/// A statement of `sql` (written with `$1`-style placeholders).
pub(crate) fn stmt<'q, B: Sql>(sql: &'static str) -> Stmt<'q, B> {
    Stmt(sqlx::query::<B::Db>(B::sql(sql)))
}

impl<'q, B: Sql> Stmt<'q, B> {
    /// Binds the next placeholder.
    #[must_use]
    pub fn arg(self, a: impl Into<Arg>) -> Self {
        Self(B::bind(self.0, a.into()))
    }

    /// Not kept prepared: planned with its arguments every time it runs.
    /// PostgreSQL switches a kept statement to a generic plan after a few
    /// runs, and a generic plan cannot tell a bound that keeps a handful
    /// of rows (today's errors) from one that keeps them all.
    #[must_use]
    pub fn planned_each_time(self) -> Self {
        Self(B::unprepared(self.0))
    }

    pub async fn fetch_optional(self, pool: &Pool<B::Db>) -> Result<Option<DbRow<B>>, sqlx::Error> {
        B::fetch_optional(self.0, pool).await
    }

    pub async fn fetch_all(self, pool: &Pool<B::Db>) -> Result<Vec<DbRow<B>>, sqlx::Error> {
        B::fetch_all(self.0, pool).await
    }

    pub async fn execute(self, pool: &Pool<B::Db>) -> Result<(), sqlx::Error> {
        B::execute(self.0, pool).await
    }

    pub async fn fetch_optional_in(
        self,
        conn: &mut Conn<B>,
    ) -> Result<Option<DbRow<B>>, sqlx::Error> {
        B::fetch_optional_in(self.0, conn).await
    }

    pub async fn fetch_all_in(self, conn: &mut Conn<B>) -> Result<Vec<DbRow<B>>, sqlx::Error> {
        B::fetch_all_in(self.0, conn).await
    }

    pub async fn execute_in(self, conn: &mut Conn<B>) -> Result<(), sqlx::Error> {
        B::execute_in(self.0, conn).await
    }
}
