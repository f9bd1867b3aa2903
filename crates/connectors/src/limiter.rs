//! A rolling-window rate limiter: at most `max` requests in any window of `window`,
//! the way HubSpot (per 10 s), Pipedrive (per 2 s) and our mocks count. One per
//! connection and bucket; only one worker syncs a connection at a time (the job lease),
//! so an in-process limiter is the whole truth for our share of the budget.
//!
//! It adapts to what the provider reports: a smaller limit from the rate-limit
//! headers replaces the configured one, and a 429's `Retry-After` pauses every request
//! of the bucket, not just the one that met it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A rolling-window limiter. `Limiter::unlimited()` never waits.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Requests allowed per window; `None` = unlimited.
    max: Option<u32>,
    window: Duration,
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Limiter {
    /// At most `max` requests in any `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                max: Some(max.max(1)),
                window,
                sent: VecDeque::new(),
                paused_until: None,
            }),
        }
    }

    /// A limiter that never waits (still honours pauses from `Retry-After`).
    pub fn unlimited() -> Self {
        Self {
            state: Mutex::new(State {
                max: None,
                window: Duration::from_secs(1),
                sent: VecDeque::new(),
                paused_until: None,
            }),
        }
    }

    /// Wait for a free slot, then take it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.wait_at(now) {
                    None => {
                        if s.max.is_some() {
                            s.sent.push_back(now);
                        }
                        return;
                    }
                    Some(until) => until,
                }
            };
            tokio::time::sleep_until(wait).await;
        }
    }

    /// Use `max` per `window` from now on if it is stricter than the current limit
    /// (providers report their limit in headers; it may be below what we configured).
    pub fn tighten(&self, max: u32, window: Duration) {
        let mut s = self.lock();
        let max = max.max(1);
        let current = s.max.map(|m| f64::from(m) / s.window.as_secs_f64());
        let proposed = f64::from(max) / window.as_secs_f64().max(0.001);
        if current.is_none_or(|c| proposed < c) {
            s.max = Some(max);
            s.window = window;
        }
    }

    /// Use `max` per `window` from now on, higher or lower than before: for providers
    /// whose headers state this client's own limit (HubSpot's
    /// `X-HubSpot-RateLimit-Max`), which may exceed the conservative default (a
    /// Professional account's 190 per 10 s).
    pub fn adopt(&self, max: u32, window: Duration) {
        let mut s = self.lock();
        s.max = Some(max.max(1));
        s.window = window;
    }

    /// Send nothing for `pause` (a 429's `Retry-After`, or an exhausted window).
    pub fn pause_for(&self, pause: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + pause;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }

    /// The configured requests per window, if limited.
    pub fn limit(&self) -> Option<(u32, Duration)> {
        let s = self.lock();
        s.max.map(|m| (m, s.window))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl State {
    /// When the next request may go, or `None` for now.
    fn wait_at(&mut self, now: Instant) -> Option<Instant> {
        if let Some(p) = self.paused_until {
            if p > now {
                return Some(p);
            }
            self.paused_until = None;
        }
        let max = self.max? as usize;
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < max {
            return None;
        }
        // The oldest request in the window leaves it at `oldest + window`.
        self.sent.front().map(|t| *t + self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_max_in_any_window() {
        let limiter = Limiter::new(5, Duration::from_secs(2));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..23 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(2))
                .count();
            assert!(in_window <= 5, "{in_window} requests within 2 s of {t:?}");
        }
        // And it does use the allowance: 23 requests at 5 per 2 s take 8 s, not more.
        assert_eq!(times[22], Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request_back() {
        let limiter = Limiter::unlimited();
        limiter.acquire().await;
        let start = Instant::now();
        limiter.pause_for(Duration::from_secs(3));
        limiter.pause_for(Duration::from_secs(1));
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[test]
    fn adopt_takes_the_stated_limit_either_way() {
        let limiter = Limiter::new(100, Duration::from_secs(10));
        limiter.adopt(190, Duration::from_secs(10));
        assert_eq!(limiter.limit(), Some((190, Duration::from_secs(10))));
        limiter.adopt(50, Duration::from_secs(10));
        assert_eq!(limiter.limit(), Some((50, Duration::from_secs(10))));
    }

    #[test]
    fn tighten_only_ever_lowers_the_rate() {
        let limiter = Limiter::new(110, Duration::from_secs(10));
        limiter.tighten(190, Duration::from_secs(10));
        assert_eq!(limiter.limit(), Some((110, Duration::from_secs(10))));
        limiter.tighten(100, Duration::from_secs(10));
        assert_eq!(limiter.limit(), Some((100, Duration::from_secs(10))));
        let open = Limiter::unlimited();
        open.tighten(40, Duration::from_secs(2));
        assert_eq!(open.limit(), Some((40, Duration::from_secs(2))));
    }
}
