//! Sequence numbers, and the ways a gap between them shows.
//!
//! The writer numbers its lines `seq`, one more each line. `seq` is an
//! `i64`: `i64::MAX` is a valid seq, and nothing can follow it, so every
//! "next seq" here is a `checked_add` and never wraps.

use std::fmt;

/// The `seq` that must follow `seq`, if there can be one.
pub(crate) fn after(seq: i64) -> Option<i64> {
    seq.checked_add(1)
}

/// How the loss of events showed. Carried by
/// [`Error::OutOfSync`](crate::Error::OutOfSync) with the event that
/// revealed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Gap {
    /// The event's `seq` is not `previous + 1`.
    Skipped {
        /// The `seq` of the event read before it.
        previous: i64,
    },
    /// Resuming after `resume`: the file's run of `seq`s ends before it
    /// gets there (the writer restarted and numbering began again).
    EndsEarly {
        /// The `seq` reading resumed after.
        resume: i64,
    },
    /// Resuming after `resume`: the line under that `seq` is not the line
    /// read before (the writer restarted and numbering began again).
    Rewritten {
        /// The `seq` reading resumed after.
        resume: i64,
    },
    /// Resuming from a position in a file that is gone, from which no event
    /// had been read yet: whatever it held after that position was lost.
    Unproven,
    /// The changelog was rotated before any event was read: with no `seq`
    /// to check the next one against, a file that came and went unseen in
    /// between cannot be ruled out.
    Missed,
}

impl Gap {
    /// The `seq` that should have come next, where one is known.
    pub fn expected(&self) -> Option<i64> {
        match *self {
            Gap::Skipped { previous } => after(previous),
            Gap::EndsEarly { resume } | Gap::Rewritten { resume } => after(resume),
            Gap::Unproven | Gap::Missed => None,
        }
    }

    /// Says what happened, given the revealing event's `seq`.
    pub fn describe(&self, seq: i64) -> impl fmt::Display + '_ {
        Describe(self, seq)
    }
}

struct Describe<'a>(&'a Gap, i64);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Describe(gap, seq) = *self;
        match *gap {
            Gap::Skipped { previous } => match after(previous) {
                Some(expected) => write!(f, "expected seq {expected} but read seq {seq}"),
                None => write!(
                    f,
                    "read seq {seq} after seq {previous}, the largest a seq can be \
                     (the writer restarted)"
                ),
            },
            Gap::EndsEarly { resume } => write!(
                f,
                "resuming after seq {resume}, but the changelog ends at seq {seq} \
                 (the writer restarted)"
            ),
            Gap::Rewritten { resume } => write!(
                f,
                "resuming after seq {resume}, but seq {seq} is not the line read \
                 before (the writer restarted)"
            ),
            Gap::Unproven => write!(
                f,
                "the file reading stopped in was replaced before any event was read \
                 from it; read seq {seq} from the new one"
            ),
            Gap::Missed => write!(
                f,
                "the changelog was rotated before any event was read, so a file may \
                 have come and gone unseen; read seq {seq} next"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_follows_the_largest_seq() {
        assert_eq!(after(i64::MAX), None);
        assert_eq!(after(-1), Some(0));
        let gap = Gap::Skipped { previous: i64::MAX };
        assert_eq!(gap.expected(), None);
        let text = gap.describe(i64::MAX).to_string();
        assert!(text.contains("largest"), "{text}");
        assert!(!text.contains("expected seq"), "{text}");
    }

    #[test]
    fn resume_gaps_name_the_resume_point() {
        let gap = Gap::EndsEarly { resume: i64::MAX };
        assert_eq!(gap.expected(), None);
        assert!(
            gap.describe(3)
                .to_string()
                .contains("after seq 9223372036854775807")
        );
        assert_eq!(Gap::Rewritten { resume: 4 }.expected(), Some(5));
    }
}
