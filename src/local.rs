//! Green-thread-local storage.
//!
//! `std::thread_local!` values belong to the OS thread, and every green
//! thread of a worker runs on that one OS thread: they all share it, and a
//! value set by one green thread is seen by the next. [`GreenLocal`] gives
//! each green thread its own value instead (and each plain OS thread its
//! own, so code using it runs the same in both worlds).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::runtime::context;
use crate::runtime::locals::LocalMap;

/// Runs `f` on the caller's map: its green thread's, else its OS thread's.
/// No borrow is held while user code (an initialiser) runs.
fn with_map<R>(f: impl FnOnce(&mut LocalMap) -> R) -> R {
    let mut f = Some(f);
    if let Some(worker) = context::worker() {
        if let Some(r) = worker.with_locals(|m| (f.take().expect("called once"))(m)) {
            return r;
        }
    }
    let f = f.take().expect("called once");
    THREAD_LOCALS.with(|m| f(&mut m.borrow_mut()))
}

thread_local! {
    /// Locals of plain OS threads (and of worker code outside green threads).
    static THREAD_LOCALS: RefCell<LocalMap> = RefCell::new(LocalMap::default());
}

/// A value of which each green thread has its own copy, created on first
/// access; declare it with [`local!`](macro@crate::local).
///
/// ```
/// use std::cell::Cell;
/// verdant::local! { static COUNT: Cell<u32> = Cell::new(0); }
///
/// let a = verdant::spawn(|| { COUNT.with(|c| c.set(c.get() + 1)); COUNT.with(Cell::get) });
/// let b = verdant::spawn(|| COUNT.with(Cell::get));
/// assert_eq!(a.join().unwrap(), 1);
/// assert_eq!(b.join().unwrap(), 0); // its own copy
/// ```
pub struct GreenLocal<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> GreenLocal<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> GreenLocal<T> {
        GreenLocal { init }
    }

    /// Runs `f` with this green thread's value (creating it first if need
    /// be). `f` may park, and may use other `GreenLocal`s.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const Self as usize;
        let value = match with_map(|m| m.get(key)) {
            Some(v) => v,
            None => {
                // Initialise outside any borrow: it may touch other locals.
                let v: Rc<dyn Any> = Rc::new((self.init)());
                with_map(|m| m.insert(key, v.clone()));
                v
            }
        };
        let value = value
            .downcast_ref::<T>()
            .expect("a GreenLocal's key maps to its own type");
        f(value)
    }
}

impl<T: 'static> fmt::Debug for GreenLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenLocal").finish_non_exhaustive()
    }
}

/// Declares green-thread-local statics, like `std::thread_local!`.
///
/// ```
/// use std::cell::RefCell;
/// verdant::local! {
///     static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
/// verdant::spawn(|| LOG.with(|l| l.borrow_mut().push("mine".into()))).join().unwrap();
/// ```
#[macro_export]
macro_rules! local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::GreenLocal<$t> = $crate::GreenLocal::new(|| $init);
        )+
    };
}
