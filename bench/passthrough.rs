//! The ladder's floor: a minimal HTTP/1.1 pass-through proxy built from the same
//! hyper, hyper-util and tokio as scimgate, with nothing else: one worker thread, a
//! pooled keep-alive client, the request forwarded as it came (path and headers), the
//! response streamed back. `bench/proxy/run` runs it pinned like the other servers:
//!
//! ```text
//! SCIMGATE_LADDER_COUNTER=127.0.0.1:18499 target/release/deps/passthrough-… \
//!     127.0.0.1:18487 http://127.0.0.1:18481
//! ```
//!
//! Allocations are counted as for the ladder (`ladder/counter.rs`).

use std::convert::Infallible;
use std::process::ExitCode;

use http::uri::{PathAndQuery, Uri};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[path = "ladder/counter.rs"]
mod counter;

type Body = http_body_util::Either<Incoming, http_body_util::Empty<bytes::Bytes>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream] = args.as_slice() else {
        eprintln!("usage: passthrough <listen address> <upstream base URL>");
        return ExitCode::FAILURE;
    };
    let upstream: Uri = match upstream.parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("passthrough: upstream {upstream}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = counter::from_env() {
        eprintln!("passthrough: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("passthrough: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, upstream)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passthrough: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listen: &str, upstream: Uri) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let client = client.clone();
                let upstream = upstream.clone();
                async move { Ok::<_, Infallible>(pass(&client, &upstream, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn pass(
    client: &Client<HttpConnector, Incoming>,
    upstream: &Uri,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let mut parts = upstream.clone().into_parts();
    parts.path_and_query = req
        .uri()
        .path_and_query()
        .cloned()
        .or(Some(PathAndQuery::from_static("/")));
    match Uri::from_parts(parts) {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return status(StatusCode::BAD_REQUEST),
    }
    match client.request(req).await {
        Ok(resp) => resp.map(Body::Left),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Right(http_body_util::Empty::new()));
    *resp.status_mut() = code;
    resp
}
