//! [`SignalQueue`]: what signal handlers hand to the main loop.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use minitalk_protocol::{Pid, Signal};

/// A lock-free ring of `N` signals (sender and [`Signal`]), made of atomics
/// only, so that a signal handler may [`push`](Self::push) into it and the
/// main loop [`pop`](Self::pop) from it.
///
/// One producer and one consumer: pushes must not run at the same time as
/// each other (a handler that masks every signal that pushes, while it
/// runs, guarantees it), nor pops. A full ring drops what is pushed.
///
/// `N` must be a power of two (checked when the queue is built), so that
/// the counters wrap around in step with the slots.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::Signal;
/// use minitalk_sys::SignalQueue;
///
/// static QUEUE: SignalQueue<4> = SignalQueue::new();
/// assert!(QUEUE.push(42, Signal::Usr2));
/// assert_eq!(QUEUE.pop(), Some((42, Signal::Usr2)));
/// assert_eq!(QUEUE.pop(), None);
/// ```
pub struct SignalQueue<const N: usize> {
    /// Signals as `pid << 1 | bit`, written by the producer only.
    slots: [AtomicU64; N],
    /// Slots written so far (by the producer).
    head: AtomicUsize,
    /// Slots read so far (by the consumer).
    tail: AtomicUsize,
}

impl<const N: usize> Default for SignalQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SignalQueue<N> {
    /// An empty queue; usable in a `static`.
    pub const fn new() -> Self {
        const { assert!(N.is_power_of_two(), "SignalQueue: N must be a power of two") };
        SignalQueue {
            slots: [const { AtomicU64::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Adds `signal` from `pid` (1 or more); false if the queue was full and
    /// the signal is dropped. Async-signal-safe: only atomics.
    pub fn push(&self, pid: Pid, signal: Signal) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        if head.wrapping_sub(self.tail.load(Ordering::Acquire)) >= N {
            return false;
        }
        let v = (pid as u32 as u64) << 1 | signal.bit() as u64;
        self.slots[head % N].store(v, Ordering::Relaxed);
        self.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// The oldest signal not yet taken, with its sender.
    pub fn pop(&self) -> Option<(Pid, Signal)> {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail == self.head.load(Ordering::Acquire) {
            return None;
        }
        let v = self.slots[tail % N].load(Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(((v >> 1) as Pid, Signal::from_bit(v & 1 == 1)))
    }

    /// Whether no signal waits to be taken.
    pub fn is_empty(&self) -> bool {
        self.tail.load(Ordering::Relaxed) == self.head.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{set_handler, sleep_with_mask, SigSet};
    use minitalk_protocol::Duration;

    #[test]
    fn first_in_first_out_with_pids_intact() {
        let q = SignalQueue::<8>::new();
        assert_eq!(q.pop(), None);
        assert!(q.push(1, Signal::Usr1));
        assert!(q.push(crate::PID_MAX, Signal::Usr2));
        assert_eq!(q.pop(), Some((1, Signal::Usr1)));
        assert_eq!(q.pop(), Some((crate::PID_MAX, Signal::Usr2)));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn wraps_around_the_slots_many_times() {
        let q = SignalQueue::<4>::new();
        for round in 0..100 {
            for k in 0..3 {
                assert!(q.push(round * 3 + k + 1, Signal::from_bit(k % 2 == 1)));
            }
            for k in 0..3 {
                assert_eq!(
                    q.pop(),
                    Some((round * 3 + k + 1, Signal::from_bit(k % 2 == 1)))
                );
            }
            assert_eq!(q.pop(), None);
        }
    }

    #[test]
    fn wraps_around_the_counters() {
        let q = SignalQueue::<4>::new();
        q.head.store(usize::MAX - 1, Ordering::Relaxed);
        q.tail.store(usize::MAX - 1, Ordering::Relaxed);
        for pid in 1..=4 {
            assert!(q.push(pid, Signal::Usr2));
        }
        assert!(!q.push(5, Signal::Usr2), "full across the wrap");
        for pid in 1..=4 {
            assert_eq!(q.pop(), Some((pid, Signal::Usr2)));
        }
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_full_queue_drops_what_comes_and_keeps_what_it_has() {
        let q = SignalQueue::<4>::new();
        for pid in 1..=4 {
            assert!(q.push(pid, Signal::Usr1));
        }
        assert!(!q.push(99, Signal::Usr2), "dropped");
        assert_eq!(q.pop(), Some((1, Signal::Usr1)));
        assert!(q.push(5, Signal::Usr2), "room again");
        for pid in 2..=4 {
            assert_eq!(q.pop(), Some((pid, Signal::Usr1)));
        }
        assert_eq!(q.pop(), Some((5, Signal::Usr2)));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_producer_thread_and_a_consumer_lose_nothing_and_keep_order() {
        static Q: SignalQueue<8> = SignalQueue::new();
        const COUNT: i32 = 20_000;
        let producer = std::thread::spawn(|| {
            for pid in 1..=COUNT {
                while !Q.push(pid, Signal::from_bit(pid % 3 == 0)) {
                    std::thread::yield_now();
                }
            }
        });
        let mut next = 1;
        while next <= COUNT {
            match Q.pop() {
                Some(got) => {
                    assert_eq!(got, (next, Signal::from_bit(next % 3 == 0)));
                    next += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(Q.pop(), None);
    }

    /// The queue the signal handler of the next test pushes into.
    static FROM_HANDLER: SignalQueue<4> = SignalQueue::new();

    extern "C" fn push_from_handler(signo: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo_t.
        let pid = unsafe { (*info).si_pid() };
        if let Some(signal) = crate::from_signo(signo) {
            FROM_HANDLER.push(pid, signal);
        }
    }

    #[test]
    fn a_real_signal_handler_pushes_and_the_main_loop_pops() {
        let _signals = crate::signal_test_lock();
        // SIGUSR1/SIGUSR2 raised in this thread only; no other test here uses them.
        let usr = SigSet::usr();
        usr.block();
        // SAFETY: the handler only touches atomics.
        unsafe {
            set_handler(libc::SIGUSR1, push_from_handler, &usr);
            set_handler(libc::SIGUSR2, push_from_handler, &usr);
        }
        let me = crate::getpid();
        for signo in [libc::SIGUSR2, libc::SIGUSR1] {
            // SAFETY: raise signals the calling thread, whose handler is set.
            assert_eq!(unsafe { libc::raise(signo) }, 0);
            assert_eq!(FROM_HANDLER.pop(), None, "blocked: pending");
            sleep_with_mask(Some(Duration::from_secs(5)), &SigSet::empty());
            let signal = crate::from_signo(signo).unwrap();
            assert_eq!(FROM_HANDLER.pop(), Some((me, signal)));
        }
        usr.unblock();
    }
}
