//! The process's one HTTPS stack: the SDK's own connector (hyper, and rustls on aws-lc with its
//! post-quantum key exchange; proxies from `HTTPS_PROXY` and `NO_PROXY`, as the SDK's default
//! client has them), shared by the IVS and CloudFormation clients and the answer's PUT, with one
//! trust store for all of them.
//!
//! The trust store is read through `rustls-native-certs`, once per process. Left to itself, that
//! reads the platform's CA bundle and then every file of the certificate directories (on Debian,
//! some 300 files of `/etc/ssl/certs`, the bundle's certificates over again), which from a cold
//! page cache costs more than the rest of the start; [`start`] points it at the bundle file
//! alone. Decoding even that takes about a millisecond, so [`start`] reads it on a thread of its
//! own while the rest of the process starts: the start does not wait for it, and a connection
//! that needs the trust store before it is ready does.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

/// How long any connection of the process may take to open. Inside a region a TCP connection
/// opens in milliseconds; one that has not in a second is better retried afresh (the SDK's
/// retries and the answer's do) than waited for. One value for every client, so that they all
/// share one connector: one pool, and the trust store parsed into TLS settings once.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The variables through which a user chooses the trust store (a corporate CA, for one).
const CERT_FILE: &str = "SSL_CERT_FILE";
const CERT_DIR: &str = "SSL_CERT_DIR";

/// A connector's timeouts: connect, read.
type Timeouts = (Option<Duration>, Option<Duration>);

/// The connectors built so far, by their timeouts. The function's clients all ask for
/// [`settings`], so it builds one; a client with other timeouts gets another, which parses the
/// trust store (read once per process) into TLS settings of its own.
static CONNECTORS: LazyLock<Mutex<HashMap<Timeouts, SharedHttpConnector>>> =
    LazyLock::new(Mutex::default);

/// The process's HTTPS stack: the SDK's clients take it as their HTTP client
/// (`.http_client(Https)`), the answer's PUT takes a [`Https::connector`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Https;

impl Https {
    /// The connector with `settings`' timeouts, built on first use.
    pub fn connector(&self, settings: &HttpConnectorSettings) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        CONNECTORS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(timeouts)
            .or_insert_with(|| {
                SharedHttpConnector::new(
                    Connector::builder()
                        .connector_settings(settings.clone())
                        .proxy_config(ProxyConfig::from_env())
                        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                        .build(),
                )
            })
            .clone()
    }
}

impl HttpClient for Https {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings)
    }

    /// What the SDK's default client reports, so that the User-Agent stays the same.
    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// Points the trust store at the platform's CA bundle file, the first of the usual places that
/// exists (on Lambda's `provided.al2023` the ca-trust bundle that
/// `/etc/pki/tls/certs/ca-bundle.crt` links to, on Debian `/etc/ssl/certs/ca-certificates.crt`),
/// unless `SSL_CERT_FILE` or `SSL_CERT_DIR` chooses one (an empty value chooses nothing). Call it
/// first thing in `main`: setting an environment variable is only sound while no other thread
/// runs. Then starts reading it.
pub fn start() {
    let bundle = bundle_to_trust(
        std::env::var_os(CERT_FILE),
        std::env::var_os(CERT_DIR),
        || openssl_probe::probe().cert_file,
    );
    if let Some(bundle) = bundle {
        std::env::set_var(CERT_FILE, bundle);
    }
    load_trust_store_aside();
}

/// The connector settings of every client of the function: [`CONNECT_TIMEOUT`], and no read
/// timeout (each call has a timeout of its own, around the whole exchange).
pub fn settings() -> HttpConnectorSettings {
    HttpConnectorSettings::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// Reads the trust store and builds the connector of [`settings`] with it on a thread of its
/// own, so that neither the start nor the first connection waits for either where a second core
/// is free.
fn load_trust_store_aside() {
    // Where no thread can be started, the first connection builds the connector itself.
    let _ = std::thread::Builder::new()
        .name("trust-store".into())
        .spawn(|| Https.connector(&settings()));
}

/// The file `SSL_CERT_FILE` is to name, given its value and `SSL_CERT_DIR`'s: `bundle`'s, unless
/// either already chooses a trust store.
fn bundle_to_trust(
    cert_file: Option<OsString>,
    cert_dir: Option<OsString>,
    bundle: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    let chooses = |value: Option<OsString>| value.is_some_and(|value| !value.is_empty());
    if chooses(cert_file) || chooses(cert_dir) {
        None
    } else {
        bundle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_file_is_trusted_unless_a_trust_store_is_chosen() {
        let bundle = || Some(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"));
        assert_eq!(bundle_to_trust(None, None, bundle), bundle());
        assert_eq!(
            bundle_to_trust(Some("".into()), Some("".into()), bundle),
            bundle(),
            "an empty value chooses nothing"
        );
        assert_eq!(
            bundle_to_trust(Some("/opt/corporate-ca.pem".into()), None, bundle),
            None
        );
        assert_eq!(
            bundle_to_trust(None, Some("/opt/certs".into()), bundle),
            None
        );
        assert_eq!(bundle_to_trust(None, None, || None), None);
    }
}
