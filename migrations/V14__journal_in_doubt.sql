-- Journal batches whose COMMIT was sent but not answered (the leader cut the session, the
-- connection broke): the batch may have committed. The journal resolves each by looking, under
-- the batch's account locks, for one row the batch inserted, and records the answer here. The
-- record's own commit waits for the synchronous replica like every commit, so a batch found
-- committed is acknowledged only once it is as replicated as any other (design.md "A COMMIT
-- without an answer"). Rare: one row per such batch.
CREATE TABLE journal_in_doubt (
    transfer_id bigint PRIMARY KEY,
    committed   boolean NOT NULL,
    resolved_at timestamptz NOT NULL DEFAULT now()
);
