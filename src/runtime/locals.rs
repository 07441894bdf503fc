//! The storage behind green-thread locals (`crate::GreenLocal`): one map
//! per green thread, kept in its worker's slab entry so that it lives and
//! dies with the thread. The public API is `GreenLocal` (`local.rs`).

use std::any::Any;
use std::rc::Rc;

/// One green thread's locals: (key, value) pairs, usually very few.
#[derive(Default)]
pub(crate) struct LocalMap {
    values: Vec<(usize, Rc<dyn Any>)>,
}

impl LocalMap {
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(crate) fn get(&self, key: usize) -> Option<Rc<dyn Any>> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    }

    pub(crate) fn insert(&mut self, key: usize, value: Rc<dyn Any>) {
        self.values.push((key, value));
    }
}

/// Drops the running green thread's locals, until none is left: a
/// destructor may create a new local (touching a `GreenLocal` it had not
/// touched before, or one already dropped), and whatever is left would be
/// inherited by the next green thread of its slot. A destructor that keeps
/// creating locals forever keeps this thread finishing forever, as a
/// `Drop` that loops would. Nothing to do on a plain OS thread.
pub(crate) fn drop_current() {
    let Some(worker) = crate::runtime::context::worker() else {
        return;
    };
    while let Some(map) = worker.with_locals(std::mem::take) {
        if map.is_empty() {
            return;
        }
        drop(map);
    }
}
