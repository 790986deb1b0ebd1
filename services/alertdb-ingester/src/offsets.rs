//! Which offsets may be committed: per partition, everything below the oldest message still
//! in flight.
//!
//! Writes finish out of order (several are in flight at once), but a committed offset says
//! "everything before this is archived". So each partition keeps the set of offsets it has
//! handed out and not yet seen finish; the committable position is the smallest of them, or
//! one past the last offset received when none is in flight. Offsets need not be contiguous
//! (compaction, transaction markers): only received messages count.
//!
//! A partition revoked in a rebalance is dropped; writes of the old assignment that finish
//! later carry an older generation and are ignored, so they can never move a commit.

use std::collections::{BTreeSet, HashMap};

/// A topic and partition.
pub type PartitionKey = (String, i32);

#[derive(Debug, Default)]
struct PartitionProgress {
    generation: u64,
    in_flight: BTreeSet<i64>,
    /// One past the highest offset received.
    next: Option<i64>,
    /// The last position committed (or known committed), to skip no-op commits.
    committed: Option<i64>,
}

impl PartitionProgress {
    fn committable(&self) -> Option<i64> {
        self.in_flight.first().copied().or(self.next)
    }
}

/// The ticket of one message: which partition, offset and assignment it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    generation: u64,
}

/// Progress of every assigned partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<PartitionKey, PartitionProgress>,
    generations: u64,
}

