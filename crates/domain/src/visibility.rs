//! Which teams a manager manages. A manager manages the teams whose `manager_id` is
//! them and, transitively, every team nested under one of those. Cycles in the parent
//! links (which the store refuses, but data is data) cannot loop forever.

use std::collections::{HashMap, HashSet};

use crate::{TeamId, UserId};

/// One team as the visibility rule needs it.
#[derive(Clone, Copy, Debug)]
pub struct TeamEdge {
    pub id: TeamId,
    pub manager_id: Option<UserId>,
    pub parent_team_id: Option<TeamId>,
}

/// The set of teams `manager` manages, directly or through nesting.
pub fn managed_teams(teams: &[TeamEdge], manager: UserId) -> HashSet<TeamId> {
    let mut children: HashMap<TeamId, Vec<TeamId>> = HashMap::new();
    for t in teams {
        if let Some(parent) = t.parent_team_id {
            children.entry(parent).or_default().push(t.id);
        }
    }
    let mut managed = HashSet::new();
    let mut stack: Vec<TeamId> = teams
        .iter()
        .filter(|t| t.manager_id == Some(manager))
        .map(|t| t.id)
        .collect();
    while let Some(team) = stack.pop() {
        if managed.insert(team) {
            stack.extend(children.get(&team).into_iter().flatten().copied());
        }
    }
    managed
}

/// Would making `parent` the parent of `team` create a cycle?
pub fn would_cycle(teams: &[TeamEdge], team: TeamId, parent: TeamId) -> bool {
    let parents: HashMap<TeamId, TeamId> = teams
        .iter()
        .filter_map(|t| t.parent_team_id.map(|p| (t.id, p)))
        .collect();
    let mut cursor = Some(parent);
    let mut steps = 0;
    while let Some(current) = cursor {
        if current == team || steps > teams.len() {
            return true;
        }
        cursor = parents.get(&current).copied();
        steps += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_is_transitive_and_cycle_safe() {
        let (boss, other) = (UserId::new(), UserId::new());
        let (root, child, grandchild, unrelated) =
            (TeamId::new(), TeamId::new(), TeamId::new(), TeamId::new());
        let mut teams = vec![
            TeamEdge {
                id: root,
                manager_id: Some(boss),
                parent_team_id: None,
            },
            TeamEdge {
                id: child,
                manager_id: Some(other),
                parent_team_id: Some(root),
            },
            TeamEdge {
                id: grandchild,
                manager_id: None,
                parent_team_id: Some(child),
            },
            TeamEdge {
                id: unrelated,
                manager_id: Some(other),
                parent_team_id: None,
            },
        ];
        let managed = managed_teams(&teams, boss);
        assert_eq!(managed, HashSet::from([root, child, grandchild]));
        assert_eq!(
            managed_teams(&teams, other),
            HashSet::from([child, grandchild, unrelated])
        );

        assert!(would_cycle(&teams, root, grandchild));
        assert!(would_cycle(&teams, root, root));
        assert!(!would_cycle(&teams, unrelated, grandchild));
        // A corrupt cycle in stored data still terminates.
        teams[0].parent_team_id = Some(grandchild);
        assert_eq!(managed_teams(&teams, boss).len(), 3);
    }
}
