//! The admin API and dashboard of an app, on their own listener
//! (`[admin]`): served by `switchboard-ops` over the app's operations side.

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

use crate::app::App;

/// The admin routes for `app`. Without `[admin] token_sha256` no request
/// to `/admin/v1/*` is let in.
pub fn admin_router(app: App) -> Router {
    switchboard_ops::admin::admin_router(app.ops().clone())
}

/// Serve the admin API of `app` on `listener` until `shutdown` resolves,
/// holding at most `admin.max_connections` connections.
pub async fn serve_admin(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    switchboard_ops::admin::serve_admin(listener, app.ops().clone(), shutdown).await
}
