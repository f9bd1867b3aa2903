//! `pitchside demo`: a local instance with believable data, one command from a fresh
//! clone. It keeps its SQLite database and its signing key in a data directory, seeds
//! Northwind Analytics into an empty database, and serves over plain http on localhost
//! (the only mode where the session cookie drops `Secure` and the `__Host-` prefix).
//!
//! The seed goes through the store's real API (signup, a session, then admin calls under
//! the executive's scope), so demo data obeys the same rules as data made in the app.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use domain::{Email, PersonName, Seat};
use store::{NewSignup, NewTeam, Store};
use tokio::net::TcpListener;
use vault::sealed::{Domain, Keys};
use vault::{PasswordHasher, SigningKey};
use web::{AppState, CookieMode};

use crate::Error;
use crate::cli::DemoArgs;
use crate::config::{Config, DATABASE_URL, JWT_SECRET};
use crate::server;

/// The demo database's file name inside the data directory.
pub const DB_FILE: &str = "pitchside.db";
/// The demo sealing keys' file name inside the data directory.
pub const SEALING_KEYS_FILE: &str = "demo-sealing-keys.toml";
/// The demo signing key's file name inside the data directory.
pub const KEYS_FILE: &str = "demo-keys.toml";
/// The one password every demo account shares. Published on purpose: demo only.
pub const DEMO_PASSWORD: &str = "coach-the-pipeline-2026";
/// The demo organization.
pub const ORG_NAME: &str = "Northwind Analytics";
pub const ORG_INDUSTRY: &str = "B2B SaaS";
pub const ORG_TIME_ZONE: &str = "America/Chicago";

/// (name, email)
type Person = (&'static str, &'static str);

const EXECUTIVE: Person = ("Danielle Okafor", "danielle.okafor@northwind.example");

struct TeamSeed {
    name: &'static str,
    manager: Person,
    reps: &'static [Person],
}

const TEAMS: [TeamSeed; 3] = [
    TeamSeed {
        name: "Enterprise East",
        manager: ("Marcus Lindqvist", "marcus.lindqvist@northwind.example"),
        reps: &[
            ("Hannah Kowalski", "hannah.kowalski@northwind.example"),
            ("Jamal Washington", "jamal.washington@northwind.example"),
            ("Mei Chen", "mei.chen@northwind.example"),
            ("Tomás Herrera", "tomas.herrera@northwind.example"),
            ("Aisha Bello", "aisha.bello@northwind.example"),
        ],
    },
    TeamSeed {
        name: "Mid-Market West",
        manager: ("Priya Raman", "priya.raman@northwind.example"),
        reps: &[
            ("Ryan O'Connor", "ryan.oconnor@northwind.example"),
            ("Sofia Rossi", "sofia.rossi@northwind.example"),
            ("Kenji Watanabe", "kenji.watanabe@northwind.example"),
            ("Leila Haddad", "leila.haddad@northwind.example"),
        ],
    },
    TeamSeed {
        name: "SMB Velocity",
        manager: ("Diego Alvarez", "diego.alvarez@northwind.example"),
        reps: &[
            ("Noah Fischer", "noah.fischer@northwind.example"),
            ("Grace Mensah", "grace.mensah@northwind.example"),
            ("Arjun Patel", "arjun.patel@northwind.example"),
            ("Chloé Dubois", "chloe.dubois@northwind.example"),
        ],
    },
];

/// One demo account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoLogin {
    pub name: String,
    pub email: String,
    pub seat: Seat,
    pub is_admin: bool,
    /// The team a rep is in, or the team a manager manages.
    pub team: Option<String>,
}

/// The demo organization's accounts; every one uses [`DemoLogins::password`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoLogins {
    pub organization: String,
    pub password: String,
    /// The executive, who is also the organization's admin.
    pub executive: DemoLogin,
    /// A manager to try the manager's view with.
    pub manager: DemoLogin,
    /// A rep of that manager's team.
    pub rep: DemoLogin,
    /// Everyone: the executive, then each team's manager followed by its reps.
    pub people: Vec<DemoLogin>,
    /// Team names, in seeding order.
    pub teams: Vec<String>,
}

