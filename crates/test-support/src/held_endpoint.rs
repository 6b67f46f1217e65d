//! A loopback endpoint that holds its one request until the test releases it: a fire kept in flight on purpose.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Starts an endpoint that accepts one request, says so on the first receiver, and answers 200 only when the sender
/// is used (or dropped). Returns its URL, the arrival and the release.
pub async fn held_endpoint() -> (String, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (arrived, arrival) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut buffer = vec![0; 64 * 1024];
        let _ = socket.read(&mut buffer).await.expect("the request");
        let _ = arrived.send(());
        let _ = released.await;
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        socket.write_all(answer.as_bytes()).await.expect("the answer");
    });
    (url, arrival, release)
}
