//! Runtime (agent host) lifecycle: desktop power states, agent instance states, and which
//! operation is allowed from which state.
//!
//! An operation is a fixed sequence of (desktop, agent) steps. A provisioning driver walks the
//! sequence: the simulated one on timers, a real one as the cloud reports progress.

use std::fmt;
use std::str::FromStr;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            /// Case-insensitive, as the cloud compares these values.
            fn from_str(value: &str) -> Result<Self, UnknownValue> {
                $name::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(value)).ok_or(UnknownValue)
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

wire_enum!(
    /// Power state of the host, as `DescribeDesktops` reports it.
    DesktopStatus { Pending, Starting, Running, Stopping, Stopped, Rebuilding, Expired, Deleted }
);

wire_enum!(
    /// State of the agent instance on the host.
    AgentStatus { Undeployed, Deploying, Deployed, Running, Stopped, Unavailable }
);

wire_enum!(
    /// A lifecycle operation on a runtime.
    Operation { Create, Start, Stop, Reboot, Delete }
);

/// One point of an operation's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub desktop: DesktopStatus,
    /// `None` keeps the agent's current state.
    pub agent: Option<AgentStatus>,
}

const fn step(desktop: DesktopStatus, agent: Option<AgentStatus>) -> Step {
    Step { desktop, agent }
}

use AgentStatus as A;
use DesktopStatus as D;

const CREATE: &[Step] = &[
    step(D::Pending, Some(A::Undeployed)),
    step(D::Starting, Some(A::Undeployed)),
    step(D::Running, Some(A::Deploying)),
    step(D::Running, Some(A::Deployed)),
    step(D::Running, Some(A::Running)),
];
const START: &[Step] = &[
    step(D::Starting, Some(A::Stopped)),
    step(D::Running, Some(A::Running)),
];
const STOP: &[Step] = &[step(D::Stopping, None), step(D::Stopped, Some(A::Stopped))];
const REBOOT: &[Step] = &[
    step(D::Stopping, None),
    step(D::Starting, Some(A::Stopped)),
    step(D::Running, Some(A::Running)),
];
const DELETE: &[Step] = &[step(D::Deleted, None)];

impl Operation {
    /// The steps the operation goes through; the last one is where it rests.
    pub fn steps(self) -> &'static [Step] {
        match self {
            Operation::Create => CREATE,
            Operation::Start => START,
            Operation::Stop => STOP,
            Operation::Reboot => REBOOT,
            Operation::Delete => DELETE,
        }
    }

    /// Whether the operation may begin while another is still in progress (only deleting may).
    pub fn interrupts(self) -> bool {
        self == Operation::Delete
    }

    /// Whether the operation may begin on a desktop in `status` (the cloud's rules).
    pub fn allowed_from(self, status: DesktopStatus) -> bool {
        match self {
            Operation::Create => false,
            Operation::Start => status == D::Stopped,
            Operation::Stop | Operation::Reboot => status == D::Running,
            Operation::Delete => status != D::Deleted,
        }
    }
}

/// Where an operation stands: which step, and whether more follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub operation: Operation,
    pub step_index: usize,
}

impl Progress {
    pub fn begin(operation: Operation) -> Progress {
        Progress {
            operation,
            step_index: 0,
        }
    }

    pub fn current(self) -> Option<Step> {
        self.operation.steps().get(self.step_index).copied()
    }

    /// The next point, or `None` when the operation is complete.
    pub fn next(self) -> Option<Progress> {
        let next = Progress {
            operation: self.operation,
            step_index: self.step_index + 1,
        };
        next.current().map(|_| next)
    }

    /// The resting point of the operation.
    pub fn last(self) -> Progress {
        Progress {
            operation: self.operation,
            step_index: self.operation.steps().len().saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_ends_in_its_resting_state() {
        let resting = |op: Operation| Progress::begin(op).last().current().map(|s| s.desktop);
        assert_eq!(resting(Operation::Create), Some(D::Running));
        assert_eq!(resting(Operation::Start), Some(D::Running));
        assert_eq!(resting(Operation::Stop), Some(D::Stopped));
        assert_eq!(resting(Operation::Reboot), Some(D::Running));
        assert_eq!(resting(Operation::Delete), Some(D::Deleted));
    }

    #[test]
    fn walking_next_visits_every_step_once() {
        for op in Operation::ALL {
            let mut progress = Progress::begin(*op);
            let mut visited = 1;
            while let Some(next) = progress.next() {
                progress = next;
                visited += 1;
            }
            assert_eq!(visited, op.steps().len());
            assert_eq!(progress, Progress::begin(*op).last());
        }
    }

    #[test]
    fn state_rules_follow_the_cloud() {
        assert!(Operation::Stop.allowed_from(D::Running));
        assert!(!Operation::Stop.allowed_from(D::Stopped));
        assert!(!Operation::Start.allowed_from(D::Running));
        assert!(Operation::Start.allowed_from(D::Stopped));
        assert!(!Operation::Reboot.allowed_from(D::Stopped));
        assert!(Operation::Delete.allowed_from(D::Pending));
        assert!(!Operation::Delete.allowed_from(D::Deleted));
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        assert_eq!("running".parse::<DesktopStatus>(), Ok(D::Running));
        assert_eq!("DEPLOYED".parse::<AgentStatus>(), Ok(A::Deployed));
        assert_eq!("Nope".parse::<DesktopStatus>(), Err(UnknownValue));
    }
}
