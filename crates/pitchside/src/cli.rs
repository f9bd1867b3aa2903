//! The command line. Settings live in the configuration (see `docs/configuration.md`),
//! not in flags: every command reads the same `PITCHSIDE_*` variables and
//! `pitchside.toml` as `serve`. Flags are only for what differs per invocation.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use domain::Seat;

/// Pitchside: a self-hostable Rep Relationship Management platform.
#[derive(Debug, Parser)]
#[command(name = "pitchside", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the production server (configuration from PITCHSIDE_* and pitchside.toml).
    Serve,
    /// Run a local demo with a seeded organization on a SQLite file. Not for production.
    Demo(DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator tasks the web app cannot do yet.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Keys: generate one, see what each sealing key protects, re-encrypt.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log: verify its hash chains, or run the retention job now.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print a pitchside.toml holding every default, with comments.
    PrintDefaultConfig,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every organization's chain (or one) and report where it breaks: an edited,
    /// deleted, inserted or reordered entry. Exits 1 if any chain is broken.
    Verify {
        /// Only this organization's chain.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<String>,
    },
    /// Delete entries older than 730 days now (the server also runs this on its own),
    /// anchoring each chain so it still verifies.
    Prune,
}

impl Command {
    /// Whether the command reads the configuration (all but the two printing commands).
    pub fn needs_config(&self) -> bool {
        !matches!(
            self,
            Command::Keys {
                command: KeysCommand::Generate
            } | Command::PrintDefaultConfig
        )
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on [default: PITCHSIDE_BIND, else 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Directory for the demo database and keys.
    #[arg(long, value_name = "DIR", default_value = "pitchside-data")]
    pub data_dir: PathBuf,
    /// Delete the demo database first, to start over with fresh demo data.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organization with its first user (an executive and admin). The password
    /// is read from standard input (one line).
    CreateOrg(CreateOrgArgs),
    /// Add a user to an existing organization. The password is read from standard input.
    CreateUser(CreateUserArgs),
    /// Set a user's password (read from standard input) and end all their sessions.
    ResetPassword(ResetPasswordArgs),
    /// End every session of a user, signing them out everywhere.
    RevokeSessions(RevokeSessionsArgs),
}

#[derive(Debug, Args)]
pub struct PasswordInput {
    /// Read the password from standard input without prompting (the default when stdin
    /// is not a terminal).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct CreateOrgArgs {
    /// The organization's name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The first user's full name.
    #[arg(long, value_name = "NAME")]
    pub admin_name: String,
    /// The first user's email, their login.
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: String,
    /// The organization's industry.
    #[arg(long, default_value = "")]
    pub industry: String,
    /// The organization's IANA time zone.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub time_zone: String,
    #[command(flatten)]
    pub password: PasswordInput,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The new user's email, their login.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// The new user's full name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The new user's seat.
    #[arg(long, value_enum)]
    pub seat: SeatArg,
    /// Make the new user an organization admin.
    #[arg(long)]
    pub admin: bool,
    /// An admin of the organization to add the user to.
    #[arg(long, value_name = "EMAIL")]
    pub org_admin_email: String,
    #[command(flatten)]
    pub password: PasswordInput,
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// The user's email.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    #[command(flatten)]
    pub password: PasswordInput,
}

#[derive(Debug, Args)]
pub struct RevokeSessionsArgs {
    /// The user's email.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random 32-byte key (url-safe base64): a Fernet key for
    /// PITCHSIDE_KEYS_<DOMAIN> (Python's `Fernet(key)` accepts it), or a
    /// PITCHSIDE_JWT_SECRET.
    Generate,
    /// For each data domain, how many sealed values each key still protects (keys from
    /// PITCHSIDE_KEYS_<DOMAIN>; the first is the primary).
    Status,
    /// Re-encrypt every value of a domain under its primary key, in batches. Safe while
    /// the app serves traffic and on several instances at once; run it again to resume.
    Reencrypt {
        /// crm_tokens, crm_records, coaching_notes, ai_insights or transcripts.
        domain: String,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

/// A seat, as typed on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeatArg {
    Executive,
    Manager,
    Rep,
}

impl From<SeatArg> for Seat {
    fn from(seat: SeatArg) -> Self {
        match seat {
            SeatArg::Executive => Seat::Executive,
            SeatArg::Manager => Seat::Manager,
            SeatArg::Rep => Seat::Rep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_flags_parse() {
        let cli = Cli::try_parse_from([
            "pitchside",
            "demo",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
            "--reset",
        ])
        .expect("parses");
        let Command::Demo(args) = cli.command else {
            panic!("not demo: {cli:?}");
        };
        assert_eq!(args.bind, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        assert!(args.reset);
        let cli = Cli::try_parse_from(["pitchside", "demo"]).expect("parses");
        let Command::Demo(args) = cli.command else {
            panic!("not demo");
        };
        assert_eq!(args.data_dir, PathBuf::from("pitchside-data"));
        assert_eq!(args.bind, None);
    }

    #[test]
    fn admin_create_user_parses_the_seat() {
        let cli = Cli::try_parse_from([
            "pitchside",
            "admin",
            "create-user",
            "--email",
            "a@b.example",
            "--name",
            "A B",
            "--seat",
            "manager",
            "--org-admin-email",
            "boss@b.example",
        ])
        .expect("parses");
        let Command::Admin {
            command: AdminCommand::CreateUser(args),
        } = cli.command
        else {
            panic!("not create-user");
        };
        assert_eq!(Seat::from(args.seat), Seat::Manager);
        assert!(!args.admin);
        assert!(
            Cli::try_parse_from(["pitchside", "admin", "create-user", "--seat", "boss"]).is_err()
        );
    }
}
