//! The pages' only resources, served by scimgate itself under `/.scimgate/assets/` (on
//! every host: `/.scimgate/` is scimgate's own): one stylesheet, which holds every
//! style a page uses (the CSP allows no inline style), and the icon.

use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue};

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/.scimgate/assets/style.css";

/// Where scimgate's icon is served. Every page names it (`<link rel="icon">`), so a
/// browser showing one of scimgate's pages does not ask the route behind it for
/// `/favicon.ico`.
pub const ICON_PATH: &str = "/.scimgate/assets/favicon.svg";

/// The `<head>` links every page carries: the stylesheet and the icon.
pub const HEAD_LINKS: &str = concat!(
    "<link rel=\"stylesheet\" href=\"/.scimgate/assets/style.css\">",
    "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/.scimgate/assets/favicon.svg\">"
);

const STYLESHEET: &str = include_str!("assets/style.css");

const ICON: &str = include_str!("assets/favicon.svg");

/// The assets' routes, to be nested at `/.scimgate` with the pages' other routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/assets/style.css", get(stylesheet))
        .route("/assets/favicon.svg", get(icon))
}

/// `GET /.scimgate/assets/style.css`.
pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// `GET /.scimgate/assets/favicon.svg`.
pub async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn the_named_paths_are_served_once_nested_at_scimgates_prefix() {
        let app: Router = Router::new().nest("/.scimgate", routes());
        for (path, content_type) in [
            (STYLESHEET_PATH, "text/css; charset=utf-8"),
            (ICON_PATH, "image/svg+xml"),
        ] {
            let req = http::Request::get(path).body(Body::empty()).unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), http::StatusCode::OK, "{path}");
            assert_eq!(resp.headers()[header::CONTENT_TYPE], content_type, "{path}");
        }
    }

    #[test]
    fn head_links_name_the_served_assets() {
        assert!(HEAD_LINKS.contains(STYLESHEET_PATH));
        assert!(HEAD_LINKS.contains(ICON_PATH));
    }
}
