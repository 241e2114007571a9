//! Ownership: who manages which fields, how an update moves fields to its manager, how an apply
//! merges, conflicts and prunes — structured-merge-diff's `merge.Updater`.
//!
//! Every manager's set is taken to be at the object's API version (kindling serves each resource
//! at one version, so no conversion between versions is needed).

use super::fieldpath::{values_equal, Path, Set};
use super::typed::{self, Comparison, Errors};
use super::types::Ty;
use serde_json::Value;
use std::collections::BTreeMap;

/// A manager's fields: the set, the API version it was recorded at, and whether by an apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedSet {
    pub set: Set,
    pub api_version: String,
    pub applied: bool,
}

/// Managers by identifier (upstream's JSON identifier: manager, operation, apiVersion for
/// updates, subresource).
pub type ManagedFields = BTreeMap<String, VersionedSet>;

/// A field owned by another manager that the operation would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

#[derive(Debug)]
pub enum UpdateError {
    Conflicts(Vec<Conflict>),
    /// The objects do not fit their schema (e.g. a list item without its keys).
    Invalid(Errors),
}

impl From<Errors> for UpdateError {
    fn from(e: Errors) -> UpdateError {
        UpdateError::Invalid(e)
    }
}

/// Fields that never change ownership (reset by the resource's strategy, e.g. `status` on the
/// main resource): removed from every set and comparison.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub exclude: Set,
}

impl Filter {
    pub fn apply(&self, s: &Set) -> Set {
        if self.exclude.is_empty() {
            s.clone()
        } else {
            s.recursive_difference(&self.exclude)
        }
    }

    fn apply_comparison(&self, c: Comparison) -> Comparison {
        Comparison {
            added: self.apply(&c.added),
            modified: self.apply(&c.modified),
            removed: self.apply(&c.removed),
        }
    }
}

pub struct Updater<'a> {
    pub ty: Ty,
    pub filter: &'a Filter,
}

impl Updater<'_> {
    /// Compares the objects; fields changed that other managers own are conflicts (moved to
    /// nobody with `force`); removed fields leave every set.
    fn update(
        &self,
        old: &Value,
        new: &Value,
        managers: &mut ManagedFields,
        workflow: &str,
        force: bool,
    ) -> Result<Comparison, UpdateError> {
        let (old, new) = (
            typed::normalize(old, &self.ty),
            typed::normalize(new, &self.ty),
        );
        let compare = self
            .filter
            .apply_comparison(typed::compare(&old, &new, &self.ty)?);
        let mut conflicts: Vec<(String, Set)> = Vec::new();
        // Only another manager's fields can conflict (none on a create): the union of what
        // changed is made only when there is one.
        if managers.keys().any(|manager| manager != workflow) {
            let changed = compare.modified.union(&compare.added);
            for (manager, vs) in managers.iter() {
                if manager == workflow {
                    continue;
                }
                let c = vs.set.intersection(&changed);
                if !c.is_empty() {
                    conflicts.push((manager.clone(), c));
                }
            }
        }
        if !force && !conflicts.is_empty() {
            let list = conflicts
                .into_iter()
                .flat_map(|(manager, set)| {
                    set.paths().into_iter().map(move |path| Conflict {
                        manager: manager.clone(),
                        path,
                    })
                })
                .collect();
            return Err(UpdateError::Conflicts(list));
        }
        for (manager, c) in conflicts {
            if let Some(vs) = managers.get_mut(&manager) {
                vs.set = vs.set.difference(&c);
            }
        }
        if !compare.removed.is_empty() {
            for (manager, vs) in managers.iter_mut() {
                if manager != workflow {
                    vs.set = vs.set.difference(&compare.removed);
                }
            }
        }
        managers.retain(|_, vs| !vs.set.is_empty());
        Ok(compare)
    }

    /// An update (create, update, patch) by `manager`: it takes the fields it changed.
    pub fn update_op(
        &self,
        live: &Value,
        new: &Value,
        version: &str,
        managers: &mut ManagedFields,
        manager: &str,
    ) -> Result<(), UpdateError> {
        let compare = self.update(live, new, managers, manager, true)?;
        let set = match managers.get(manager) {
            // The manager's first update (a create): what it changed, filtered already.
            None => compare.modified.union(&compare.added),
            Some(previous) => self.filter.apply(
                &previous
                    .set
                    .difference(&compare.removed)
                    .union(&compare.modified)
                    .union(&compare.added),
            ),
        };
        if set.is_empty() {
            managers.remove(manager);
        } else {
            managers.insert(
                manager.to_string(),
                VersionedSet {
                    set,
                    api_version: version.to_string(),
                    applied: false,
                },
            );
        }
        Ok(())
    }

    /// An apply of `config` by `manager`: merges it, removes what the manager applied before
    /// and no longer applies (unless someone else owns it), and takes ownership of what it
    /// applies. `Ok(None)` when the object does not change.
    pub fn apply_op(
        &self,
        live: &Value,
        config: &Value,
        version: &str,
        managers: &mut ManagedFields,
        manager: &str,
        force: bool,
    ) -> Result<Option<Value>, UpdateError> {
        let merged = typed::merge(live, config, &self.ty)?;
        let last = managers.get(manager).map(|vs| vs.set.clone());
        let set = self.filter.apply(&typed::to_field_set(config, &self.ty)?);
        managers.insert(
            manager.to_string(),
            VersionedSet {
                set,
                api_version: version.to_string(),
                applied: true,
            },
        );
        let new = match last {
            Some(last) if !last.is_empty() => self.prune(&merged, managers, &last),
            _ => merged,
        };
        self.update(live, &new, managers, manager, force)?;
        Ok((!values_equal(live, &new)).then_some(new))
    }

    /// Removes from `merged` what `last` (the manager's previous apply) had and nobody owns now.
    fn prune(&self, merged: &Value, managers: &ManagedFields, last: &Set) -> Value {
        let ty = &self.ty;
        let ensure = |s: &Set| typed::ensure_named_fields_are_members(s, ty);
        let last = ensure(last);
        let pruned = typed::remove_items(merged, &last, ty, false);
        // Add back what anyone (the new apply included) owns.
        let owned = managers
            .values()
            .fold(Set::new(), |acc, vs| acc.union(&vs.set));
        let merged_set = ensure(&typed::to_field_set_lenient(merged, ty));
        let pruned_set = ensure(&typed::to_field_set_lenient(&pruned, ty));
        let pruned = typed::remove_items(
            merged,
            &merged_set.difference(&pruned_set.union(&ensure(&owned))),
            ty,
            false,
        );
        // Only what the manager had applied is removed in the end.
        let pruned_set = ensure(&typed::to_field_set_lenient(&pruned, ty));
        let remove = merged_set.difference(&pruned_set).intersection(&last);
        typed::remove_items(merged, &remove, ty, true)
    }
}
