//! The connection pool [`PgStore::connect`](super::PgStore::connect) and
//! `PgStore::connect_tls` (feature `postgres-tls`) build from [`PgOptions`], with or
//! without TLS.

use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Config, Socket};

use super::PgOptions;
use crate::ports::StoreError;

/// The connection settings of `options.url`.
pub(super) fn config(options: &PgOptions) -> Result<Config, StoreError> {
    options.url.parse().map_err(|_| StoreError::Unavailable("invalid PostgreSQL connection string".into()))
}

/// A pool of `options.pool_size` connections made with `config` and `tls`.
pub(super) fn pool_with<T>(config: Config, options: &PgOptions, tls: T) -> Result<Pool, StoreError>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.timeout))
        .create_timeout(Some(options.timeout))
        .recycle_timeout(Some(options.timeout))
        // The connection used last first: the few that are busy stay warm, the rest idle.
        .queue_mode(QueueMode::Lifo)
        .build()
        .map_err(|_| StoreError::Unavailable("cannot build the connection pool".into()))
}
