//! The console's static files, embedded in the binary and served under content-hashed names with long cache headers.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    stem: &'static str,
    extension: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        stem: "console",
        extension: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
    Asset {
        stem: "console",
        extension: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/console.js"),
    },
    Asset {
        stem: "runbook",
        extension: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/runbook.css"),
    },
    Asset {
        stem: "runbook",
        extension: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/runbook.js"),
    },
    Asset {
        stem: "integration",
        extension: "svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/integration.svg"),
    },
];

/// The served name of each asset, `stem.HASH.extension`, computed once.
fn names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = hex::encode(Sha256::digest(asset.bytes));
                format!("{}.{}.{}", asset.stem, &digest[..12], asset.extension)
            })
            .collect()
    })
}

/// The URL of the asset `stem.extension`.
pub(crate) fn url(stem: &str, extension: &str) -> String {
    let index = ASSETS.iter().position(|asset| asset.stem == stem && asset.extension == extension).unwrap_or(0);
    format!("/assets/{}", names()[index])
}

/// `GET /assets/{name}`: an embedded file by its hashed name, cached for a year.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    match names().iter().position(|served| *served == name) {
        Some(index) => {
            let asset = &ASSETS[index];
            ([(CONTENT_TYPE, asset.content_type), (CACHE_CONTROL, "public, max-age=31536000, immutable")], asset.bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// `GET /assets/catalog/{name}.svg`: the icon of a catalog entry, under the stable path its definition names as its
/// `image_url` (not content-hashed, so cached for a day only).
pub(crate) async fn catalog_icon(Path(file): Path<String>) -> Response {
    match cutover_integrations_core::integration_catalog::icon(&file) {
        Some(icon) => (
            [
                (CONTENT_TYPE, cutover_integrations_core::integration_catalog::ICON_CONTENT_TYPE),
                (CACHE_CONTROL, "public, max-age=86400"),
            ],
            icon,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such icon").into_response(),
    }
}
