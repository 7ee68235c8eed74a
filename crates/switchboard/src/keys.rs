//! `switchboard keys new`: mint an API key for a tenant.

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
        #[arg(long)]
        tenant: String,
        /// A name for the key within the tenant (the principal's subject).
        #[arg(long, default_value = "default")]
        id: String,
    },
}

pub(crate) fn run(args: KeysArgs) -> Result<(), String> {
    match args.command {
        KeysCommand::New { tenant, id } => {
            let (key, digest) = switchboard_auth::new_api_key();
            println!("API key for tenant {tenant:?} (shown once; keep it secret):\n\n    {key}\n");
            println!("Add to the [[tenants]] entry with id = {tenant:?}:\n");
            println!("    api_keys = [{{ id = {id:?}, sha256 = \"{digest}\" }}]");
            Ok(())
        }
    }
}
