//! TLS for [`PgStore`] connections (feature `postgres-tls`), for managed databases that require
//! it: [rustls](https://docs.rs/rustls) with the aws-lc-rs provider, the server's certificate checked
//! against the roots the host gives (its provider's CA bundle, a private CA) and the host name of
//! the connection string.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{PgOptions, PgStore, connect};
use crate::ports::StoreError;

/// How [`PgStore::connect_tls`] secures its connections: a rustls client configuration.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for PgTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTls").finish_non_exhaustive()
    }
}

impl PgTls {
    /// Trusts the certificates of a PEM bundle (a managed database's CA bundle, a private CA)
    /// as roots, and nothing else.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the bundle holds no certificate or one that cannot be
    /// read or used as a root.
    pub fn from_pem(roots_pem: &[u8]) -> Result<PgTls, StoreError> {
        let bad = |why: &str| StoreError::Unavailable(format!("TLS roots: {why}"));
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(roots_pem) {
            let cert = cert.map_err(|_| bad("the PEM bundle cannot be read"))?;
            roots.add(cert).map_err(|_| bad("a certificate of the bundle cannot be a root"))?;
        }
        if roots.is_empty() {
            return Err(bad("the PEM bundle holds no certificate"));
        }
        PgTls::from_roots(roots)
    }

    /// Trusts `roots`, checking the server's certificate and host name with them.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when rustls refuses its default protocol versions (not
    /// expected).
    pub fn from_roots(roots: RootCertStore) -> Result<PgTls, StoreError> {
        // The provider is named, not taken from the process default: with several rustls
        // providers linked in (reqwest brings another), there is no default to take.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| StoreError::Unavailable("TLS: no protocol version available".into()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(PgTls::from_config(config))
    }

    /// Uses a client configuration the host built (client certificates, its own verifier).
    pub fn from_config(config: ClientConfig) -> PgTls {
        PgTls { config: Arc::new(config) }
    }
}

impl PgStore {
    /// Like [`PgStore::connect`], over TLS: every connection is encrypted and the server's
    /// certificate verified with `tls`. A connection string that says `sslmode=disable` or
    /// `prefer` (the default) is held to `require`: the store never falls back to plain text.
    ///
    /// ```no_run
    /// use orderflow::adapters::postgres::{PgOptions, PgStore, PgTls};
    ///
    /// # async fn demo() -> Result<(), orderflow::ports::StoreError> {
    /// let roots = std::fs::read("/etc/ssl/certs/rds-global-bundle.pem")
    ///     .map_err(|e| orderflow::ports::StoreError::Unavailable(e.to_string()))?;
    /// let options = PgOptions::new("postgres://app@shop.abc.rds.amazonaws.com/shop");
    /// let store = PgStore::connect_tls(options, PgTls::from_pem(&roots)?).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`PgStore::connect`]; a server without TLS or with a certificate the roots do not
    /// vouch for (or for another host) cannot be reached ([`StoreError::Unavailable`]).
    pub async fn connect_tls(options: PgOptions, tls: PgTls) -> Result<PgStore, StoreError> {
        let mut config = connect::config(&options)?;
        config.ssl_mode(SslMode::Require);
        let connector = MakeRustlsConnect::new(ClientConfig::clone(&tls.config));
        let pool = connect::pool_with(config, &options, connector)?;
        PgStore::with_pool(pool, options).await
    }
}
