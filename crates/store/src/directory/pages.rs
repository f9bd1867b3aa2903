//! Rendered pages of members, kept per directory version: the same viewer asking for
//! the same page of the same version gets the same text, so it is rendered once and
//! shared (no page built, no text copied per request). The memo lives inside the
//! [`Directory`] it was rendered from, so a new version starts empty and nothing
//! rendered from an older one can be served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{Seat, TeamId, UserId};

use super::{Directory, Member};
use crate::{Page, PageRequest, Scope};

/// The most text one directory version keeps rendered (about eight pages of 50
/// members); past it, pages are rendered per request as before.
pub(crate) const MAX_RENDERED_BYTES: usize = 128 * 1024;

/// What decides a rendered page: the rendering, what the viewer sees (their id, seat,
/// admin flag and team, as the session check read them with this version) and the page
/// asked for. Seat, admin flag and team follow from the id at one version; they are in
/// the key anyway, so a scope made any other way can never share another's page.
#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    rendering: &'static str,
    viewer: UserId,
    seat: Seat,
    admin: bool,
    team: Option<TeamId>,
    after: Option<String>,
    limit: u32,
}

/// The pages one directory version has rendered.
#[derive(Debug, Default)]
pub(crate) struct RenderedPages {
    inner: Mutex<Memo>,
}

#[derive(Debug, Default)]
struct Memo {
    pages: HashMap<Key, Arc<str>>,
    bytes: usize,
}

impl RenderedPages {
    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        crate::locked(&self.inner)
    }
}

impl Directory {
    /// The page of users `scope` sees, as `render` writes it; `rendering` names the
    /// rendering (one name, one way of rendering: pages are shared by name).
    pub(crate) fn rendered_users_page(
        &self,
        scope: &Scope,
        page: &PageRequest,
        rendering: &'static str,
        render: impl FnOnce(&Page<Arc<Member>>) -> String,
    ) -> Arc<str> {
        let key = Key {
            rendering,
            viewer: scope.user_id,
            seat: scope.seat,
            admin: scope.is_admin,
            team: scope.team_id,
            after: page.after.clone(),
            limit: page.limit,
        };
        if let Some(found) = self.rendered.memo().pages.get(&key) {
            return found.clone();
        }
        let text: Arc<str> = render(&self.users_page(scope, page)).into();
        let mut memo = self.rendered.memo();
        if memo.bytes + text.len() <= MAX_RENDERED_BYTES && !memo.pages.contains_key(&key) {
            memo.bytes += text.len();
            memo.pages.insert(key, text.clone());
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{OrgId, SessionId};

    fn member(org: OrgId, seat: Seat) -> crate::User {
        crate::User {
            id: UserId::new(),
            org_id: org,
            name: "Ada".into(),
            email: "ada@example.com".into(),
            seat,
            team_id: None,
            manager_id: None,
            is_admin: false,
            disabled: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn scope_of(user: &crate::User) -> Scope {
        Scope {
            org_id: user.org_id,
            user_id: user.id,
            session_id: SessionId::new(),
            seat: user.seat,
            is_admin: user.is_admin,
            team_id: user.team_id,
            name: user.name.clone(),
            email: user.email.clone(),
            directory_version: 1,
            origin: crate::Origin::default(),
        }
    }

    #[test]
    fn a_page_is_rendered_once_per_viewer_and_the_memo_is_bounded() {
        let org = OrgId::new();
        let (exec, rep) = (member(org, Seat::Executive), member(org, Seat::Rep));
        let directory = Directory::new(vec![exec.clone(), rep.clone()], Vec::new());
        let page = PageRequest {
            limit: 50,
            after: None,
        };
        let renders = std::cell::Cell::new(0);
        let render = |p: &Page<Arc<Member>>| {
            renders.set(renders.get() + 1);
            format!("{} users", p.items.len())
        };
        let (as_exec, as_rep) = (scope_of(&exec), scope_of(&rep));
        for _ in 0..3 {
            let text = directory.rendered_users_page(&as_exec, &page, "t", render);
            assert_eq!(&*text, "2 users");
            let text = directory.rendered_users_page(&as_rep, &page, "t", render);
            assert_eq!(&*text, "1 users", "a rep sees only themself");
        }
        assert_eq!(renders.get(), 2, "once per viewer");
        // Another rendering name is another page.
        directory.rendered_users_page(&as_exec, &page, "other", render);
        assert_eq!(renders.get(), 3);

        // A page past the bound is served but not kept.
        let huge = |_: &Page<Arc<Member>>| {
            renders.set(renders.get() + 1);
            "x".repeat(MAX_RENDERED_BYTES)
        };
        for _ in 0..2 {
            let text = directory.rendered_users_page(&as_exec, &page, "huge", huge);
            assert_eq!(text.len(), MAX_RENDERED_BYTES);
        }
        assert_eq!(renders.get(), 5, "rendered each time");
        assert!(directory.rendered.memo().bytes <= MAX_RENDERED_BYTES);
    }
}