/// The demo accounts, as [`seed`] creates them.
pub fn demo_logins() -> DemoLogins {
    let login = |(name, email): Person, seat, is_admin, team: Option<&str>| DemoLogin {
        name: name.to_owned(),
        email: email.to_owned(),
        seat,
        is_admin,
        team: team.map(str::to_owned),
    };
    let mut people = vec![login(EXECUTIVE, Seat::Executive, true, None)];
    for team in &TEAMS {
        people.push(login(team.manager, Seat::Manager, false, Some(team.name)));
        for rep in team.reps {
            people.push(login(*rep, Seat::Rep, false, Some(team.name)));
        }
    }
    let first = &TEAMS[0];
    DemoLogins {
        organization: ORG_NAME.to_owned(),
        password: DEMO_PASSWORD.to_owned(),
        executive: login(EXECUTIVE, Seat::Executive, true, None),
        manager: login(first.manager, Seat::Manager, false, Some(first.name)),
        rep: login(first.reps[0], Seat::Rep, false, Some(first.name)),
        people,
        teams: TEAMS.iter().map(|t| t.name.to_owned()).collect(),
    }
}

fn email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|e| anyhow!("demo email {raw:?}: {e}"))
}

fn name(raw: &str) -> anyhow::Result<String> {
    PersonName::parse(raw)
        .map(PersonName::into_string)
        .map_err(|e| anyhow!("demo name {raw:?}: {e}"))
}

/// Create Northwind Analytics: an executive (the admin), three managers each managing
/// one team, and thirteen reps across those teams, all with [`DEMO_PASSWORD`]. The
/// password is hashed once, with `hasher`'s cost, and the hash shared. Fails (email
/// taken) if the demo organization already exists.
pub async fn seed(store: &Store, hasher: &PasswordHasher) -> anyhow::Result<DemoLogins> {
    let hash = hasher
        .hash(DEMO_PASSWORD)
        .await
        .context("failed to hash the demo password")?;
    let (org, executive) = store
        .signup(NewSignup {
            organization_name: ORG_NAME.to_owned(),
            industry: ORG_INDUSTRY.to_owned(),
            time_zone: ORG_TIME_ZONE.to_owned(),
            name: name(EXECUTIVE.0)?,
            email: email(EXECUTIVE.1)?,
            password_hash: hash.clone(),
            origin: store::Origin::default(),
        })
        .await
        .context("failed to create the demo organization")?;

    // Act as the executive, as an admin in the app would.
    let session = store
        .create_session(
            org.id,
            executive.id,
            &store::Origin::new("127.0.0.1", "pitchside demo seed", None),
            "seed",
        )
        .await
        .context("failed to open the seeding session")?;
    let scope = store
        .authenticate(
            &org.id.to_string(),
            &executive.id.to_string(),
            &session.session_id.to_string(),
            None,
        )
        .await
        .context("failed to authenticate the seeding session")?;

    for team in &TEAMS {
        let manager = store
            .admin_create_user(
                org.id,
                &name(team.manager.0)?,
                &email(team.manager.1)?,
                &hash,
                Seat::Manager,
                None,
                Some(executive.id),
                false,
            )
            .await
            .with_context(|| format!("failed to create demo manager {}", team.manager.1))?;
        let created = store
            .create_team(
                &scope,
                NewTeam {
                    name: team.name.to_owned(),
                    manager_id: Some(manager.id),
                    parent_team_id: None,
                },
            )
            .await
            .with_context(|| format!("failed to create demo team {}", team.name))?;
        for rep in team.reps {
            store
                .admin_create_user(
                    org.id,
                    &name(rep.0)?,
                    &email(rep.1)?,
                    &hash,
                    Seat::Rep,
                    Some(created.id),
                    Some(manager.id),
                    false,
                )
                .await
                .with_context(|| format!("failed to create demo rep {}", rep.1))?;
        }
    }

    // The seeding session has done its job; do not leave it in the executive's list.
    store
        .logout(&scope)
        .await
        .context("failed to close the seeding session")?;
    tracing::info!(org_id = %org.id, "seeded the demo organization");
    Ok(demo_logins())
}

/// Where the demo's signing key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `PITCHSIDE_JWT_SECRET` (or its file) was set.
    Configured,
    /// Read from an existing `demo-keys.toml`.
    File(PathBuf),
    /// Generated just now into `demo-keys.toml`.
    Created(PathBuf),
}

#[derive(serde::Deserialize)]
struct DemoKeys {
    jwt_secret: String,
}

