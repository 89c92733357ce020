//! Tokio catches a panic in a spawned task (a gateway's connection task, say) and nothing
//! notices unless the task is joined. The panic hook still runs, on the thread that ran the
//! task: with `#[tokio::test]`'s current-thread runtime, the test's own thread. So counting
//! panics per thread name tells a test whether any of its tasks panicked.

use std::collections::HashMap;
use std::sync::{Mutex, Once};

static PANICS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
static HOOK: Once = Once::new();

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

fn panics_here() -> usize {
    let panics = PANICS.lock().unwrap_or_else(|e| e.into_inner());
    panics
        .as_ref()
        .and_then(|p| p.get(&thread_name()).copied())
        .unwrap_or(0)
}

/// Panics on this thread since the watch started.
pub struct PanicWatch {
    before: usize,
}

impl PanicWatch {
    /// Starts counting (installs the counting hook once; the previous hook still reports).
    pub fn start() -> PanicWatch {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                {
                    let mut panics = PANICS.lock().unwrap_or_else(|e| e.into_inner());
                    *panics
                        .get_or_insert_with(HashMap::new)
                        .entry(thread_name())
                        .or_default() += 1;
                }
                previous(info);
            }));
        });
        PanicWatch {
            before: panics_here(),
        }
    }

    /// Fails the test if a task on this thread panicked since [`PanicWatch::start`].
    pub fn assert_none(&self) {
        let panicked = panics_here() - self.before;
        assert_eq!(
            panicked, 0,
            "{panicked} task(s) of this test panicked (see above)"
        );
    }
}
