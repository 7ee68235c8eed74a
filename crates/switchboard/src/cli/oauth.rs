//! `switchboard oauth hash-password`: the argon2 hash of a local user's
//! password, for `[[oauth.users]] password_hash`.

use std::io::BufRead;

use clap::{Args, Subcommand};

/// Switchboard's own authorization server.
#[derive(Debug, Args)]
pub(crate) struct OauthArgs {
    #[command(subcommand)]
    command: OauthCommand,
}

#[derive(Debug, Subcommand)]
enum OauthCommand {
    /// Read a password from the first line of stdin and print its argon2id
    /// hash (a PHC string) for `[[oauth.users]] password_hash`.
    HashPassword,
}

pub(crate) fn run(args: OauthArgs) -> Result<(), String> {
    match args.command {
        OauthCommand::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err("give the password on stdin (one line)".into());
            }
            println!("{}", switchboard_oauth::hash_password(password)?);
            Ok(())
        }
    }
}
