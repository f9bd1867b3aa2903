//! Transport security (SECURITY.md HDR-01, HDR-02): `serve` terminates TLS 1.2 and 1.3
//! itself and refuses older protocols; plain http reaching us through a trusted proxy,
//! or on the redirect listener, gets a 308 to the same path on the public https URL;
//! HTTPS responses carry HSTS.

use std::sync::Arc;

use testkit::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

const HSTS: &str = "max-age=63072000; includeSubDomains; preload";

struct Tls {
    dir: std::path::PathBuf,
    cert_pem: String,
}

/// A self-signed certificate for `localhost`, made now, in a temporary directory.
fn certificate() -> Tls {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let dir = std::env::temp_dir().join(format!("pitchside-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cert_pem = ck.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).expect("cert");
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).expect("key");
    Tls { dir, cert_pem }
}

/// An app whose public URL is https, served over TLS on a port of its own.
async fn tls_app(tls: &Tls) -> (TestApp, std::net::SocketAddr) {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://localhost".into();
        c.cookie_mode = web::CookieMode::Secure;
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    let config =
        web::tls::server_config(&tls.dir.join("cert.pem"), &tls.dir.join("key.pem")).expect("tls");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(web::tls::serve_tls(
        listener,
        config,
        app.state.clone(),
        std::future::pending(),
    ));
    (app, addr)
}

fn client(
    tls: &Tls,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls_pem_cert(&tls.cert_pem);
    roots.add(der).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn rustls_pem_cert(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem")
}

/// One HTTP/1.1 request over any stream; the status line and headers (lower-cased).
async fn http<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>) {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().expect("head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn tls_1_3_and_1_2_are_served_with_hsts() {
    let tls = certificate();
    let (_app, addr) = tls_app(&tls).await;
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let stream = client(&tls, versions)
            .connect("localhost".try_into().expect("name"), tcp)
            .await
            .expect("handshake");
        let negotiated = stream.get_ref().1.protocol_version();
        assert_eq!(negotiated, Some(versions[0].version));
        for path in ["/healthz", "/login", "/api/v1/me", "/no-such-page"] {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let stream = client(&tls, versions)
                .connect("localhost".try_into().expect("name"), tcp)
                .await
                .expect("handshake");
            let (status, headers) = http(stream, path, "").await;
            assert!(matches!(status, 200 | 401 | 404), "{path}: {status}");
            assert_eq!(
                header(&headers, "strict-transport-security"),
                Some(HSTS),
                "{path}"
            );
            assert_eq!(header(&headers, "server"), None, "no banner");
        }
    }
}

/// A ClientHello for `version` (0x0302 = TLS 1.1, 0x0303 = TLS 1.2) without the
/// supported_versions extension, so TLS 1.3 is not on offer; written out byte by byte as
/// RFC 5246 lays it out, with suites and extensions our ECDSA certificate can serve.
fn client_hello(version: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend([0x42; 32]); // random
    body.push(0); // no session id
    // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    body.extend([0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x09]);
    body.extend([0x01, 0x00]); // compression: null
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d, // supported_groups: x25519
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04,
        0x03, // signature_algorithms: ecdsa_p256_sha256
        0x00, 0x17, 0x00, 0x00, // extended_master_secret
        0xff, 0x01, 0x00, 0x01, 0x00, // renegotiation_info
    ];
    body.extend((extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    let mut hello = vec![0x01]; // handshake type: client_hello
    hello.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hello.extend(body);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake record
    record.extend((hello.len() as u16).to_be_bytes());
    record.extend(hello);
    record
}

async fn first_reply(addr: std::net::SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(hello).await.expect("hello");
    let mut reply = vec![0; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut reply))
        .await
        .expect("an answer")
        .expect("read");
    reply.truncate(n);
    reply
}

#[tokio::test]
async fn a_tls_1_1_client_is_refused() {
    let tls = certificate();
    let (_app, addr) = tls_app(&tls).await;
    // The same hello as TLS 1.2 gets a ServerHello: record type 22, handshake type 2.
    let reply = first_reply(addr, &client_hello(0x0303)).await;
    assert_eq!(
        (reply.first(), reply.get(5)),
        (Some(&0x16), Some(&0x02)),
        "{reply:?}"
    );
    // As TLS 1.1: a fatal alert (record type 21, level 2) and no handshake.
    let reply = first_reply(addr, &client_hello(0x0302)).await;
    assert_eq!(reply.first(), Some(&0x15), "an alert record: {reply:?}");
    assert_eq!(reply.get(5), Some(&0x02), "fatal: {reply:?}");
    assert_eq!(reply.get(6), Some(&70), "protocol_version: {reply:?}");
    // And a modern client still gets through afterwards.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let stream = client(&tls, &[&rustls::version::TLS13])
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("handshake");
    assert_eq!(http(stream, "/healthz", "").await.0, 200);
}

#[tokio::test]
async fn plain_http_is_redirected_to_the_same_path_on_https() {
    // The redirect listener `serve` runs beside TLS: every path, with its query, to the
    // configured public URL — never to the Host the client sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(web::tls::serve_redirect(
        listener,
        "https://pitchside.example".into(),
        std::future::pending(),
    ));
    for (path, location) in [
        ("/", "https://pitchside.example/"),
        (
            "/reps/42?tab=notes",
            "https://pitchside.example/reps/42?tab=notes",
        ),
        ("/api/v1/me", "https://pitchside.example/api/v1/me"),
    ] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (status, headers) = http(tcp, path, "Host: evil.example\r\n").await;
        assert_eq!(status, 308, "{path}");
        assert_eq!(header(&headers, "location"), Some(location));
    }

    // Behind a trusted proxy that reports plain http: the same 308, with HSTS.
    let tls = certificate();
    let (app, _) = tls_app(&tls).await;
    let r = app
        .http
        .get(app.url("/teams?x=1"))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "https://localhost/teams?x=1");
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    // The proxy reporting https: served.
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);

    // From a peer that is not a trusted proxy, X-Forwarded-Proto is ignored.
    let untrusted = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://localhost".into();
        c.cookie_mode = web::CookieMode::Secure;
    })
    .await;
    let r = untrusted
        .http
        .get(untrusted.url("/healthz"))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}
