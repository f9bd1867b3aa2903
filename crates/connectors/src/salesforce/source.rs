//! Which Salesforce object each kind is read from, and which fields.

use domain::crm::ObjectKind;

/// Where a row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    User,
    Stage,
    Account,
    Contact,
    Opportunity,
    Task,
    Event,
}

impl Source {
    /// The object read for `kind` in `phase` (activities: Tasks, then Events).
    pub fn of(kind: ObjectKind, phase: u8) -> Self {
        match (kind, phase) {
            (ObjectKind::Owner, _) => Source::User,
            (ObjectKind::Pipeline, _) => Source::Stage,
            (ObjectKind::Company, _) => Source::Account,
            (ObjectKind::Contact, _) => Source::Contact,
            (ObjectKind::Deal, _) => Source::Opportunity,
            (ObjectKind::Activity, 0) => Source::Task,
            (ObjectKind::Activity, _) => Source::Event,
        }
    }

    /// The SOQL object name.
    pub fn object(self) -> &'static str {
        match self {
            Source::User => "User",
            Source::Stage => "OpportunityStage",
            Source::Account => "Account",
            Source::Contact => "Contact",
            Source::Opportunity => "Opportunity",
            Source::Task => "Task",
            Source::Event => "Event",
        }
    }

    /// The fields read (`currency`: with `CurrencyIsoCode`, multi-currency orgs only).
    pub fn fields(self, currency: bool) -> &'static str {
        match self {
            Source::User => "Id, Name, FirstName, LastName, Email, IsActive, SystemModstamp",
            Source::Stage => {
                "Id, ApiName, MasterLabel, SortOrder, DefaultProbability, IsActive, IsClosed, IsWon, SystemModstamp"
            }
            Source::Account => "Id, Name, Website, Industry, OwnerId, CreatedDate, SystemModstamp",
            Source::Contact => {
                "Id, Name, FirstName, LastName, Email, Phone, Title, AccountId, OwnerId, CreatedDate, SystemModstamp"
            }
            Source::Opportunity if currency => {
                "Id, Name, AccountId, OwnerId, StageName, Amount, CurrencyIsoCode, CloseDate, IsClosed, IsWon, ForecastCategoryName, NextStep, CreatedDate, SystemModstamp, (SELECT ContactId FROM OpportunityContactRoles), (SELECT StageName, CreatedDate FROM OpportunityHistories ORDER BY CreatedDate)"
            }
            Source::Opportunity => {
                "Id, Name, AccountId, OwnerId, StageName, Amount, CloseDate, IsClosed, IsWon, ForecastCategoryName, NextStep, CreatedDate, SystemModstamp, (SELECT ContactId FROM OpportunityContactRoles), (SELECT StageName, CreatedDate FROM OpportunityHistories ORDER BY CreatedDate)"
            }
            Source::Task => {
                "Id, Subject, Description, TaskSubtype, ActivityDate, CompletedDateTime, CallDurationInSeconds, CallDisposition, CallType, WhoId, WhatId, AccountId, OwnerId, CreatedDate, SystemModstamp"
            }
            Source::Event => {
                "Id, Subject, Description, EventSubtype, StartDateTime, EndDateTime, DurationInMinutes, WhoId, WhatId, AccountId, OwnerId, CreatedDate, SystemModstamp"
            }
        }
    }
}
