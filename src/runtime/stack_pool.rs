//! TEMPORARY stub: replaced by the real pool (helper in progress).
#![allow(dead_code)]
use corosensei::stack::{DefaultStack, Stack, StackPointer};
use std::io;

pub(crate) struct StackPool {
    free: Vec<PooledStack>,
}

pub(crate) struct PooledStack {
    inner: DefaultStack,
    size: usize,
}

impl StackPool {
    pub(crate) fn new(_keep_resident: usize) -> StackPool {
        StackPool { free: Vec::new() }
    }
    pub(crate) fn get(&mut self, stack_size: usize) -> io::Result<PooledStack> {
        if let Some(i) = self.free.iter().rposition(|s| s.size == stack_size) {
            return Ok(self.free.swap_remove(i));
        }
        Ok(PooledStack {
            inner: DefaultStack::new(stack_size)?,
            size: stack_size,
        })
    }
    pub(crate) fn put(&mut self, stack: PooledStack) {
        self.free.push(stack);
    }
}

impl PooledStack {
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        let l = self.inner.limit().get();
        (l - 4096, l)
    }
    pub(crate) fn usable_size(&self) -> usize {
        self.size
    }
}

// SAFETY: stub delegating to corosensei's own guarded DefaultStack.
unsafe impl Stack for PooledStack {
    fn base(&self) -> StackPointer {
        self.inner.base()
    }
    fn limit(&self) -> StackPointer {
        self.inner.limit()
    }
}
