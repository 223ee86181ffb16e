//! An S3-compatible server for tests: moto's server (`python3 -m moto.server`) on a free
//! loopback port (feature `moto`; needs `python3 -m pip install 'moto[server]'`).

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long the server may take to start.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running moto server; killed when dropped. Moto accepts any credentials; tests use
/// [`Moto::ACCESS_KEY_ID`] and [`Moto::SECRET_ACCESS_KEY`].
#[derive(Debug)]
pub struct Moto {
    /// Its port on `127.0.0.1`.
    pub port: u16,
    child: tokio::process::Child,
}

impl Moto {
    /// The access key id tests sign with.
    pub const ACCESS_KEY_ID: &str = "test";
    /// The secret access key tests sign with.
    pub const SECRET_ACCESS_KEY: &str = "test";

    /// Starts moto's server on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When python3 with moto's server is missing or it does not start listening.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = tokio::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with moto is needed (python3 -m pip install 'moto[server]')");
        let start = tokio::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto's server exited at start ({status}); is moto[server] installed?");
            }
            assert!(start.elapsed() < DEADLINE, "moto's server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { port, child }
    }

    /// `http://127.0.0.1:<port>`, the endpoint to give an S3 client (path-style, plain HTTP).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` with a plain path-style `PUT` (moto accepts unsigned requests).
    ///
    /// # Panics
    ///
    /// When the server does not answer `200`.
    pub async fn create_bucket(&self, bucket: &str) {
        let resp = self.request("PUT", &format!("/{bucket}")).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "create bucket: {resp}");
    }

    /// Deletes the (empty) `bucket`.
    ///
    /// # Panics
    ///
    /// When the server does not answer `204`.
    pub async fn delete_bucket(&self, bucket: &str) {
        let resp = self.request("DELETE", &format!("/{bucket}")).await;
        assert!(resp.starts_with("HTTP/1.1 204"), "delete bucket: {resp}");
    }

    /// The keys of the objects in `bucket` under `prefix` (one `ListObjectsV2` request; up
    /// to 1000 keys).
    ///
    /// # Panics
    ///
    /// When the server does not answer `200`.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let resp = self
            .request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"))
            .await;
        assert!(resp.starts_with("HTTP/1.1 200"), "list objects: {resp}");
        resp.split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// Sends one unsigned, body-less, path-style request and returns the whole response.
    async fn request(&self, method: &str, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to moto");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        );
        s.write_all(req.as_bytes()).await.expect("send");
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.expect("read");
        String::from_utf8_lossy(&resp).into_owned()
    }

    /// Kills the server (an unreachable endpoint from now on).
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}
