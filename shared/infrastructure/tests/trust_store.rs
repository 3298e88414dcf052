//! The AWS clients' trust store, through `Aws::from_env` as every function builds it: the
//! compiled-in AWS roots refuse a server whose certificate chains to another root, and
//! `SSL_CERT_FILE` naming that root lets the handshake (and a DynamoDB call) complete.
//!
//! Each client runs in a child process of this test binary, since the variable is read from
//! the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::process::Command;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

const PORT: &str = "TRUST_TEST_PORT";
const EXPECT: &str = "TRUST_TEST_EXPECT";

/// A test root, and a server certificate for 127.0.0.1 that it signed.
struct TestPki {
    root_pem: String,
    server: ServerConfig,
}

fn test_pki() -> TestPki {
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = CertifiedIssuer::self_signed(root_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &root)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
        )
        .unwrap();
    TestPki {
        root_pem: root.pem(),
        server,
    }
}

/// Serves TLS on a free port; answers every request with an empty DynamoDB `ListTables`
/// result, and records whether each handshake completed and the requests' heads.
async fn serve(config: ServerConfig) -> (u16, Arc<Mutex<Vec<bool>>>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (recorded, heads) = (handshakes.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let (recorded, heads) = (recorded.clone(), heads.clone());
            tokio::spawn(async move {
                let accepted = acceptor.accept(stream).await;
                recorded.lock().unwrap().push(accepted.is_ok());
                let Ok(mut tls) = accepted else { return };
                let mut request = [0_u8; 4096];
                let read = tls.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..read]).into_owned();
                heads.lock().unwrap().push(head);
                let body = "{\"TableNames\":[]}";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, handshakes, requests)
}

/// Runs `client_in_a_child_process` in a child with the given trust configuration.
fn run_client(port: u16, expect: &str, cert_file: Option<&std::path::Path>) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        // As in Lambda: credentials and region from these variables alone.
        .env(
            infrastructure::config::AWS_LAMBDA_FUNCTION_NAME,
            "trust-test",
        )
        .args(["--exact", "client_in_a_child_process", "--nocapture"])
        .env(PORT, port.to_string())
        .env(EXPECT, expect)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDLAMBDAENVIRONMENT")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("https://127.0.0.1:{port}"),
        )
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SSL_CERT_DIR");
    match cert_file {
        Some(file) => child.env(infrastructure::trust::SSL_CERT_FILE, file),
        None => child.env_remove(infrastructure::trust::SSL_CERT_FILE),
    };
    let output = child.output().unwrap();
    assert!(
        output.status.success(),
        "the client expecting {expect} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// Multi-threaded: the server answers while this thread waits for a child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_aws_roots_by_default_and_the_file_named_by_ssl_cert_file_instead() {
    let pki = test_pki();
    let (port, handshakes, requests) = serve(pki.server).await;

    run_client(port, "refused", None);
    let refused = std::mem::take(&mut *handshakes.lock().unwrap());
    assert!(!refused.is_empty() && refused.iter().all(|completed| !completed));

    let root_file = std::env::temp_dir().join(format!("test-root-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&root_file, &pki.root_pem).unwrap();
    run_client(port, "accepted", Some(&root_file));
    std::fs::remove_file(&root_file).unwrap();
    assert_eq!(*handshakes.lock().unwrap(), [true]);
    let requests = requests.lock().unwrap();
    assert!(
        requests[0].contains("Credential=AKIDLAMBDAENVIRONMENT/"),
        "signed with the environment's credentials: {}",
        requests[0]
    );
}

/// The client side, in the child process `run_client` starts; does nothing elsewhere.
#[tokio::test]
async fn client_in_a_child_process() {
    let Ok(expect) = std::env::var(EXPECT) else {
        return;
    };
    let aws = infrastructure::Aws::from_env().await;
    let result = aws.dynamodb().list_tables().send().await;
    match expect.as_str() {
        "accepted" => {
            let output = result.expect("the handshake and the call complete");
            assert_eq!(output.table_names(), [] as [String; 0]);
        }
        _ => {
            let error = result.expect_err("a certificate from an unknown root is refused");
            let text = format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(&error));
            assert!(text.contains("UnknownIssuer"), "{text}");
        }
    }
}