/// The demo's signing key: the configured one if set, else the one in
/// `<data_dir>/demo-keys.toml`, generated there (readable by the owner only) if absent.
pub fn demo_signing_key(
    config: &Config,
    data_dir: &Path,
) -> Result<(SigningKey, KeySource), Error> {
    if config.secrets.jwt_secret.is_some() {
        return Ok((config.signing_key()?, KeySource::Configured));
    }
    let path = data_dir.join(KEYS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let keys: DemoKeys = toml::from_str(&text).map_err(|e| {
                anyhow!(
                    "{} is not a valid demo key file ({}); delete it to generate new demo keys",
                    path.display(),
                    e.message()
                )
            })?;
            let key = SigningKey::from_base64(&keys.jwt_secret).map_err(|_| {
                anyhow!(
                    "the jwt_secret in {} is not base64 of at least 32 bytes; delete the file to \
                     generate new demo keys",
                    path.display()
                )
            })?;
            Ok((key, KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = SigningKey::generate_base64();
            let key = SigningKey::from_base64(&secret)
                .map_err(|_| anyhow!("a freshly generated demo key was refused"))?;
            write_private(&path, &demo_keys_file(&secret))
                .with_context(|| format!("failed to write demo keys to {}", path.display()))?;
            Ok((key, KeySource::Created(path)))
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("failed to read demo keys from {}", path.display()))
            .into()),
    }
}

/// The demo's sealing keys (field encryption): `PITCHSIDE_KEYS_<DOMAIN>` where set,
/// otherwise the keys kept in `<data_dir>/demo-sealing-keys.toml`; keys missing from both
/// are generated and added to that file (readable by the owner only).
pub fn demo_sealing_keys(data_dir: &Path) -> Result<Keys, Error> {
    let path = data_dir.join(SEALING_KEYS_FILE);
    let stored: BTreeMap<String, String> = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is not a valid demo key file ({}); delete it to generate new demo keys \
                 (existing demo notes will no longer open)",
                path.display(),
                e.message()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("failed to read {}", path.display()))
                .into());
        }
    };
    let mut keys = Keys::from_lookup(|var| {
        std::env::var(var).ok().or_else(|| {
            Domain::ALL
                .into_iter()
                .find(|d| d.env_var() == var)
                .and_then(|d| stored.get(d.as_str()).cloned())
        })
    })
    .map_err(|e| Error::invalid(format!("{}: {e}", e.domain.env_var())))?;
    let mut generated = stored.clone();
    for domain in keys.missing() {
        if let Some(key) = keys.fill_missing(domain) {
            generated.insert(domain.as_str().to_owned(), key);
        }
    }
    if generated != stored {
        let mut text = String::from(
            "# Pitchside DEMO sealing keys (field encryption), generated by `pitchside demo`.\n\
             # FOR DEMO USE ONLY. `pitchside serve` takes its keys from PITCHSIDE_KEYS_<DOMAIN>.\n",
        );
        for (domain, key) in &generated {
            text.push_str(&format!("{domain} = \"{key}\"\n"));
        }
        let _ = std::fs::remove_file(&path);
        write_private(&path, &text)
            .with_context(|| format!("failed to write demo sealing keys to {}", path.display()))?;
    }
    Ok(keys)
}

fn demo_keys_file(secret: &str) -> String {
    format!(
        "# Pitchside DEMO signing key, generated by `pitchside demo`.\n\
         # FOR DEMO USE ONLY. Anyone who can read this file can sign in as any user of this\n\
         # demo. Never reuse it: `pitchside serve` takes its key from {JWT_SECRET}.\n\
         # Delete this file to get a new key (everyone will be signed out).\n\
         jwt_secret = \"{secret}\"\n"
    )
}

/// Create a new file only the owner can read (on Unix); never overwrite one.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// `sqlite://` URL for a file path, escaping what the URL parser would misread.
pub fn sqlite_url(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow!("the path {} is not valid UTF-8", path.display()))?;
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            c => escaped.push(c),
        }
    }
    Ok(format!("sqlite://{escaped}"))
}

/// Delete the demo database and its WAL files. Missing files are fine.
fn reset_database(db: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(file = %path.display(), "deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("failed to delete {}", path.display()))
                );
            }
        }
    }
    Ok(())
}

