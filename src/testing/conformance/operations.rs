//! The work queue as operators see it: dead letters a page at a time, and the backlog.

use chrono::TimeDelta;

use super::{assert_claimed, claim, ok, place, placement_notice};
use crate::decide::after;
use crate::ports::{DeadLetterCursor, OrderRepository, OutboxBacklog, OutboxEntry, WorkQueue};
use crate::testing::t0;

/// Dead letters page with a cursor: each page holds at most `limit` letters in the order their
/// entries were written and a cursor when more follow (none on the last page); a page resumed
/// from a cursor neither repeats nor skips letters that stay dead while others die or are
/// requeued meanwhile; a cursor past the end gives an empty last page.
pub async fn dead_letter_pages<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "dead_letter_pages";
    let mut placed = place("alice", 1, t0(), false);
    let notice = placement_notice(CHECK, &placed);
    let id = placed.order.id;
    let key = |n: u32| format!("{id}/pages/{n}");
    placed.outbox = (1..=6).map(|n| OutboxEntry { key: key(n), effect: notice.clone() }).collect();
    ok(CHECK, "create", store.create(placed.commit(&[])).await);
    let at = |seconds: i64| after(t0(), TimeDelta::seconds(seconds));
    let claimed = claim(CHECK, store, at(0), TimeDelta::seconds(30), 10).await;
    assert_eq!(claimed.len(), 6, "{CHECK}: test setup: every entry claimed");
    // 1, 2, 4, 5 and 6 die; 3 waits for a retry.
    for n in [1, 2, 4, 5, 6] {
        ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(n), at(1), None, "refused").await);
    }
    ok(CHECK, "fail_outbox", store.fail_outbox(&key(3), at(1), Some(at(100)), "timeout").await);

    let page = |after: Option<DeadLetterCursor>, limit: usize| async move {
        let page = ok(CHECK, "dead_letters", store.dead_letters(after, limit).await);
        (page.letters.iter().map(|l| l.key.clone()).collect::<Vec<_>>(), page.next)
    };
    let (first, next) = page(None, 2).await;
    assert_eq!(first, [key(1), key(2)], "{CHECK}: the first page, oldest entry first");
    let Some(cursor) = next else { panic!("{CHECK}: a page with more after it must give a cursor") };
    assert_eq!(cursor.to_string().parse(), Ok(cursor), "{CHECK}: a cursor reads back from its text");

    // Meanwhile 3 dies (after the cursor: listed on a later page) and 1 is requeued (before it:
    // no effect on what follows).
    ok(CHECK, "claim", store.claim_outbox(at(100), TimeDelta::seconds(30), 10).await);
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(3), at(101), None, "refused").await);
    assert!(ok(CHECK, "requeue_dead", store.requeue_dead(&key(1), at(102)).await), "{CHECK}: requeue 1");

    let (second, next) = page(Some(cursor), 2).await;
    assert_eq!(second, [key(3), key(4)], "{CHECK}: the second page resumes after the first");
    let Some(cursor) = next else { panic!("{CHECK}: the second page has more after it") };
    let (last, next) = page(Some(cursor), 2).await;
    assert_eq!(last, [key(5), key(6)], "{CHECK}: the last page");
    assert_eq!(next, None, "{CHECK}: the last page gives no cursor, even when it is full");
    let (all, next) = page(None, 10).await;
    assert_eq!(all, [key(2), key(3), key(4), key(5), key(6)], "{CHECK}: one page with room for all");
    assert_eq!(next, None, "{CHECK}: a page with room for all gives no cursor");
    let (none, next) = page(Some(DeadLetterCursor::after_position(u64::MAX)), 10).await;
    assert!(none.is_empty() && next.is_none(), "{CHECK}: a cursor past the end gives an empty last page");
    let (none, next) = page(None, 0).await;
    assert!(none.is_empty() && next.is_none(), "{CHECK}: a page of 0 letters is empty");
    assert_claimed(CHECK, &claim(CHECK, store, at(200), TimeDelta::seconds(30), 10).await, &[(key(1), 1)], "requeued");
}

/// The backlog counts the entries pending (leased or not), those ready at `now` (neither
/// leased nor waiting for a retry time) and the dead letters, and gives the time of the commit
/// that wrote the oldest pending entry; delivered and dead entries leave the pending figures.
pub async fn outbox_backlog<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "outbox_backlog";
    let at = |seconds: i64| after(t0(), TimeDelta::seconds(seconds));
    let backlog = |now| async move { ok(CHECK, "backlog", store.backlog(now).await) };
    assert_eq!(backlog(at(0)).await, OutboxBacklog::default(), "{CHECK}: an empty store has no backlog");

    let mut first = place("alice", 1, t0(), false);
    let notice = placement_notice(CHECK, &first);
    let key = |order: u32, n: u32| format!("backlog/{order}/{n}");
    first.outbox = (1..=4).map(|n| OutboxEntry { key: key(1, n), effect: notice.clone() }).collect();
    ok(CHECK, "create", store.create(first.commit(&[])).await);
    let mut second = place("bob", 2, at(3_600), false);
    second.outbox = vec![OutboxEntry { key: key(2, 1), effect: notice.clone() }];
    ok(CHECK, "create", store.create(second.commit(&[])).await);
    let expected = |pending, ready, dead, oldest| OutboxBacklog { pending, ready, dead, oldest_pending_at: oldest };
    assert_eq!(backlog(at(3_600)).await, expected(5, 5, 0, Some(t0())), "{CHECK}: five entries written");
    assert_eq!(
        backlog(at(3_600)).await.oldest_pending_age(at(3_660)),
        Some(TimeDelta::seconds(3_660)),
        "{CHECK}: the oldest entry's age"
    );

    // 1 delivered, 2 leased, 3 waiting for a retry, 4 dead.
    let lease = TimeDelta::seconds(30);
    let claimed = claim(CHECK, store, at(3_600), lease, 4).await;
    assert_eq!(claimed.len(), 4, "{CHECK}: test setup: the first order's entries claimed");
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(1, 1)).await);
    ok(CHECK, "fail_outbox", store.fail_outbox(&key(1, 3), at(3_601), Some(at(4_000)), "timeout").await);
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(1, 4), at(3_601), None, "refused").await);
    assert_eq!(
        backlog(at(3_610)).await,
        expected(3, 1, 1, Some(t0())),
        "{CHECK}: delivered and dead entries are not pending; leased and waiting ones are not ready"
    );
    assert_eq!(
        backlog(at(4_000)).await,
        expected(3, 3, 1, Some(t0())),
        "{CHECK}: a lease run out and a retry time reached make entries ready again"
    );
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(1, 2)).await);
    ok(CHECK, "claim", store.claim_outbox(at(4_000), lease, 10).await);
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(1, 3)).await);
    assert_eq!(
        backlog(at(4_000)).await,
        expected(1, 0, 1, Some(at(3_600))),
        "{CHECK}: the oldest pending entry is now the second order's"
    );
    assert!(ok(CHECK, "requeue_dead", store.requeue_dead(&key(1, 4), at(4_001)).await), "{CHECK}: requeue");
    assert_eq!(
        backlog(at(4_001)).await,
        expected(2, 1, 0, Some(t0())),
        "{CHECK}: a requeued entry is pending again, from the time it was written"
    );
}
