//! The demo's CRM: a HubSpot mock running inside the demo process, whose owners are the
//! demo team, connected with a private-app token and synced through the real connector,
//! sync engine and store — the same path a customer's HubSpot takes. A little of the
//! mock's data changes every few minutes, so "Sync now" has something to bring in.

use std::time::Duration;

use anyhow::Context;
use domain::crm::Provider;
use mockcrm::{Mock, MockOptions, WorldSpec};
use store::Store;
use store::crm::{AuthKind, NewConnection, Tokens};

use crate::config::{CrmConfig, ProviderConfig, Secret};

/// The demo mock's private-app token (accepted by the mock only).
const DEMO_TOKEN: &str = "static-test-token";

/// The running demo CRM. Dropping it stops the mock.
pub struct DemoCrm {
    pub mock: Mock,
    churn: tokio::task::JoinHandle<()>,
}

impl Drop for DemoCrm {
    fn drop(&mut self) {
        self.churn.abort();
    }
}

/// The world the demo's HubSpot holds: the demo managers and reps own its records.
fn world(owners: Vec<(String, String)>) -> WorldSpec {
    let mut spec = WorldSpec::sized(120, 480, 260, 2_400).with_owners(owners);
    spec.history_days = Some(90);
    spec
}

/// Start the mock; point `crm`'s HubSpot settings at it unless HubSpot is configured.
pub async fn start(crm: &mut CrmConfig, owners: Vec<(String, String)>) -> anyhow::Result<DemoCrm> {
    let mock = mockcrm::hubspot::start(world(owners), MockOptions::default())
        .await
        .context("failed to start the demo CRM")?;
    let url = mock.url();
    crm.providers
        .entry(Provider::Hubspot)
        .or_insert_with(|| ProviderConfig {
            api_url: Some(url.clone()),
            auth_url: Some(format!("{url}/oauth/authorize")),
            token_url: Some(format!("{url}/oauth/v1/token")),
            client_id: Some(mock.state.options.client_id.clone()),
            client_secret: Some(Secret::new(mock.state.options.client_secret.clone())),
        });
    let state = mock.state.clone();
    let churn = tokio::spawn(async move {
        let mut salt = 1;
        loop {
            tokio::time::sleep(Duration::from_secs(180)).await;
            state.world.churn(0.01, 0.001, salt);
            state.world.create(domain::crm::ObjectKind::Activity, 6);
            salt += 1;
        }
    });
    Ok(DemoCrm { mock, churn })
}

/// Make sure the demo organization has its HubSpot connection, pointing at this start's
/// mock; returns the connection id.
pub async fn connect(
    store: &Store,
    executive: &domain::Email,
    mock: &Mock,
) -> anyhow::Result<String> {
    let user = store
        .admin_find_user(executive)
        .await
        .context("failed to find the demo executive")?;
    let session = store
        .create_session(
            user.org_id,
            user.id,
            &store::Origin::new("127.0.0.1", "pitchside demo seed", None),
            "seed",
        )
        .await
        .context("failed to open the seeding session")?;
    let scope = store
        .authenticate(
            &user.org_id.to_string(),
            &user.id.to_string(),
            &session.session_id.to_string(),
            None,
        )
        .await
        .context("failed to authenticate the seeding session")?;
    let existing = store.list_connections(&scope).await?.into_iter().find(|c| {
        c.provider == Provider::Hubspot
            && c.auth_kind == AuthKind::Token
            && c.api_base.starts_with("http://127.0.0.1:")
    });
    let id = match existing {
        Some(c) => {
            store.repoint_connection(&scope, &c.id, &mock.url()).await?;
            c.id
        }
        None => {
            store
                .create_connection(
                    &scope,
                    NewConnection {
                        provider: Provider::Hubspot,
                        auth_kind: AuthKind::Token,
                        api_base: mock.url(),
                        tokens: Tokens {
                            access_token: DEMO_TOKEN.to_owned(),
                            refresh_token: None,
                            expires_at: None,
                        },
                        extra_scopes: Vec::new(),
                        sync_interval_secs: 15 * 60,
                        quota_share_pct: 50,
                    },
                )
                .await
                .context("failed to connect the demo CRM")?
                .id
        }
    };
    store.logout(&scope).await?;
    Ok(id)
}
