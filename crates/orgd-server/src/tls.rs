//! TLS: the operator's certificate, or a self-signed one made on first start in `<data-dir>/tls/`.

use anyhow::{anyhow, Context};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded certificate with where it lives and its fingerprint.
pub struct LoadedTls {
    /// The rustls server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate file (what clients pass to `--cacert` when self-signed).
    pub cert_path: PathBuf,
    /// SHA-256 fingerprint of the leaf certificate, colon-separated hex.
    pub fingerprint: String,
    /// Whether orgd made the certificate itself.
    pub self_signed: bool,
}

/// Create `<data_dir>/tls/cert.pem` and `key.pem` if absent: valid for localhost, 127.0.0.1 and ::1.
pub fn ensure_self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names).context("cannot generate a self-signed certificate")?;
    std::fs::write(&cert, ck.cert.pem()).with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(&key, ck.key_pair.serialize_pem().as_bytes())?;
    Ok((cert, key))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Load a PEM certificate chain and key into a rustls configuration (HTTP/2 and HTTP/1.1 by ALPN).
pub fn load(cert_path: &Path, key_path: &Path, self_signed: bool) -> anyhow::Result<LoadedTls> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut std::io::BufReader::new(open(cert_path)?))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", cert_path.display()))?;
    let first = certs.first().ok_or_else(|| anyhow!("{} holds no certificate", cert_path.display()))?;
    let fingerprint = Sha256::digest(first.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut std::io::BufReader::new(open(key_path)?))
        .with_context(|| format!("{} is not a PEM private key file", key_path.display()))?
        .ok_or_else(|| anyhow!("{} holds no private key", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(LoadedTls { config: Arc::new(config), cert_path: cert_path.to_path_buf(), fingerprint, self_signed })
}

fn open(p: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))
}
