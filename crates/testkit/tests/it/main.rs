//! Black-box tests of the running application: each test spawns the real server on a
//! loopback port against a fresh database, on SQLite and (when reachable, and always
//! under CI=true) on PostgreSQL.

mod auth;
mod bad_input;
mod csrf;
mod invitations;
mod notes;
mod platform;
mod rls;
mod tenancy;
mod visibility;

/// Run `body` once per available backend.
#[macro_export]
macro_rules! each_backend {
    (|$app:ident| $body:block) => {
        for backend in testkit::backends() {
            let $app = testkit::TestApp::spawn(backend).await;
            let backend_name = format!("{:?}", backend);
            let result = async { $body }.await;
            let _: () = result;
            let _ = backend_name;
        }
    };
}
