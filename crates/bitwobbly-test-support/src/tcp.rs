//! TCP test servers on `127.0.0.1`: a banner server (optionally echoing a line), a server
//! that resets every connection, one that accepts and never writes, a listener whose
//! accept queue is full (connects to it time out), and a closed port.
//!
//! Every server shuts down (and drops its connections) when its handle is dropped.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A running accept loop; aborted, with its connections, on drop.
#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    // The accept loop; it owns the connection tasks in a `JoinSet` of its own, so
    // aborting it aborts them too.
    _tasks: JoinSet<()>,
}

/// Binds `127.0.0.1:0` and serves each accepted connection with `serve`.
async fn serve_each<F, Fut>(serve: F) -> io::Result<Running>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _peer)) = accepted {
                        connections.spawn(serve(stream));
                    }
                }
                // Reap finished connections so the set does not grow without bound.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok(Running {
        addr,
        _tasks: tasks,
    })
}

/// Sends a banner on connect and, if asked, then reads one line and writes it back.
#[derive(Debug)]
pub struct BannerServer {
    running: Running,
}

impl BannerServer {
    /// Starts a server that writes `banner` to each connection and then waits for the
    /// client to close.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(banner: impl Into<Bytes>) -> io::Result<Self> {
        Self::with_echo(banner, false).await
    }

    /// Starts a server that writes `banner` (which may be empty) to each connection, then
    /// if `echo_line` reads one line (up to and including `\n`) and writes it back, then
    /// waits for the client to close.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn with_echo(banner: impl Into<Bytes>, echo_line: bool) -> io::Result<Self> {
        let banner: Bytes = banner.into();
        let running = serve_each(move |stream| {
            let banner = banner.clone();
            async move {
                let _ = banner_then_echo(stream, &banner, echo_line).await;
            }
        })
        .await?;
        Ok(Self { running })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }
}

async fn banner_then_echo(stream: TcpStream, banner: &[u8], echo_line: bool) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    if !banner.is_empty() {
        stream.get_mut().write_all(banner).await?;
    }
    if echo_line {
        let mut line = Vec::new();
        stream.read_until(b'\n', &mut line).await?;
        stream.get_mut().write_all(&line).await?;
    }
    drain(&mut stream).await
}

/// Reads until the peer closes, discarding what arrives.
async fn drain(stream: &mut (impl AsyncReadExt + Unpin)) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}

/// Accepts each connection and resets it at once (`SO_LINGER` 0, then close).
#[derive(Debug)]
pub struct ResetServer {
    running: Running,
}

impl ResetServer {
    /// Starts the server.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start() -> io::Result<Self> {
        let running = serve_each(|stream: TcpStream| async move {
            // With a zero linger time, closing sends RST instead of FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        })
        .await?;
        Ok(Self { running })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }
}

/// Accepts connections and never writes to them (they stay open until the client
/// closes), for timeouts while waiting for a banner.
#[derive(Debug)]
pub struct SilentServer {
    running: Running,
}

impl SilentServer {
    /// Starts the server.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start() -> io::Result<Self> {
        let running = serve_each(|mut stream: TcpStream| async move {
            let _ = drain(&mut stream).await;
        })
        .await?;
        Ok(Self { running })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }
}

/// An address on `127.0.0.1` where nothing listens: a port bound and released at once,
/// so connecting to it is refused (unless something else takes the port meanwhile,
/// which is unlikely within a test).
///
/// # Errors
///
/// When no port can be bound.
pub fn closed_port() -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(addr)
}

/// A listener on `127.0.0.1` whose accept queue is full, so a new connection attempt gets
/// no answer to its SYN and hangs until the client gives up: the way to make a connect
/// time out on loopback.
#[derive(Debug)]
pub struct FullBacklog {
    addr: SocketAddr,
    // Never accepted; they hold the queue full.
    _listener: std::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
}

impl FullBacklog {
    /// Binds with a backlog of zero and connects until a connection attempt stalls.
    ///
    /// # Errors
    ///
    /// When no port can be bound, or the queue never fills (the kernel kept accepting).
    pub fn start() -> io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((Ipv4Addr::LOCALHOST, 0).into())?;
        let listener = socket.listen(0)?.into_std()?;
        let addr = listener.local_addr()?;
        let mut queued = Vec::new();
        for _ in 0..16 {
            match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
            {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Ok(Self {
                        addr,
                        _listener: listener,
                        _queued: queued,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("the accept queue never filled"))
    }

    /// The address whose connections stall.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn banner_then_echoed_line() {
        let server = BannerServer::with_echo(&b"220 hi\r\n"[..], true)
            .await
            .unwrap();
        let mut c = TcpStream::connect(server.addr()).await.unwrap();
        let mut buf = [0u8; 8];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"220 hi\r\n");
        c.write_all(b"PING\n").await.unwrap();
        let mut echo = [0u8; 5];
        c.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"PING\n");
    }

    #[tokio::test]
    async fn reset_server_resets() {
        let server = ResetServer::start().await.unwrap();
        let mut c = TcpStream::connect(server.addr()).await.unwrap();
        let mut buf = [0u8; 8];
        let err = c.read(&mut buf).await.expect_err("the connection is reset");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn closed_port_refuses() {
        let addr = closed_port().unwrap();
        let err = TcpStream::connect(addr).await.expect_err("nothing listens");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn silent_server_stays_silent() {
        let server = SilentServer::start().await.unwrap();
        let mut c = TcpStream::connect(server.addr()).await.unwrap();
        let mut buf = [0u8; 1];
        let read =
            tokio::time::timeout(std::time::Duration::from_millis(50), c.read(&mut buf)).await;
        assert!(read.is_err(), "no bytes and no close");
    }

    #[tokio::test]
    async fn dropping_a_server_closes_its_port() {
        let server = SilentServer::start().await.unwrap();
        let addr = server.addr();
        drop(server);
        // The accept loop is aborted; the listener goes with it.
        tokio::task::yield_now().await;
        let err = TcpStream::connect(addr).await.expect_err("port released");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }
}
