//! The URL monitor over https: the certificate fingerprint is recorded and
//! a new certificate is a change. The server is rustls on 127.0.0.1, with
//! test certificates signed by a test CA that the monitor is told to trust.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use watchpost_monitor::web::{Status, UrlConfig, WebConfig, WebState, check_once, run_blocking};

fn tls(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

fn server_config(leaf: &str) -> (Arc<rustls::ServerConfig>, String) {
    let cert = CertificateDer::from_pem_file(tls(&format!("{leaf}.pem"))).unwrap();
    let key = PrivateKeyDer::from_pem_file(tls(&format!("{leaf}.key"))).unwrap();
    let fingerprint = hex::encode(Sha256::digest(cert.as_ref()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    (Arc::new(config), fingerprint)
}

/// An https server whose certificate the test can swap.
fn serve(config: Arc<Mutex<Arc<rustls::ServerConfig>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let current = config.lock().unwrap().clone();
            thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(current) else {
                    return;
                };
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                let mut reader = BufReader::new(&mut stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                let body = "<title>Secure</title><p>hello over tls</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.conn.send_close_notify();
                let _ = stream.flush();
            });
        }
    });
    port
}

#[test]
fn https_certificate_is_fingerprinted_and_a_new_one_is_a_change() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (first, first_fp) = server_config("leaf1");
    let (second, second_fp) = server_config("leaf2");
    assert_ne!(first_fp, second_fp);
    let shared = Arc::new(Mutex::new(first));
    let port = serve(shared.clone());
    let url = format!("https://127.0.0.1:{port}/");
    let config = WebConfig {
        url: vec![UrlConfig::new(&url)],
        timeout: Duration::from_secs(5),
        ca_certificates: vec![tls("ca.pem")],
        ..WebConfig::default()
    };
    let now = datetime!(2026-11-30 12:00 UTC);
    let mut state = WebState::default();
    let outcome = run_blocking(check_once(&config, &mut state, now)).unwrap();
    assert_eq!(outcome[0].status, Status::Baselined, "{outcome:?}");
    assert_eq!(
        state.urls[&url].tls_certificate.as_deref(),
        Some(first_fp.as_str())
    );

    *shared.lock().unwrap() = second;
    let outcome = run_blocking(check_once(&config, &mut state, now)).unwrap();
    let Status::Changed { summary, .. } = &outcome[0].status else {
        panic!("expected a change, got {outcome:?}")
    };
    let expected = format!(
        "TLS certificate changed from {} to {}",
        &first_fp[..16],
        &second_fp[..16]
    );
    assert_eq!(summary, &expected);
}

#[test]
fn https_with_an_untrusted_certificate_is_unreachable() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (first, _) = server_config("leaf1");
    let port = serve(Arc::new(Mutex::new(first)));
    let config = WebConfig {
        url: vec![UrlConfig::new(&format!("https://127.0.0.1:{port}/"))],
        timeout: Duration::from_secs(5),
        ..WebConfig::default()
    };
    let mut state = WebState::default();
    let outcome = run_blocking(check_once(
        &config,
        &mut state,
        datetime!(2026-11-30 12:00 UTC),
    ))
    .unwrap();
    let Status::Unreachable { reason } = &outcome[0].status else {
        panic!("expected unreachable, got {outcome:?}")
    };
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
}
