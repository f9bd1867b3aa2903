//! `pitchside admin`: what an operator needs before the web app can do it. Each command
//! checks its input with the same rules as the app (`domain::Email`, `PersonName`,
//! `check_password`), hashes at the production cost, and goes through the store's
//! `admin_*` operator paths. Passwords come from standard input, never from flags (which
//! end up in shell history and `ps`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow};
use domain::{Email, PersonName, Seat};
use store::{NewSignup, Store, StoreError, User};

use crate::Error;
use crate::cli::{
    AdminCommand, CreateOrgArgs, CreateUserArgs, PasswordInput, ResetPasswordArgs,
    RevokeSessionsArgs,
};
use crate::config::Config;
use crate::server;

/// Run one admin command.
pub async fn run(config: &Config, command: AdminCommand) -> Result<(), Error> {
    // Configuration first: a missing database URL should not cost a typed password.
    let options = config.store_options()?;
    match command {
        AdminCommand::CreateOrg(args) => create_org(options, args).await,
        AdminCommand::CreateUser(args) => create_user(options, args).await,
        AdminCommand::ResetPassword(args) => reset_password(options, args).await,
        AdminCommand::RevokeSessions(args) => revoke_sessions(options, args).await,
    }
}

fn parse_email(flag: &str, raw: &str) -> Result<Email, Error> {
    Email::parse(raw).map_err(|e| Error::invalid(format!("{flag}: {e}")))
}

fn parse_name(flag: &str, raw: &str) -> Result<String, Error> {
    PersonName::parse(raw)
        .map(PersonName::into_string)
        .map_err(|e| Error::invalid(format!("{flag}: {e}")))
}

async fn find_user(store: &Store, email: &Email) -> Result<User, Error> {
    match store.admin_find_user(email).await {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => Err(anyhow!("no user has the email {email}").into()),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("failed to look up {email}"))
            .into()),
    }
}

/// Read and check a new password for `email`, and hash it at the production cost.
async fn new_password_hash(input: &PasswordInput, email: &Email) -> Result<String, Error> {
    let password = read_password(input).await?;
    domain::check_password(&password, email.as_str()).map_err(|e| Error::invalid(e.to_string()))?;
    let hash = server::production_hasher()
        .hash(&password)
        .await
        .context("failed to hash the password")?;
    Ok(hash)
}

/// One line from standard input, without its line ending (other whitespace is part of
/// the password). Prompts on standard error when standard input is a terminal.
async fn read_password(input: &PasswordInput) -> Result<String, Error> {
    let prompt = !input.password_stdin && std::io::stdin().is_terminal();
    let line = tokio::task::spawn_blocking(move || -> std::io::Result<Option<String>> {
        if prompt {
            let mut err = std::io::stderr().lock();
            write!(
                err,
                "New password (visible as you type; pipe it in to avoid that): "
            )?;
            err.flush()?;
        }
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line)?;
        Ok((read > 0).then_some(line))
    })
    .await
    .context("failed to read the password")?
    .context("failed to read the password from standard input")?;
    let Some(mut line) = line else {
        return Err(Error::invalid(
            "no password on standard input: pipe it in, e.g. \
             `printf '%s\\n' \"$PASSWORD\" | pitchside admin … --password-stdin`",
        ));
    };
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    if line.is_empty() {
        return Err(Error::invalid("the password on standard input is empty"));
    }
    Ok(line)
}

fn conflict(e: StoreError, email: &Email) -> Error {
    match e {
        StoreError::Conflict("email_taken") => {
            Error::invalid(format!("a user with the email {email} already exists"))
        }
        other => anyhow::Error::new(other).into(),
    }
}

async fn create_org(options: store::StoreOptions, args: CreateOrgArgs) -> Result<(), Error> {
    let org_name = parse_name("--name", &args.name)?;
    let admin_name = parse_name("--admin-name", &args.admin_name)?;
    let email = parse_email("--admin-email", &args.admin_email)?;
    let industry = args.industry.trim().to_owned();
    if industry.chars().count() > 200 || industry.chars().any(char::is_control) {
        return Err(Error::invalid(
            "--industry: must be at most 200 plain characters",
        ));
    }
    let time_zone = args.time_zone.trim().to_owned();
    if time_zone.is_empty()
        || time_zone.len() > 64
        || time_zone
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(
            "--time-zone: must be an IANA time zone name such as Europe/Berlin",
        ));
    }
    let hash = new_password_hash(&args.password, &email).await?;
    let store = server::connect(options).await?;
    let (org, user) = store
        .signup(NewSignup {
            organization_name: org_name,
            industry,
            time_zone,
            name: admin_name,
            email: email.clone(),
            password_hash: hash,
            origin: store::Origin::default(),
        })
        .await
        .map_err(|e| conflict(e, &email))?;
    store
        .audit_operator(
            Some(&org.id.to_string()),
            "admin.org_created",
            serde_json::json!({ "admin_user_id": user.id.to_string() }),
        )
        .await
        .map_err(anyhow::Error::from)?;
    store.close().await;
    println!(
        "Created organization {:?} ({}) with admin {} ({}).",
        org.name, org.id, user.email, user.id
    );
    Ok(())
}

async fn create_user(options: store::StoreOptions, args: CreateUserArgs) -> Result<(), Error> {
    let email = parse_email("--email", &args.email)?;
    let name = parse_name("--name", &args.name)?;
    let admin_email = parse_email("--org-admin-email", &args.org_admin_email)?;
    let seat = Seat::from(args.seat);
    let store = server::connect(options).await?;
    let admin = find_user(&store, &admin_email).await?;
    if !admin.is_admin {
        return Err(Error::invalid(format!(
            "--org-admin-email: {admin_email} is not an admin of their organization"
        )));
    }
    let hash = new_password_hash(&args.password, &email).await?;
    let user = store
        .admin_create_user(
            admin.org_id,
            &name,
            &email,
            &hash,
            seat,
            None,
            None,
            args.admin,
        )
        .await
        .map_err(|e| conflict(e, &email))?;
    store.close().await;
    println!(
        "Created {} {} ({}){} in organization {}.",
        user.seat,
        user.email,
        user.id,
        if user.is_admin { ", an admin," } else { "" },
        user.org_id
    );
    Ok(())
}

async fn reset_password(
    options: store::StoreOptions,
    args: ResetPasswordArgs,
) -> Result<(), Error> {
    let email = parse_email("--email", &args.email)?;
    let store = server::connect(options).await?;
    let user = find_user(&store, &email).await?;
    let hash = new_password_hash(&args.password, &email).await?;
    store
        .admin_set_password(&user, &hash)
        .await
        .with_context(|| format!("failed to set the password of {email}"))?;
    store.close().await;
    println!("Set a new password for {email} and signed them out of every session.");
    Ok(())
}

async fn revoke_sessions(
    options: store::StoreOptions,
    args: RevokeSessionsArgs,
) -> Result<(), Error> {
    let email = parse_email("--email", &args.email)?;
    let store = server::connect(options).await?;
    let user = find_user(&store, &email).await?;
    let revoked = store
        .admin_revoke_sessions(&user)
        .await
        .with_context(|| format!("failed to revoke the sessions of {email}"))?;
    store.close().await;
    println!(
        "Revoked {revoked} active session{} of {email}.",
        if revoked == 1 { "" } else { "s" }
    );
    Ok(())
}