impl OffsetTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts tracking a newly assigned partition (forgetting any earlier assignment of it).
    pub fn assign(&mut self, topic: &str, partition: i32) {
        self.generations += 1;
        self.partitions.insert(
            (topic.to_owned(), partition),
            PartitionProgress {
                generation: self.generations,
                ..PartitionProgress::default()
            },
        );
    }

    /// Stops tracking a revoked partition; returns its committable position, if it moved
    /// since the last commit, so the caller can commit it before letting go.
    pub fn revoke(&mut self, topic: &str, partition: i32) -> Option<i64> {
        let progress = self.partitions.remove(&(topic.to_owned(), partition))?;
        progress
            .committable()
            .filter(|&position| Some(position) != progress.committed)
    }

    pub fn is_assigned(&self, topic: &str, partition: i32) -> bool {
        self.partitions.contains_key(&(topic.to_owned(), partition))
    }

    /// Records a received message. A message of an unknown partition (assignment not yet
    /// seen) starts tracking it.
    pub fn start(&mut self, topic: &str, partition: i32, offset: i64) -> Ticket {
        if !self.is_assigned(topic, partition) {
            self.assign(topic, partition);
        }
        let progress = self
            .partitions
            .get_mut(&(topic.to_owned(), partition))
            .expect("assigned above");
        progress.in_flight.insert(offset);
        progress.next = Some(progress.next.map_or(offset + 1, |n| n.max(offset + 1)));
        Ticket {
            topic: topic.to_owned(),
            partition,
            offset,
            generation: progress.generation,
        }
    }

    /// Records that a message is durably handled. Returns false when its partition was
    /// revoked meanwhile (the result is then ignored).
    pub fn finish(&mut self, ticket: &Ticket) -> bool {
        match self
            .partitions
            .get_mut(&(ticket.topic.clone(), ticket.partition))
        {
            Some(progress) if progress.generation == ticket.generation => {
                progress.in_flight.remove(&ticket.offset);
                true
            }
            _ => false,
        }
    }

    /// Whether `ticket` belongs to the current assignment of its partition.
    pub fn is_current(&self, ticket: &Ticket) -> bool {
        self.partitions
            .get(&(ticket.topic.clone(), ticket.partition))
            .is_some_and(|progress| progress.generation == ticket.generation)
    }

    /// The committable position of `key` once the offsets `finishing` are finished too: the
    /// smallest offset in flight outside them, or one past the last received. The index's
    /// watermark (crate::index): every offset below it is durable once they are.
    pub fn committable_after(&self, key: &PartitionKey, finishing: &BTreeSet<i64>) -> Option<i64> {
        let progress = self.partitions.get(key)?;
        progress
            .in_flight
            .iter()
            .find(|offset| !finishing.contains(offset))
            .copied()
            .or(progress.next)
    }

    /// Positions to commit now: partitions whose committable position moved.
    pub fn to_commit(&self) -> Vec<(PartitionKey, i64)> {
        let mut out: Vec<_> = self
            .partitions
            .iter()
            .filter_map(|(key, progress)| {
                let position = progress.committable()?;
                (Some(position) != progress.committed).then(|| (key.clone(), position))
            })
            .collect();
        out.sort();
        out
    }

    /// Records a successful commit.
    pub fn committed(&mut self, key: &PartitionKey, position: i64) {
        if let Some(progress) = self.partitions.get_mut(key) {
            progress.committed = Some(position);
        }
    }

    /// Messages in flight over every partition.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.in_flight.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> PartitionKey {
        ("t".to_owned(), p)
    }

    #[test]
    fn commits_never_pass_an_unfinished_message() {
        let mut tracker = OffsetTracker::new();
        tracker.assign("t", 0);
        let tickets: Vec<_> = (10..15).map(|o| tracker.start("t", 0, o)).collect();
        assert_eq!(tracker.to_commit(), vec![(key(0), 10)]);
        // Out of order: 11, 12 and 14 finish; 10 still runs.
        for i in [1, 2, 4] {
            assert!(tracker.finish(&tickets[i]));
        }
        assert_eq!(tracker.to_commit(), vec![(key(0), 10)]);
        assert!(tracker.finish(&tickets[0]));
        assert_eq!(tracker.to_commit(), vec![(key(0), 13)]);
        tracker.committed(&key(0), 13);
        assert!(tracker.to_commit().is_empty(), "no-op commits are skipped");
        assert!(tracker.finish(&tickets[3]));
        assert_eq!(tracker.to_commit(), vec![(key(0), 15)]);
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn gaps_in_offsets_do_not_block_commits() {
        let mut tracker = OffsetTracker::new();
        let a = tracker.start("t", 1, 3);
        let b = tracker.start("t", 1, 7);
        tracker.finish(&b);
        assert_eq!(tracker.to_commit(), vec![(key(1), 3)]);
        tracker.finish(&a);
        assert_eq!(tracker.to_commit(), vec![(key(1), 8)]);
    }

    #[test]
    fn the_watermark_stops_below_anything_not_in_the_batch() {
        let mut tracker = OffsetTracker::new();
        let tickets: Vec<_> = (0..6).map(|o| tracker.start("t", 0, o)).collect();
        // 0, 1 and 4 are in the batch; 2 is still being archived, 3 and 5 are buffered later.
        let batch: BTreeSet<i64> = [0, 1, 4].into();
        assert_eq!(tracker.committable_after(&key(0), &batch), Some(2));
        let all: BTreeSet<i64> = (0..6).collect();
        assert_eq!(tracker.committable_after(&key(0), &all), Some(6));
        assert_eq!(tracker.committable_after(&key(1), &all), None);
        assert!(tracker.is_current(&tickets[0]));
        tracker.revoke("t", 0);
        tracker.assign("t", 0);
        assert!(
            !tracker.is_current(&tickets[0]),
            "an older assignment's ticket"
        );
    }

    #[test]
    fn partitions_are_independent() {
        let mut tracker = OffsetTracker::new();
        let a = tracker.start("t", 0, 0);
        let _b = tracker.start("t", 1, 0);
        tracker.finish(&a);
        assert_eq!(tracker.to_commit(), vec![(key(0), 1), (key(1), 0)]);
    }

    #[test]
    fn revoked_partitions_ignore_late_results() {
        let mut tracker = OffsetTracker::new();
        let done = tracker.start("t", 0, 0);
        let late = tracker.start("t", 0, 1);
        tracker.finish(&done);
        assert_eq!(
            tracker.revoke("t", 0),
            Some(1),
            "commit what is durable first"
        );
        // Reassigned: the consumer restarts from the committed offset.
        tracker.assign("t", 0);
        assert!(
            !tracker.finish(&late),
            "the old assignment's write must not count"
        );
        let again = tracker.start("t", 0, 1);
        assert_eq!(tracker.to_commit(), vec![(key(0), 1)]);
        assert!(tracker.finish(&again));
        assert_eq!(tracker.to_commit(), vec![(key(0), 2)]);
        assert_eq!(tracker.revoke("t", 9), None);
    }
}