/// The address to put in the public URL: a wildcard bind is reached via loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn warn_demo(keys: &KeySource, bind: SocketAddr) {
    let bar = "!".repeat(78);
    let mut lines = vec!["DEMO MODE: NOT FOR PRODUCTION".to_owned(), String::new()];
    match keys {
        KeySource::Created(path) => {
            lines.push(format!(
                "Generated demo signing keys in {}.",
                path.display()
            ));
            lines
                .push("THESE KEYS ARE FOR DEMO USE ONLY: anyone who can read that file can".into());
            lines.push("sign in as any demo user. Never copy them into a real deployment.".into());
        }
        KeySource::File(path) => {
            lines.push(format!("Using demo signing keys from {}.", path.display()));
            lines
                .push("THESE KEYS ARE FOR DEMO USE ONLY: anyone who can read that file can".into());
            lines.push("sign in as any demo user. Never copy them into a real deployment.".into());
        }
        KeySource::Configured => {
            lines.push(format!("Using the signing key from {JWT_SECRET}."));
        }
    }
    lines.push("Session cookies travel over plain http without `Secure`, and every demo".into());
    lines.push(format!(
        "account shares the published password {DEMO_PASSWORD:?}."
    ));
    if !bind.ip().is_loopback() {
        lines.push(String::new());
        lines.push(format!(
            "WARNING: listening on {bind}, which is reachable from other machines."
        ));
        lines.push("Demo logins and plain-http cookies are then exposed to your network.".into());
    }
    lines.push(String::new());
    lines.push("For real use, run `pitchside serve` (see docs/configuration.md).".into());
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{bar}");
    for line in lines {
        let line = format!("!!  {line}");
        let _ = writeln!(err, "{}", line.trim_end());
    }
    let _ = writeln!(err, "{bar}");
}

/// What the demo found in its database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Data {
    /// Empty, so the demo organization was just seeded.
    Seeded,
    /// The demo organization was there already.
    Existing,
    /// Someone else's data (`PITCHSIDE_DATABASE_URL`), without the demo organization.
    Foreign,
}

fn banner(url: &str, logins: &DemoLogins, data: Data, database: &str) -> String {
    let row = |role: &str, l: &DemoLogin| {
        let team = l
            .team
            .as_deref()
            .map(|t| format!("  ({t})"))
            .unwrap_or_default();
        let line = format!("  {role:<18} {:<18} {:<36}{team}", l.name, l.email);
        format!("{}\n", line.trim_end())
    };
    let logins_block = format!(
        "Demo logins (password for all: {password}):\n{exec}{mgr}{rep}",
        password = logins.password,
        exec = row("Executive (admin)", &logins.executive),
        mgr = row("Manager", &logins.manager),
        rep = row("Rep", &logins.rep),
    );
    let body = match data {
        Data::Seeded => format!(
            "Seeded {} ({} people in {} teams) into {database}.\n\n{logins_block}",
            logins.organization,
            logins.people.len(),
            logins.teams.len()
        ),
        Data::Existing => format!(
            "Using the existing demo data in {database}; these logins work unless changed.\n\n\
             {logins_block}"
        ),
        Data::Foreign => format!(
            "Using the existing data in {database}, which has no demo organization: sign in \
             with an account of that database.\n"
        ),
    };
    format!("\nPitchside demo is running at {url}\n\n{body}\nPress Ctrl+C to stop.\n")
}

