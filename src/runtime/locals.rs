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
