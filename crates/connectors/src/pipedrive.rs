//! Pipedrive: to be written (see crates/connectors/src/lib.rs for the contract).

use domain::crm::ObjectKind;

use crate::{Batch, Checkpoint, ConnectorError, Credentials, Http, HttpOptions};

/// A read-only Pipedrive client for one connection.
pub struct Client {
    http: Http,
}

impl Client {
    pub fn new(
        _api_base: &str,
        _credentials: &Credentials,
        _options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Err(ConnectorError::Config("not implemented yet".into()))
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn fetch(
        &self,
        _kind: ObjectKind,
        _checkpoint: &Checkpoint,
    ) -> Result<Batch, ConnectorError> {
        Err(ConnectorError::Config("not implemented yet".into()))
    }
}