/// `pitchside demo`.
pub async fn run(config: &Config, args: DemoArgs) -> Result<(), Error> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "failed to create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let data_dir = std::fs::canonicalize(&args.data_dir).with_context(|| {
        format!(
            "failed to resolve the data directory {}",
            args.data_dir.display()
        )
    })?;

    let (url, database) = match &config.database.url {
        Some(_) if args.reset => {
            return Err(Error::invalid(format!(
                "--reset only deletes the demo's own SQLite file, but {DATABASE_URL} is set; \
                 unset it, or reset that database yourself"
            )));
        }
        Some(url) => (url.expose().to_owned(), url.redacted()),
        None => {
            let db = data_dir.join(DB_FILE);
            if args.reset {
                reset_database(&db)?;
            }
            (sqlite_url(&db)?, db.display().to_string())
        }
    };

    let (keys, key_source) = demo_signing_key(config, &data_dir)?;
    let bind = args.bind.unwrap_or(config.server.bind);
    warn_demo(&key_source, bind);

    let sealing = demo_sealing_keys(&data_dir)?;
    let store = server::connect_and_migrate(config.store_options_for(&url))
        .await?
        .with_keys(std::sync::Arc::new(sealing));
    let hasher = server::production_hasher();
    let is_empty = store
        .is_empty()
        .await
        .context("failed to inspect the database")?;
    let (logins, data) = if is_empty {
        (seed(&store, &hasher).await?, Data::Seeded)
    } else {
        let logins = demo_logins();
        let executive = email(&logins.executive.email)?;
        let data = match store.admin_find_user(&executive).await {
            Ok(_) => Data::Existing,
            Err(store::StoreError::NotFound) => Data::Foreign,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("failed to inspect the database")
                    .into());
            }
        };
        (logins, data)
    };

    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("failed to listen on {bind}"))?;
    let addr = listener
        .local_addr()
        .context("failed to read the listening address")?;
    let public_url = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", reachable(addr)));
    let web_config = config.web_config(&public_url, CookieMode::InsecureLocalDemo);

    // The demo's HubSpot: an embedded mock, synced through the real path before serving.
    let mut crm_config = config.crm.clone();
    let owners = logins
        .people
        .iter()
        .filter(|p| p.seat != Seat::Executive)
        .map(|p| (p.name.clone(), p.email.clone()))
        .collect();
    let demo_crm = crate::demo_crm::start(&mut crm_config, owners).await?;
    let synced = if data == Data::Foreign {
        None
    } else {
        crate::demo_crm::connect(&store, &email(&logins.executive.email)?, &demo_crm.mock).await?;
        let engine = sync::Engine::new(store.clone(), crm_config.sync_config(&public_url));
        let reports = engine
            .run_until_idle()
            .await
            .context("failed to sync the demo CRM")?;
        Some(reports.iter().map(|r| r.stats.total().read).sum::<u64>())
    };
    tracing::info!(%addr, %public_url, "pitchside demo is serving");
    {
        let mut out = std::io::stdout().lock();
        let mut text = banner(&public_url, &logins, data, &database);
        if let Some(n) = synced {
            let crm = format!(
                "CRM: HubSpot (an embedded mock whose owners are the demo team), {n} records \
                 synced through the real connector; a little of it changes every 3 minutes.\n\n"
            );
            if let Some(at) = text.rfind("Press Ctrl+C") {
                text.insert_str(at, &crm);
            }
        }
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
    let crm = crm_config.web_settings(&public_url);
    let state = AppState::with_crm(store.clone(), hasher, keys, web_config, crm);
    let workers = crate::workers::SyncWorkers::start(store.clone(), &crm_config, &public_url);
    let served = server::serve_until_shutdown(listener, state).await;
    workers.stop().await;
    drop(demo_crm);
    served?;
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_password_passes_the_policy_for_everyone() {
        for person in demo_logins().people {
            assert_eq!(domain::check_password(DEMO_PASSWORD, &person.email), Ok(()));
        }
    }

    #[test]
    fn the_roster_is_the_promised_shape() {
        let logins = demo_logins();
        let count = |seat| logins.people.iter().filter(|p| p.seat == seat).count();
        assert_eq!(count(Seat::Executive), 1);
        assert_eq!(count(Seat::Manager), 3);
        assert_eq!(count(Seat::Rep), 13);
        assert_eq!(logins.teams.len(), 3);
        let mut emails: Vec<&str> = logins.people.iter().map(|p| p.email.as_str()).collect();
        emails.sort_unstable();
        emails.dedup();
        assert_eq!(emails.len(), logins.people.len(), "emails are unique");
        for p in &logins.people {
            assert!(Email::parse(&p.email).is_ok(), "{}", p.email);
            assert!(p.email.ends_with("@northwind.example"), "{}", p.email);
            assert!(PersonName::parse(&p.name).is_ok(), "{}", p.name);
        }
        assert!(logins.executive.is_admin);
        assert_eq!(logins.manager.team, logins.rep.team);
    }

    #[test]
    fn sqlite_urls_escape_what_urls_would_misread() {
        let url = sqlite_url(Path::new("/tmp/a b/50%?#/pitchside.db")).expect("utf-8");
        assert_eq!(url, "sqlite:///tmp/a b/50%25%3F%23/pitchside.db");
    }

    #[test]
    fn wildcard_binds_are_reached_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(reachable(any).to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:80".parse().expect("addr");
        assert_eq!(reachable(v6).to_string(), "[::1]:80");
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pitchside-demo-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn demo_keys_are_created_once_then_reused() {
        let dir = temp_dir();
        let config = Config::default();
        let (_, first) = demo_signing_key(&config, &dir).expect("created");
        assert_eq!(first, KeySource::Created(dir.join(KEYS_FILE)));
        let text = std::fs::read_to_string(dir.join(KEYS_FILE)).expect("written");
        assert!(text.contains("FOR DEMO USE ONLY"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEYS_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the keys");
        }
        let (_, second) = demo_signing_key(&config, &dir).expect("read");
        assert_eq!(second, KeySource::File(dir.join(KEYS_FILE)));
        assert_eq!(
            std::fs::read_to_string(dir.join(KEYS_FILE)).expect("kept"),
            text
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn demo_sealing_keys_are_generated_once_and_open_what_they_sealed() {
        let dir = temp_dir();
        let ctx = vault::sealed::SealContext {
            org: "o",
            table: "notes",
            column: "body",
            row: "r",
        };
        let first = demo_sealing_keys(&dir).expect("generate");
        assert!(first.missing().is_empty());
        let sealed = first
            .ring(Domain::CoachingNotes)
            .seal(ctx, b"kept across restarts")
            .expect("seal");
        let text = std::fs::read_to_string(dir.join(SEALING_KEYS_FILE)).expect("file");
        for domain in Domain::ALL {
            assert!(
                text.contains(&format!("\n{} = \"", domain.as_str())),
                "{domain} missing from the demo key file"
            );
        }
        let second = demo_sealing_keys(&dir).expect("reload");
        assert_eq!(
            std::fs::read_to_string(dir.join(SEALING_KEYS_FILE)).expect("file"),
            text,
            "an existing file is kept as is"
        );
        assert_eq!(
            second
                .ring(Domain::CoachingNotes)
                .open(ctx, &sealed.token)
                .expect("open"),
            b"kept across restarts"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn seeding_builds_the_demo_organization_through_the_store() {
        let dir = temp_dir();
        let url = sqlite_url(&dir.join(DB_FILE)).expect("url");
        let store = server::connect_and_migrate(store::StoreOptions::new(url))
            .await
            .expect("store");
        assert!(store.is_empty().await.expect("count"));
        // A low cost keeps the test fast; `run` uses the production cost.
        let hasher = PasswordHasher::new(4, 2);
        let logins = seed(&store, &hasher).await.expect("seed");
        assert!(!store.is_empty().await.expect("count"));

        let exec = store
            .admin_find_user(&email(&logins.executive.email).expect("email"))
            .await
            .expect("executive exists");
        assert!(exec.is_admin);
        assert_eq!(exec.seat, Seat::Executive);
        let rep = store
            .admin_find_user(&email(&logins.rep.email).expect("email"))
            .await
            .expect("rep exists");
        let manager = store
            .admin_find_user(&email(&logins.manager.email).expect("email"))
            .await
            .expect("manager exists");
        assert_eq!(rep.manager_id, Some(manager.id));
        assert!(rep.team_id.is_some());
        assert!(
            hasher
                .verify(DEMO_PASSWORD, &{
                    let candidate = store
                        .login_candidate(&email(&logins.rep.email).expect("email"))
                        .await
                        .expect("lookup")
                        .expect("found");
                    candidate.password_hash
                })
                .await
        );

        // The executive sees all 17 people and 3 teams; the seeding session is gone.
        let session = store
            .create_session(exec.org_id, exec.id, &store::Origin::default(), "test")
            .await
            .expect("session");
        let scope = store
            .authenticate(
                &exec.org_id.to_string(),
                &exec.id.to_string(),
                &session.session_id.to_string(),
                None,
            )
            .await
            .expect("scope");
        let page = store::PageRequest {
            limit: 200,
            after: None,
        };
        assert_eq!(
            store
                .list_users(&scope, &page)
                .await
                .expect("users")
                .items
                .len(),
            17
        );
        let teams = store.list_teams(&scope, &page).await.expect("teams").items;
        assert_eq!(teams.len(), 3);
        assert!(teams.iter().all(|t| t.manager_id.is_some()));
        assert_eq!(
            store.list_sessions(&scope).await.expect("sessions").len(),
            1
        );

        assert!(
            seed(&store, &hasher).await.is_err(),
            "seeding twice is refused"
        );
        store.close().await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
