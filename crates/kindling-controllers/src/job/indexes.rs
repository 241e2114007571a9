//! Completion indexes of Indexed Jobs (upstream's indexed_job_utils): sets of indexes kept as
//! ordered intervals, written as `status.completedIndexes`/`failedIndexes` are (`1,3-5,7`),
//! the index a pod carries, and which indexes still need a pod. No IO.

use k8s_openapi::api::core::v1::Pod;

/// The annotation (and, since upstream's PodIndexLabel, the label) with a pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// How many times the pod's index failed before this pod (backoffLimitPerIndex).
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// How many failures of the index a podFailurePolicy `Ignore` rule did not count.
pub const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// A closed range of indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub first: i32,
    pub last: i32,
}

/// Disjoint, non-adjacent intervals in increasing order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intervals(pub Vec<Interval>);

impl Intervals {
    /// Parses `1,3-5`, ignoring malformed parts and indexes at or above `completions`, as
    /// upstream does with a status written by someone else.
    pub fn parse(s: &str, completions: i32) -> Intervals {
        let mut out: Vec<Interval> = Vec::new();
        if s.is_empty() {
            return Intervals(out);
        }
        for part in s.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i32>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                None => first,
                Some(l) => match l.parse::<i32>() {
                    Ok(l) => l.min(completions - 1),
                    Err(_) => continue,
                },
            };
            match out.last_mut() {
                Some(prev) if prev.last + 1 == first => prev.last = last,
                _ => out.push(Interval { first, last }),
            }
        }
        Intervals(out)
    }

    /// These intervals with `indexes` (increasing) added.
    pub fn with(&self, indexes: &[i32]) -> Intervals {
        let mut all: Vec<Interval> = self.0.clone();
        all.extend(indexes.iter().map(|&i| Interval { first: i, last: i }));
        all.sort_by_key(|iv| iv.first);
        let mut out: Vec<Interval> = Vec::new();
        for iv in all {
            match out.last_mut() {
                Some(prev) if iv.first <= prev.last + 1 => prev.last = prev.last.max(iv.last),
                _ => out.push(iv),
            }
        }
        Intervals(out)
    }

    pub fn total(&self) -> i32 {
        self.0.iter().map(|iv| iv.last - iv.first + 1).sum()
    }

    pub fn has(&self, ix: i32) -> bool {
        self.0.iter().any(|iv| iv.first <= ix && ix <= iv.last)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Intervals {
    /// `0-2,4,6,7`: two adjacent indexes are written with a comma, as upstream.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, iv) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", iv.first)?;
            if iv.last == iv.first + 1 {
                write!(f, ",{}", iv.last)?;
            } else if iv.last > iv.first {
                write!(f, "-{}", iv.last)?;
            }
        }
        Ok(())
    }
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The pod's completion index, from its annotation; `None` when missing or malformed.
pub fn of(pod: &Pod) -> Option<i32> {
    annotation(pod, COMPLETION_INDEX)?
        .parse::<i32>()
        .ok()
        .filter(|i| *i >= 0)
}

/// The index failure count the pod carries (0 without the annotation).
pub fn failure_count(pod: &Pod) -> i32 {
    annotation(pod, INDEX_FAILURE_COUNT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The ignored failure count the pod carries (0 without the annotation).
pub fn ignored_failure_count(pod: &Pod) -> i32 {
    annotation(pod, INDEX_IGNORED_FAILURE_COUNT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The first `count` indexes below `completions` that are neither done (`done`) nor held by
/// an active pod (upstream's firstPendingIndexes).
pub fn first_pending(active: &[i32], done: &Intervals, count: usize, completions: i32) -> Vec<i32> {
    let mut active = active.to_vec();
    active.sort_unstable();
    active.dedup();
    let taken = done.with(&active);
    (0..completions)
        .filter(|ix| !taken.has(*ix))
        .take(count)
        .collect()
}

/// `<job>-<index>-`, the job's part cut so the whole fits upstream's generated-name limit.
pub fn generate_name(job: &str, index: i32) -> String {
    const MAX_GENERATED_NAME_LENGTH: usize = 58;
    let suffix = format!("-{index}-");
    let mut prefix = format!("{job}{suffix}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let keep = MAX_GENERATED_NAME_LENGTH - suffix.len();
        prefix = format!("{}{suffix}", &job[..keep.min(job.len())]);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_merge_and_print_like_upstream() {
        // (status string, completions, added, printed, total)
        let cases: &[(&str, i32, &[i32], &str, i32)] = &[
            ("", 5, &[], "", 0),
            ("", 5, &[0, 1], "0,1", 2),
            ("1,3-5", 10, &[2], "1-5", 5),
            ("1,3-5", 10, &[7, 8, 9], "1,3-5,7-9", 7),
            ("0-9", 5, &[], "0-4", 5),
            ("x,2,6", 5, &[], "2", 1),
            ("0,2", 5, &[1], "0-2", 3),
        ];
        for (status, completions, added, printed, total) in cases {
            let got = Intervals::parse(status, *completions).with(added);
            assert_eq!(got.to_string(), *printed, "{status} + {added:?}");
            assert_eq!(got.total(), *total, "{status} + {added:?}");
        }
    }

    #[test]
    fn pending_indexes_skip_done_and_active_ones() {
        let done = Intervals::parse("0,3-4", 10);
        assert_eq!(first_pending(&[1], &done, 3, 10), [2, 5, 6]);
        assert_eq!(first_pending(&[], &done, 10, 6), [1, 2, 5]);
        assert!(first_pending(&[0, 1, 2], &Intervals::default(), 0, 3).is_empty());
    }

    #[test]
    fn generated_names_keep_the_index() {
        assert_eq!(generate_name("pi", 3), "pi-3-");
        let long = "a".repeat(70);
        let name = generate_name(&long, 12);
        assert_eq!(name.len(), 58);
        assert!(name.ends_with("a-12-"));
    }
}
