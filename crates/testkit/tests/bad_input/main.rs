//! Bad input, front by front: every case gets its exact HTTP status and
//! JSON-RPC error code (and a message saying what was wrong), never a
//! panic or a hang, and the server serves a good request after each.
//!
//! Each front's table is one function returning its cases, one line each,
//! so the whole contract reads as a table (`cargo nextest run -p
//! switchboard-testkit --test e2e bad_input::the_whole_table --no-capture`
//! prints it):
//! - [`session`]: the session era on `/mcp` (POST, GET, DELETE);
//! - [`stateless`]: the stateless era (2026-07-28) on `/mcp`;
//! - [`legacy_sse`]: 2024-11-05 HTTP+SSE (`/sse`, `/messages`);
//! - [`stdio`]: the stdio front;
//! - [`principals`]: credentials, session binding, scopes, rates and
//!   byte budgets, on every HTTP front;
//! - [`connections`]: raw HTTP (repeated `Host`/`Origin`, framing) and
//!   the connection caps.

mod connections;
mod legacy_sse;
mod principals;
mod session;
mod stateless;
mod stdio;
mod table;

use std::collections::HashSet;

/// The cases of every front: (front, its rows, their names).
fn every_table() -> Vec<(&'static str, Vec<String>, Vec<&'static str>)> {
    fn of<C, R>(
        front: &'static str,
        cases: Vec<table::Case<C, R>>,
    ) -> (&'static str, Vec<String>, Vec<&'static str>) {
        let rows = cases.iter().map(|c| c.row(front)).collect();
        (front, rows, cases.iter().map(|c| c.name).collect())
    }
    vec![
        of("session", session::cases()),
        of("stateless", stateless::cases()),
        of("http+sse", legacy_sse::cases()),
        of("stdio", stdio::cases()),
        of("principal", principals::cases()),
        of("raw", connections::cases()),
    ]
}

#[test]
fn the_whole_table() {
    let tables = every_table();
    println!("{:<10} {:>5} {:>7}  case", "front", "HTTP", "code");
    let mut total = 0;
    for (front, rows, names) in &tables {
        for row in rows {
            println!("{row}");
        }
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{front}: case names are unique");
        total += rows.len();
    }
    println!("{total} cases");
    assert!(total >= 60, "{total} cases");
}

#[tokio::test]
async fn session_era() {
    let ctx = session::Ctx::start().await;
    table::run(&ctx, &session::cases()).await;
}

#[tokio::test]
async fn stateless_era() {
    let ctx = stateless::Ctx::start().await;
    table::run(&ctx, &stateless::cases()).await;
}

#[tokio::test]
async fn http_sse_2024_11_05() {
    let ctx = legacy_sse::Ctx::start().await;
    table::run(&ctx, &legacy_sse::cases()).await;
}

#[tokio::test]
async fn stdio_front() {
    let ctx = stdio::Ctx::start().await;
    ctx.run(&stdio::cases()).await;
    ctx.close().await;
}

#[tokio::test]
async fn principals() {
    let ctx = principals::Ctx::start().await;
    table::run(&ctx, &principals::cases()).await;
}

#[tokio::test]
async fn raw_http_and_connection_caps() {
    let ctx = connections::Ctx::start().await;
    ctx.run(&connections::cases()).await;
}
