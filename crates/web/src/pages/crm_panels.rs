//! The CRM panels of the rep and team pages: a person's open pipeline by stage (deal
//! counts and amounts per currency), their recent activities, and their open deals
//! with no activity for [`STALE_DAYS`] days or more. Everything is read through the
//! viewer's scope, so a manager sees this for the people they manage and nobody else.

use std::collections::BTreeMap;

use domain::UserId;
use domain::crm::Amount;
use store::crm::{DealRow, StageTotal};
use store::{Scope, StoreError};

use super::common::when;
use crate::AppState;

/// An open deal with no activity for this many days is stale.
pub(crate) const STALE_DAYS: i64 = 14;
/// Activities and stale deals listed on a rep's page.
const LISTED: u32 = 10;
/// Stale deals counted per person on a team page.
const COUNTED: u32 = 500;

/// `12000.5` in `USD` as `USD 12,000.50`.
pub(crate) fn money(currency: Option<&str>, amount: Amount) -> String {
    let text = amount.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    match currency {
        Some(c) => format!("{c} {sign}{grouped}{frac}"),
        None => format!("{sign}{grouped}{frac} (no currency)"),
    }
}

fn amounts(list: &[(Option<String>, Amount)]) -> String {
    list.iter()
        .map(|(c, a)| money(c.as_deref(), *a))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Open deals of one stage.
pub(crate) struct StageItem {
    pub(crate) pipeline: String,
    pub(crate) stage: String,
    pub(crate) deals: u64,
    pub(crate) amounts: String,
}

/// A logged call, email, meeting, note or task.
pub(crate) struct ActivityItem {
    pub(crate) kind: String,
    pub(crate) when: String,
    pub(crate) subject: String,
}

/// An open deal gone quiet.
pub(crate) struct StaleItem {
    pub(crate) name: String,
    pub(crate) amount: String,
    pub(crate) stage: String,
    pub(crate) close_date: String,
    pub(crate) last_activity: String,
}

/// What the rep page shows of the CRM.
pub(crate) struct RepPanels {
    pub(crate) stages: Vec<StageItem>,
    pub(crate) open_deals: u64,
    pub(crate) open_total: String,
    pub(crate) activities: Vec<ActivityItem>,
    pub(crate) stale: Vec<StaleItem>,
    pub(crate) stale_days: i64,
}

/// Sum of open pipeline per currency, over every stage.
fn totals(stages: &[StageTotal]) -> (u64, String) {
    let mut per: BTreeMap<Option<String>, Amount> = BTreeMap::new();
    let mut deals = 0;
    for s in stages {
        deals += s.deals;
        for (c, a) in &s.amounts {
            let sum = per.entry(c.clone()).or_insert(Amount::ZERO);
            *sum = sum.saturating_add(*a);
        }
    }
    let list: Vec<(Option<String>, Amount)> = per.into_iter().collect();
    (deals, amounts(&list))
}

fn stale_item(d: DealRow) -> StaleItem {
    let amount = match d.amount.as_deref().and_then(|a| a.parse::<Amount>().ok()) {
        Some(a) => money(d.currency.as_deref(), a),
        None => "No amount".to_owned(),
    };
    StaleItem {
        amount,
        stage: d
            .stage
            .map(|s| s.label.unwrap_or(s.id))
            .unwrap_or_else(|| "No stage".to_owned()),
        close_date: d.close_date.unwrap_or_else(|| "None".to_owned()),
        last_activity: d.last_activity_at.map_or_else(|| "Never".to_owned(), when),
        name: d.name,
    }
}

fn cutoff(state: &AppState) -> i64 {
    state.store.clock().now() - STALE_DAYS * 86_400
}

/// The CRM panels of a person the viewer sees.
pub(crate) async fn rep_panels(
    state: &AppState,
    scope: &Scope,
    user: UserId,
) -> Result<RepPanels, StoreError> {
    let stages = state.store.pipeline_by_stage(scope, user).await?;
    let (open_deals, open_total) = totals(&stages);
    let activities = state.store.recent_activities(scope, user, LISTED).await?;
    let stale = state
        .store
        .stale_deals(scope, user, cutoff(state), LISTED)
        .await?;
    Ok(RepPanels {
        stages: stages
            .into_iter()
            .map(|s| StageItem {
                amounts: amounts(&s.amounts),
                pipeline: s.pipeline,
                stage: s.stage,
                deals: s.deals,
            })
            .collect(),
        open_deals,
        open_total,
        activities: activities
            .into_iter()
            .map(|a| ActivityItem {
                kind: a.activity_type,
                when: a.occurred_at.map(when).unwrap_or_default(),
                subject: a.subject.unwrap_or_default(),
            })
            .collect(),
        stale: stale.into_iter().map(stale_item).collect(),
        stale_days: STALE_DAYS,
    })
}

/// One person's open pipeline and stale deals, for the team page.
pub(crate) struct MemberPipeline {
    pub(crate) deals: u64,
    pub(crate) total: String,
    pub(crate) stale: usize,
}

/// The team page's numbers for a person the viewer sees.
pub(crate) async fn member_pipeline(
    state: &AppState,
    scope: &Scope,
    user: UserId,
) -> Result<MemberPipeline, StoreError> {
    let stages = state.store.pipeline_by_stage(scope, user).await?;
    let (deals, total) = totals(&stages);
    let stale = state
        .store
        .stale_deals(scope, user, cutoff(state), COUNTED)
        .await?
        .len();
    Ok(MemberPipeline {
        deals,
        total,
        stale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_names_the_currency() {
        let a = |s: &str| s.parse::<Amount>().expect("amount");
        assert_eq!(money(Some("USD"), a("12000.5")), "USD 12,000.50");
        assert_eq!(money(Some("EUR"), a("999")), "EUR 999.00");
        assert_eq!(money(Some("EUR"), a("-1234567.125")), "EUR -1,234,567.125");
        assert_eq!(money(None, a("100")), "100.00 (no currency)");
    }
}
