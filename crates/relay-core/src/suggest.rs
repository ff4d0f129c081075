//! "Did you mean": the closest known event names to an unknown one.

use crate::KnownEvent;

/// How many suggestions [`suggestions`] returns at most.
const MAX_SUGGESTIONS: usize = 3;

/// The Levenshtein distance between `a` and `b`: the fewest single-character insertions,
/// deletions and substitutions that turn one into the other.
///
/// ```
/// assert_eq!(relay_core::edit_distance("kitten", "sitting"), 3);
/// ```
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The known event names closest to `name`, best first: at most three, each within an edit
/// distance of a third of `name`'s length (at least 3) and at most 2 edits worse than the best
/// one. Ties keep catalog order.
///
/// ```
/// use relay_core::{suggestions, KnownEvent};
/// assert_eq!(
///     suggestions("wpcore_layer.core_reinstal.started").first(),
///     Some(&KnownEvent::CoreReinstallStarted),
/// );
/// ```
pub fn suggestions(name: &str) -> Vec<KnownEvent> {
    let threshold = (name.chars().count() / 3).max(3);
    let mut scored: Vec<(usize, KnownEvent)> = KnownEvent::ALL
        .iter()
        .map(|&known| (edit_distance(name, known.as_str()), known))
        .filter(|&(distance, _)| distance <= threshold)
        .collect();
    // Stable: equal distances keep catalog order.
    scored.sort_by_key(|&(distance, _)| distance);
    let best = scored.first().map_or(0, |&(distance, _)| distance);
    scored
        .into_iter()
        .take_while(|&(distance, _)| distance <= best + 2)
        .take(MAX_SUGGESTIONS)
        .map(|(_, known)| known)
        .collect()
}
