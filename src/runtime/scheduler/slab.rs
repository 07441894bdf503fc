//! The coroutines one worker owns, by slot.
//!
//! A started green thread's coroutine never leaves its worker: it lives in
//! this slab (whose entries are `!Send`), and the worker resumes it by
//! the slot number stored in the thread's `Header`. A slot is reused by the
//! green threads that occupy it in turn, so its `Entry` is allocated once
//! and a switch moves no coroutine state.
//!
//! # Identity check
//!
//! A misrouted wakeup (a stale reference to a finished thread, a slot
//! number read from the wrong task) would resume *another* green thread's
//! coroutine: silent corruption. [`Slab::get`] therefore checks, in
//! release builds too, that the slot is occupied by the very task being
//! resumed (pointer identity), and the worker fails loudly if not.

use std::cell::RefCell;
use std::rc::Rc;

use crate::runtime::coroutine::Green;
use crate::runtime::locals::LocalMap;
use crate::runtime::task::TaskRef;

/// One slot: the coroutine, the task it belongs to, and its locals.
#[derive(Default)]
pub(crate) struct Entry {
    /// The coroutine (taken out only when it finishes).
    pub(crate) green: RefCell<Option<Green>>,
    task: RefCell<Option<TaskRef>>,
    /// Its green-thread locals (see `local.rs`).
    pub(crate) locals: RefCell<LocalMap>,
}

impl Entry {
    /// The task occupying this slot, if any.
    pub(crate) fn task(&self) -> Option<TaskRef> {
        self.task.borrow().clone()
    }
}

/// The coroutines of one worker, by slot.
#[derive(Default)]
pub(crate) struct Slab {
    entries: Vec<Rc<Entry>>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    /// Puts a newly started thread's coroutine in a free slot.
    pub(crate) fn insert(&mut self, task: TaskRef, green: Green) -> (u32, Rc<Entry>) {
        self.len += 1;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.entries.push(Rc::default());
            u32::try_from(self.entries.len() - 1).expect("fewer than 2^32 green threads per worker")
        });
        let entry = self.entries[slot as usize].clone();
        *entry.task.borrow_mut() = Some(task);
        *entry.green.borrow_mut() = Some(green);
        (slot, entry)
    }

    /// Frees `slot` once its thread has finished.
    ///
    /// The thread dropped its own locals as the very last thing it did, on
    /// its own stack, until none was left (see `task::core`), so the map is
    /// empty here; this is checked in release builds too, since a value
    /// left behind would be inherited by the slot's next occupant.
    pub(crate) fn remove(&mut self, slot: u32) {
        let entry = &self.entries[slot as usize];
        entry.task.borrow_mut().take();
        if !entry.locals.borrow().is_empty() {
            crate::runtime::abort("a finished green thread left green-thread locals behind (a bug in verdant)");
        }
        self.len -= 1;
        self.free.push(slot);
    }

    /// The entry of `task`, which must be the occupant of `slot`.
    ///
    /// # Panics
    ///
    /// If the slot holds another task (or none): resuming it would run the
    /// wrong coroutine.
    #[inline]
    pub(crate) fn get(&self, slot: u32, task: &TaskRef) -> Rc<Entry> {
        let entry = self.entries.get(slot as usize).cloned();
        match entry {
            Some(e)
                if e.task
                    .borrow()
                    .as_ref()
                    .is_some_and(|t| std::ptr::addr_eq(&**t, &**task)) =>
            {
                e
            }
            _ => crate::runtime::abort(&format!(
                "green thread #{} was to be resumed from slot {slot}, which it does not occupy (a bug in verdant)",
                task.id
            )),
        }
    }

    /// The entry in `slot` whatever occupies it (the running thread's own).
    #[inline]
    pub(crate) fn entry(&self, slot: u32) -> Rc<Entry> {
        self.entries[slot as usize].clone()
    }

    /// Every task occupying a slot (for cancelling them all at shutdown).
    pub(crate) fn tasks(&self) -> Vec<TaskRef> {
        self.entries.iter().filter_map(|e| e.task()).collect()
    }

    /// Started threads that have not finished.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}
