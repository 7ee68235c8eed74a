//! The operators' commands, over the admin API of a running node:
//! `switchboard sessions list|show|kill`, `switchboard drain` and
//! `switchboard pins list|approve`.

mod client;
mod table;

use clap::{Args, Subcommand};
use serde_json::Value;

use client::AdminClient;

/// Where the admin API is and the token it needs.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The admin listener's base URL.
    #[arg(long = "admin", global = true, default_value = "http://127.0.0.1:8081")]
    admin: String,
    /// The admin token (default: the SWITCHBOARD_ADMIN_TOKEN variable).
    #[arg(long, global = true)]
    token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SessionsArgs {
    #[command(subcommand)]
    command: SessionsCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// The sessions live on the node, newest first.
    List {
        /// Only this tenant's sessions.
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One session in detail (its upstream processes and client too).
    Show {
        /// The session id (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// End a session now: its streams, running requests, upstream processes,
    /// record and event log.
    Kill {
        /// The session id (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PinsArgs {
    #[command(subcommand)]
    command: PinsCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum PinsCommand {
    /// An upstream's pinned tool definitions: approved, changed (with the
    /// diff of the approved and the pending definition) or new.
    List {
        /// The upstream (`[[upstreams]] name`).
        upstream: String,
    },
    /// Approve a tool's pending definition (it is served again).
    Approve {
        /// The upstream.
        upstream: String,
        /// The tool, by the upstream's own name.
        tool: String,
        /// Approve only if the pending definition's digest is this one
        /// (the one `pins list` showed).
        #[arg(long)]
        digest: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DrainArgs {
    #[command(flatten)]
    target: Target,
}

fn client(target: &Target) -> Result<AdminClient, String> {
    let token = target
        .token
        .clone()
        .or_else(|| std::env::var("SWITCHBOARD_ADMIN_TOKEN").ok())
        .filter(|t| !t.is_empty())
        .ok_or("no admin token: pass --token or set SWITCHBOARD_ADMIN_TOKEN")?;
    AdminClient::new(&target.admin, &token)
}

pub(crate) async fn sessions(args: SessionsArgs) -> Result<(), String> {
    let api = client(&args.target)?;
    match args.command {
        SessionsCommand::List { tenant, limit } => {
            let mut path = format!("/sessions?limit={limit}");
            if let Some(t) = &tenant {
                path.push_str(&format!("&tenant={t}"));
            }
            let body = api.get(&path).await?;
            print!("{}", table::sessions(&body));
        }
        SessionsCommand::Show { id } => {
            let body = api.get(&format!("/sessions/{id}")).await?;
            print!("{}", table::session(&body));
        }
        SessionsCommand::Kill { id } => {
            api.delete(&format!("/sessions/{id}")).await?;
            println!("ended session {id}");
        }
    }
    Ok(())
}

pub(crate) async fn pins(args: PinsArgs) -> Result<(), String> {
    let api = client(&args.target)?;
    match args.command {
        PinsCommand::List { upstream } => {
            let body = api.get(&format!("/upstreams/{upstream}/pins")).await?;
            print!("{}", table::pins(&body));
        }
        PinsCommand::Approve {
            upstream,
            tool,
            digest,
        } => {
            let body = match &digest {
                Some(d) => serde_json::json!({ "digest": d }),
                None => serde_json::json!({}),
            };
            let answer = api
                .post_json(&format!("/upstreams/{upstream}/pins/{tool}/approve"), &body)
                .await?;
            println!(
                "approved {upstream}/{tool} (digest {})",
                answer["approved"]["digest"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

pub(crate) async fn drain(args: DrainArgs) -> Result<(), String> {
    let api = client(&args.target)?;
    api.post("/drain").await?;
    let node: Value = api.get("/node").await?;
    println!(
        "node {} is draining: new sessions are refused (503), existing sessions keep working",
        node["node"].as_str().unwrap_or("?")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{SessionsArgs, SessionsCommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sessions: SessionsArgs,
    }

    /// A session id is base64url: one in 64 starts with `-`, and must not
    /// be taken for an option.
    #[test]
    fn a_session_id_may_start_with_a_hyphen() {
        for verb in ["show", "kill"] {
            let cli = Cli::try_parse_from(["sessions", verb, "-iX_q9"]).expect("parses");
            match cli.sessions.command {
                SessionsCommand::Show { id } | SessionsCommand::Kill { id } => {
                    assert_eq!(id, "-iX_q9")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
