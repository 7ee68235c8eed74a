//! `switchboard keys new`: mint an API key for a tenant, or the admin
//! token (`--admin`).

use clap::{Args, Subcommand};

/// Manage API keys.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a fresh API key once, and the line to add to the tenant's
    /// `api_keys` in the configuration (only the key's SHA-256 is stored).
    New {
        /// The tenant the key belongs to.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// Mint the admin API's token instead (`[admin] token_sha256`).
        #[arg(long)]
        admin: bool,
        /// A name for the key within the tenant (the principal's subject).
        #[arg(long, default_value = "default")]
        id: String,
    },
}

pub(crate) fn run(args: KeysArgs) -> Result<(), String> {
    match args.command {
        KeysCommand::New { admin: true, .. } => {
            let (key, digest) = switchboard_auth::new_api_key();
            println!("Admin token (shown once; keep it secret):\n\n    {key}\n");
            println!("Add to the configuration (or set SWITCHBOARD_ADMIN__TOKEN_SHA256):\n");
            println!("    [admin]\n    token_sha256 = \"{digest}\"\n");
            println!("The CLI reads the token from --token or SWITCHBOARD_ADMIN_TOKEN.");
            Ok(())
        }
        KeysCommand::New { tenant, id, .. } => {
            let tenant = tenant.unwrap_or_default();
            let (key, digest) = switchboard_auth::new_api_key();
            println!("API key for tenant {tenant:?} (shown once; keep it secret):\n\n    {key}\n");
            println!("Add to the [[tenants]] entry with id = {tenant:?}:\n");
            println!("    api_keys = [{{ id = {id:?}, sha256 = \"{digest}\" }}]");
            Ok(())
        }
    }
}
